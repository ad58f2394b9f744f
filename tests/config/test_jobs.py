"""Job definitions in the stack config: what Vertex would reject is caught at preview."""

from __future__ import annotations

import pytest

from config.settings import ConfigError
from tests.harness.engine import run_stack

NS = "vertex-training"
T4 = {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1}
LOG_LR = {"id": "learning-rate", "type": "double", "min": 0.0001, "max": 0.1, "scale": "log"}


def _job(**fields):
    return {"name": "j", **fields}


def _study(**fields):
    return {"maxTrialCount": 4, "parameters": [LOG_LR], **fields}


BAD_JOBS = {
    "L4 on N1": (
        _job(image="gpu", workerPools=[{**T4, "acceleratorType": "NVIDIA_L4"}]),
        "jobs[0].workerPools[0]: acceleratorType 'NVIDIA_L4' needs a machineType starting "
        "with 'g2-', not 'n1-standard-8'",
    ),
    "T4 on G2": (
        _job(image="gpu", workerPools=[{**T4, "machineType": "g2-standard-8"}]),
        "acceleratorType 'NVIDIA_TESLA_T4' needs a machineType starting with 'n1-'",
    ),
    "A100 on A3": (
        _job(
            image="gpu",
            workerPools=[
                {
                    "machineType": "a3-highgpu-8g",
                    "acceleratorType": "NVIDIA_TESLA_A100",
                    "acceleratorCount": 8,
                }
            ],
        ),
        "needs a machineType starting with 'a2-highgpu-' or 'a2-megagpu-'",
    ),
    "H100 count not the machine's": (
        _job(
            image="gpu",
            workerPools=[
                {
                    "machineType": "a3-highgpu-8g",
                    "acceleratorType": "NVIDIA_H100_80GB",
                    "acceleratorCount": 4,
                }
            ],
        ),
        "machineType 'a3-highgpu-8g' has exactly 8 GPU(s); acceleratorCount is 4",
    ),
    "T4 count N1 does not offer": (
        _job(image="gpu", workerPools=[{**T4, "acceleratorCount": 3}]),
        "acceleratorCount 3 is not available for NVIDIA_TESLA_T4 on N1; allowed: 1, 2, 4",
    ),
    "type without count": (
        _job(image="gpu", workerPools=[{"machineType": "n1-standard-8", "acceleratorType": "T"}]),
        "set both acceleratorType and acceleratorCount, or neither",
    ),
    "count without type": (
        _job(workerPools=[{"machineType": "n1-standard-8", "acceleratorCount": 1}]),
        "set both acceleratorType and acceleratorCount, or neither",
    ),
    "GPU machine without GPUs": (
        _job(workerPools=[{"machineType": "a2-highgpu-1g"}]),
        "machineType 'a2-highgpu-1g' comes with GPUs; set acceleratorType and acceleratorCount",
    ),
    "unknown accelerator": (
        _job(image="gpu", workerPools=[{**T4, "acceleratorType": "NVIDIA_GTX_1080"}]),
        "acceleratorType 'NVIDIA_GTX_1080' is not supported",
    ),
    "cpu image on GPUs": (
        _job(image="cpu", workerPools=[T4]),
        "jobs[0]: image 'cpu' on pools with GPUs leaves them idle; use image: gpu",
    ),
    "gpu image without GPUs": (
        _job(image="gpu"),
        "jobs[0]: image 'gpu' needs pools with acceleratorType; use image: cpu",
    ),
    "chief with replicas": (
        _job(workerPools=[{"replicaCount": 2}]),
        "workerPools[0] is the chief and runs exactly 1 replica, not 2",
    ),
    "four pools": (
        _job(workerPools=[{}, {}, {}, {}]),
        "jobs[0].workerPools: [{}, {}, {}, {}] is not allowed: List should have at most 3",
    ),
    "parallel above max": (
        _job(study=_study(parallelTrialCount=8)),
        "jobs[0].study: parallelTrialCount 8 exceeds maxTrialCount 4",
    ),
    "failed above max": (
        _job(study=_study(maxFailedTrialCount=5)),
        "maxFailedTrialCount 5 exceeds maxTrialCount 4",
    ),
    "grid over a double": (
        _job(study=_study(algorithm="grid")),
        "grid search needs discrete, categorical or integer parameters; learning-rate is double",
    ),
    "min not below max": (
        _job(study=_study(parameters=[{**LOG_LR, "min": 0.1, "max": 0.1}])),
        "study.parameters[0]: learning-rate: min 0.1 must be below max 0.1",
    ),
    "log scale from zero": (
        _job(study=_study(parameters=[{**LOG_LR, "min": 0}])),
        "learning-rate: scale 'log' needs a positive range; min is 0.0",
    ),
    "not a trainer flag": (
        _job(study=_study(parameters=[{**LOG_LR, "id": "lr"}])),
        "id 'lr' is not a trainer hyperparameter flag; allowed: learning-rate",
    ),
    "metric the trainer does not report": (
        _job(study=_study(metric={"id": "loss", "goal": "MINIMIZE"})),
        "study.metric.id 'loss' is not what the trainer reports (its --metric-tag is 'accuracy')",
    ),
    "bad goal": (
        _job(study=_study(metric={"id": "accuracy", "goal": "MAX"})),
        "jobs[0].study.metric.goal: 'MAX' is not allowed: Input should be 'MAXIMIZE' or",
    ),
    "tuned and fixed at once": (
        _job(args={"learning-rate": 0.1}, study=_study()),
        "args ['learning-rate'] are tuned by the study; remove them from args",
    ),
    "integer with fractional bounds": (
        _job(study=_study(parameters=[{"id": "epochs", "type": "integer", "min": 1.5, "max": 9}])),
        "epochs: an integer parameter needs whole min and max",
    ),
    "categorical with numbers": (
        _job(study=_study(parameters=[{"id": "seed", "type": "categorical", "values": [1, 2]}])),
        "seed: categorical values must be strings",
    ),
    "bad duration": (_job(timeout="4 hours"), "jobs[0].timeout: '4 hours' is not a duration"),
    "max wait without flex start": (
        _job(maxWaitDuration="1h"),
        "maxWaitDuration applies only to strategy FLEX_START",
    ),
    "network by project id": (
        _job(network="projects/acme/global/networks/default"),
        "must be projects/<project number>/global/networks/<n>",
    ),
    "tensorboard elsewhere": (
        _job(tensorboard="projects/acme-ml-dev/locations/europe-west4/tensorboards/1"),
        "jobs[0].tensorboard: location 'europe-west4' is not the stack's region 'us-central1'",
    ),
    "image the stack does not build": (
        _job(image="gpu", workerPools=[T4]),
        "jobs[0].image: 'gpu' is not built by this stack",
    ),
    "repeated names": ([_job(), _job()], "vertex-training:jobs: job names repeat: j"),
    "name with capitals": (_job(name="Baseline"), "name 'Baseline': 1-40 lowercase letters"),
    "flag with dashes": (_job(args={"--epochs": 3}), "args key '--epochs': write flags without"),
    "misspelt key": (
        _job(workerPools=[{"machineTyp": "n1-standard-4"}]),
        "jobs[0].workerPools[0].machineTyp: unknown key; did you mean 'machineType'?",
    ),
    "bad job label": (_job(labels={"Owner": "x"}), "jobs[0].labels: label key 'Owner' is invalid"),
}


