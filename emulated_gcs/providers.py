"""Dynamic providers for buckets and objects in a local Cloud Storage emulator.

Pickled into state by reference (module path + class name), like `vertex_jobs.providers`,
and run by Pulumi's dynamic-provider host in the project directory. So: no import-time side
effects, no attributes on the instances, and the storage client is built inside each method
from the resource's own `storage_host` (never from this process's `STORAGE_EMULATOR_HOST`,
so a local resource can never reach Cloud Storage itself).

- Bucket: `create` makes it, or adopts one of that name already in the emulator (an emulator
  root that outlived the Pulumi state); `read` drops it from state when it is gone; `delete`
  refuses a bucket that still holds objects unless `force_destroy`, as Cloud Storage does.
- Object: `create`/`update` upload the file, after checking it still has the hash the program
  saw; `delete` treats a missing object as deleted.
- `diff` is pure. Only the name (and project and location of a bucket) replaces a resource.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from emulated_gcs.contract import (
    BUCKET_CLIENT_SIDE,
    BUCKET_INPUTS,
    OBJECT_CLIENT_SIDE,
    OBJECT_INPUTS,
)


class StorageEmulatorError(Exception):
    """An error the operator can act on: which emulator, which bucket or object, what to do."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# How long to wait for the emulator's port before saying it is not running. The client's
# own retry would keep a refused connection going for minutes (its default deadline, 120 s).
CONNECT_TIMEOUT_S = 5.0


