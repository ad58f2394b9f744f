# Over 400 lines: trials, best trial and Pareto set, in process and through the provider host.
"""Tuning-job results (`vertex_jobs.trials`): trial summaries and the best trial by the
study's goal, or the Pareto-optimal trials for several metrics, read back through the provider
(in process and through Pulumi's dynamic-provider host) from the fake JobService and computed
directly."""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1

from config.study import Study
from tests.harness.fake_job_service import checked, tuning_job_inputs
from vertex_jobs.contract import HYPERPARAMETER_TUNING_JOB_TYPE
from vertex_jobs.links import links_of
from vertex_jobs.providers import HyperparameterTuningJobProvider
from vertex_jobs.specs import study_spec
from vertex_jobs.trials import best_trial, trial_outputs


@pytest.mark.parametrize(
    ("goal", "best_id", "best_value"),
    [("MAXIMIZE", "2", 0.93), ("MINIMIZE", "4", 0.61)],
)
def test_best_trial_follows_the_goal_and_ignores_unsuccessful_trials(
    vertex_fake, goal, best_id, best_value
):
    provider = HyperparameterTuningJobProvider()
    outs = provider.create(checked(provider, tuning_job_inputs(goal=goal))).outs
    name = outs["name"]
    vertex_fake.add_trial(name, {"learning_rate": 0.01, "batch_size": 32}, 0.70)
    vertex_fake.add_trial(name, {"learning_rate": 0.02, "batch_size": 64}, 0.93)
    vertex_fake.add_trial(name, {"learning_rate": 0.05, "batch_size": 16}, 0.99, "INFEASIBLE")
    vertex_fake.add_trial(name, {"learning_rate": 0.09, "batch_size": 16}, 0.61)
    vertex_fake.add_trial(name, {"learning_rate": 0.07, "batch_size": 16}, 0.10, "ACTIVE")
    vertex_fake.add_trial(name, {"learning_rate": 0.03, "batch_size": 16}, None, "SUCCEEDED")
    refreshed = provider.read(name, outs).outs
    best = refreshed["best_trial"]
    assert (best["id"], best["metric_value"], best["metric_id"]) == (
        best_id,
        best_value,
        "accuracy",
    )
    trial_job = f"{name.split('/hyperparameterTuningJobs/')[0]}/customJobs/{outs['job_id']}3"
    assert refreshed["trials"][2] == {
        "id": "3",
        "state": "INFEASIBLE",
        "parameters": {"learning_rate": 0.05, "batch_size": 16},
        "final_metric_value": 0.99,
        **links_of(trial_job),  # the trial's own CustomJob
    }
    assert isinstance(refreshed["trials"][0]["parameters"]["batch_size"], int)
    assert refreshed["trials"][5]["final_metric_value"] is None


def test_best_trial_is_none_until_a_trial_succeeds(vertex_fake):
    provider = HyperparameterTuningJobProvider()
    outs = provider.create(checked(provider, tuning_job_inputs())).outs
    vertex_fake.add_trial(
        outs["name"], {"learning_rate": 0.01, "batch_size": 32}, 0.5, "INFEASIBLE"
    )
    refreshed = provider.read(outs["name"], outs).outs
    assert refreshed["best_trial"] is None and len(refreshed["trials"]) == 1


def test_best_trial_ties_go_to_the_earliest_trial():
    trials = [
        {"id": "1", "state": "SUCCEEDED", "parameters": {}, "final_metric_value": 0.5},
        {"id": "2", "state": "SUCCEEDED", "parameters": {}, "final_metric_value": 0.5},
    ]
    assert best_trial(trials, "m", "MAXIMIZE")["id"] == "1"
    assert best_trial(trials, "m", "MINIMIZE")["id"] == "1"


# ---- `trial_outputs` on real aiplatform v1 messages -------------------------------------


