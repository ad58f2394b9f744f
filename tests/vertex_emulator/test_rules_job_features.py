"""The rules of vertex_emulator/rules.py for issue 12's job fields (persistent resource ID,
reservation affinity, TPU topology, PSC interface, experiments), through the fake JobService
over real gRPC with the real client: what the v1 reference documents as invalid is
INVALID_ARGUMENT and makes nothing; the documented forms are accepted and stored as sent."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions

from tests.harness.fake_job_service import FakeVertexJobService
from vertex_jobs.api import Endpoint, make_job_client

PARENT = "projects/my-project/locations/us-central1"
IMAGE = "gcr.io/p/i@sha256:" + "0" * 64
STORE = "projects/my-project/locations/us-central1/metadataStores/default"
RESERVATION = "projects/my-project/zones/us-central1-a/reservations/n1-pool"
NAME_KEY = "compute.googleapis.com/reservation-name"


@pytest.fixture
def client(vertex_fake: FakeVertexJobService):
    with make_job_client(Endpoint(vertex_fake.address, insecure=True)) as job_client:
        yield job_client


def _job(machine: dict | None = None, **spec: Any) -> dict:
    pool = {
        "machine_spec": {"machine_type": "n1-standard-4", **(machine or {})},
        "replica_count": 1,
        "container_spec": {"image_uri": IMAGE},
    }
    return {"display_name": "job", "job_spec": {"worker_pool_specs": [pool], **spec}}


def _tuning(job: dict) -> dict:
    return {
        "display_name": "tune",
        "trial_job_spec": job["job_spec"],
        "study_spec": {
            "metrics": [{"metric_id": "accuracy", "goal": "MAXIMIZE"}],
            "parameters": [
                {"parameter_id": "layers", "integer_value_spec": {"min_value": 1, "max_value": 4}}
            ],
        },
        "max_trial_count": 2,
        "parallel_trial_count": 1,
    }


def _create(client, kind: str, job: dict):
    if kind == "custom":
        return client.create_custom_job(parent=PARENT, custom_job=job)
    return client.create_hyperparameter_tuning_job(
        parent=PARENT, hyperparameter_tuning_job=_tuning(job)
    )


INVALID = {
    "affinity without type": (
        _job({"reservation_affinity": {"key": NAME_KEY}}),
        "reservation_affinity_type is required",
    ),
    "specific without values": (
        _job(
            {
                "reservation_affinity": {
                    "reservation_affinity_type": "SPECIFIC_RESERVATION",
                    "key": NAME_KEY,
                }
            }
        ),
        "SPECIFIC_RESERVATION needs a key and the reservations as values",
    ),
    "reservation by short name": (
        _job(
            {
                "reservation_affinity": {
                    "reservation_affinity_type": "SPECIFIC_RESERVATION",
                    "key": NAME_KEY,
                    "values": ["n1-pool"],
                }
            }
        ),
        "is not the full resource name of a reservation",
    ),
    "malformed topology": (
        _job({"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "two-by-two"}),
        "tpu_topology",
    ),
    "persistent resource id with capitals": (
        _job(persistent_resource_id="Pool"),
        "persistent_resource_id",
    ),
    "attachment path": (
        _job(psc_interface_config={"network_attachment": "regions/us-central1/a"}),
        "psc_interface_config.network_attachment",
    ),
    "experiment by name": (_job(experiment="penguins"), "job_spec.experiment;"),
    "run without experiment": (
        _job(experiment_run=f"{STORE}/contexts/penguins-run-1"),
        "experiment_run",
    ),
    "run of another experiment": (
        _job(experiment=f"{STORE}/contexts/penguins", experiment_run=f"{STORE}/contexts/other-run"),
        "experiment_run",
    ),
}


@pytest.mark.parametrize("kind", ["custom", "tuning"])
@pytest.mark.parametrize("job, message", INVALID.values(), ids=INVALID.keys())
def test_documented_violations_are_invalid_and_make_nothing(
    client, vertex_fake, kind, job, message
):
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _create(client, kind, job)
    assert message in raised.value.message
    assert vertex_fake.job_names() == []


def test_documented_forms_are_accepted_as_sent(client, vertex_fake):
    affinity = {
        "reservation_affinity_type": "SPECIFIC_RESERVATION",
        "key": NAME_KEY,
        "values": [RESERVATION],
    }
    job = _job(
        {
            "machine_type": "ct5lp-hightpu-4t",
            "tpu_topology": "2x2",
            "reservation_affinity": affinity,
        },
        persistent_resource_id="vtrain-dev",
        psc_interface_config={"network_attachment": "training"},
        experiment=f"{STORE}/contexts/penguins",
        experiment_run=f"{STORE}/contexts/penguins-run-1",
    )
    created = _create(client, "custom", job)
    stored = vertex_fake.job(created.name).job_spec
    assert stored.persistent_resource_id == "vtrain-dev"
    assert stored.worker_pool_specs[0].machine_spec.tpu_topology == "2x2"
    assert list(stored.worker_pool_specs[0].machine_spec.reservation_affinity.values) == [
        RESERVATION
    ]
    assert stored.psc_interface_config.network_attachment == "training"
    assert stored.experiment_run.endswith("/contexts/penguins-run-1")
