"""Vertex AI training job guardrails, for the dynamic CustomJob / HyperparameterTuningJob.

The job resources' inputs are plain data, defined in the program's `vertex_jobs/contract.py`
(this venv cannot import it; tests/policy/test_program_copies.py keeps this list in step):
`project`, `region`, `api_endpoint`, `emulator_host` (the local stack's emulator; None on
cloud stacks), `display_name`, `labels`, `job_spec` (proto3 JSON of
aiplatform v1 CustomJobSpec, snake_case), `encryption_kms_key`, `wait`, `resource_key` (set by
the resource: `<project>/<stack>/<resource name>`), and for tuning jobs `study_spec`,
`max_trial_count`, `parallel_trial_count`, `max_failed_trial_count`.

What is known at preview: everything except the image digest (known after the image is built)
and the training service account's e-mail (known after the account is created). Those two are
deferred to `pulumi up`; everything else is strict. So `job_spec` must be a dict whose only
Output-valued leaves are those two: a `job_spec` built whole inside `Output.apply` is unknown
at preview and fails the strict ceilings with "could not be verified".
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .resources import DEFAULT_SERVICE_ACCOUNT, JOB_TYPE, is_training_job, setting
from .values import UNKNOWN, defer, dig, plain, unverifiable

_DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_VERTEX_SERVICE_AGENT = re.compile(r"@gcp-sa-aiplatform(-cc)?\.iam\.gserviceaccount\.com$")
_DURATION = re.compile(r"^(\d+)(\.\d+)?s$")

REGION_SCHEMA = {
    "region": {
        "type": "string",
        "description": "The stack's one region (vertex-training:region). Required: without "
        "it every job is reported.",
    }
}
ACCELERATOR_SCHEMA = {
    "maxAcceleratorCount": {
        "type": "integer",
        "minimum": 0,
        "default": 8,
        "description": "Most accelerators one worker pool may hold "
        "(accelerator_count x replica_count).",
    }
}
TIMEOUT_SCHEMA = {
    "maxTimeoutSeconds": {
        "type": "integer",
        "minimum": 1,
        "default": 86400,
        "description": "Longest scheduling.timeout a job may ask for, in seconds.",
    }
}
TRIAL_SCHEMA = {
    "maxTrialCount": {
        "type": "integer",
        "minimum": 1,
        "default": 50,
        "description": "Most trials a tuning job may run in total.",
    },
    "maxParallelTrialCount": {
        "type": "integer",
        "minimum": 1,
        "default": 5,
        "description": "Most trials a tuning job may run at once.",
    },
}
REQUIRED_LABELS = ("vtrain-stack", "vtrain-project")


def training_job(args: ResourceValidationArgs) -> dict[str, Any] | None:
    """The job's plain inputs if the resource is a Vertex AI training job, else None."""
    if not JOB_TYPE.match(args.resource_type):
        return None
    props = plain(args.props)
    return props if is_training_job(args.resource_type, props) else None


def _is_tuning_job(resource_type: str, props: dict[str, Any]) -> bool:
    return resource_type.endswith(":HyperparameterTuningJob") or "study_spec" in props


def _job_spec(props: dict[str, Any]) -> tuple[str, Any]:
    if "trial_job_spec" in props:
        return "trial_job_spec", props["trial_job_spec"]
    return "job_spec", props.get("job_spec")


def _pools(spec_field: str, spec: Any) -> list[tuple[str, Any]]:
    """(field path, pool) for each worker pool; a single UNKNOWN entry if they are unknown."""
    pools = dig(spec, "worker_pool_specs")
    if pools is UNKNOWN:
        return [(f"{spec_field}.worker_pool_specs", UNKNOWN)]
    return [(f"{spec_field}.worker_pool_specs.{i}", pool) for i, pool in enumerate(pools or [])]


