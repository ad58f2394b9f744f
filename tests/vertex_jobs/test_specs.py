"""`vertex_jobs.specs`: each config field of a job lands in its CustomJobSpec / Scheduling /
StudySpec field. Every spec is also parsed as the real aiplatform v1 message, so a misspelt
field name or enum value fails here rather than at submission."""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from config.jobs import Job
from config.study import Study
from vertex_jobs.specs import job_spec, study_spec

IMAGE = "us-central1-docker.pkg.dev/p/training/trainer@sha256:" + "c" * 64
ACCOUNT = "trainer@p.iam.gserviceaccount.com"
OUTPUT = "gs://p-output/jobs/j/"
NETWORK = "projects/123456789012/global/networks/training-vpc"
TENSORBOARD = "projects/p/locations/us-central1/tensorboards/4242"

ParameterSpec = aiplatform_v1.StudySpec.ParameterSpec


def _job(**fields) -> Job:
    return Job.model_validate({"name": "j", "image": "penguins-cpu", **fields})


def _spec(job: Job, default_data=None) -> dict:
    return job_spec(
        job,
        image_uri=IMAGE,
        service_account=ACCOUNT,
        output_uri_prefix=OUTPUT,
        default_data=default_data or {},
    )


def _custom_job_spec(spec: dict):
    return json_format.ParseDict(spec, aiplatform_v1.CustomJobSpec.pb()())


def _study_spec(spec: dict):
    return json_format.ParseDict(spec, aiplatform_v1.StudySpec.pb()())


def _study(**fields) -> Study:
    return Study.model_validate({"maxTrialCount": 4, **fields})


# ---- job_spec ------------------------------------------------------------------------


def test_network_tensorboard_and_web_access_reach_the_job_spec():
    job = _job(network=NETWORK, tensorboard=TENSORBOARD, enableWebAccess=True)
    spec = _spec(job)
    parsed = _custom_job_spec(spec)
    assert parsed.network == NETWORK
    assert parsed.tensorboard == TENSORBOARD
    assert parsed.enable_web_access is True
    assert parsed.service_account == ACCOUNT
    assert parsed.base_output_directory.output_uri_prefix == OUTPUT


def test_unset_network_and_tensorboard_are_left_out():
    spec = _spec(_job())
    assert "network" not in spec and "tensorboard" not in spec
    parsed = _custom_job_spec(spec)
    assert (parsed.network, parsed.tensorboard, parsed.enable_web_access) == ("", "", False)


def test_flex_start_waits_at_most_max_wait_duration():
    job = _job(strategy="FLEX_START", maxWaitDuration="30m", timeout="2h")
    scheduling = _custom_job_spec(_spec(job)).scheduling
    assert scheduling.strategy == aiplatform_v1.Scheduling.Strategy.FLEX_START
    assert scheduling.max_wait_duration.ToSeconds() == 1800
    assert scheduling.timeout.ToSeconds() == 7200


@pytest.mark.parametrize("strategy", ["STANDARD", "SPOT", "FLEX_START"])
def test_strategy_and_restart_reach_scheduling(strategy):
    job = _job(strategy=strategy, restartJobOnWorkerRestart=True, timeout="90m")
    spec = _spec(job)
    assert "max_wait_duration" not in spec["scheduling"]  # none configured
    scheduling = _custom_job_spec(spec).scheduling
    assert scheduling.strategy == aiplatform_v1.Scheduling.Strategy[strategy]
    assert scheduling.restart_job_on_worker_restart is True
    assert scheduling.timeout.ToSeconds() == 5400
    assert not scheduling.HasField("max_wait_duration")


