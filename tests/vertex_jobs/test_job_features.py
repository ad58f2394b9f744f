"""Issue 12's job features from config to the create request: `vertex_jobs.specs` puts each in
its CustomJobSpec field (parsed as the real aiplatform v1 message), `specOverrides` merge last,
and a whole stack run through Pulumi's dynamic-provider host against the fake JobService
shows each field in the job Vertex receives."""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from config import catalogue
from config.jobs import Job
from tests.harness.engine import run_stack
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE
from vertex_jobs.overrides import checked_overrides, merged
from vertex_jobs.specs import job_spec

NS = "vertex-training"
IMAGE = "us-central1-docker.pkg.dev/p/training/penguins-cpu@sha256:" + "c" * 64
STORE = "projects/acme-ml-dev/locations/us-central1/metadataStores/default"
EXPERIMENT = f"{STORE}/contexts/penguins"
RESERVATION = "projects/acme-ml-dev/zones/us-central1-a/reservations/n1-pool"
ATTACHMENT = "projects/acme-ml-dev/regions/us-central1/networkAttachments/training"
Affinity = aiplatform_v1.ReservationAffinity.Type


def _job(**fields) -> Job:
    return Job.model_validate({"name": "j", "image": "penguins-cpu", **fields})


def _spec(job: Job, **kwargs) -> dict:
    return job_spec(
        job,
        image_uri=IMAGE,
        service_account="trainer@p.iam.gserviceaccount.com",
        output_uri_prefix="gs://p-output/jobs/j/",
        default_data={},
        **kwargs,
    )


def _parsed(spec: dict):
    return json_format.ParseDict(spec, aiplatform_v1.CustomJobSpec.pb()())


# ---- translation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"type": "ANY"}, Affinity.ANY_RESERVATION),
        ({"type": "NONE"}, Affinity.NO_RESERVATION),
        (
            {"type": "SPECIFIC", "key": catalogue.RESERVATION_NAME_KEY, "values": [RESERVATION]},
            Affinity.SPECIFIC_RESERVATION,
        ),
    ],
)
def test_reservation_affinity_reaches_the_machine_spec(config, expected):
    job = _job(workerPools=[{"machineType": "n1-standard-8", "reservationAffinity": config}])
    (pool,) = _parsed(_spec(job)).worker_pool_specs
    affinity = pool.machine_spec.reservation_affinity
    assert affinity.reservation_affinity_type == expected
    assert affinity.key == config.get("key", "")
    assert list(affinity.values) == config.get("values", [])


@pytest.mark.parametrize(
    ("machine", "topology"), sorted(catalogue.TPU_SINGLE_HOST_TOPOLOGY.items())
)
def test_tpu_pool_names_its_topology_and_no_accelerator(machine, topology):
    job = _job(workerPools=[{"machineType": machine, "tpuTopology": topology}])
    (pool,) = _parsed(_spec(job)).worker_pool_specs
    assert (pool.machine_spec.machine_type, pool.machine_spec.tpu_topology) == (machine, topology)
    assert not pool.machine_spec.accelerator_type and not pool.machine_spec.accelerator_count


def test_each_job_level_feature_reaches_its_field():
    job = _job(
        persistentResource=True,
        pscInterfaceConfig={"networkAttachment": ATTACHMENT},
        disableRetries=True,
        enableDashboardAccess=True,
        experiment=EXPERIMENT,
        experimentRun=f"{EXPERIMENT}-run-7",
    )
    parsed = _parsed(_spec(job, persistent_resource_id="vtrain-dev"))
    assert parsed.persistent_resource_id == "vtrain-dev"
    assert parsed.psc_interface_config.network_attachment == ATTACHMENT
    assert parsed.scheduling.disable_retries is True
    assert parsed.enable_dashboard_access is True
    assert (parsed.experiment, parsed.experiment_run) == (EXPERIMENT, f"{EXPERIMENT}-run-7")


def test_features_left_unset_leave_the_spec_as_it_was():
    """A job without the new keys gets exactly the spec it had before they existed, so no
    deployed job is replaced (its resource uid hashes the spec)."""
    spec = _spec(_job(workerPools=[{"machineType": "n1-standard-8"}]))
    assert set(spec) == {
        "worker_pool_specs",
        "scheduling",
        "service_account",
        "base_output_directory",
        "enable_web_access",
    }
    assert set(spec["scheduling"]) == {"timeout", "restart_job_on_worker_restart", "strategy"}
    assert spec["worker_pool_specs"][0]["machine_spec"] == {"machine_type": "n1-standard-8"}


def test_a_job_on_the_persistent_resource_needs_its_id():
    with pytest.raises(ValueError, match="runs on the persistent resource; pass its ID"):
        _spec(_job(persistentResource=True))


# ---- specOverrides -------------------------------------------------------------------


def test_overrides_are_merged_last_by_proto_field_name():
    job = _job(
        workerPools=[{"machineType": "n1-standard-8"}, {"machineType": "n1-standard-8"}],
        env={"A": "1"},
        specOverrides={
            "reservedIpRanges": ["vertex-range"],
            "scheduling": {"timeout": "60s"},
            "workerPoolSpecs": [{}, {"machineSpec": {"gpuPartitionSize": "1g.10gb"}}],
            "protected_artifact_location_id": "europe-west4",
        },
    )
    spec = _spec(job)
    assert spec["reserved_ip_ranges"] == ["vertex-range"]
    assert spec["protected_artifact_location_id"] == "europe-west4"
    # merged into the generated objects, not replacing them
    assert spec["scheduling"] == {
        "timeout": "60s",
        "restart_job_on_worker_restart": False,
        "strategy": "STANDARD",
    }
    chief, worker = spec["worker_pool_specs"]
    assert chief["machine_spec"] == {"machine_type": "n1-standard-8"}
    assert worker["machine_spec"] == {
        "machine_type": "n1-standard-8",
        "gpu_partition_size": "1g.10gb",
    }
    assert worker["container_spec"]["image_uri"] == IMAGE
    parsed = _parsed(spec)
    assert parsed.scheduling.timeout.ToSeconds() == 60
    assert parsed.worker_pool_specs[1].machine_spec.gpu_partition_size == "1g.10gb"