def _study(metric_id="accuracy", goal="MAXIMIZE"):
    spec = aiplatform_v1.StudySpec
    return spec(
        metrics=[spec.MetricSpec(metric_id=metric_id, goal=spec.MetricSpec.GoalType[goal])],
        parameters=[
            spec.ParameterSpec(
                parameter_id="learning-rate",
                double_value_spec=spec.ParameterSpec.DoubleValueSpec(min_value=1e-4, max_value=0.1),
            ),
            spec.ParameterSpec(
                parameter_id="hidden-units",
                integer_value_spec=spec.ParameterSpec.IntegerValueSpec(min_value=16, max_value=128),
            ),
        ],
    )


def _trial(trial_id, metrics, state="SUCCEEDED", learning_rate=0.01, hidden_units=64):
    """A Trial; ``metrics`` is ``{metric_id: value}`` in the order measured, None: no final
    measurement."""
    trial = aiplatform_v1.Trial(
        id=trial_id,
        state=aiplatform_v1.Trial.State[state],
        parameters=[
            aiplatform_v1.Trial.Parameter(parameter_id="learning-rate", value=learning_rate),
            aiplatform_v1.Trial.Parameter(parameter_id="hidden-units", value=float(hidden_units)),
        ],
    )
    if metrics is not None:
        trial.final_measurement = aiplatform_v1.Measurement(
            metrics=[
                aiplatform_v1.Measurement.Metric(metric_id=key, value=value)
                for key, value in metrics.items()
            ]
        )
    return trial


def _tuning_job(trials, study=None):
    """The raw protobuf HyperparameterTuningJob, as the provider hands it to `trial_outputs`."""
    job = aiplatform_v1.HyperparameterTuningJob(display_name="tune", trials=trials)
    if study is not None:
        job.study_spec = study
    return aiplatform_v1.HyperparameterTuningJob.pb(job)


def test_each_trial_reports_the_study_metric_among_several():
    trials = [
        _trial("1", {"loss": 0.05, "accuracy": 0.80}),  # best loss, worst accuracy
        _trial("2", {"loss": 0.40, "accuracy": 0.95, "f1": 0.99}),
        _trial("3", {"accuracy": 0.90, "loss": 0.20}),
    ]
    out = trial_outputs(_tuning_job(trials, _study("accuracy", "MAXIMIZE")), None)
    assert [t["final_metric_value"] for t in out["trials"]] == pytest.approx([0.80, 0.95, 0.90])
    assert out["best_trial"] == {
        "id": "2",
        "parameters": {"learning-rate": 0.01, "hidden-units": 64},
        "metric_id": "accuracy",
        "metric_value": pytest.approx(0.95),
    }


def test_a_succeeded_trial_reporting_only_another_metric_is_not_a_candidate():
    trials = [
        _trial("1", {"accuracy": 0.70}),
        _trial("2", {"loss": 9.0}),  # SUCCEEDED, but never reported the study's metric
        _trial("3", {"accuracy": 0.75, "loss": 0.3}),
    ]
    out = trial_outputs(_tuning_job(trials, _study("accuracy", "MAXIMIZE")), None)
    assert out["trials"][1] == {
        "id": "2",
        "state": "SUCCEEDED",
        "parameters": {"learning-rate": 0.01, "hidden-units": 64},
        "final_metric_value": None,
        "console_url": None,  # Trial.custom_job not set yet
        "logs_url": None,
    }
    assert out["best_trial"]["id"] == "3"
    only_other = trial_outputs(_tuning_job([_trial("1", {"loss": 0.1})], _study()), None)
    assert only_other["best_trial"] is None


def test_minimize_picks_the_lowest_study_metric():
    trials = [
        _trial("1", {"loss": 0.50, "accuracy": 0.10}, hidden_units=16),
        _trial("2", {"loss": 0.20, "accuracy": 0.90}, hidden_units=32),
        _trial("3", {"loss": 0.01}, state="INFEASIBLE", hidden_units=48),
        _trial("4", {"loss": 0.35, "accuracy": 0.05}, hidden_units=64),
    ]
    best = trial_outputs(_tuning_job(trials, _study("loss", "MINIMIZE")), None)["best_trial"]
    assert best == {
        "id": "2",
        "parameters": {"learning-rate": 0.01, "hidden-units": 32},
        "metric_id": "loss",
        "metric_value": pytest.approx(0.20),
    }


