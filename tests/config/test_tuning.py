"""Tuning features of a job's `study` (issue 12, item 4): automated early stopping, conditional
parameters, several metrics and the study stopping rules. Each is validated with the rest of
the stack config: a bad one fails with its key path and registers nothing; a good one reaches
the registered tuning job's `study_spec`, which parses as aiplatform v1 StudySpec.

Translation details: tests/vertex_jobs/test_specs.py; trials and the Pareto set:
tests/vertex_jobs/test_trials.py; the whole path through the provider host: tests/components/
test_jobs.py.
"""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from config.loader import ConfigError
from tests.harness.engine import run_stack
from vertex_jobs.contract import HYPERPARAMETER_TUNING_JOB_TYPE

NS = "vertex-training"
LOG_LR = {"id": "learning-rate", "type": "double", "min": 0.0001, "max": 0.1, "scale": "log"}
BATCH = {"id": "batch-size", "type": "discrete", "values": [32, 64, 128]}
EPOCHS = {"id": "epochs", "type": "integer", "min": 10, "max": 50}
DROPOUT = {"id": "dropout", "type": "double", "min": 0.0, "max": 0.5}
DECAY = {"id": "weight-decay", "type": "double", "min": 0.000001, "max": 0.01, "scale": "log"}


def _tuning(**study) -> dict:
    return {
        "name": "tune",
        "image": "penguins-cpu",
        "study": {"maxTrialCount": 10, "parameters": [LOG_LR], **study},
    }


def _registered_study(job: dict, **config) -> tuple[dict, aiplatform_v1.StudySpec]:
    run = run_stack("dev", {f"{NS}:jobs": [job], **config})
    (resource,) = run.of_type(HYPERPARAMETER_TUNING_JOB_TYPE)
    spec = resource.plain_inputs["study_spec"]
    return spec, json_format.ParseDict(spec, aiplatform_v1.StudySpec.pb()())


def _problem(job: dict, **config) -> str:
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:jobs": [job], **config})
    assert raised.value.stack_run.resources == []  # nothing registered
    return str(raised.value)


# ---- accepted: what reaches the registered study_spec -------------------------------------


@pytest.mark.parametrize(
    ("rule", "field"),
    [("decay-curve", "decay_curve_stopping_spec"), ("median", "median_automated_stopping_spec")],
)
def test_early_stopping_reaches_the_study_spec(rule, field):
    spec, parsed = _registered_study(
        _tuning(earlyStopping={"rule": rule, "useElapsedDuration": True})
    )
    assert spec[field] == {"use_elapsed_duration": True}
    assert parsed.WhichOneof("automated_stopping_spec") == field
    assert getattr(parsed, field).use_elapsed_duration is True


def test_without_early_stopping_no_rule_is_sent():
    _, parsed = _registered_study(_tuning())
    assert parsed.WhichOneof("automated_stopping_spec") is None
    assert not parsed.HasField("study_stopping_config")


def test_conditional_parameters_reach_the_study_spec_nested():
    batch = {
        **BATCH,
        "conditional": [
            {"parentValues": [32, 64], "parameter": {**DROPOUT}},
            {
                "parentValues": [128],
                "parameter": {
                    **EPOCHS,
                    "conditional": [{"parentValues": [10, 20], "parameter": DECAY}],
                },
            },
        ],
    }
    _, parsed = _registered_study(_tuning(parameters=[LOG_LR, batch]))
    _, batch_pb = parsed.parameters
    small, large = batch_pb.conditional_parameter_specs
    assert list(small.parent_discrete_values.values) == [32.0, 64.0]
    assert small.parameter_spec.parameter_id == "dropout"
    assert list(large.parent_discrete_values.values) == [128.0]
    assert large.parameter_spec.parameter_id == "epochs"
    (nested,) = large.parameter_spec.conditional_parameter_specs
    assert list(nested.parent_int_values.values) == [10, 20]
    assert nested.parameter_spec.parameter_id == "weight-decay"


