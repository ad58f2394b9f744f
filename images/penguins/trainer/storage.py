"""Where files live: local paths, or gs:// URIs seen through Vertex's /gcs FUSE mount.

Vertex AI custom training mounts every bucket the job can read at ``/gcs/<bucket>``, so
``gs://bucket/a/b.csv`` is the file ``/gcs/bucket/a/b.csv``. Outputs go through that
mount; inputs use it when the file is there. Without the mount (a local run against the
emulator's STORAGE_EMULATOR_HOST, say) inputs are downloaded and outputs uploaded with
google-cloud-storage (imported lazily: local runs on local files never need it).
Inputs may be wildcard patterns (``gs://b/train-*.csv``, ``data/part-*.parquet``): Vertex
hands managed data sets over as such (``AIP_TRAINING_DATA_URI=gs://.../training-*``).
"""

import glob
import os
import re
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

GCS_SCHEME = "gs://"
BIGQUERY_SCHEME = "bq://"
# Characters that make a data location a pattern (glob's and gcloud storage's).
WILDCARD_CHARACTERS = "*?["
MAX_PARALLEL_DOWNLOADS = 8
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


@dataclass(frozen=True)
class OutputDir:
    """Where an output is written on this machine, and, for a gs:// location without the
    /gcs mount, the mirror that uploads it."""

    path: Path
    mirror: "GcsMirror | None" = None


def open_output_dir(
    location: str, flag: str, restore: Callable[[list[str]], str | None] | None = None
) -> OutputDir:
    """prepare_output_dir, or, for gs:// where there is no /gcs mount (a process of the
    local emulator, which sets STORAGE_EMULATOR_HOST), a GcsMirror. ``restore`` picks an
    existing object to download first (the latest checkpoint, to resume from)."""
    if is_gcs_uri(location) and not _fuse_mount_present():
        mirror = GcsMirror(location, flag)
        chosen = restore(mirror.names()) if restore else None
        if chosen:
            mirror.fetch(chosen)
        return OutputDir(mirror.local_dir, mirror)
    return OutputDir(prepare_output_dir(location, flag))


def _fuse_mount_present() -> bool:
    try:
        return GCS_FUSE_ROOT.is_dir()
    except OSError:
        return True  # there but not searchable: prepare_output_dir names the problem