DECLARED_MINIMIZE_LOSS = study_spec(
    Study.model_validate(
        {
            "metric": {"id": "loss", "goal": "MINIMIZE"},
            "parameters": [
                {"id": "learning-rate", "type": "double", "min": 1e-4, "max": 0.1},
                {"id": "hidden-units", "type": "integer", "min": 16, "max": 128},
            ],
            "maxTrialCount": 4,
        }
    )
)
TRIALS_FOR_BOTH_GOALS = [
    _trial("1", {"accuracy": 0.60, "loss": 0.30}, hidden_units=16),
    _trial("2", {"accuracy": 0.90, "loss": 0.70}, hidden_units=32),
]


@pytest.mark.parametrize(
    "live_study",
    [None, aiplatform_v1.StudySpec()],  # no study_spec; one without metrics
    ids=["no-live-study", "live-study-without-metrics"],
)
def test_the_declared_study_decides_when_the_live_job_has_none(live_study):
    out = trial_outputs(_tuning_job(TRIALS_FOR_BOTH_GOALS, live_study), DECLARED_MINIMIZE_LOSS)
    assert out["best_trial"] == {
        "id": "1",
        "parameters": {"learning-rate": 0.01, "hidden-units": 16},
        "metric_id": "loss",
        "metric_value": pytest.approx(0.30),
    }
    # The declared study also says which parameters are integers.
    assert all(isinstance(t["parameters"]["hidden-units"], int) for t in out["trials"])


def test_the_live_study_wins_over_the_declared_one():
    job = _tuning_job(TRIALS_FOR_BOTH_GOALS, _study("accuracy", "MAXIMIZE"))
    best = trial_outputs(job, DECLARED_MINIMIZE_LOSS)["best_trial"]
    assert (best["id"], best["metric_id"]) == ("2", "accuracy")


def test_no_study_at_all_lists_trials_without_a_best_one():
    out = trial_outputs(_tuning_job(TRIALS_FOR_BOTH_GOALS), None)
    assert out["best_trial"] is None
    assert [t["id"] for t in out["trials"]] == ["1", "2"]
    assert all(t["final_metric_value"] is None for t in out["trials"])


def test_only_integer_parameters_are_reported_as_ints():
    """A double parameter that lands on a whole number stays a float; a categorical value
    stays a string; only the study's integer parameters become ints."""
    trial = _trial("1", {"accuracy": 0.5}, learning_rate=1.0, hidden_units=64)
    trial.parameters.append(aiplatform_v1.Trial.Parameter(parameter_id="optimizer", value="adam"))
    out = trial_outputs(_tuning_job([trial], _study()), None)
    parameters = out["trials"][0]["parameters"]
    assert parameters == {"learning-rate": 1.0, "hidden-units": 64, "optimizer": "adam"}
    assert [type(parameters[k]) for k in ("learning-rate", "hidden-units", "optimizer")] == [
        float,
        int,
        str,
    ]


# ---- several metrics: the Pareto-optimal trials ------------------------------------------


def _two_objectives():
    spec = aiplatform_v1.StudySpec
    study = _study()
    study.metrics.append(spec.MetricSpec(metric_id="loss", goal=spec.MetricSpec.GoalType.MINIMIZE))
    return study