def test_each_worker_pool_gets_its_machine_disk_and_the_container():
    job = _job(
        image="penguins-gpu",
        workerPools=[
            {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1},
            {
                "machineType": "n1-standard-8",
                "acceleratorType": "NVIDIA_TESLA_T4",
                "acceleratorCount": 2,
                "replicaCount": 3,
                "bootDiskType": "pd-standard",
                "bootDiskSizeGb": 200,
            },
        ],
        command=["python", "-m", "trainer.task"],
        args={"epochs": 3, "mixed-precision": True},
        env={"B": "2", "A": "1"},
    )
    parsed = _custom_job_spec(_spec(job, {"train-data": "gs://d/train.csv"}))
    chief, workers = parsed.worker_pool_specs
    accelerator = aiplatform_v1.AcceleratorType
    assert chief.machine_spec.machine_type == "g2-standard-8"
    assert chief.machine_spec.accelerator_type == accelerator.NVIDIA_L4
    assert (chief.replica_count, chief.disk_spec.boot_disk_type) == (1, "pd-ssd")
    assert chief.disk_spec.boot_disk_size_gb == 100
    assert workers.machine_spec.accelerator_type == accelerator.NVIDIA_TESLA_T4
    assert workers.machine_spec.accelerator_count == 2
    assert workers.replica_count == 3
    assert (workers.disk_spec.boot_disk_type, workers.disk_spec.boot_disk_size_gb) == (
        "pd-standard",
        200,
    )
    for pool in (chief, workers):
        container = pool.container_spec
        assert container.image_uri == IMAGE
        assert list(container.command) == ["python", "-m", "trainer.task"]
        assert list(container.args) == [
            "--train-data=gs://d/train.csv",
            "--epochs=3",
            "--mixed-precision=true",
        ]
        assert [(e.name, e.value) for e in container.env] == [("A", "1"), ("B", "2")]


def test_a_pool_without_gpus_names_no_accelerator():
    (pool,) = _custom_job_spec(_spec(_job())).worker_pool_specs
    assert not pool.machine_spec.accelerator_type and not pool.machine_spec.accelerator_count
    assert not pool.container_spec.command  # the image's entrypoint runs


# ---- study_spec ----------------------------------------------------------------------

INTEGER = {"id": "hidden-units", "type": "integer", "min": 16, "max": 128}


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [("default", "ALGORITHM_UNSPECIFIED"), ("grid", "GRID_SEARCH"), ("random", "RANDOM_SEARCH")],
)
def test_algorithm(algorithm, expected):
    parsed = _study_spec(study_spec(_study(algorithm=algorithm, parameters=[INTEGER])))
    assert parsed.algorithm == aiplatform_v1.StudySpec.Algorithm[expected]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [("last", "LAST_MEASUREMENT"), ("best", "BEST_MEASUREMENT"), (None, "BEST_MEASUREMENT")],
)
def test_measurement_selection(selection, expected):
    fields = {"parameters": [INTEGER]}
    if selection is not None:
        fields["measurementSelection"] = selection
    parsed = _study_spec(study_spec(_study(**fields)))
    assert (
        parsed.measurement_selection_type
        == aiplatform_v1.StudySpec.MeasurementSelectionType[expected]
    )


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        ("linear", "UNIT_LINEAR_SCALE"),
        ("log", "UNIT_LOG_SCALE"),
        ("reverse-log", "UNIT_REVERSE_LOG_SCALE"),
        (None, "SCALE_TYPE_UNSPECIFIED"),
    ],
)
def test_scale(scale, expected):
    parameter = {"id": "learning-rate", "type": "double", "min": 0.001, "max": 0.1}
    if scale is not None:
        parameter["scale"] = scale
    spec = study_spec(_study(parameters=[parameter]))
    if scale is None:
        assert "scale_type" not in spec["parameters"][0]
    (parsed,) = _study_spec(spec).parameters
    assert parsed.scale_type == ParameterSpec.ScaleType[expected]
    assert (parsed.double_value_spec.min_value, parsed.double_value_spec.max_value) == (
        0.001,
        0.1,
    )


