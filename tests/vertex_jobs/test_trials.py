"""Tuning-job results (`vertex_jobs.trials`): trial summaries and the best trial by the
study's goal, read back through the provider from the fake JobService and computed directly."""

from __future__ import annotations

import pytest

from tests.harness.fake_job_service import tuning_job_inputs
from vertex_jobs.providers import HyperparameterTuningJobProvider
from vertex_jobs.trials import best_trial


def checked(provider, inputs, olds=None):
    result = provider.check(olds or {}, inputs)
    assert [(f.property, f.reason) for f in result.failures] == []
    return result.inputs


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
