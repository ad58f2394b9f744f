# Over 400 lines: one case per rule of a job's pools, study and parameters, as config/jobs.py.
"""Job definitions in the stack config: what Vertex would reject is caught at preview."""

from __future__ import annotations

import pytest

from config.jobs import Job
from config.loader import ConfigError
from tests.config.test_catalogue import (
    DOC_FIXED_GPUS,
    DOC_GPUS,
    DOC_MACHINE_TYPES,
    DOC_TPU_MACHINE_TYPES,
)
from tests.harness.engine import run_stack

NS = "vertex-training"
T4 = {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1}
LOG_LR = {"id": "learning-rate", "type": "double", "min": 0.0001, "max": 0.1, "scale": "log"}
# A pool's machine keys, and their names in the registered WorkerPoolSpec.machine_spec.
MACHINE_SPEC_KEYS = {
    "machineType": "machine_type",
    "acceleratorType": "accelerator_type",
    "acceleratorCount": "accelerator_count",
}


def _job(**fields):
    return {"name": "j", "image": "penguins-cpu", **fields}


def _study(**fields):
    return {"maxTrialCount": 4, "parameters": [LOG_LR], **fields}


def _gpu_pool(machine_type, accelerator, count=None):
    if count is None:  # the count the machine type comes with; N1 ones all take 1 of each GPU
        count = DOC_FIXED_GPUS.get(machine_type, (accelerator, 1))[1]
    return {"machineType": machine_type, "acceleratorType": accelerator, "acceleratorCount": count}


def _assert_accepted(pools):
    """One job per pool: each is registered with the machine spec its pool asks for."""
    jobs = [
        _job(name=f"j{i}", image=_image_for(pool), workerPools=[pool])
        for i, pool in enumerate(pools)
    ]
    run = run_stack("dev", {f"{NS}:images": ["penguins-cpu", "penguins-gpu"], f"{NS}:jobs": jobs})
    specs = {
        job.name: job.plain_inputs["job_spec"]["worker_pool_specs"][0]["machine_spec"]
        for job in run.of_type("pulumi-python:dynamic/vtrain/jobs:CustomJob")
    }
    registered = [
        {key: specs[f"j{i}"].get(wire) for key, wire in MACHINE_SPEC_KEYS.items()}
        for i in range(len(pools))
    ]
    assert registered == [{key: pool.get(key) for key in MACHINE_SPEC_KEYS} for pool in pools]


def _image_for(pool):
    return "penguins-gpu" if "acceleratorType" in pool else "penguins-cpu"


def _rejected(pool):
    image = _image_for(pool)
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:jobs": [_job(image=image, workerPools=[pool])]})
    assert raised.value.stack_run.resources == []
    message = str(raised.value)
    assert f"{NS}:jobs[0].workerPools[0]: " in message
    return message


