"""A tuning job's trials as plain data, and the best one by the study's goal."""

from __future__ import annotations

from typing import Any

from vertex_jobs.proto import parse_proto_json


def trial_outputs(pb: Any, declared_study_spec: Any) -> dict[str, Any]:
    """`trials` and `best_trial` of a HyperparameterTuningJob message.

    The study comes from the live job, or from the declared `study_spec` where the API
    returned none. Integer parameters come back from the API as doubles; they are reported
    as ints.
    """
    study = pb.study_spec if pb.HasField("study_spec") else None
    if study is None or not study.metrics:
        try:
            study = parse_proto_json("StudySpec", declared_study_spec)
        except Exception:  # noqa: BLE001 - no usable study: trials without a best one
            study = None
    metric_id, goal = "", ""
    integer_params: set[str] = set()
    if study is not None and study.metrics:
        metric = study.metrics[0]
        metric_id = metric.metric_id
        goal = type(metric).GoalType.Name(metric.goal)
        integer_params = {
            p.parameter_id for p in study.parameters if p.HasField("integer_value_spec")
        }
    trials = [trial_summary(t, metric_id, integer_params) for t in pb.trials]
    return {"trials": trials, "best_trial": best_trial(trials, metric_id, goal)}


def trial_summary(trial: Any, metric_id: str, integer_params: set[str]) -> dict[str, Any]:
    from google.protobuf import json_format

    parameters = {}
    for param in trial.parameters:
        value = json_format.MessageToDict(param.value)
        if param.parameter_id in integer_params and isinstance(value, float) and value.is_integer():
            value = int(value)
        parameters[param.parameter_id] = value
    final = None
    if trial.HasField("final_measurement"):
        for metric in trial.final_measurement.metrics:
            if metric.metric_id == metric_id:
                final = metric.value
    return {
        "id": trial.id,
        "state": type(trial).State.Name(trial.state),
        "parameters": parameters,
        "final_metric_value": final,
    }


def best_trial(trials: list[dict[str, Any]], metric_id: str, goal: str) -> dict[str, Any] | None:
    """The SUCCEEDED trial with the best final metric for ``goal`` (MAXIMIZE or MINIMIZE)."""
    if goal not in ("MAXIMIZE", "MINIMIZE"):
        return None
    candidates = [
        t for t in trials if t["state"] == "SUCCEEDED" and t["final_metric_value"] is not None
    ]
    if not candidates:
        return None
    sign = 1.0 if goal == "MAXIMIZE" else -1.0
    best = candidates[0]
    for trial in candidates[1:]:  # strict comparison: ties keep the earliest trial
        if sign * trial["final_metric_value"] > sign * best["final_metric_value"]:
            best = trial
    return {
        "id": best["id"],
        "parameters": best["parameters"],
        "metric_id": metric_id,
        "metric_value": best["final_metric_value"],
    }
