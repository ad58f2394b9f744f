"""HyperparameterTuningJobs for real: trials run parallel_trial_count at a time up to
max_trial_count, each with its parameters as flags and its own Vertex variables; what each
reported through cloudml-hypertune becomes its final measurement by the study's
measurement selection; the providers' refresh reads the best trial; max_failed_trial_count
is honoured; cancel stops the trials."""

from __future__ import annotations

import importlib.util
import itertools
import json

from google.cloud.aiplatform_v1.types import hyperparameter_tuning_job

from tests.harness.emulator import (
    APPS_DIR,
    PARENT,
    assert_gone,
    probe_job_spec,
    probe_report,
    wait_for_job,
    wait_for_log_lines,
)
from vertex_jobs.trials import trial_outputs

_PROBE = importlib.util.spec_from_file_location("probe_app", APPS_DIR / "probe" / "probe.py")
probe_app = importlib.util.module_from_spec(_PROBE)
_PROBE.loader.exec_module(probe_app)

GRID = {"y": [1, 2], "opt": ["sgd", "adam"]}


def _study(algorithm: str = "GRID_SEARCH", selection: str = "BEST_MEASUREMENT") -> dict:
    return {
        "metrics": [{"metric_id": "score", "goal": "MAXIMIZE"}],
        "parameters": [
            {"parameter_id": "y", "integer_value_spec": {"min_value": 1, "max_value": 2}},
            {"parameter_id": "opt", "categorical_value_spec": {"values": GRID["opt"]}},
        ],
        "algorithm": algorithm,
        "measurement_selection_type": selection,
    }


def _tuning_job(*args: str, trials: int, parallel: int, failed: int = 0, **study) -> dict:
    return {
        "display_name": "tune-probe",
        "study_spec": _study(**study),
        "max_trial_count": trials,
        "parallel_trial_count": parallel,
        "max_failed_trial_count": failed,
        "trial_job_spec": probe_job_spec(*args, output="gs://tuning/runs"),
    }


def _parameters(trial) -> dict:
    return {p.parameter_id: p.value for p in trial.parameters}


