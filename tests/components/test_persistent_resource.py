"""TrainingCluster: the stack's optional Vertex AI persistent resource, and the jobs on it.

No shipped stack declares one (it holds, and bills for, its machines around the clock; see the
README's Vertex job features), so these tests run the program with one added to a stack."""

from __future__ import annotations

from tests.harness.engine import run_stack
from tests.harness.stack_config import stack_file
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE

NS = "vertex-training"
RESOURCE_TYPE = "gcp:vertex/aiPersistentResource:AiPersistentResource"
COMPONENT_TYPE = "vtrain:persistent_resource:TrainingCluster"
POOLS = [
    {"id": "chief", "machineType": "n1-standard-8", "replicaCount": 1},
    {
        "id": "workers",
        "machineType": "n1-standard-16",
        "replicaCount": 2,
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        "bootDiskType": "pd-standard",
        "bootDiskSizeGb": 200,
    },
]
ON_IT = {
    "name": "on-cluster",
    "image": "penguins-cpu",
    "persistentResource": True,
    "workerPools": [
        {"machineType": "n1-standard-8"},
        {
            "machineType": "n1-standard-16",
            "replicaCount": 4,
            "bootDiskType": "pd-standard",
            "bootDiskSizeGb": 200,
        },
    ],
}
OFF_IT = {"name": "on-demand", "image": "penguins-cpu"}


def _run(stack="dev", resource=None, jobs=(ON_IT, OFF_IT), **config):
    overrides = {
        f"{NS}:persistentResource": resource or {"resourcePools": POOLS},
        f"{NS}:jobs": list(jobs),
        **{f"{NS}:{key}": value for key, value in config.items()},
    }
    return run_stack(stack, overrides)


def test_the_resource_is_one_per_stack_in_its_region_with_its_pools():
    run = _run()
    (component,) = run.of_type(COMPONENT_TYPE)
    (resource,) = run.of_type(RESOURCE_TYPE)
    assert resource.parent == component.urn
    inputs = resource.plain_inputs
    assert (inputs["project"], inputs["location"]) == ("acme-ml-dev", "us-central1")
    assert inputs["name"] == "vtrain-dev"
    chief, workers = inputs["resourcePools"]
    assert chief == {
        "id": "chief",
        "machineSpec": {"machineType": "n1-standard-8"},
        "replicaCount": "1",  # int64: a string in pulumi-gcp
        "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
    }
    assert workers["autoscalingSpec"] == {"minReplicaCount": "1", "maxReplicaCount": "4"}
    assert workers["diskSpec"] == {"bootDiskType": "pd-standard", "bootDiskSizeGb": 200}
    # Jobs run as the stack's training account, which the resource must allow.
    assert inputs["resourceRuntimeSpec"] == {
        "serviceAccountSpec": {"enableCustomServiceAccount": True}
    }
    assert inputs["labels"]["vtrain-stack"] == "dev"
    assert "encryptionSpec" not in inputs and "network" not in inputs


def test_a_job_on_it_names_it_and_waits_for_it_and_other_jobs_do_not():
    run = _run()
    (resource,) = run.of_type(RESOURCE_TYPE)
    jobs = {job.name: job for job in run.of_type(CUSTOM_JOB_TYPE)}
    on_it, off_it = jobs["on-cluster"], jobs["on-demand"]
    assert on_it.plain_inputs["job_spec"]["persistent_resource_id"] == "vtrain-dev"
    assert resource.urn in on_it.property_dependencies["job_spec"]
    assert "persistent_resource_id" not in off_it.plain_inputs["job_spec"]
    assert resource.urn not in off_it.property_dependencies.get("job_spec", [])


def test_a_tuning_job_runs_its_trials_on_it():
    tuning = {
        **ON_IT,
        "name": "tune-on-cluster",
        "study": {
            "maxTrialCount": 4,
            "parameters": [{"id": "learning-rate", "type": "double", "min": 0.001, "max": 0.1}],
        },
    }
    (job,) = _run(jobs=[tuning]).of_type(HYPERPARAMETER_TUNING_JOB_TYPE)
    assert job.plain_inputs["job_spec"]["persistent_resource_id"] == "vtrain-dev"


def test_a_cmek_stack_encrypts_it_with_the_stack_key_and_an_id_can_be_chosen():
    pools = [{"id": "gpu", **ON_IT["workerPools"][0]}]
    run = _run("prod", {"id": "prod-training", "resourcePools": pools}, jobs=[])
    (resource,) = run.of_type(RESOURCE_TYPE)
    inputs = resource.plain_inputs
    assert inputs["name"] == "prod-training"
    assert inputs["location"] == "europe-west4"
    key = stack_file("prod")["config"][f"{NS}:kmsKeyName"]
    assert inputs["encryptionSpec"] == {"kmsKeyName": key}


def test_network_and_psc_interface_of_the_resource_are_the_jobs():
    attachment = "projects/acme-ml-dev/regions/us-central1/networkAttachments/training"
    resource = {"resourcePools": POOLS, "pscInterfaceConfig": {"networkAttachment": attachment}}
    job = {**ON_IT, "pscInterfaceConfig": {"networkAttachment": attachment}}
    run = _run(resource=resource, jobs=[job])
    (registered,) = run.of_type(RESOURCE_TYPE)
    assert registered.plain_inputs["pscInterfaceConfig"] == {"networkAttachment": attachment}
    (custom,) = run.of_type(CUSTOM_JOB_TYPE)
    assert custom.plain_inputs["job_spec"]["psc_interface_config"] == {
        "network_attachment": attachment
    }


def test_no_persistent_resource_key_registers_none(stack_runs):
    for run in stack_runs.values():
        assert run.of_type(RESOURCE_TYPE) == [] and run.of_type(COMPONENT_TYPE) == []


def test_at_first_preview_the_job_already_names_the_resource():
    """The ID is config, not something Google computes, so a PR's preview shows it."""
    overrides = {f"{NS}:persistentResource": {"resourcePools": POOLS}, f"{NS}:jobs": [ON_IT]}
    run = run_stack("dev", overrides, preview=True)
    (job,) = run.of_type(CUSTOM_JOB_TYPE)
    assert job.plain_inputs["job_spec"]["persistent_resource_id"] == "vtrain-dev"
