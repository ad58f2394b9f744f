"""Tuning-job results (`vertex_jobs.trials`): trial summaries and the best trial by the
study's goal, read back through the provider from the fake JobService and computed directly."""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1

from config.jobs import Study
from tests.harness.fake_job_service import checked, tuning_job_inputs
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
    assert refreshed["trials"][2] == {
        "id": "3",
        "state": "INFEASIBLE",
        "parameters": {"learning_rate": 0.05, "batch_size": 16},
        "final_metric_value": 0.99,
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