def test_several_metrics_list_the_pareto_optimal_trials_not_one_best():
    trials = [
        _trial("1", {"accuracy": 0.90, "loss": 0.30}),  # front: best accuracy
        _trial("2", {"accuracy": 0.80, "loss": 0.10}),  # front: best loss
        _trial("3", {"accuracy": 0.85, "loss": 0.20}),  # front: a trade-off
        _trial("4", {"accuracy": 0.80, "loss": 0.30}),  # dominated by 1 (and 3)
        _trial("5", {"accuracy": 0.85, "loss": 0.20}),  # equal to 3 on both: kept too
        _trial("6", {"accuracy": 0.99, "loss": 0.01}, state="INFEASIBLE"),  # not a candidate
        _trial("7", {"accuracy": 0.95}),  # no loss reported: not a candidate
    ]
    out = trial_outputs(_tuning_job(trials, _two_objectives()), None)
    assert out["best_trial"] is None
    assert [t["id"] for t in out["pareto_trials"]] == ["1", "2", "3", "5"]
    assert out["pareto_trials"][0] == {
        "id": "1",
        "parameters": {"learning-rate": 0.01, "hidden-units": 64},
        "metrics": {"accuracy": pytest.approx(0.90), "loss": pytest.approx(0.30)},
    }
    # Each trial keeps the first metric's value and adds every objective's.
    assert out["trials"][6]["final_metric_value"] == pytest.approx(0.95)
    assert out["trials"][6]["final_metrics"] == {"accuracy": pytest.approx(0.95)}


def test_one_dominating_trial_is_the_whole_front():
    trials = [
        _trial("1", {"accuracy": 0.70, "loss": 0.50}),
        _trial("2", {"accuracy": 0.90, "loss": 0.10}),
        _trial("3", {"accuracy": 0.90, "loss": 0.20}),  # equal accuracy, worse loss
    ]
    out = trial_outputs(_tuning_job(trials, _two_objectives()), None)
    assert [t["id"] for t in out["pareto_trials"]] == ["2"]


def test_the_goals_decide_the_front():
    """Both metrics maximised: trial 1 (higher on both) dominates the rest."""
    study = _two_objectives()
    study.metrics[1].goal = aiplatform_v1.StudySpec.MetricSpec.GoalType.MAXIMIZE
    trials = [
        _trial("1", {"accuracy": 0.90, "loss": 0.30}),
        _trial("2", {"accuracy": 0.80, "loss": 0.10}),
    ]
    assert [t["id"] for t in trial_outputs(_tuning_job(trials, study), None)["pareto_trials"]] == [
        "1"
    ]


def test_one_metric_keeps_its_outputs_and_has_no_pareto_set():
    out = trial_outputs(_tuning_job([_trial("1", {"accuracy": 0.5, "loss": 0.1})], _study()), None)
    assert out["pareto_trials"] is None and out["best_trial"]["id"] == "1"
    assert set(out["trials"][0]) == {
        "id",
        "state",
        "parameters",
        "final_metric_value",
        "console_url",
        "logs_url",
    }


def test_no_succeeded_trial_gives_an_empty_front():
    trials = [_trial("1", {"accuracy": 0.9, "loss": 0.1}, state="ACTIVE")]
    assert trial_outputs(_tuning_job(trials, _two_objectives()), None)["pareto_trials"] == []


def test_integer_parameters_inside_conditions_are_reported_as_ints():
    spec = aiplatform_v1.StudySpec
    study = _study()
    condition = spec.ParameterSpec.ConditionalParameterSpec(
        parent_int_values=spec.ParameterSpec.ConditionalParameterSpec.IntValueCondition(
            values=[64]
        ),
        parameter_spec=spec.ParameterSpec(
            parameter_id="epochs",
            integer_value_spec=spec.ParameterSpec.IntegerValueSpec(min_value=1, max_value=9),
        ),
    )
    study.parameters[1].conditional_parameter_specs.append(condition)
    trial = _trial("1", {"accuracy": 0.5})
    trial.parameters.append(aiplatform_v1.Trial.Parameter(parameter_id="epochs", value=3.0))
    parameters = trial_outputs(_tuning_job([trial], study), None)["trials"][0]["parameters"]
    assert parameters["epochs"] == 3 and isinstance(parameters["epochs"], int)