class GcsMirror:
    """Outputs for a gs:// location without the /gcs mount: written to a local staging
    directory and uploaded with google-cloud-storage by ``sync()`` (after each epoch and
    at the end), as the mount would have stored them."""

    def __init__(self, uri: str, flag: str) -> None:
        bucket_name, prefix = split_gcs_uri(uri)
        self.uri, self._prefix = uri.rstrip("/"), prefix.strip("/")
        try:
            from google.cloud import storage  # lazy: only needed without the FUSE mount
        except ImportError:
            raise TrainerError(
                f"cannot write {uri}: the Cloud Storage FUSE mount {GCS_FUSE_ROOT} is missing "
                "(Vertex AI provides it) and google-cloud-storage is not installed; use a "
                "local directory when running elsewhere"
            ) from None
        fix = (
            f"the job's service account needs to create and delete objects in "
            f"gs://{bucket_name} (this stack grants it roles/storage.objectAdmin on the "
            "output bucket)"
        )
        # As the probe file on the mount: prove now that objects can be created and deleted.
        try:
            self._bucket = storage.Client().bucket(bucket_name)
            probe = self._bucket.blob(self._object(f".trainer-write-check-{uuid.uuid4().hex}"))
            probe.upload_from_string(b"")
            probe.delete()
        except Exception as error:  # noqa: BLE001  (as in _download)
            raise TrainerError(f"cannot write {uri} (from {flag}): {error}; {fix}") from None
        self.local_dir = Path(tempfile.mkdtemp(prefix="trainer-output-"))
        # The staging copy goes with the mirror (at the latest when the interpreter exits).
        weakref.finalize(self, shutil.rmtree, self.local_dir, ignore_errors=True)
        self._synced: dict[Path, tuple[int, int]] = {}

    def _object(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name

    def names(self) -> list[str]:
        """Names (relative to the location) of the objects already there."""
        prefix = self._object("")
        try:
            blobs = list(self._bucket.client.list_blobs(self._bucket.name, prefix=prefix))
        except Exception as error:  # noqa: BLE001
            raise TrainerError(f"cannot list {self.uri}: {error}") from None
        return [blob.name.removeprefix(prefix) for blob in blobs]

    def fetch(self, name: str) -> None:
        target = self.local_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._bucket.blob(self._object(name)).download_to_filename(str(target))
        except Exception as error:  # noqa: BLE001
            raise TrainerError(f"cannot download {self.uri}/{name}: {error}") from None
        self._mark_synced(target)

    def sync(self) -> None:
        """Upload every file that is new or changed since the last sync (hidden files,
        such as a checkpoint still being written, stay local)."""
        for path in sorted(self.local_dir.rglob("*")):
            name = path.relative_to(self.local_dir).as_posix()
            if not path.is_file() or name.startswith(".") or "/." in name:
                continue
            if self._synced.get(path) == _size_and_mtime(path):
                continue
            try:
                self._bucket.blob(self._object(name)).upload_from_filename(str(path))
            except Exception as error:  # noqa: BLE001
                raise TrainerError(f"cannot upload {self.uri}/{name}: {error}") from None
            self._mark_synced(path)

    def _mark_synced(self, path: Path) -> None:
        self._synced[path] = _size_and_mtime(path)


def _size_and_mtime(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True)
class InputFile:
    """One data file: where to read it here, and how to name it in errors (the location
    the user gave, e.g. ``gs://b/train-00001.csv``, not a temporary download path)."""

    local: Path
    source: str


def has_wildcard(location: str) -> bool:
    return any(character in location for character in WILDCARD_CHARACTERS)


def localize_inputs(location: str, download_dir: Path) -> list[InputFile]:
    """Readable local files for a data location, in name order: a path or ``/gcs/...``
    path, a ``gs://`` URI, or a wildcard pattern of either (``gs://b/train-*.csv``).

    ``gs://`` is read through the FUSE mount when it is there, and otherwise downloaded
    with google-cloud-storage (which honours STORAGE_EMULATOR_HOST, as the local
    emulator sets it).
    """
    if location.startswith(BIGQUERY_SCHEME):
        raise TrainerError(
            f"cannot read {location}: BigQuery tables are not supported; export the data "
            "set as CSV (AIP_DATA_FORMAT=csv) or pass CSV/Parquet files"
        )
    if not is_gcs_uri(location):
        return _local_files(location)
    bucket, object_name = split_gcs_uri(location)
    if has_wildcard(bucket):
        raise TrainerError(f"{location!r}: wildcards are allowed in the object name only")
    fuse_path = gcs_uri_to_fuse_path(location)
    if has_wildcard(object_name) and (GCS_FUSE_ROOT / bucket).is_dir():
        return _fuse_matches(location, bucket, object_name)
    if not has_wildcard(object_name) and fuse_path.is_file():
        return [InputFile(fuse_path, location)]
    return _download(location, download_dir)


def _local_files(pattern: str) -> list[InputFile]:
    """A local path, or a glob pattern (``**`` as a whole path component: any depth)."""
    if not has_wildcard(pattern):
        if not Path(pattern).is_file():
            raise TrainerError(f"data file not found: {pattern}")
        return [InputFile(Path(pattern), pattern)]
    matches = sorted(path for path in glob.glob(pattern, recursive=True) if Path(path).is_file())
    if not matches:
        raise TrainerError(f"no files match {pattern}")
    return [InputFile(Path(path), path) for path in matches]


def _fuse_matches(uri: str, bucket: str, object_pattern: str) -> list[InputFile]:
    """The objects a gs:// wildcard matches, found through the FUSE mount with the same
    meaning as through the API (gcs_pattern), by walking the folder of its prefix."""
    bucket_dir = GCS_FUSE_ROOT / bucket
    folder = _wildcard_prefix(object_pattern).rpartition("/")[0]
    pattern = gcs_pattern(object_pattern)
    names = (
        str((Path(parent) / file).relative_to(bucket_dir))
        for parent, _, files in os.walk(bucket_dir / folder)
        for file in files
    )
    matches = sorted(name for name in names if pattern.fullmatch(name))
    if not matches:
        raise TrainerError(f"no objects match {uri}")
    return [InputFile(bucket_dir / name, f"{GCS_SCHEME}{bucket}/{name}") for name in matches]


def _wildcard_prefix(pattern: str) -> str:
    """The part of a pattern before its first wildcard character."""
    return re.split(f"[{re.escape(WILDCARD_CHARACTERS)}]", pattern, maxsplit=1)[0]


def gcs_pattern(object_pattern: str) -> re.Pattern[str]:
    """A gs:// object-name wildcard as a regex, with gcloud storage's meaning: ``*`` and
    ``?`` stay within one folder level, ``**`` crosses levels, ``[...]`` is a set.
    (https://cloud.google.com/storage/docs/wildcards)"""
    parts, index = [], 0
    while index < len(object_pattern):
        character = object_pattern[index]
        if object_pattern.startswith("**", index):
            parts.append(".*")
            index += 2
            continue
        closing = object_pattern.find("]", index + 2) if character == "[" else -1
        if character == "*":
            parts.append("[^/]*")
        elif character == "?":
            parts.append("[^/]")
        elif closing != -1:
            members = object_pattern[index + 1 : closing]
            negated = members.startswith("!")
            members = members.removeprefix("!").replace("\\", "\\\\")
            if members.startswith("^"):
                members = "\\" + members  # a literal ^, not regex negation
            parts.append(f"[{'^' if negated else ''}{members}]")  # ranges (0-4) stay ranges
            index = closing
        else:
            parts.append(re.escape(character))
        index += 1
    return re.compile("".join(parts))


def _download(uri: str, download_dir: Path) -> list[InputFile]:
    bucket_name, object_name = split_gcs_uri(uri)
    try:
        from google.cloud import storage  # lazy: only needed without the FUSE mount
    except ImportError:
        raise TrainerError(
            f"cannot read {uri}: no FUSE mount at {GCS_FUSE_ROOT} and google-cloud-storage "
            "is not installed"
        ) from None
    # The client raises NotFound, Forbidden, auth and transport errors from several
    # packages; any of them means the same thing to the user: this input is unreadable.
    try:
        client = storage.Client()
        names = [object_name]
        if has_wildcard(object_name):
            names = _matching_objects(client, bucket_name, object_name)
    except Exception as error:  # noqa: BLE001
        raise TrainerError(f"cannot list {uri}: {error}") from None
    if not names:
        raise TrainerError(f"no objects match {uri}")
    target_dir = Path(tempfile.mkdtemp(prefix="download-", dir=download_dir))
    bucket = client.bucket(bucket_name)

    def fetch(numbered: tuple[int, str]) -> InputFile:
        number, name = numbered
        source = f"{GCS_SCHEME}{bucket_name}/{name}"
        # Numbered, so equal base names in different folders cannot collide, and with the
        # base name kept, so the extension still tells the format.
        target = target_dir / f"{number:05d}-{Path(name).name or 'data'}"
        try:
            bucket.blob(name).download_to_filename(str(target))
        except Exception as error:  # noqa: BLE001
            raise TrainerError(f"cannot download {source}: {error}") from None
        return InputFile(target, source)

    # Threads share one client, as google-cloud-storage's own transfer_manager does in its
    # THREAD mode; downloads are network-bound and release the GIL.
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_DOWNLOADS, len(names))) as pool:
        return list(pool.map(fetch, enumerate(names)))


def _matching_objects(client: Any, bucket_name: str, object_pattern: str) -> list[str]:
    """Names of the objects matching a wildcard, listed from the prefix before it."""
    pattern = gcs_pattern(object_pattern)
    prefix = _wildcard_prefix(object_pattern)
    names = (blob.name for blob in client.list_blobs(bucket_name, prefix=prefix))
    return sorted(name for name in names if pattern.fullmatch(name) and not name.endswith("/"))