def test_metric_and_every_parameter_kind():
    study = _study(
        metric={"id": "loss", "goal": "MINIMIZE"},
        parameters=[
            {"id": "hidden-units", "type": "integer", "min": 16, "max": 256, "scale": "log"},
            {"id": "batch-size", "type": "discrete", "values": [16, 32, 64]},
            {"id": "seed", "type": "categorical", "values": ["a", "b"]},
        ],
    )
    spec = study_spec(study)
    integer, discrete, categorical = spec["parameters"]
    # int64 is a JSON string in proto3 JSON; the proto parser would also take a number.
    assert integer["integer_value_spec"] == {"min_value": "16", "max_value": "256"}
    parsed = _study_spec(spec)
    (metric,) = parsed.metrics
    assert metric.metric_id == "loss"
    assert metric.goal == aiplatform_v1.StudySpec.MetricSpec.GoalType.MINIMIZE
    integer_pb, discrete_pb, categorical_pb = parsed.parameters
    assert [p.parameter_id for p in parsed.parameters] == ["hidden-units", "batch-size", "seed"]
    assert integer_pb.WhichOneof("parameter_value_spec") == "integer_value_spec"
    assert (integer_pb.integer_value_spec.min_value, integer_pb.integer_value_spec.max_value) == (
        16,
        256,
    )
    assert integer_pb.scale_type == ParameterSpec.ScaleType.UNIT_LOG_SCALE
    assert discrete_pb.WhichOneof("parameter_value_spec") == "discrete_value_spec"
    assert list(discrete_pb.discrete_value_spec.values) == [16.0, 32.0, 64.0]
    assert categorical_pb.WhichOneof("parameter_value_spec") == "categorical_value_spec"
    assert list(categorical_pb.categorical_value_spec.values) == ["a", "b"]
    assert categorical_pb.scale_type == ParameterSpec.ScaleType.SCALE_TYPE_UNSPECIFIED


# ---- study_spec: tuning features of issue 12 -------------------------------------------


def test_several_metrics_become_one_metric_spec_each_in_order():
    study = _study(
        metrics=[{"id": "accuracy", "goal": "MAXIMIZE"}, {"id": "latency", "goal": "MINIMIZE"}],
        parameters=[INTEGER],
    )
    spec = study_spec(study)
    assert spec["metrics"] == [
        {"metric_id": "accuracy", "goal": "MAXIMIZE"},
        {"metric_id": "latency", "goal": "MINIMIZE"},
    ]
    assert [m.metric_id for m in _study_spec(spec).metrics] == ["accuracy", "latency"]


@pytest.mark.parametrize(
    ("rule", "field"),
    [("decay-curve", "decay_curve_stopping_spec"), ("median", "median_automated_stopping_spec")],
)
def test_early_stopping_rule_is_its_oneof_member(rule, field):
    spec = study_spec(_study(parameters=[INTEGER], earlyStopping={"rule": rule}))
    assert spec[field] == {"use_elapsed_duration": False}
    assert _study_spec(spec).WhichOneof("automated_stopping_spec") == field


@pytest.mark.parametrize(
    ("parent", "values", "condition", "sent"),
    [
        (INTEGER, [16, 32], "parent_int_values", ["16", "32"]),  # int64: strings in JSON
        (
            {"id": "batch-size", "type": "discrete", "values": [16, 32]},
            [32],
            "parent_discrete_values",
            [32.0],
        ),
        (
            {"id": "seed", "type": "categorical", "values": ["a", "b"]},
            ["b"],
            "parent_categorical_values",
            ["b"],
        ),
    ],
)
def test_a_conditional_parameter_names_its_parent_values_by_the_parents_type(
    parent, values, condition, sent
):
    child = {"id": "dropout", "type": "double", "min": 0.0, "max": 0.5}
    parent = {**parent, "conditional": [{"parentValues": values, "parameter": child}]}
    spec = study_spec(_study(parameters=[parent]))
    (conditional,) = spec["parameters"][0]["conditional_parameter_specs"]
    assert conditional == {
        condition: {"values": sent},
        "parameter_spec": {
            "parameter_id": "dropout",
            "double_value_spec": {"min_value": 0.0, "max_value": 0.5},
        },
    }
    (parsed,) = _study_spec(spec).parameters[0].conditional_parameter_specs
    assert parsed.WhichOneof("parent_value_condition") == condition


def test_a_parameter_without_conditions_sends_none():
    assert (
        "conditional_parameter_specs"
        not in study_spec(_study(parameters=[INTEGER]))["parameters"][0]
    )


def test_study_stopping_config_fields():
    stopping = {"minTrials": 2, "maxTrialsNoProgress": 3, "maxRuntime": "2h"}
    spec = study_spec(_study(parameters=[INTEGER], stopping=stopping))
    assert spec["study_stopping_config"] == {
        "should_stop_asap": False,
        "maximum_runtime_constraint": {"max_duration": "7200s"},
        "min_num_trials": 2,
        "max_num_trials_no_progress": 3,
    }
    parsed = _study_spec(spec).study_stopping_config
    assert parsed.maximum_runtime_constraint.WhichOneof("constraint") == "max_duration"
    assert not parsed.HasField("max_num_trials")
