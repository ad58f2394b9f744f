"""Cost guardrail: a ceiling on the stack's worst-case accelerator hours.

Runs on AnalyzeStack, over every Vertex AI job of the stack. A job's worst case is what the
program exports as `acceleratorHours` (config/cost.py; a policy cannot see stack outputs, so
it recomputes the same sum from the job resources, and tests/policy/test_cost.py checks the
two agree on every shipped stack): for each worker pool of the job spec, its accelerators
(`machine_spec.accelerator_count`, or a TPU pool's chips, the product of `tpu_topology`)
times `replica_count`, times `scheduling.timeout` in hours, times `max_trial_count` for a
tuning job. Every factor comes from stack config, so it is known at preview: an unknown one
is reported as unverifiable, never passed.

The pack declares the policy advisory; prod's policy config makes it mandatory (and every
stack's config sets its own ceiling, `maxAcceleratorHours`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .jobs import _as_int, _job_spec, _pools, _timeout_seconds
from .resources import is_training_job, setting
from .values import UNKNOWN, dig, has_unknown, plain, unverifiable

CEILING_SCHEMA = {
    "maxAcceleratorHours": {
        "type": "integer",
        "minimum": 0,
        "default": 1000,
        "description": "Most accelerator hours (GPUs or TPU chips x hours) all the stack's jobs "
        "may use in the worst case: every pool busy for the whole timeout, every trial run.",
    }
}
_TOPOLOGY = re.compile(r"^\d+(x\d+)*$")


def _pool_accelerators(pool: Any) -> int | None:
    """Accelerators of one replica; None if a factor is unknown."""
    count = dig(pool, "machine_spec", "accelerator_count")
    topology = dig(pool, "machine_spec", "tpu_topology")
    if count is UNKNOWN or topology is UNKNOWN:
        return None
    if _as_int(count):
        return _as_int(count)
    if isinstance(topology, str) and _TOPOLOGY.match(topology):
        return math.prod(int(side) for side in topology.split("x"))
    return 0


def job_accelerator_hours(resource_type: str, props: dict[str, Any]) -> tuple[float | None, str]:
    """(worst-case accelerator hours, "") of one job, or (None, the unknown field)."""
    spec_field, spec = _job_spec(props)
    per_run = 0
    for field, pool in _pools(spec_field, spec):
        if pool is UNKNOWN or has_unknown(dig(pool, "replica_count")):
            return None, field
        accelerators = _pool_accelerators(pool)
        if accelerators is None:
            return None, f"{field}.machine_spec"
        replicas = dig(pool, "replica_count")
        per_run += accelerators * (_as_int(replicas) if replicas is not None else 1)
    if per_run == 0:
        return 0.0, ""
    timeout = dig(spec, "scheduling", "timeout")
    if timeout is UNKNOWN:
        return None, f"{spec_field}.scheduling.timeout"
    # No timeout: Vertex's own limit of 7 days (jobs-timeout-ceiling reports it too).
    seconds = _timeout_seconds(timeout) if timeout is not None else 7 * 86400
    runs = 1
    if resource_type.endswith(":HyperparameterTuningJob") or "study_spec" in props:
        trials = props.get("max_trial_count")
        if trials is UNKNOWN:
            return None, "max_trial_count"
        runs = _as_int(trials) or 1
    return per_run * (seconds or 0) / 3600 * runs, ""


def _ceiling(args: StackValidationArgs, report: ReportViolation) -> None:
    ceiling = setting(args, CEILING_SCHEMA, "maxAcceleratorHours")
    by_job: dict[str, float] = {}
    for resource in args.resources:
        props = plain(resource.props)
        if not is_training_job(resource.resource_type, props):
            continue
        hours, unknown_field = job_accelerator_hours(resource.resource_type, props)
        if hours is None:
            report(unverifiable(unknown_field, "Take it from stack config."), resource.urn)
            continue
        by_job[resource.name] = hours
    total = sum(by_job.values())
    if total > ceiling:
        largest = sorted(by_job.items(), key=lambda item: -item[1])[:3]
        report(
            f"The stack's jobs may use up to {total:g} accelerator hours (worst case: every "
            f"pool busy for its whole timeout, every trial run); this stack allows "
            f"{ceiling} (policy config maxAcceleratorHours). Largest: "
            + ", ".join(f"`{name}` {hours:g} h" for name, hours in largest)
            + ". Lower timeouts, accelerators, replicas or maxTrialCount, or raise the "
            "ceiling in policy/config/<stack>.json."
        )


POLICIES = [
    StackValidationPolicy(
        name="cost-accelerator-hours-ceiling",
        description="The stack's worst-case accelerator hours (the acceleratorHours output) "
        "stay under the stack's ceiling.",
        validate=_ceiling,
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.MEDIUM,
        tags=["cost"],
        config_schema=PolicyConfigSchema(properties=CEILING_SCHEMA),
        remediation_steps="Lower timeouts, accelerators, replicas or maxTrialCount, or raise "
        "maxAcceleratorHours.",
    ),
]
