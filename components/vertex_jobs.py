"""Vertex AI training jobs as Pulumi resources: ``CustomJob`` and ``HyperparameterTuningJob``.

Both are ``pulumi.dynamic.Resource``s backed by the providers in
``components.vertex_jobs_provider`` (see its docstring for the lifecycle, the environment
knobs and how the provider is serialized into state).

Type tokens: ``pulumi.dynamic.Resource`` always prefixes ``pulumi-python:dynamic`` (that
prefix is how the engine routes the resource to the Python dynamic-provider plugin), and the
``module``/``name`` class keywords fill in the rest, so the tokens are
``pulumi-python:dynamic/vtrain/jobs:CustomJob`` and
``pulumi-python:dynamic/vtrain/jobs:HyperparameterTuningJob``. Changing them later needs
``aliases`` on existing stacks.

Inputs (``CustomJobArgs``; ``HyperparameterTuningJobArgs`` adds the study fields):

* ``project``, ``region``: where the job runs; ``api_endpoint``: None for
  ``<region>-aiplatform.googleapis.com``, else e.g. a Private Service Connect endpoint.
* ``display_name``; ``labels`` (str -> str; the provider adds ``vtrain-resource-uid``).
* ``job_spec``: proto3 JSON of ``google.cloud.aiplatform.v1.CustomJobSpec`` (snake_case or
  lowerCamel keys, enum names, durations like "3600s"); for tuning jobs it is the
  ``trial_job_spec``.
* ``encryption_kms_key``: None or a Cloud KMS key name (``encryption_spec.kms_key_name``).
* ``wait``: None, or ``{"until_terminal": bool, "timeout_seconds": int}`` to block ``create``
  (bounded) for short jobs.
* tuning only: ``study_spec`` (proto3 JSON of ``StudySpec``), ``max_trial_count``,
  ``parallel_trial_count``, ``max_failed_trial_count``.

Outputs: every input, plus ``resource_uid``, ``name``, ``job_id``, ``state``, ``console_url``,
``create_time``, ``start_time``, ``end_time``, ``error``; tuning jobs add ``best_trial`` and
``trials``. Any change to the job replaces it (delete-before-replace): the v1 API cannot
update a job. Google resources created: one ``CustomJob`` or ``HyperparameterTuningJob``.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi.dynamic

from components.vertex_jobs_provider import (
    COMMON_INPUTS,
    TUNING_INPUTS,
    CustomJobProvider,
    HyperparameterTuningJobProvider,
)

TYPE_MODULE = "vtrain/jobs"
CUSTOM_JOB_TYPE = f"pulumi-python:dynamic/{TYPE_MODULE}:CustomJob"
HYPERPARAMETER_TUNING_JOB_TYPE = f"pulumi-python:dynamic/{TYPE_MODULE}:HyperparameterTuningJob"


class WaitArgs(TypedDict):
    until_terminal: bool
    timeout_seconds: int


class CustomJobArgs(TypedDict):
    """Inputs of a ``CustomJob``; values may be ``pulumi.Output``s."""

    project: pulumi.Input[str]
    region: pulumi.Input[str]
    display_name: pulumi.Input[str]
    job_spec: pulumi.Input[dict[str, Any]]
    labels: NotRequired[pulumi.Input[dict[str, str]]]
    api_endpoint: NotRequired[pulumi.Input[str] | None]
    encryption_kms_key: NotRequired[pulumi.Input[str] | None]
    wait: NotRequired[pulumi.Input[WaitArgs] | None]


class HyperparameterTuningJobArgs(CustomJobArgs):
    """Inputs of a ``HyperparameterTuningJob``; ``job_spec`` is the trial job spec."""

    study_spec: pulumi.Input[dict[str, Any]]
    max_trial_count: pulumi.Input[int]
    parallel_trial_count: pulumi.Input[int]
    max_failed_trial_count: pulumi.Input[int]


def _props(args: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Every input key present (None where omitted), so outputs always have them."""
    unknown = sorted(set(args) - set(keys))
    if unknown:
        raise TypeError(f"unknown job argument(s) {unknown}; allowed: {', '.join(keys)}")
    props: dict[str, Any] = {key: args.get(key) for key in keys}
    if props["labels"] is None:
        props["labels"] = {}
    return props


_OUTPUT_DEFAULTS = {
    "resource_uid": None,
    "name": None,
    "job_id": None,
    "state": None,
    "console_url": None,
    "create_time": None,
    "start_time": None,
    "end_time": None,
    "error": None,
}


class _VertexJob(pulumi.dynamic.Resource):
    """What both job kinds take and report (annotations only; the subclasses register)."""

    project: pulumi.Output[str]
    region: pulumi.Output[str]
    api_endpoint: pulumi.Output[str | None]
    display_name: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]
    job_spec: pulumi.Output[dict[str, Any]]
    encryption_kms_key: pulumi.Output[str | None]
    wait: pulumi.Output[dict[str, Any] | None]
    resource_uid: pulumi.Output[str]
    name: pulumi.Output[str]
    """Full resource name, projects/<p>/locations/<region>/<kind>/<id> (also the id)."""
    job_id: pulumi.Output[str]
    state: pulumi.Output[str]
    """e.g. JOB_STATE_QUEUED at create; refresh to see RUNNING, SUCCEEDED or FAILED."""
    console_url: pulumi.Output[str]
    create_time: pulumi.Output[str]
    start_time: pulumi.Output[str | None]
    end_time: pulumi.Output[str | None]
    error: pulumi.Output[dict[str, Any] | None]
    """``{code, message}`` of a FAILED or CANCELLED job, else None."""


class CustomJob(_VertexJob, module=TYPE_MODULE, name="CustomJob"):
    """A Vertex AI ``CustomJob``: submitted on create, cancelled and deleted on destroy."""

    def __init__(
        self,
        resource_name: str,
        args: CustomJobArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**_props(dict(args), COMMON_INPUTS), **_OUTPUT_DEFAULTS}
        super().__init__(CustomJobProvider(), resource_name, props, opts)


class HyperparameterTuningJob(_VertexJob, module=TYPE_MODULE, name="HyperparameterTuningJob"):
    """A Vertex AI ``HyperparameterTuningJob``; refresh to see trials and the best trial."""

    study_spec: pulumi.Output[dict[str, Any]]
    max_trial_count: pulumi.Output[int]
    parallel_trial_count: pulumi.Output[int]
    max_failed_trial_count: pulumi.Output[int]
    best_trial: pulumi.Output[dict[str, Any] | None]
    """``{id, parameters, metric_id, metric_value}`` of the best SUCCEEDED trial, or None."""
    trials: pulumi.Output[list[dict[str, Any]]]
    """``[{id, state, parameters, final_metric_value}]``."""

    def __init__(
        self,
        resource_name: str,
        args: HyperparameterTuningJobArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            **_props(dict(args), COMMON_INPUTS + TUNING_INPUTS),
            **_OUTPUT_DEFAULTS,
            "best_trial": None,
            "trials": None,
        }
        super().__init__(HyperparameterTuningJobProvider(), resource_name, props, opts)
