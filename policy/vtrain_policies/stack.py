"""Stack-wide guardrail: every regional resource lives in the stack's one region.

Runs on AnalyzeStack (after the preview or update, with each resource's outputs): buckets'
`location` (GCS upper-cases it, so compared case-insensitively), the repository's and the
persistent resource's `location`, jobs' `region`, and the location inside every CMEK key
name those resources reference.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .jobs import REGION_SCHEMA
from .resources import BUCKET, PERSISTENT_RESOURCE, REPOSITORY, is_training_job, setting
from .values import UNKNOWN, dig, plain, unverifiable

_KEY_LOCATION = re.compile(r"/locations/([^/]+)/")


def _placements(resource_type: str, props: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, region) pairs that pin a resource to a region; region may be UNKNOWN."""
    if resource_type == BUCKET:
        fields = [("location", props.get("location"))]
        key = dig(props, "encryption", "defaultKmsKeyName")
        key_field = "encryption.defaultKmsKeyName"
    elif resource_type == REPOSITORY:
        fields = [("location", props.get("location"))]
        key, key_field = props.get("kmsKeyName"), "kmsKeyName"
    elif resource_type == PERSISTENT_RESOURCE:
        fields = [("location", props.get("location"))]
        key = dig(props, "encryptionSpec", "kmsKeyName")
        key_field = "encryptionSpec.kmsKeyName"
    elif is_training_job(resource_type, props):
        fields = [("region", props.get("region"))]
        key, key_field = props.get("encryption_kms_key"), "encryption_kms_key"
    else:
        return []
    # A key created in this stack is unknown during preview; its location is checked after up.
    if isinstance(key, str) and key:
        match = _KEY_LOCATION.search(key)
        fields.append((key_field, match.group(1) if match else None))
    return fields


def _one_region(args: StackValidationArgs, report: ReportViolation) -> None:
    placed = []
    for resource in args.resources:
        for field, region in _placements(resource.resource_type, plain(resource.props)):
            if region is UNKNOWN:
                report(
                    unverifiable(field, "Take it from stack config vertex-training:region."),
                    resource.urn,
                )
            else:
                placed.append((resource, field, str(region or "").lower()))
    if not placed:
        return
    expected = setting(args, REGION_SCHEMA, "region")
    if expected:
        expected = expected.lower()
    else:
        expected = Counter(region for _, _, region in placed).most_common(1)[0][0]
    for resource, field, region in placed:
        if region != expected:
            report(
                f"`{resource.name}` ({resource.resource_type}) has {field}={region!r} but the "
                f"stack's region is {expected!r}: set it to {expected!r} so data, images, keys "
                "and training stay in one region.",
                resource.urn,
            )


POLICIES = [
    StackValidationPolicy(
        name="stack-single-region",
        description="Buckets, the repository, the persistent resource, training jobs and their "
        "CMEK keys are all in the stack's one region.",
        validate=_one_region,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["data-residency"],
        config_schema=PolicyConfigSchema(properties=REGION_SCHEMA),
        remediation_steps="Set every location/region from vertex-training:region.",
    ),
]
