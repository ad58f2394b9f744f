"""A tuning job's trials as plain data, and the best ones by the study's goals.

One metric: `best_trial` is the SUCCEEDED trial with the best final value. Several metrics
(multi-objective): there is no single best trial, so `best_trial` is None and
`pareto_trials` lists the Pareto-optimal ones (no other SUCCEEDED trial is at least as good
on every metric and better on one).
"""

from __future__ import annotations

from typing import Any

from vertex_jobs.links import links_of
from vertex_jobs.proto import parse_proto_json

GOALS = ("MAXIMIZE", "MINIMIZE")


def trial_outputs(pb: Any, declared_study_spec: Any, project: str | None = None) -> dict[str, Any]:
    """`trials`, `best_trial` and `pareto_trials` of a HyperparameterTuningJob message.

    The study comes from the live job, or from the declared `study_spec` where the API
    returned none. Integer parameters come back from the API as doubles; they are reported
    as ints. `project`: the project ID for the trials' links (see `links_of`).
    """
    study = pb.study_spec if pb.HasField("study_spec") else None
    if study is None or not study.metrics:
        try:
            study = parse_proto_json("StudySpec", declared_study_spec)
        except Exception:  # noqa: BLE001 - no usable study: trials without a best one
            study = None
    objectives: list[tuple[str, str]] = []
    integer_params: set[str] = set()
    if study is not None and study.metrics:
        objectives = [
            (metric.metric_id, type(metric).GoalType.Name(metric.goal)) for metric in study.metrics
        ]
        integer_params = _integer_parameters(study.parameters)
    metric_ids = [metric_id for metric_id, _ in objectives]
    trials = [trial_summary(t, metric_ids, integer_params, project) for t in pb.trials]
    if len(objectives) > 1:
        return {
            "trials": trials,
            "best_trial": None,
            "pareto_trials": pareto_trials(trials, objectives),
        }
    metric_id, goal = objectives[0] if objectives else ("", "")
    return {
        "trials": trials,
        "best_trial": best_trial(trials, metric_id, goal),
        "pareto_trials": None,
    }


def _integer_parameters(parameters: Any) -> set[str]:
    """Ids of the integer parameters, conditional ones included."""
    found: set[str] = set()
    for param in parameters:
        if param.HasField("integer_value_spec"):
            found.add(param.parameter_id)
        found |= _integer_parameters(
            [conditional.parameter_spec for conditional in param.conditional_parameter_specs]
        )
    return found


def trial_summary(
    trial: Any, metric_ids: list[str], integer_params: set[str], project: str | None = None
) -> dict[str, Any]:
    """One trial: id, state, parameters, the final value of the (first) metric, and where to
    look (its CustomJob's console page and logs). With several metrics, also
    `final_metrics`, every objective's final value by metric id."""
    from google.protobuf import json_format

    parameters = {}
    for param in trial.parameters:
        value = json_format.MessageToDict(param.value)
        if param.parameter_id in integer_params and isinstance(value, float) and value.is_integer():
            value = int(value)
        parameters[param.parameter_id] = value
    finals: dict[str, float] = {}
    if trial.HasField("final_measurement"):
        for metric in trial.final_measurement.metrics:
            if metric.metric_id in metric_ids:
                finals[metric.metric_id] = metric.value
    summary: dict[str, Any] = {
        "id": trial.id,
        "state": type(trial).State.Name(trial.state),
        "parameters": parameters,
        "final_metric_value": finals.get(metric_ids[0]) if metric_ids else None,
    }
    if len(metric_ids) > 1:
        summary["final_metrics"] = {key: finals[key] for key in metric_ids if key in finals}
    summary.update(links_of(trial.custom_job, project))
    return summary


def best_trial(trials: list[dict[str, Any]], metric_id: str, goal: str) -> dict[str, Any] | None:
    """The SUCCEEDED trial with the best final metric for ``goal`` (MAXIMIZE or MINIMIZE)."""
    if goal not in GOALS:
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


def pareto_trials(
    trials: list[dict[str, Any]], objectives: list[tuple[str, str]]
) -> list[dict[str, Any]] | None:
    """The Pareto-optimal SUCCEEDED trials (in trial order) among those with a final value for
    every metric: no other such trial is at least as good on every metric and strictly
    better on one. Trials with equal values on every metric are all kept. None when a goal
    is not MAXIMIZE or MINIMIZE."""
    if any(goal not in GOALS for _, goal in objectives):
        return None
    signs = [1.0 if goal == "MAXIMIZE" else -1.0 for _, goal in objectives]
    ids = [metric_id for metric_id, _ in objectives]
    candidates = [
        (trial, [sign * trial["final_metrics"][key] for sign, key in zip(signs, ids, strict=True)])
        for trial in trials
        if trial["state"] == "SUCCEEDED" and set(ids) <= set(trial.get("final_metrics", {}))
    ]
    front = [
        trial
        for trial, scores in candidates
        if not any(_dominates(other, scores) for _, other in candidates)
    ]
    return [
        {"id": trial["id"], "parameters": trial["parameters"], "metrics": trial["final_metrics"]}
        for trial in front
    ]


def _dominates(first: list[float], second: list[float]) -> bool:
    """Whether scores `first` dominate `second` (higher is better on every axis)."""
    pairs = list(zip(first, second, strict=True))
    return all(a >= b for a, b in pairs) and any(a > b for a, b in pairs)