@pytest.mark.parametrize("jobs, message", BAD_JOBS.values(), ids=BAD_JOBS.keys())
def test_bad_job_is_rejected_before_any_resource(jobs, message):
    jobs = jobs if isinstance(jobs, list) else [jobs]
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:jobs": jobs})
    assert message in str(raised.value)
    assert raised.value.stack_run.resources == []


def test_api_endpoint_in_another_region_is_rejected():
    endpoint = "europe-west4-aiplatform.googleapis.com"
    with pytest.raises(ConfigError, match=f"apiEndpoint: '{endpoint}' serves 'europe-west4'"):
        run_stack("dev", {f"{NS}:apiEndpoint": endpoint})


@pytest.mark.parametrize(
    "pool",
    [
        {"machineType": "g2-standard-24", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 2},
        {
            "machineType": "a2-highgpu-4g",
            "acceleratorType": "NVIDIA_TESLA_A100",
            "acceleratorCount": 4,
        },
        {
            "machineType": "a2-ultragpu-1g",
            "acceleratorType": "NVIDIA_A100_80GB",
            "acceleratorCount": 1,
        },
        {
            "machineType": "a3-highgpu-8g",
            "acceleratorType": "NVIDIA_H100_80GB",
            "acceleratorCount": 8,
        },
        {
            "machineType": "n1-standard-16",
            "acceleratorType": "NVIDIA_TESLA_V100",
            "acceleratorCount": 8,
        },
    ],
)
def test_valid_accelerator_pairings_are_accepted(pool):
    run = run_stack(
        "dev",
        {f"{NS}:images": ["cpu", "gpu"], f"{NS}:jobs": [_job(image="gpu", workerPools=[pool])]},
    )
    (job,) = run.of_type("pulumi-python:dynamic/vtrain/jobs:CustomJob")
    machine = job.plain_inputs["job_spec"]["worker_pool_specs"][0]["machine_spec"]
    assert machine["accelerator_type"] == pool["acceleratorType"]