def _as_int(value: Any) -> int | None:
    """proto3 JSON writes int64 as a string ("2") and int32 as a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _service_account(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None:
        return
    spec_field, spec = _job_spec(props)
    account = dig(spec, "service_account")
    if account is UNKNOWN:
        # The training service account's e-mail is assigned when the account is created.
        defer(f"{spec_field}.service_account")
    if not account:
        report(
            f"Job `{args.name}` sets no {spec_field}.service_account, so Vertex AI runs it as "
            "the project's default Custom Code Service Agent: set it to the dedicated training "
            "service account's e-mail."
        )
    elif DEFAULT_SERVICE_ACCOUNT.search(account) or _VERTEX_SERVICE_AGENT.search(account):
        report(
            f"Job `{args.name}` runs as `{account}`, a default/shared identity: set "
            f"{spec_field}.service_account to the dedicated training service account's e-mail."
        )


def _image_digest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None:
        return
    spec_field, spec = _job_spec(props)
    unknown_fields = []
    for field, pool in _pools(spec_field, spec):
        images = [
            (f"{field}.container_spec.image_uri", dig(pool, "container_spec", "image_uri")),
            (
                f"{field}.python_package_spec.executor_image_uri",
                dig(pool, "python_package_spec", "executor_image_uri"),
            ),
        ]
        for image_field, image in images:
            if image is UNKNOWN:
                unknown_fields.append(image_field)
            elif image is not None and not _DIGEST_REF.match(image):
                report(
                    f"Job `{args.name}` uses image `{image}` ({image_field}), which is not "
                    "pinned by digest: reference <repository>/<image>@sha256:<64 hex> (the "
                    "docker Image resource's repo_digest), so the job runs exactly the image "
                    "that was built and scanned."
                )
    if unknown_fields:
        # The digest exists only after the image is built: checked again during `pulumi up`.
        defer(unknown_fields[0])


def _region(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None:
        return
    expected = setting(args, REGION_SCHEMA, "region")
    if not expected:
        report(
            f"Policy config `region` is not set, so job `{args.name}` cannot be checked: run "
            "with --policy-pack-config policy/config/<stack>.json."
        )
        return
    region = props.get("region")
    if region is UNKNOWN:
        report(unverifiable("region", "Take it from stack config vertex-training:region."))
    elif not isinstance(region, str) or region.lower() != expected.lower():
        report(
            f"Job `{args.name}` runs in region {region!r} but this stack's region is "
            f"{expected!r}: set region={expected!r} (data must not leave the stack's region)."
        )
    endpoint = props.get("api_endpoint")
    if endpoint is UNKNOWN:
        report(
            unverifiable("api_endpoint", f"Use the literal {expected}-aiplatform.googleapis.com.")
        )
    elif endpoint and not endpoint.startswith(f"{expected}-aiplatform.googleapis.com"):
        report(
            f"Job `{args.name}` calls the API endpoint {endpoint!r}: use "
            f"{expected}-aiplatform.googleapis.com, the endpoint of the stack's region."
        )


def _accelerators(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None:
        return
    ceiling = setting(args, ACCELERATOR_SCHEMA, "maxAcceleratorCount")
    spec_field, spec = _job_spec(props)
    for field, pool in _pools(spec_field, spec):
        count = dig(pool, "machine_spec", "accelerator_count")
        replicas = dig(pool, "replica_count")
        if count is UNKNOWN or replicas is UNKNOWN:
            report(unverifiable(field, "Build the machine spec from stack config."))
            continue
        per_machine = _as_int(count) or 0
        machines = _as_int(replicas) if replicas is not None else 1
        total = per_machine * (machines or 0)
        if total > ceiling:
            kind = dig(pool, "machine_spec", "accelerator_type")
            kind = kind if isinstance(kind, str) and kind else "accelerator"
            report(
                f"Job `{args.name}` asks for {machines} x {per_machine} {kind} = {total} "
                f"accelerators in {field}; this stack allows at most {ceiling} per worker pool "
                "(policy config maxAcceleratorCount): lower accelerator_count or replica_count, "
                "or raise the ceiling in policy/config/<stack>.json."
            )


def _timeout_seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1) + (match.group(2) or ""))
    return None


def _timeout(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None:
        return
    ceiling = setting(args, TIMEOUT_SCHEMA, "maxTimeoutSeconds")
    spec_field, spec = _job_spec(props)
    field = f"{spec_field}.scheduling.timeout"
    timeout = dig(spec, "scheduling", "timeout")
    if timeout is UNKNOWN:
        report(unverifiable(field, "Take it from stack config."))
        return
    seconds = _timeout_seconds(timeout)
    if timeout is None:
        report(
            f"Job `{args.name}` sets no {field}, so Vertex AI lets it run for up to 7 days: set "
            f'it (e.g. "3600s"), at most {ceiling}s in this stack.'
        )
    elif seconds is None:
        report(f'Job `{args.name}` has {field}={timeout!r}: write a duration like "3600s".')
    elif seconds > ceiling:
        report(
            f"Job `{args.name}` has {field}={timeout!r} ({seconds:g}s); this stack allows at "
            f"most {ceiling}s (policy config maxTimeoutSeconds): lower the timeout or raise the "
            "ceiling in policy/config/<stack>.json."
        )


def _trials(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None or not _is_tuning_job(args.resource_type, props):
        return
    limits = [
        ("max_trial_count", "maxTrialCount"),
        ("parallel_trial_count", "maxParallelTrialCount"),
    ]
    for field, config_key in limits:
        ceiling = setting(args, TRIAL_SCHEMA, config_key)
        value = props.get(field)
        if value is UNKNOWN:
            report(unverifiable(field, "Take it from stack config."))
            continue
        count = _as_int(value)
        if count is None:
            report(f"Tuning job `{args.name}` sets no {field}: set it, at most {ceiling}.")
        elif count > ceiling:
            report(
                f"Tuning job `{args.name}` has {field}={count}; this stack allows at most "
                f"{ceiling} (policy config {config_key}): lower {field} or raise the ceiling "
                "in policy/config/<stack>.json."
            )


def _labels(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = training_job(args)
    if props is None:
        return
    labels = props.get("labels")
    if labels is UNKNOWN:
        report(unverifiable("labels", "Build the labels from stack config."))
        return
    for key in REQUIRED_LABELS:
        value = (labels or {}).get(key)
        if value is UNKNOWN:
            report(unverifiable(f"labels.{key}", "Take it from the stack and project names."))
        elif not value:
            report(
                f"Job `{args.name}` has no `{key}` label: add it (labels={{'{key}': ...}}) so "
                "cost reports and the jobs' cleanup can attribute the job to its stack."
            )


POLICIES = [
    ResourceValidationPolicy(
        name="jobs-custom-service-account",
        description="Training jobs run as a dedicated service account, not a default one.",
        validate=_service_account,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_30"],
        remediation_steps="Set job_spec.service_account to the training service account.",
    ),
    ResourceValidationPolicy(
        name="jobs-image-pinned-by-digest",
        description="Training job images are referenced by digest (@sha256:...), not by tag.",
        validate=_image_digest,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_K8S_43"],
        remediation_steps="Use the built Image's repo_digest as container_spec.image_uri.",
    ),
    ResourceValidationPolicy(
        name="jobs-region",
        description="Training jobs run in the stack's region.",
        validate=_region,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["data-residency"],
        config_schema=PolicyConfigSchema(properties=REGION_SCHEMA),
        remediation_steps="Set the job's region (and api_endpoint) from vertex-training:region.",
    ),
    ResourceValidationPolicy(
        name="jobs-accelerator-ceiling",
        description="No worker pool holds more accelerators than the stack allows.",
        validate=_accelerators,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        tags=["cost"],
        config_schema=PolicyConfigSchema(properties=ACCELERATOR_SCHEMA),
        remediation_steps="Lower accelerator_count/replica_count or raise maxAcceleratorCount.",
    ),
    ResourceValidationPolicy(
        name="jobs-timeout-ceiling",
        description="Training jobs set scheduling.timeout, within the stack's ceiling.",
        validate=_timeout,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        tags=["cost"],
        config_schema=PolicyConfigSchema(properties=TIMEOUT_SCHEMA),
        remediation_steps="Set job_spec.scheduling.timeout at or below maxTimeoutSeconds.",
    ),
    ResourceValidationPolicy(
        name="jobs-trial-ceiling",
        description="Tuning jobs stay within the stack's total and parallel trial ceilings.",
        validate=_trials,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        tags=["cost"],
        config_schema=PolicyConfigSchema(properties=TRIAL_SCHEMA),
        remediation_steps="Lower max_trial_count / parallel_trial_count or raise the ceilings.",
    ),
    ResourceValidationPolicy(
        name="jobs-required-labels",
        description="Training jobs carry the vtrain-stack and vtrain-project labels.",
        validate=_labels,
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
        tags=["hygiene"],
        remediation_steps="Add labels vtrain-stack and vtrain-project.",
    ),
]