def _max_overlap(trials) -> int:
    events = sorted(
        [(t.start_time, 1) for t in trials] + [(t.end_time, -1) for t in trials],
        key=lambda event: (event[0], event[1]),
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_a_grid_study_runs_every_trial_two_at_a_time_and_refresh_finds_the_best(
    client, shared_emulator
):
    request = _tuning_job("--sleep", "0.4", "--peak-first", trials=4, parallel=2)
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    trials = list(done.trials)
    assert [t.id for t in trials] == ["1", "2", "3", "4"]
    assert {t.state.name for t in trials} == {"SUCCEEDED"}
    combos = [_parameters(t) for t in trials]
    assert sorted((c["y"], c["opt"]) for c in combos) == sorted(itertools.product(*GRID.values()))
    assert _max_overlap(trials) == 2  # parallel_trial_count, never more
    assert all(done.start_time <= t.start_time < t.end_time <= done.end_time for t in trials)
    for trial, combo in zip(trials, combos, strict=True):
        expected = probe_app.score(0.3, int(combo["y"]), combo["opt"])
        # BEST_MEASUREMENT: step 1 (expected + PEAK) beats the last report (step 2).
        (metric,) = trial.final_measurement.metrics
        assert (metric.metric_id, metric.value) == ("score", expected + probe_app.PEAK)
        assert trial.final_measurement.step_count == 1
        assert [m.step_count for m in trial.measurements] == [1, 2]
        seen = probe_report(shared_emulator.root, job.name, trial=trial.id)
        assert seen["argv"][-2:] == [f"--y={int(combo['y'])}", f"--opt={combo['opt']}"]
        assert seen["env"]["CLOUD_ML_TRIAL_ID"] == trial.id
        assert seen["env"]["AIP_MODEL_DIR"] == f"gs://tuning/runs/{trial.id}/model/"
        assert json.loads(seen["env"]["CLUSTER_SPEC"])["task"]["trial"] == trial.id
    # What `pulumi refresh` reports (vertex_jobs/trials.py), from the job as Vertex shapes it.
    outputs = trial_outputs(type(done).pb(done), None)
    best = max(
        trials, key=lambda t: probe_app.score(0.3, int(_parameters(t)["y"]), _parameters(t)["opt"])
    )
    assert outputs["best_trial"]["id"] == best.id
    assert outputs["best_trial"]["parameters"] == {"y": 2, "opt": "adam"}


def test_last_measurement_selection_keeps_the_last_report(client):
    request = _tuning_job("--peak-first", trials=1, parallel=1, selection="LAST_MEASUREMENT")
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    (trial,) = done.trials
    assert trial.final_measurement.step_count == 2
    assert trial.final_measurement.metrics[0].value == probe_app.score(0.3, 1, "sgd")


def test_max_failed_trial_count_fails_the_job_at_that_many_failed_trials(client):
    # Grid order: y=1 first; the probe refuses y=1 (exit 3), so trials 1 and 2 fail.
    request = _tuning_job("--fail-if-y", "1", trials=4, parallel=1, failed=2)
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_FAILED"
    assert [t.state.name for t in done.trials] == ["INFEASIBLE", "INFEASIBLE"]
    assert "exited with a non-zero status of 3" in done.trials[0].infeasible_reason
    assert "probe: y=1 is refused" in done.trials[0].infeasible_reason
    assert "2 trials failed (maxFailedTrialCount: 2)" in done.error.message


def test_failures_below_the_limit_leave_a_succeeded_job_with_infeasible_trials(client):
    request = _tuning_job("--fail-if-y", "1", trials=4, parallel=2, failed=3)
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    states = {int(_parameters(t)["y"]): set() for t in done.trials}
    for trial in done.trials:
        states[int(_parameters(trial)["y"])].add(trial.state.name)
    assert states == {1: {"INFEASIBLE"}, 2: {"SUCCEEDED"}}


def test_with_max_failed_unset_a_broken_app_stops_after_three_failed_trials(client):
    request = _tuning_job("--exit-code", "1", trials=6, parallel=1, algorithm="RANDOM_SEARCH")
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_FAILED"
    assert len(done.trials) == 3
    assert "unset, the emulator stops after 3" in done.error.message


def test_a_trial_that_reports_no_metric_is_infeasible(client):
    request = _tuning_job("--no-metric", trials=1, parallel=1)
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_FAILED"
    (trial,) = done.trials
    assert trial.state.name == "INFEASIBLE"
    assert "reported no value of score through cloudml-hypertune" in trial.infeasible_reason


def test_cancel_stops_the_running_trials(client, shared_emulator):
    request = _tuning_job("--sleep", "600", trials=4, parallel=2)
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    for trial_id in ("1", "2"):
        wait_for_log_lines(shared_emulator.root, job.name, trial=trial_id)
    pids = [probe_report(shared_emulator.root, job.name, trial=t)["pid"] for t in ("1", "2")]
    running = client.get_hyperparameter_tuning_job(name=job.name)
    assert [t.state.name for t in running.trials] == ["ACTIVE", "ACTIVE"]
    client.cancel_hyperparameter_tuning_job(name=job.name)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name)
    assert done.state.name == "JOB_STATE_CANCELLED"
    assert done.error.code == 1
    assert [t.state.name for t in done.trials] == ["INFEASIBLE", "INFEASIBLE"]
    assert_gone(*pids)


def test_the_returned_job_is_a_valid_hyperparameter_tuning_job_message(client):
    request = _tuning_job(trials=1, parallel=1)
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    message = hyperparameter_tuning_job.HyperparameterTuningJob
    assert message.deserialize(message.serialize(done)) == done
    assert done.study_spec.metrics[0].metric_id == "score"


def test_the_study_stopping_config_stops_starting_trials(client):
    # StudyStoppingConfig.max_num_trials: stop once there are more trials than that.
    request = _tuning_job(trials=6, parallel=1, algorithm="RANDOM_SEARCH")
    request["study_spec"]["study_stopping_config"] = {"max_num_trials": 2}
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    assert len(done.trials) == 3


def test_the_median_stopping_rule_stops_a_trial_worse_than_the_completed_ones(
    client, shared_emulator
):
    # Grid order with `opt` first: (sgd, 1) and (sgd, 2) complete (scores 10 and 20), then
    # (adam, 1) reports 10 and 11 and hangs: its best, 11, is below the median running
    # average of the completed trials (14.5), so the median rule stops it.
    request = _tuning_job("--hang-if-opt", "adam", trials=3, parallel=1)
    request["study_spec"]["parameters"].reverse()
    request["study_spec"]["median_automated_stopping_spec"] = {}
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=60)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    assert [(_parameters(t)["opt"], t.state.name) for t in done.trials] == [
        ("sgd", "SUCCEEDED"),
        ("sgd", "SUCCEEDED"),
        ("adam", "SUCCEEDED"),
    ]
    stopped = done.trials[2]
    assert stopped.final_measurement.metrics[0].value == probe_app.score(0.3, 1, "adam")
    assert_gone(probe_report(shared_emulator.root, job.name, trial="3")["pid"])