def _require_emulator(props: dict[str, Any]) -> None:
    url = urlsplit(props["storage_host"])
    try:
        socket.create_connection((url.hostname, url.port or 80), CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise _unreachable(props, error) from None


def _client(props: dict[str, Any]) -> Any:
    """A google-cloud-storage client for the emulator at `storage_host`, anonymous.

    `client_options.api_endpoint` points the client at the emulator (google-cloud-storage
    docs, "Client": api_endpoint); anonymous credentials, as for its STORAGE_EMULATOR_HOST
    mode, so no Google credentials are looked up."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    _require_emulator(props)
    return storage.Client(
        project=props.get("project"),  # None for objects: the client then names none
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": props["storage_host"]},
    )


def _unreachable(props: dict[str, Any], error: Exception) -> StorageEmulatorError:
    return StorageEmulatorError(
        f"no Cloud Storage emulator answers at {props['storage_host']} "
        f"(vertex-training:storageEmulatorHost): {error}. Start the local emulator first: "
        "scripts/local_up.sh starts it, or `python -m vertex_emulator serve --port <port> "
        "--storage-port <port> --root <dir>`."
    )


def _connection_errors() -> tuple[type[Exception], ...]:
    import requests

    return (requests.exceptions.ConnectionError,)


def _check_keys(
    news: dict[str, Any], keys: dict[str, str], failures: list[CheckFailure]
) -> dict[str, Any]:
    inputs = {key: value for key, value in news.items() if key in keys or key == "__provider"}
    for key in sorted(set(news) - set(inputs)):
        if key not in ("url", "uri"):  # output placeholders the resource registers
            failures.append(CheckFailure(key, f"unknown property; allowed: {', '.join(keys)}"))
    storage_host = inputs.get("storage_host")
    if isinstance(storage_host, str) and not storage_host.startswith(("http://", "https://")):
        failures.append(
            CheckFailure("storage_host", f"must be http://host:port, got {storage_host!r}")
        )
    return inputs


def _diff(
    olds: dict[str, Any], news: dict[str, Any], keys: dict[str, str], in_place: frozenset[str]
) -> DiffResult:
    changed = [key for key in keys if olds.get(key) != news.get(key)]
    replaces = [key for key in changed if key not in in_place]
    return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)


class BucketProvider(ResourceProvider):
    """A bucket in the emulator. The id is the bucket name."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        inputs = _check_keys(news, BUCKET_INPUTS, failures)
        inputs.setdefault("labels", {})
        inputs.setdefault("force_destroy", False)
        for key in ("storage_host", "project", "name", "location"):
            if inputs.get(key) is None:
                failures.append(CheckFailure(key, "required"))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, BUCKET_INPUTS, BUCKET_CLIENT_SIDE)

    def _outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        inputs = {key: props.get(key) for key in BUCKET_INPUTS}
        return {**inputs, "url": f"gs://{props['name']}"}

    def create(self, props: dict[str, Any]) -> CreateResult:
        from google.api_core import exceptions

        try:
            client = _client(props)
            bucket = client.bucket(props["name"])
            try:
                client.create_bucket(bucket, location=props["location"])
            except exceptions.Conflict:
                pass  # already in the emulator (its root outlived the state): take it over
            # gcp-storage-emulator drops the labels of an insert; a patch keeps them.
            self._set_labels(client, props)
        except _connection_errors() as error:
            raise _unreachable(props, error) from None
        return CreateResult(props["name"], self._outputs(props))

    def _set_labels(self, client: Any, props: dict[str, Any]) -> None:
        bucket = client.get_bucket(props["name"])
        bucket.labels = dict(props.get("labels") or {})
        bucket.patch()

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from google.api_core import exceptions

        try:
            bucket = _client(props).get_bucket(id_)
        except exceptions.NotFound:
            return ReadResult("", {})  # gone: the engine drops it from state
        except _connection_errors() as error:
            raise _unreachable(props, error) from None
        # A label removed by a patch reads back as None from the emulator: not a label.
        labels = {key: value for key, value in (bucket.labels or {}).items() if value is not None}
        return ReadResult(id_, {**self._outputs(props), "labels": labels})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("labels") != news.get("labels"):
            try:
                self._set_labels(_client(news), news)
            except _connection_errors() as error:
                raise _unreachable(news, error) from None
        return UpdateResult(self._outputs(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from google.api_core import exceptions

        try:
            bucket = _client(props).bucket(id_)
            try:
                if props.get("force_destroy"):
                    for blob in bucket.list_blobs():
                        blob.delete()
                elif any(True for _ in bucket.list_blobs(max_results=1)):
                    raise StorageEmulatorError(
                        f"bucket {id_} in the storage emulator at {props['storage_host']} "
                        "still holds objects; delete them, or set vertex-training:forceDestroy "
                        "true and run `pulumi up` before `pulumi destroy`"
                    )
                bucket.delete()
            except exceptions.NotFound:
                return
        except _connection_errors() as error:
            raise _unreachable(props, error) from None


class ObjectProvider(ResourceProvider):
    """An object uploaded from a file of the project. The id is `<bucket>/<name>`."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        inputs = _check_keys(news, OBJECT_INPUTS, failures)
        inputs.setdefault("content_type", None)
        for key in ("storage_host", "bucket", "name", "source", "sha256"):
            if inputs.get(key) is None:
                failures.append(CheckFailure(key, "required"))
        source = inputs.get("source")
        if isinstance(source, str) and Path(source).is_absolute():
            failures.append(
                CheckFailure("source", f"must be relative to the project, got {source!r}")
            )
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        in_place = OBJECT_CLIENT_SIDE | {"source", "sha256", "content_type"}
        return _diff(olds, news, OBJECT_INPUTS, in_place)

    def _outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        inputs = {key: props.get(key) for key in OBJECT_INPUTS}
        return {**inputs, "uri": f"gs://{props['bucket']}/{props['name']}"}

    def _upload(self, props: dict[str, Any]) -> None:
        # The host runs in the project directory, so `source` is found as the program saw it.
        source = Path(props["source"])
        found = file_sha256(source)
        if found != props["sha256"]:
            raise StorageEmulatorError(
                f"{source} changed after the program read it (sha256 {found}, expected "
                f"{props['sha256']}); run `pulumi up` again"
            )
        try:
            blob = _client(props).bucket(props["bucket"]).blob(props["name"])
            blob.upload_from_filename(str(source), content_type=props.get("content_type"))
        except _connection_errors() as error:
            raise _unreachable(props, error) from None

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._upload(props)
        return CreateResult(f"{props['bucket']}/{props['name']}", self._outputs(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if any(olds.get(key) != news.get(key) for key in ("source", "sha256", "content_type")):
            self._upload(news)
        return UpdateResult(self._outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            blob = _client(props).bucket(props["bucket"]).get_blob(props["name"])
        except _connection_errors() as error:
            raise _unreachable(props, error) from None
        if blob is None:
            return ReadResult("", {})
        return ReadResult(id_, self._outputs(props))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from google.api_core import exceptions

        try:
            _client(props).bucket(props["bucket"]).blob(props["name"]).delete()
        except exceptions.NotFound:
            return
        except _connection_errors() as error:
            raise _unreachable(props, error) from None