def test_the_same_parameter_under_disjoint_parent_values_is_accepted():
    batch = {
        **BATCH,
        "conditional": [
            {"parentValues": [32], "parameter": {**DROPOUT, "max": 0.2}},
            {"parentValues": [64, 128], "parameter": {**DROPOUT, "min": 0.2}},
        ],
    }
    _, parsed = _registered_study(_tuning(parameters=[batch]))
    assert [
        c.parameter_spec.parameter_id for c in parsed.parameters[0].conditional_parameter_specs
    ] == [
        "dropout",
        "dropout",
    ]


def test_study_stopping_rules_reach_the_study_spec():
    stopping = {
        "shouldStopAsap": True,
        "minRuntime": "30m",
        "maxRuntime": "6h",
        "minTrials": 3,
        "maxTrials": 8,
        "maxTrialsNoProgress": 4,
        "maxDurationNoProgress": "2h",
    }
    spec, parsed = _registered_study(_tuning(stopping=stopping))
    config = parsed.study_stopping_config
    assert config.should_stop_asap.value is True
    assert config.minimum_runtime_constraint.max_duration.seconds == 1800
    assert config.maximum_runtime_constraint.max_duration.seconds == 6 * 3600
    assert (config.min_num_trials.value, config.max_num_trials.value) == (3, 8)
    assert config.max_num_trials_no_progress.value == 4
    assert config.max_duration_no_progress.seconds == 7200
    assert spec["study_stopping_config"]["max_num_trials"] == 8  # Int32Value: a bare number


def test_only_the_rules_set_are_sent():
    spec, _ = _registered_study(_tuning(stopping={"maxRuntime": "1d"}))
    assert spec["study_stopping_config"] == {
        "should_stop_asap": False,
        "maximum_runtime_constraint": {"max_duration": "86400s"},
    }


def test_a_categorical_parent_conditions_on_its_categories():
    """linreg's `schedule` is a string flag, tuned as categorical."""
    schedule = {
        "id": "schedule",
        "type": "categorical",
        "values": ["constant", "cosine"],
        "conditional": [
            {
                "parentValues": ["cosine"],
                "parameter": {"id": "steps", "type": "integer", "min": 100, "max": 400},
            }
        ],
    }
    job = {**_tuning(parameters=[schedule]), "image": "linreg-cpu"}
    job["study"]["metric"] = {"id": "mse", "goal": "MINIMIZE"}
    _, parsed = _registered_study(job, **{f"{NS}:images": ["penguins-cpu", "linreg-cpu"]})
    (condition,) = parsed.parameters[0].conditional_parameter_specs
    assert list(condition.parent_categorical_values.values) == ["cosine"]
    assert condition.parameter_spec.integer_value_spec.max_value == 400


# ---- rejected: the key path and what is wrong ---------------------------------------------

