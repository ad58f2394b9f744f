"""Where files live: local paths, or gs:// URIs seen through Vertex's /gcs FUSE mount.

Vertex AI custom training mounts every bucket the job can read at ``/gcs/<bucket>``, so
``gs://bucket/a/b.csv`` is the file ``/gcs/bucket/a/b.csv``. Outputs always go through
that mount. Inputs use it when the file is there, and otherwise fall back to a download
with google-cloud-storage (imported lazily: tests and local runs never need it).
"""

import tempfile
from pathlib import Path

from trainer.errors import TrainerError

GCS_SCHEME = "gs://"
# Read at call time (not bound as a default argument) so tests can point it elsewhere.
GCS_FUSE_ROOT = Path("/gcs")


def is_gcs_uri(location: str) -> bool:
    return location.startswith(GCS_SCHEME)


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, object_name = uri.removeprefix(GCS_SCHEME).partition("/")
    if not bucket:
        raise TrainerError(f"{uri!r} is not a gs://bucket/path URI")
    return bucket, object_name


def gcs_uri_to_fuse_path(uri: str) -> Path:
    bucket, object_name = split_gcs_uri(uri)
    return GCS_FUSE_ROOT / bucket / object_name


def prepare_output_dir(location: str) -> Path:
    """Create (if needed) and return the local directory for an output location."""
    if is_gcs_uri(location):
        if not GCS_FUSE_ROOT.is_dir():
            raise TrainerError(
                f"cannot write {location}: the Cloud Storage FUSE mount {GCS_FUSE_ROOT} is "
                "missing (Vertex AI provides it); use a local directory when running elsewhere"
            )
        directory = gcs_uri_to_fuse_path(location)
    else:
        directory = Path(location)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainerError(f"cannot create output directory {directory}: {error}") from None
    return directory


def localize_input(location: str, download_dir: Path) -> Path:
    """Return a readable local path for a CSV given as a local path or gs:// URI."""
    if not is_gcs_uri(location):
        path = Path(location)
        if not path.is_file():
            raise TrainerError(f"data file not found: {location}")
        return path
    fuse_path = gcs_uri_to_fuse_path(location)
    if fuse_path.is_file():
        return fuse_path
    return _download(location, download_dir)


def _download(uri: str, download_dir: Path) -> Path:
    bucket_name, object_name = split_gcs_uri(uri)
    try:
        from google.cloud import storage  # lazy: only needed without the FUSE mount
    except ImportError:
        raise TrainerError(
            f"cannot read {uri}: no FUSE mount at {GCS_FUSE_ROOT} and google-cloud-storage "
            "is not installed"
        ) from None
    target_dir = Path(tempfile.mkdtemp(prefix="download-", dir=download_dir))
    target = target_dir / (Path(object_name).name or "data.csv")
    try:
        storage.Client().bucket(bucket_name).blob(object_name).download_to_filename(target)
    # The client raises NotFound, Forbidden, auth and transport errors from several
    # packages; any of them means the same thing to the user: this input is unreadable.
    except Exception as error:  # noqa: BLE001
        raise TrainerError(f"cannot download {uri}: {error}") from None
    return target