BAD_JOBS = {
    "L4 on N1": (
        _job(image="penguins-gpu", workerPools=[{**T4, "acceleratorType": "NVIDIA_L4"}]),
        "jobs[0].workerPools[0]: acceleratorType 'NVIDIA_L4' needs a machineType starting "
        "with 'g2-', not 'n1-standard-8'",
    ),
    "T4 on G2": (
        _job(image="penguins-gpu", workerPools=[{**T4, "machineType": "g2-standard-8"}]),
        "acceleratorType 'NVIDIA_TESLA_T4' needs a machineType starting with 'n1-'",
    ),
    "A100 on A3": (
        _job(
            image="penguins-gpu",
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
            image="penguins-gpu",
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
        _job(image="penguins-gpu", workerPools=[{**T4, "acceleratorCount": 3}]),
        "acceleratorCount 3 is not available for NVIDIA_TESLA_T4 on n1-standard-8; "
        "allowed: 1, 2, 4",
    ),
    "V100 count that N1 size does not take": (
        _job(
            image="penguins-gpu", workerPools=[_gpu_pool("n1-standard-16", "NVIDIA_TESLA_V100", 1)]
        ),
        "acceleratorCount 1 is not available for NVIDIA_TESLA_V100 on n1-standard-16; "
        "allowed: 2, 4, 8",
    ),
    "P100 on an N1 size too large for it": (
        _job(
            image="penguins-gpu", workerPools=[_gpu_pool("n1-standard-64", "NVIDIA_TESLA_P100", 4)]
        ),
        "jobs[0].workerPools[0]: acceleratorType 'NVIDIA_TESLA_P100' is not available on "
        "'n1-standard-64'; it takes NVIDIA_TESLA_P4, NVIDIA_TESLA_T4, NVIDIA_TESLA_V100",
    ),
    "misspelt machine type": (
        _job(workerPools=[{"machineType": "n1-standrd-4"}]),
        "vertex-training:jobs[0].workerPools[0]: machineType 'n1-standrd-4' is not a Vertex AI "
        "training machine type; did you mean 'n1-standard-4'?",
    ),
    "machine type with nothing close": (
        _job(workerPools=[{"machineType": "large"}]),
        "machineType 'large' is not a Vertex AI training machine type; series: e2-standard, ",
    ),
    "TPU machine": (
        _job(workerPools=[{"machineType": "ct5lp-hightpu-4t"}]),
        "jobs[0].workerPools[0]: machineType 'ct5lp-hightpu-4t' runs on TPUs; "
        "set tpuTopology '2x2'",
    ),
    "type without count": (
        _job(
            image="penguins-gpu",
            workerPools=[{"machineType": "n1-standard-8", "acceleratorType": "T"}],
        ),
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
        _job(image="penguins-gpu", workerPools=[{**T4, "acceleratorType": "NVIDIA_GTX_1080"}]),
        "acceleratorType 'NVIDIA_GTX_1080' is not supported",
    ),
    "cpu image on GPUs": (
        _job(image="penguins-cpu", workerPools=[T4]),
        "jobs[0]: image 'penguins-cpu' on pools with GPUs leaves them idle; "
        "use image: penguins-gpu",
    ),
    "gpu image without GPUs": (
        _job(image="penguins-gpu"),
        "jobs[0]: image 'penguins-gpu' needs pools with acceleratorType; use image: penguins-cpu",
    ),
    "cpu-only app on GPUs": (
        _job(image="linreg-cpu", workerPools=[T4]),
        "jobs[0]: image 'linreg-cpu' on pools with GPUs leaves them idle; "
        "app 'linreg' has no GPU image",
    ),
    "image without its app": (
        _job(image="cpu"),
        "jobs[0].image: 'cpu' is not an image of an app in images/; allowed: linreg-cpu, "
        "penguins-cpu, penguins-gpu",
    ),
    "image not set": ({"name": "j"}, "jobs[0].image: required but not set"),
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
    "not a hyperparameter of the app": (
        _job(study=_study(parameters=[{**LOG_LR, "id": "lr"}])),
        "jobs[0]: job 'j' (image 'penguins-cpu'): study.parameters[0]: 'lr' is not a "
        "hyperparameter of app 'penguins'; allowed: learning-rate, batch-size, hidden-units, "
        "epochs, weight-decay, dropout, seed",
    ),
    "a flag that is not a hyperparameter": (
        _job(
            study=_study(
                parameters=[{"id": "label-column", "type": "categorical", "values": ["a"]}]
            )
        ),
        "study.parameters[0]: 'label-column' is not a hyperparameter of app 'penguins'",
    ),
    "double for an int flag": (
        _job(study=_study(parameters=[{"id": "epochs", "type": "double", "min": 1, "max": 9}])),
        "job 'j' (image 'penguins-cpu'): study.parameters[0]: type 'double' does not fit "
        "'epochs', an int flag of app 'penguins'; use integer or discrete",
    ),
    "categorical for a float flag": (
        _job(study=_study(parameters=[{"id": "dropout", "type": "categorical", "values": ["a"]}])),
        "type 'categorical' does not fit 'dropout', a float flag of app 'penguins'; use double "
        "or integer or discrete",
    ),
    "fractional discrete values for an int flag": (
        _job(
            study=_study(
                parameters=[{"id": "batch-size", "type": "discrete", "values": [16, 24.5]}]
            )
        ),
        "study.parameters[0]: discrete values [24.5] of 'batch-size' are not whole numbers; it "
        "is an int flag of app 'penguins'",
    ),
    "metric the app does not report": (
        _job(study=_study(metric={"id": "loss", "goal": "MINIMIZE"})),
        "jobs[0]: job 'j' (image 'penguins-cpu'): study.metric.id 'loss' is not a metric app "
        "'penguins' reports; it reports accuracy",
    ),
    "metric other than the one the job's args rename it to": (
        _job(args={"metric-tag": "loss"}, study=_study(metric={"id": "accuracy"})),
        "study.metric.id 'accuracy' is not a metric app 'penguins' reports; it reports loss "
        "(args metric-tag)",
    ),
    "another app's metric": (
        _job(image="linreg-cpu", study=_study(metric={"id": "accuracy"}, parameters=[LOG_LR])),
        "job 'j' (image 'linreg-cpu'): study.metric.id 'accuracy' is not a metric app 'linreg' "
        "reports; it reports mse",
    ),
    "another app's hyperparameter": (
        _job(image="linreg-cpu", study=_study(parameters=[{**LOG_LR, "id": "dropout"}])),
        "job 'j' (image 'linreg-cpu'): study.parameters[0]: 'dropout' is not a hyperparameter "
        "of app 'linreg'; allowed: learning-rate, steps, schedule",
    ),
    "args key the app does not take": (
        _job(args={"learning_rate": 0.1}),
        "jobs[0]: job 'j' (image 'penguins-cpu'): args: 'learning_rate' is not a flag of app "
        "'penguins'; allowed: learning-rate, batch-size",
    ),
    "args key of another app": (
        _job(image="linreg-cpu", args={"epochs": 3}),
        "args: 'epochs' is not a flag of app 'linreg'; allowed: learning-rate, steps, schedule, "
        "seed, model-dir",
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
        _job(image="penguins-gpu", workerPools=[T4]),
        "jobs[0].image: 'penguins-gpu' is not built by this stack",
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


def test_valid_accelerator_pairings_are_accepted():
    pools = [
        _gpu_pool("g2-standard-24", "NVIDIA_L4", 2),
        _gpu_pool("a2-highgpu-4g", "NVIDIA_TESLA_A100", 4),
        _gpu_pool("a2-ultragpu-1g", "NVIDIA_A100_80GB", 1),
        _gpu_pool("a3-highgpu-8g", "NVIDIA_H100_80GB", 8),
        _gpu_pool("n1-standard-16", "NVIDIA_TESLA_V100", 8),
        _gpu_pool("n1-standard-32", "NVIDIA_TESLA_T4", 2),
        _gpu_pool("n1-highcpu-64", "NVIDIA_TESLA_P100", 4),
    ]
    _assert_accepted(pools)


# ---- machine types and accelerators against Google's table (tests/config/test_catalogue.py) --

# Each accelerator: a machine type of its own, and the nearest one of another series.
ACCELERATOR_MACHINES = {
    "NVIDIA_TESLA_T4": ("n1-standard-8", "g2-standard-8"),
    "NVIDIA_TESLA_V100": ("n1-standard-8", "a2-highgpu-1g"),
    "NVIDIA_TESLA_P4": ("n1-standard-8", "g4-standard-48"),
    "NVIDIA_TESLA_P100": ("n1-standard-8", "a3-highgpu-1g"),
    "NVIDIA_L4": ("g2-standard-8", "n1-standard-8"),
    "NVIDIA_RTX_PRO_6000": ("g4-standard-48", "g2-standard-8"),
    "NVIDIA_TESLA_A100": ("a2-highgpu-1g", "a2-ultragpu-1g"),
    "NVIDIA_A100_80GB": ("a2-ultragpu-1g", "a2-highgpu-1g"),
    "NVIDIA_H100_80GB": ("a3-highgpu-8g", "a3-megagpu-8g"),
    "NVIDIA_H100_MEGA_80GB": ("a3-megagpu-8g", "a3-highgpu-8g"),
    "NVIDIA_H200_141GB": ("a3-ultragpu-8g", "a3-highgpu-8g"),
    "NVIDIA_B200": ("a4-highgpu-8g", "a4x-highgpu-4g"),
    "NVIDIA_GB200": ("a4x-highgpu-4g", "a4-highgpu-8g"),
}
# The largest machine type of each series the page lists, TPU ones aside.
SERIES_EXAMPLES = {
    machine.rsplit("-", 1)[0]: machine
    for machine in DOC_MACHINE_TYPES
    if machine not in DOC_TPU_MACHINE_TYPES
}
# Machine types Compute Engine has and Vertex training does not list, and made-up ones.
NOT_TRAINING_MACHINE_TYPES = [
    "n2d-standard-4",
    "c3-standard-4",
    "n1-standard-2",
    "a3-highgpu-3g",
    "x9-standard-4",
]


def test_a_machine_type_of_each_series_is_accepted():
    pools = [
        _gpu_pool(machine, DOC_FIXED_GPUS[machine][0])
        if machine in DOC_FIXED_GPUS
        else {"machineType": machine}
        for machine in SERIES_EXAMPLES.values()
    ]
    _assert_accepted(pools)


@pytest.mark.parametrize("machine_type", NOT_TRAINING_MACHINE_TYPES)
def test_machine_type_vertex_training_does_not_list_is_rejected(machine_type):
    message = _rejected({"machineType": machine_type})
    assert f"machineType '{machine_type}' is not a Vertex AI training machine type" in message


def test_each_accelerator_on_its_machine_type_is_accepted():
    pools = [_gpu_pool(home, gpu) for gpu, (home, _) in ACCELERATOR_MACHINES.items()]
    _assert_accepted(pools)


@pytest.mark.parametrize("accelerator", ACCELERATOR_MACHINES)
def test_accelerator_on_another_series_is_rejected(accelerator):
    machine_type = ACCELERATOR_MACHINES[accelerator][1]
    message = _rejected(_gpu_pool(machine_type, accelerator))
    assert f"acceleratorType '{accelerator}' needs a machineType starting with " in message
    assert f", not '{machine_type}'" in message


def test_each_gpu_machine_type_with_its_gpu_count_is_accepted():
    pools = [_gpu_pool(machine, gpu, count) for machine, (gpu, count) in DOC_FIXED_GPUS.items()]
    _assert_accepted(pools)


@pytest.mark.parametrize("machine_type", DOC_FIXED_GPUS)
def test_gpu_machine_type_with_another_gpu_count_is_rejected(machine_type):
    accelerator, count = DOC_FIXED_GPUS[machine_type]
    wrong = 2 if count == 1 else count // 2
    message = _rejected(_gpu_pool(machine_type, accelerator, wrong))
    assert f"'{machine_type}' has exactly {count} GPU(s); acceleratorCount is {wrong}" in message


@pytest.mark.parametrize(
    "machine_type", [machine for machine in SERIES_EXAMPLES.values() if machine in DOC_FIXED_GPUS]
)
def test_gpu_machine_type_without_gpus_is_rejected(machine_type):
    message = _rejected({"machineType": machine_type})
    assert f"machineType '{machine_type}' comes with GPUs; set acceleratorType" in message


def test_a_study_may_optimise_the_metric_the_job_tells_the_trainer_to_report():
    job = Job.model_validate(
        _job(args={"metric-tag": "loss"}, study=_study(metric={"id": "loss", "goal": "MINIMIZE"}))
    )
    assert (job.study.metric.id, job.args["metric-tag"]) == ("loss", "loss")


def test_an_unsupported_accelerator_lists_every_supported_one():
    message = _rejected({**T4, "acceleratorType": "NVIDIA_GTX_1080"})
    allowed = message.split("acceleratorType 'NVIDIA_GTX_1080' is not supported; allowed: ")[1]
    assert set(allowed.splitlines()[0].split(", ")) == DOC_GPUS


@pytest.mark.parametrize(
    "job, metric",
    [
        (_job(study=_study()), "accuracy"),
        (_job(args={"metric-tag": "f1"}, study=_study()), "f1"),
        (_job(image="linreg-cpu", study=_study()), "mse"),
        (_job(image="linreg-cpu", study=_study(metric={"goal": "MINIMIZE"})), "mse"),
    ],
    ids=["penguins", "renamed by args", "linreg", "linreg with a goal"],
)
def test_an_unset_study_metric_is_the_one_the_jobs_app_reports(job, metric):
    assert Job.model_validate(job).study.metric.id == metric


def test_args_of_a_command_of_the_jobs_own_are_not_the_apps_flags():
    job = _job(command=["python", "-m", "trainer.export"], args={"format": "onnx"})
    assert Job.model_validate(job).args == {"format": "onnx"}
    with pytest.raises(ValueError, match="'format' is not a flag of app 'penguins'"):
        Job.model_validate({**job, "command": []})


def test_each_study_type_that_fits_a_flag_type_is_accepted():
    """Vertex passes a trial's value as --<id>=<value>: a float flag takes any number, an int
    flag whole numbers, a string flag a category."""
    parameters = [
        {"id": "learning-rate", "type": "double", "min": 0.001, "max": 0.1},
        {"id": "weight-decay", "type": "integer", "min": 0, "max": 1},
        {"id": "dropout", "type": "discrete", "values": [0.0, 0.25]},
        {"id": "epochs", "type": "integer", "min": 1, "max": 9},
        {"id": "batch-size", "type": "discrete", "values": [16, 32.0]},
    ]
    job = Job.model_validate(_job(study=_study(parameters=parameters)))
    assert [p.id for p in job.study.parameters] == [p["id"] for p in parameters]
    linreg = _job(
        image="linreg-cpu",
        study=_study(parameters=[{"id": "schedule", "type": "categorical", "values": ["decay"]}]),
    )
    assert Job.model_validate(linreg).study.parameters[0].type == "categorical"