BAD_STUDIES = {
    "unknown early stopping rule": (
        {"earlyStopping": {"rule": "convex"}},
        "jobs[0].study.earlyStopping.rule: 'convex' is not allowed",
    ),
    "early stopping without a rule": (
        {"earlyStopping": {}},
        "jobs[0].study.earlyStopping.rule: required but not set",
    ),
    "conditional under a double": (
        {
            "parameters": [
                {**LOG_LR, "conditional": [{"parentValues": [0.01], "parameter": DROPOUT}]}
            ]
        },
        "learning-rate: conditional parameters need a discrete, integer or categorical parent",
    ),
    "parent value not a discrete value": (
        {"parameters": [{**BATCH, "conditional": [{"parentValues": [48], "parameter": DROPOUT}]}]},
        "batch-size.conditional[0].parentValues: 48 is not one of [32.0, 64.0, 128.0]",
    ),
    "parent value outside an integer range": (
        {"parameters": [{**EPOCHS, "conditional": [{"parentValues": [60], "parameter": DROPOUT}]}]},
        "epochs.conditional[0].parentValues: 60 must be a whole number from 10 to 50",
    ),
    "overlapping conditions of one parameter": (
        {
            "parameters": [
                {
                    **BATCH,
                    "conditional": [
                        {"parentValues": [32, 64], "parameter": DROPOUT},
                        {"parentValues": [64], "parameter": DROPOUT},
                    ],
                }
            ]
        },
        "batch-size.conditional[1]: 'dropout' appears twice for parent value(s) ['64.0']",
    ),
    "conditional parameter also top-level": (
        {
            "parameters": [
                DROPOUT,
                {**BATCH, "conditional": [{"parentValues": [32], "parameter": DROPOUT}]},
            ]
        },
        "conditional parameter 'dropout' (under 'batch-size') is also a top-level parameter",
    ),
    "conditional without parent values": (
        {"parameters": [{**BATCH, "conditional": [{"parentValues": [], "parameter": DROPOUT}]}]},
        "jobs[0].study.parameters[0].conditional[0].parentValues",
    ),
    "grid over a conditional double": (
        {
            "algorithm": "grid",
            "parameters": [
                {**BATCH, "conditional": [{"parentValues": [32], "parameter": DROPOUT}]}
            ],
        },
        "grid search needs discrete, categorical or integer parameters; dropout is double",
    ),
    "metric and metrics": (
        {
            "metric": {"id": "accuracy", "goal": "MAXIMIZE"},
            "metrics": [{"id": "accuracy"}, {"id": "loss", "goal": "MINIMIZE"}],
        },
        "jobs[0].study: set metric (one objective) or metrics (several), not both",
    ),
    "one metric in metrics": (
        {"metrics": [{"id": "accuracy"}]},
        "jobs[0].study.metrics: [{'id': 'accuracy'}] is not allowed: List should have at least 2",
    ),
    "a metric without an id among several": (
        {"metrics": [{"id": "accuracy"}, {"goal": "MINIMIZE"}]},
        "jobs[0].study: metrics[1] needs an id: each of several metrics is named",
    ),
    "repeated metric ids": (
        {"metrics": [{"id": "accuracy"}, {"id": "accuracy", "goal": "MINIMIZE"}]},
        "jobs[0].study: metric ids repeat: ['accuracy', 'accuracy']",
    ),
    "no-progress rule with several metrics": (
        {
            "metrics": [{"id": "accuracy"}, {"id": "loss", "goal": "MINIMIZE"}],
            "stopping": {"maxTrialsNoProgress": 3},
        },
        "jobs[0].study: stopping.maxTrialsNoProgress works only for one metric; this study has 2",
    ),
    "empty stopping": (
        {"stopping": {"shouldStopAsap": True}},
        "jobs[0].study.stopping: set at least one stopping rule",
    ),
    "min trials above max trials": (
        {"stopping": {"minTrials": 6, "maxTrials": 5}},
        "jobs[0].study.stopping: minTrials 6 is above maxTrials 5",
    ),
    "min runtime above max runtime": (
        {"stopping": {"minRuntime": "2h", "maxRuntime": "90m"}},
        "jobs[0].study.stopping: minRuntime 2h is longer than maxRuntime 90m",
    ),
    "stopping after more trials than the job runs": (
        {"stopping": {"maxTrials": 11}},
        "jobs[0].study: stopping.maxTrials 11 is above maxTrialCount 10",
    ),
    "bad stopping duration": (
        {"stopping": {"maxRuntime": "soon"}},
        "jobs[0].study.stopping.maxRuntime",
    ),
    "unknown stopping key": (
        {"stopping": {"maxTrial": 4}},
        "jobs[0].study.stopping.maxTrial: unknown key; did you mean 'maxTrials'?",
    ),
}


@pytest.mark.parametrize(("study", "message"), BAD_STUDIES.values(), ids=BAD_STUDIES.keys())
def test_a_bad_tuning_feature_is_rejected_before_any_resource(study, message):
    assert message in _problem(_tuning(**study))


def test_every_metric_must_be_one_the_app_reports():
    """The app check (config/apps.py, the manifest's `metrics`) covers each objective."""
    problem = _problem(_tuning(metrics=[{"id": "accuracy"}, {"id": "loss", "goal": "MINIMIZE"}]))
    assert "study.metrics[1].id 'loss' is not a metric app 'penguins' reports" in problem


def test_a_conditional_parameter_must_be_a_flag_of_the_app():
    batch = {
        **BATCH,
        "conditional": [{"parentValues": [32], "parameter": {**DROPOUT, "id": "momentum"}}],
    }
    problem = _problem(_tuning(parameters=[batch]))
    assert (
        "study.parameters[0].conditional[0].parameter: 'momentum' is not a hyperparameter"
        in problem
    )
