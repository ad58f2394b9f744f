"""Vertex AI training jobs as Pulumi resources: `CustomJob` and `HyperparameterTuningJob`.

Both are `pulumi.dynamic.Resource`s backed by `vertex_jobs.providers`. Their inputs and
outputs are `vertex_jobs.contract`'s; the attributes below are typed views of them. Any
change to the job replaces it (delete-before-replace): the v1 API cannot update a job.
Each registers `resource_key` (`<project>/<stack>/<resource name>`) itself, so the provider
can find a job a crashed `pulumi up` submitted (`vertex_jobs.providers`, "The resource uid").
Google resources created: one `CustomJob` or `HyperparameterTuningJob`.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi.dynamic

from vertex_jobs.contract import (
    COMMON_INPUTS,
    COMMON_OUTPUTS,
    TUNING_INPUTS,
    TUNING_OUTPUTS,
    TYPE_MODULE,
)
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider


class WaitArgs(TypedDict):
    until_terminal: bool
    timeout_seconds: int


class CustomJobArgs(TypedDict):
    """Inputs of a `CustomJob`; values may be `pulumi.Output`s."""

    project: pulumi.Input[str]
    region: pulumi.Input[str]
    display_name: pulumi.Input[str]
    job_spec: pulumi.Input[dict[str, Any]]
    labels: NotRequired[pulumi.Input[dict[str, str]]]
    api_endpoint: NotRequired[pulumi.Input[str] | None]
    emulator_host: NotRequired[pulumi.Input[str] | None]
    encryption_kms_key: NotRequired[pulumi.Input[str] | None]
    wait: NotRequired[pulumi.Input[WaitArgs] | None]


class HyperparameterTuningJobArgs(CustomJobArgs):
    """Inputs of a `HyperparameterTuningJob`; `job_spec` is the trial job spec."""

    study_spec: pulumi.Input[dict[str, Any]]
    max_trial_count: pulumi.Input[int]
    parallel_trial_count: pulumi.Input[int]
    max_failed_trial_count: pulumi.Input[int]


def _props(args: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    """Every input key present (None where omitted), so outputs always have them."""
    unknown = sorted(set(args) - set(keys))
    if unknown:
        raise TypeError(f"unknown job argument(s) {unknown}; allowed: {', '.join(keys)}")
    props: dict[str, Any] = {key: args.get(key) for key in keys}
    if props["labels"] is None:
        props["labels"] = {}
    return props


def _resource_key(resource_name: str, args: dict[str, Any]) -> str:
    """`<pulumi project>/<pulumi stack>/<resource name>`: which resource a job belongs to, for
    the provider (which never sees the URN) to derive the job's resource uid from."""
    if args.get("resource_key") is not None:
        raise TypeError("resource_key is set by the resource, not passed in")
    return f"{pulumi.get_project()}/{pulumi.get_stack()}/{resource_name}"


def _output_placeholders(keys: dict[str, str]) -> dict[str, None]:
    """Output keys as None inputs, so the Python object gets those attributes."""
    return dict.fromkeys(keys)


class _VertexJob(pulumi.dynamic.Resource):
    """What both job kinds take and report (annotations only; the subclasses register).
    Meanings: `vertex_jobs.contract`."""

    project: pulumi.Output[str]
    region: pulumi.Output[str]
    api_endpoint: pulumi.Output[str | None]
    emulator_host: pulumi.Output[str | None]
    display_name: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]
    job_spec: pulumi.Output[dict[str, Any]]
    encryption_kms_key: pulumi.Output[str | None]
    wait: pulumi.Output[dict[str, Any] | None]
    resource_key: pulumi.Output[str | None]
    resource_uid: pulumi.Output[str]
    name: pulumi.Output[str]
    job_id: pulumi.Output[str]
    state: pulumi.Output[str]
    console_url: pulumi.Output[str]
    logs_url: pulumi.Output[str]
    create_time: pulumi.Output[str]
    start_time: pulumi.Output[str | None]
    end_time: pulumi.Output[str | None]
    error: pulumi.Output[dict[str, Any] | None]


class CustomJob(_VertexJob, module=TYPE_MODULE, name="CustomJob"):
    """A Vertex AI `CustomJob`: submitted on create, cancelled and deleted on destroy."""

    def __init__(
        self,
        resource_name: str,
        args: CustomJobArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**_props(dict(args), COMMON_INPUTS), **_output_placeholders(COMMON_OUTPUTS)}
        props["resource_key"] = _resource_key(resource_name, dict(args))
        super().__init__(CustomJobProvider(), resource_name, props, opts)


class HyperparameterTuningJob(_VertexJob, module=TYPE_MODULE, name="HyperparameterTuningJob"):
    """A Vertex AI `HyperparameterTuningJob`; refresh to see trials and the best trial."""

    study_spec: pulumi.Output[dict[str, Any]]
    max_trial_count: pulumi.Output[int]
    parallel_trial_count: pulumi.Output[int]
    max_failed_trial_count: pulumi.Output[int]
    best_trial: pulumi.Output[dict[str, Any] | None]
    pareto_trials: pulumi.Output[list[dict[str, Any]] | None]
    trials: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        resource_name: str,
        args: HyperparameterTuningJobArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            **_props(dict(args), {**COMMON_INPUTS, **TUNING_INPUTS}),
            **_output_placeholders({**COMMON_OUTPUTS, **TUNING_OUTPUTS}),
        }
        props["resource_key"] = _resource_key(resource_name, dict(args))
        super().__init__(HyperparameterTuningJobProvider(), resource_name, props, opts)