def test_a_trial_links_to_its_own_custom_job():
    trial = _trial("1", {"accuracy": 0.5})
    trial.custom_job = "projects/123/locations/europe-west4/customJobs/777"
    (summary,) = trial_outputs(_tuning_job([trial], _study()), None)["trials"]
    assert summary["console_url"] == (
        "https://console.cloud.google.com/agent-platform/locations/europe-west4/training/777"
        "?project=123"
    )
    assert summary["logs_url"] == (
        "https://console.cloud.google.com/logs/query;query=resource.type%3D%22ml_job%22%20AND"
        "%20resource.labels.job_id%3D%22777%22?project=123"
    )
    # The provider passes the stack's project ID: Vertex names jobs by project number.
    (named,) = trial_outputs(_tuning_job([trial], _study()), None, "acme-ml-prod")["trials"]
    assert named["console_url"].endswith("/training/777?project=acme-ml-prod")


# ---- through Pulumi's dynamic-provider host and the fake JobService ------------------------


def test_a_multi_objective_study_through_the_host_reports_its_pareto_trials(hosted):
    """The study spec the config layer builds (several metrics, a conditional parameter,
    early stopping, stopping rules) is submitted as is, and a refresh reports the Pareto
    set, each trial's metrics and the links of each trial's CustomJob."""
    fake, host = hosted
    study = Study.model_validate(
        {
            "metrics": [
                {"id": "accuracy", "goal": "MAXIMIZE"},
                {"id": "latency", "goal": "MINIMIZE"},
            ],
            "parameters": [
                {
                    "id": "batch-size",
                    "type": "discrete",
                    "values": [32, 64],
                    "conditional": [
                        {
                            "parentValues": [64],
                            "parameter": {"id": "epochs", "type": "integer", "min": 1, "max": 9},
                        }
                    ],
                }
            ],
            "earlyStopping": {"rule": "median"},
            "stopping": {"maxTrials": 6, "minRuntime": "10m"},
            "maxTrialCount": 8,
        }
    )
    job = host.bind(HyperparameterTuningJobProvider(), type_token=HYPERPARAMETER_TUNING_JOB_TYPE)
    created = job.create(job.check({}, tuning_job_inputs(study_spec=study_spec(study)))["inputs"])
    name, outs = created["id"], created["properties"]
    stored = fake.job(name).study_spec
    assert [m.metric_id for m in stored.metrics] == ["accuracy", "latency"]
    assert "median_automated_stopping_spec" in stored
    assert stored.study_stopping_config.max_num_trials == 6
    (condition,) = stored.parameters[0].conditional_parameter_specs
    assert condition.parameter_spec.parameter_id == "epochs"

    fake.advance(name, "RUNNING")
    metrics = [(0.90, 30.0), (0.80, 10.0), (0.85, 40.0)]  # trial 3 is dominated by trial 1
    for index, (accuracy, latency) in enumerate(metrics):
        fake.add_trial(
            name,
            {"batch-size": 64.0, "epochs": float(index + 1)},
            None,
            metrics={"accuracy": accuracy, "latency": latency},
        )
    refreshed = job.read(name, outs)["properties"]

    assert "best_trial" not in refreshed  # None is dropped on the wire
    assert [t["id"] for t in refreshed["pareto_trials"]] == ["1", "2"]
    assert refreshed["pareto_trials"][1]["metrics"] == {"accuracy": 0.80, "latency": 10.0}
    first = refreshed["trials"][0]
    assert first["parameters"] == {"batch-size": 64.0, "epochs": 1}  # epochs: an integer
    trial_job_id = f"{outs['job_id']}1"  # the fake's name for trial 1's CustomJob
    assert first["console_url"].endswith(f"/training/{trial_job_id}?project=my-project")
    assert first["logs_url"].endswith(f"job_id%3D%22{trial_job_id}%22?project=my-project")
