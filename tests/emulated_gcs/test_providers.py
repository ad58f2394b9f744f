"""The emulated-storage providers, run as the CLI runs them: pickled into Pulumi's
dynamic-provider host, against a real gcp-storage-emulator server (what the Vertex AI
emulator embeds), read back with google-cloud-storage."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from emulated_gcs.contract import BUCKET_TYPE, OBJECT_TYPE
from emulated_gcs.providers import BucketProvider, ObjectProvider
from tests.harness.dynamic_host import PROJECT_DIR, DynamicProviderError, DynamicProviderHost

SAMPLE = "images/penguins/sample_data/val.csv"


@pytest.fixture(scope="module")
def storage_url(tmp_path_factory) -> Iterator[str]:
    from gcp_storage_emulator.server import create_server

    server = create_server(
        "127.0.0.1", 0, in_memory=False, data_dir=str(tmp_path_factory.mktemp("gcs"))
    )
    server.start()
    try:
        yield f"http://127.0.0.1:{server._api._httpd.server_port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def host() -> Iterator[DynamicProviderHost]:
    # Nothing in the environment points at the emulator: the resources carry its address.
    with DynamicProviderHost(env={"STORAGE_EMULATOR_HOST": None}) as running:
        yield running


@pytest.fixture
def gcs(storage_url) -> storage.Client:
    return storage.Client(
        project="local-project",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": storage_url},
    )


def _bucket_props(storage_url: str, name: str, **overrides) -> dict:
    return {
        "storage_host": storage_url,
        "project": "local-project",
        "name": name,
        "location": "us-central1",
        "labels": {"vtrain-stack": "local"},
        "force_destroy": False,
        **overrides,
    }


def _object_props(storage_url: str, bucket: str, source: str = SAMPLE, **overrides) -> dict:
    return {
        "storage_host": storage_url,
        "bucket": bucket,
        "name": "samples/penguins/val.csv",
        "source": source,
        "sha256": hashlib.sha256((PROJECT_DIR / source).read_bytes()).hexdigest(),
        "content_type": "text/csv",
        **overrides,
    }


def _create(bound, props: dict) -> dict:
    checked = bound.check({}, props)
    assert checked["failures"] == []
    return bound.create(checked["inputs"])


def test_a_bucket_is_made_labelled_and_a_second_create_adopts_it(host, storage_url, gcs):
    bound = host.bind(BucketProvider(), type_token=BUCKET_TYPE, name="data")
    props = _bucket_props(storage_url, "local-project-local-adopt")
    created = _create(bound, props)
    assert created["id"] == "local-project-local-adopt"
    assert created["properties"]["url"] == "gs://local-project-local-adopt"
    assert gcs.get_bucket("local-project-local-adopt").labels == {"vtrain-stack": "local"}
    # The emulator's root outlived the Pulumi state: the next create takes the bucket over.
    assert _create(bound, props)["id"] == "local-project-local-adopt"
    assert [b.name for b in gcs.list_buckets()].count("local-project-local-adopt") == 1


def test_labels_change_in_place_and_read_shows_them(host, storage_url, gcs):
    bound = host.bind(BucketProvider(), type_token=BUCKET_TYPE, name="labels")
    olds = _create(bound, _bucket_props(storage_url, "local-project-local-labels"))["properties"]
    news = _bucket_props(storage_url, "local-project-local-labels", labels={"team": "ml"})
    diff = bound.diff(olds["name"], olds, news)
    assert diff["changes"] == "DIFF_SOME" and diff["replaces"] == []
    bound.update(olds["name"], olds, news)
    assert bound.read(olds["name"], news)["properties"]["labels"] == {"team": "ml"}
    renamed = _bucket_props(storage_url, "local-project-local-other")
    assert bound.diff(olds["name"], olds, renamed)["replaces"] == ["name"]


def test_delete_refuses_a_bucket_with_objects_unless_force_destroy(host, storage_url, gcs):
    bound = host.bind(BucketProvider(), type_token=BUCKET_TYPE, name="full")
    props = _create(bound, _bucket_props(storage_url, "local-project-local-full"))["properties"]
    gcs.bucket("local-project-local-full").blob("model/weights.pt").upload_from_string(b"w")
    with pytest.raises(DynamicProviderError) as refused:
        bound.delete(props["name"], props)
    assert "local-project-local-full" in refused.value.details
    assert "still holds objects" in refused.value.details
    assert "vertex-training:forceDestroy" in refused.value.details
    assert gcs.bucket("local-project-local-full").exists()
    bound.delete(props["name"], {**props, "force_destroy": True})
    assert not gcs.bucket("local-project-local-full").exists()
    assert bound.read(props["name"], props)["id"] == ""  # gone: dropped from state
    bound.delete(props["name"], props)  # deleting what is gone succeeds


def test_an_object_is_the_projects_file_and_a_new_hash_uploads_it_again(
    host, storage_url, gcs, tmp_path
):
    _create(
        host.bind(BucketProvider(), type_token=BUCKET_TYPE, name="data"),
        _bucket_props(storage_url, "local-project-local-data"),
    )
    bound = host.bind(ObjectProvider(), type_token=OBJECT_TYPE, name="sample-val")
    created = _create(bound, _object_props(storage_url, "local-project-local-data"))
    assert created["id"] == "local-project-local-data/samples/penguins/val.csv"
    assert created["properties"]["uri"] == "gs://local-project-local-data/samples/penguins/val.csv"
    blob = gcs.bucket("local-project-local-data").get_blob("samples/penguins/val.csv")
    assert blob.download_as_bytes() == (PROJECT_DIR / SAMPLE).read_bytes()
    assert blob.content_type == "text/csv"

    olds = created["properties"]
    other = "images/penguins/sample_data/train.csv"
    news = _object_props(storage_url, "local-project-local-data", source=other)
    diff = bound.diff(created["id"], olds, news)
    assert diff["changes"] == "DIFF_SOME" and diff["replaces"] == []  # same object, new bytes
    bound.update(created["id"], olds, news)
    assert blob.download_as_bytes() == (PROJECT_DIR / other).read_bytes()

    moved = _object_props(storage_url, "local-project-local-data", name="elsewhere.csv")
    assert bound.diff(created["id"], olds, moved)["replaces"] == ["name"]
    bound.delete(created["id"], news)
    assert gcs.bucket("local-project-local-data").get_blob("samples/penguins/val.csv") is None
    assert bound.read(created["id"], news)["id"] == ""


def test_a_file_changed_since_the_program_read_it_is_not_uploaded(host, storage_url):
    bound = host.bind(ObjectProvider(), type_token=OBJECT_TYPE, name="stale")
    stale = _object_props(storage_url, "local-project-local-data", sha256="0" * 64)
    with pytest.raises(DynamicProviderError) as failed:
        bound.create(bound.check({}, stale)["inputs"])
    assert SAMPLE in failed.value.details and "changed after the program read it" in (
        failed.value.details
    )


def test_check_refuses_an_absolute_source_and_unknown_keys(host, storage_url):
    bound = host.bind(ObjectProvider(), type_token=OBJECT_TYPE, name="bad")
    props = {**_object_props(storage_url, "b"), "source": str(PROJECT_DIR / SAMPLE), "acl": "x"}
    failures = {f["property"]: f["reason"] for f in bound.check({}, props)["failures"]}
    assert set(failures) == {"source", "acl"}
    assert "relative to the project" in failures["source"]
    bucket = host.bind(BucketProvider(), type_token=BUCKET_TYPE, name="bad")
    no_host = _bucket_props("127.0.0.1:8471", "b")
    failures = {f["property"]: f["reason"] for f in bucket.check({}, no_host)["failures"]}
    assert failures == {"storage_host": "must be http://host:port, got '127.0.0.1:8471'"}


def test_no_emulator_is_a_clear_error_within_seconds(host, unused_port):
    bound = host.bind(BucketProvider(), type_token=BUCKET_TYPE, name="nowhere")
    props = _bucket_props(f"http://127.0.0.1:{unused_port}", "local-project-local-data")
    started = time.monotonic()
    with pytest.raises(DynamicProviderError) as failed:
        bound.create(bound.check({}, props)["inputs"])
    assert time.monotonic() - started < 15
    assert f"no Cloud Storage emulator answers at http://127.0.0.1:{unused_port}" in (
        failed.value.details
    )
    assert "scripts/local_up.sh" in failed.value.details


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_providers_module_has_no_import_time_side_effects():
    source = Path(PROJECT_DIR / "emulated_gcs" / "providers.py").read_text()
    top_level_imports = [
        line for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert not any("google" in line for line in top_level_imports)
