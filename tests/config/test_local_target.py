"""`vertex-training:target`: a local stack names its emulator and refuses what only Google
Cloud can do, before any resource is registered; a cloud stack names no emulator."""

from __future__ import annotations

import pytest

from config.loader import ConfigError
from config.settings import LOCAL_REFUSED_KEYS
from tests.harness.engine import run_stack

NS = "vertex-training"
GCP_ONLY_VALUES = {
    f"{NS}:kmsKeyName": "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k",
    f"{NS}:deployers": ["group:ml@acme.example"],
    f"{NS}:upIdentity": "serviceAccount:ci@acme-ml-dev.iam.gserviceaccount.com",
    f"{NS}:grantServiceAgentRegistryRead": True,
    f"{NS}:apiEndpoint": "us-central1-aiplatform.googleapis.com",
    f"{NS}:persistentResource": {"resourcePools": [{"id": "cpu", "machineType": "n1-standard-4"}]},
}


def _refused(stack: str, config: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        run_stack(stack, config)
    assert raised.value.stack_run.resources == []  # type: ignore[attr-defined]
    return str(raised.value)


def test_every_refused_key_has_a_value_here():
    assert {key.split(":")[1] for key in GCP_ONLY_VALUES} == set(LOCAL_REFUSED_KEYS)


@pytest.mark.parametrize("key", sorted(GCP_ONLY_VALUES))
def test_a_google_only_key_on_a_local_stack_is_refused_naming_key_and_value(key):
    message = _refused("local", {key: GCP_ONLY_VALUES[key]})
    assert f"{key}: " in message
    assert "cannot apply to vertex-training:target 'local'" in message
    assert LOCAL_REFUSED_KEYS[key.split(":")[1]] in message


def test_all_refused_keys_are_reported_at_once():
    message = _refused("local", GCP_ONLY_VALUES)
    assert sum(f"\n  {key}: " in message for key in GCP_ONLY_VALUES) == len(GCP_ONLY_VALUES)


@pytest.mark.parametrize("key", ["emulatorHost", "storageEmulatorHost"])
def test_a_local_stack_must_name_its_emulator(key):
    message = _refused("local", {f"{NS}:{key}": None})
    assert f"{NS}:{key}: required with {NS}:target 'local'" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("emulatorHost", "http://127.0.0.1:8470"),
        ("emulatorHost", "127.0.0.1"),
        ("storageEmulatorHost", "127.0.0.1:8471"),
    ],
)
def test_a_malformed_emulator_address_is_refused(key, value):
    message = _refused("local", {f"{NS}:{key}": value})
    assert f"{NS}:{key}: {value!r} is not like" in message


@pytest.mark.parametrize("key", ["emulatorHost", "storageEmulatorHost"])
def test_a_cloud_stack_names_no_emulator(key):
    message = _refused("dev", {f"{NS}:{key}": "http://127.0.0.1:8471"})
    assert f"{NS}:{key}: 'http://127.0.0.1:8471' is only for {NS}:target 'local'" in message


def test_an_unknown_target_is_refused_with_the_allowed_ones():
    message = _refused("local", {f"{NS}:target": "aws"})
    assert f"{NS}:target: 'aws' is not allowed" in message
    assert "'gcp' or 'local'" in message


def test_keys_that_only_tune_cloud_resources_are_ignored_on_a_local_stack():
    """Documented ignore: the CLI passes their defaults to every stack."""
    run = run_stack(
        "local",
        {
            f"{NS}:repositoryId": "other-images",
            f"{NS}:immutableTags": True,
            f"{NS}:registryAuth": "docker-config",
            f"{NS}:grantStorageAnalyticsWriter": False,
            f"{NS}:buckets": {"data": {"deleteAfterDays": 30}},
        },
    )
    assert run.resources and run.warnings == []


def test_a_local_stack_with_jobs_needs_no_up_identity():
    run = run_stack("local")
    assert run.of_type("pulumi-python:dynamic/vtrain/jobs:CustomJob")