def test_merge_replaces_scalars_and_lists_of_scalars_and_appends_extra_objects():
    spec = {"a": {"b": 1, "c": [1, 2]}, "pools": [{"x": 1}], "keep": True}
    overrides = {"a": {"c": [3]}, "pools": [{"y": 2}, {"z": 3}]}
    assert merged(spec, overrides) == {
        "a": {"b": 1, "c": [3]},
        "pools": [{"x": 1, "y": 2}, {"z": 3}],
        "keep": True,
    }
    assert spec == {"a": {"b": 1, "c": [1, 2]}, "pools": [{"x": 1}], "keep": True}  # untouched


def test_overrides_are_rewritten_to_proto_names_at_every_depth():
    written = {
        "workerPoolSpecs": [{"containerSpec": {"env": [{"name": "A", "value": "1"}]}}],
        "scheduling": {"disableRetries": True},
        "models": ["projects/p/locations/us-central1/models/m"],
    }
    assert checked_overrides(written) == {
        "worker_pool_specs": [{"container_spec": {"env": [{"name": "A", "value": "1"}]}}],
        "scheduling": {"disable_retries": True},
        "models": ["projects/p/locations/us-central1/models/m"],
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"scheduling": {"strategy": "CHEAP"}}, "not valid CustomJobSpec proto3 JSON"),
        (
            {"workerPoolSpecs": {"machineSpec": {}}},
            "specOverrides.workerPoolSpecs: expected a list",
        ),
        ({"scheduling": []}, "specOverrides.scheduling: expected an object of Scheduling fields"),
        ({"experimentRun": "x"}, "specOverrides.experimentRun: not overridable"),
    ],
)
def test_bad_overrides_name_their_key(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        checked_overrides(overrides)


# ---- the whole stack through the dynamic-provider host and the fake JobService ---------

FEATURES = {
    f"{NS}:persistentResource": {
        "resourcePools": [{"id": "cpu", "machineType": "n1-standard-8", "replicaCount": 2}],
        # a job's network config must be its persistent resource's
        "pscInterfaceConfig": {"networkAttachment": ATTACHMENT},
    },
    f"{NS}:jobs": [
        {
            "name": "every-feature",
            "image": "penguins-cpu",
            "persistentResource": True,
            "workerPools": [
                {"machineType": "n1-standard-8"},
                {"machineType": "n1-standard-8", "replicaCount": 2},
            ],
            "pscInterfaceConfig": {"networkAttachment": ATTACHMENT},
            "disableRetries": True,
            "enableDashboardAccess": True,
            "experiment": EXPERIMENT,
            "experimentRun": f"{EXPERIMENT}-run-1",
            "specOverrides": {"reservedIpRanges": ["vertex-range"]},
        },
        {
            "name": "tpu-reserved",
            "image": "penguins-cpu",
            "workerPools": [
                {
                    "machineType": "ct5lp-hightpu-4t",
                    "tpuTopology": "2x2",
                    "reservationAffinity": {
                        "type": "SPECIFIC",
                        "key": catalogue.RESERVATION_NAME_KEY,
                        "values": [RESERVATION],
                    },
                }
            ],
            "study": {
                "maxTrialCount": 2,
                "parameters": [{"id": "learning-rate", "type": "double", "min": 0.001, "max": 0.1}],
            },
        },
    ],
}


def test_every_feature_reaches_the_create_request(hosted):
    fake, host = hosted
    handler = host.engine_handler()
    run = run_stack(
        "dev",
        FEATURES,
        resource_handlers={t: handler for t in (CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE)},
    )
    (custom,) = run.of_type(CUSTOM_JOB_TYPE)
    (tuning,) = run.of_type(HYPERPARAMETER_TUNING_JOB_TYPE)
    assert fake.call_count("CreateCustomJob") == 1
    assert fake.call_count("CreateHyperparameterTuningJob") == 1

    spec = fake.job(custom.id).job_spec
    assert spec.persistent_resource_id == "vtrain-dev"
    assert spec.psc_interface_config.network_attachment == ATTACHMENT
    assert spec.scheduling.disable_retries is True
    assert spec.enable_dashboard_access is True
    assert (spec.experiment, spec.experiment_run) == (EXPERIMENT, f"{EXPERIMENT}-run-1")
    assert list(spec.reserved_ip_ranges) == ["vertex-range"]
    assert [pool.replica_count for pool in spec.worker_pool_specs] == [1, 2]

    (trial_pool,) = fake.job(tuning.id).trial_job_spec.worker_pool_specs
    machine = trial_pool.machine_spec
    assert (machine.machine_type, machine.tpu_topology) == ("ct5lp-hightpu-4t", "2x2")
    affinity = machine.reservation_affinity
    assert affinity.reservation_affinity_type == Affinity.SPECIFIC_RESERVATION
    assert (affinity.key, list(affinity.values)) == (catalogue.RESERVATION_NAME_KEY, [RESERVATION])
