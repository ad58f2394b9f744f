"""Where files live: local paths, or gs:// URIs seen through Vertex's /gcs FUSE mount.

Vertex AI custom training mounts every bucket the job can read at ``/gcs/<bucket>``, so
``gs://bucket/a/b.csv`` is the file ``/gcs/bucket/a/b.csv``. Outputs always go through
that mount. Inputs use it when the file is there, and otherwise fall back to a download
with google-cloud-storage (imported lazily: tests and local runs never need it).
"""

import os
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


def not_writable_error(what: str, error: OSError | None, fix: str) -> TrainerError:
    """The one-line error for an output the trainer cannot write: what, why, and the fix."""
    reason = f": {error.strerror or error}" if error is not None else ""
    return TrainerError(f"cannot write {what}{reason}; {fix}")


def ensure_writable_dir(directory: Path, what: str, fix: str) -> Path:
    """Create ``directory`` if needed and prove this process can create and delete a file
    in it; raise the one-line TrainerError otherwise.

    A probe file rather than os.access: as root, or on the /gcs FUSE mount (where the
    bucket's IAM decides), the permission bits do not tell. mkdir alone is not enough
    either: it succeeds on an existing directory the process cannot write.
    """
    try:
        # Path.mkdir and Path.is_dir raise PermissionError when a parent is not
        # searchable (Python only swallows ENOENT-like errors in is_dir).
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".trainer-write-check-", dir=directory)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise not_writable_error(what, error, fix) from None
    return directory


def can_append(path: Path) -> bool:
    """Whether an existing file can be opened for writing (append: content untouched)."""
    try:
        with path.open("a"):
            return True
    except OSError:
        return False


def prepare_output_dir(location: str, flag: str = "the output flag") -> Path:
    """Create (if needed) the local directory for an output location, check that this
    process can write in it, and return it. ``flag`` names where the location came from."""
    if is_gcs_uri(location):
        bucket, _ = split_gcs_uri(location)
        fix = (
            f"the job's service account needs to create and delete objects in gs://{bucket} "
            "(this stack grants it roles/storage.objectAdmin on the output bucket)"
        )
        try:
            mounted = GCS_FUSE_ROOT.is_dir()
        except OSError as error:  # PermissionError where /gcs is not searchable
            raise not_writable_error(f"{location} through {GCS_FUSE_ROOT}", error, fix) from None
        if not mounted:
            raise TrainerError(
                f"cannot write {location}: the Cloud Storage FUSE mount {GCS_FUSE_ROOT} is "
                "missing (Vertex AI provides it); use a local directory when running elsewhere"
            )
        directory = gcs_uri_to_fuse_path(location)
        what = f"{location} (at {directory}, from {flag})"
    else:
        directory = Path(location)
        fix = f"make it writable by uid {os.getuid()} or pass another {flag}"
        what = f"the output directory {directory} (from {flag})"
    return ensure_writable_dir(directory, what, fix)


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
