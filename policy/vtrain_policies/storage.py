"""Cloud Storage guardrails: the data, output and access-logs buckets and their IAM.

Buckets say what they are with the label `vtrain-bucket-role: data|output|access-logs`. Only
the access-logs bucket is exempt from versioning and from logging its own access (it is the
log sink); an unlabelled bucket gets the full set of checks.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .resources import (
    BUCKET,
    BUCKET_IAM,
    BUCKET_ROLE_LABEL,
    for_types,
    no_public_principals,
    setting,
)
from .values import UNKNOWN, defer, dig, unverifiable

CMEK_SCHEMA = {
    "requireCmek": {
        "type": "boolean",
        "default": False,
        "description": "Require a customer-managed KMS key (true for stacks with kmsKeyName).",
    }
}


def _bucket_role(props: dict[str, Any]) -> Any:
    labels = props.get("labels")
    if labels is UNKNOWN:
        return UNKNOWN
    return (labels or {}).get(BUCKET_ROLE_LABEL)


@for_types(BUCKET)
def _uniform_access(args: ResourceValidationArgs, props: dict[str, Any], report) -> None:
    value = props.get("uniformBucketLevelAccess")
    if value is UNKNOWN:
        report(unverifiable("uniformBucketLevelAccess", "Set it to the literal True."))
    elif value is not True:
        report(
            f"Bucket `{args.name}` has uniformBucketLevelAccess={value!r}: set "
            "uniform_bucket_level_access=True so access is granted by IAM only, never by "
            "per-object ACLs."
        )


@for_types(BUCKET)
def _public_access_prevention(args: ResourceValidationArgs, props: dict[str, Any], report):
    value = props.get("publicAccessPrevention")
    if value is UNKNOWN:
        report(unverifiable("publicAccessPrevention", 'Set it to the literal "enforced".'))
    elif value != "enforced":
        report(
            f"Bucket `{args.name}` has publicAccessPrevention={value!r}: set "
            'public_access_prevention="enforced" so no IAM grant can ever make it public.'
        )


@for_types(BUCKET)
def _versioning(args: ResourceValidationArgs, props: dict[str, Any], report) -> None:
    role = _bucket_role(props)
    if role is UNKNOWN:
        report(unverifiable(f"labels.{BUCKET_ROLE_LABEL}", "Set the labels from stack config."))
        return
    if role == "access-logs":
        return
    enabled = dig(props, "versioning", "enabled")
    if enabled is UNKNOWN:
        report(unverifiable("versioning.enabled", "Set it to the literal True."))
    elif enabled is not True:
        report(
            f"Bucket `{args.name}` ({BUCKET_ROLE_LABEL}={role!r}) has no object versioning: set "
            "versioning={'enabled': True} (with a lifecycle rule that ages out noncurrent "
            "versions) so overwritten or deleted training data can be recovered. Only the "
            f"bucket labelled {BUCKET_ROLE_LABEL}=access-logs is exempt."
        )


@for_types(BUCKET)
def _access_logging(args: ResourceValidationArgs, props: dict[str, Any], report) -> None:
    role = _bucket_role(props)
    if role is UNKNOWN:
        report(unverifiable(f"labels.{BUCKET_ROLE_LABEL}", "Set the labels from stack config."))
        return
    log_bucket = dig(props, "logging", "logBucket")
    own_name = props.get("name")
    if log_bucket is UNKNOWN:
        # A resource cannot consume its own outputs, so an unknown log bucket is necessarily
        # another resource's name: it is set and it is not this bucket.
        return
    if not log_bucket:
        if role != "access-logs":
            report(
                f"Bucket `{args.name}` does not log access: set logging={{'log_bucket': "
                "<the access-logs bucket's name>}. Only the bucket labelled "
                f"{BUCKET_ROLE_LABEL}=access-logs is exempt."
            )
        return
    if own_name is UNKNOWN:
        report(unverifiable("name", "Give the bucket a name known before it is created."))
    elif log_bucket == own_name:
        report(
            f"Bucket `{args.name}` writes its access logs into itself: point logging.log_bucket "
            "at the separate access-logs bucket."
        )


@for_types(BUCKET)
def _bucket_cmek(args: ResourceValidationArgs, props: dict[str, Any], report) -> None:
    if not setting(args, CMEK_SCHEMA, "requireCmek"):
        return
    key = dig(props, "encryption", "defaultKmsKeyName")
    if key is UNKNOWN:
        # The key may be created in this stack: its id is known only once it exists.
        defer("encryption.defaultKmsKeyName")
    if not key:
        report(
            f"Bucket `{args.name}` uses Google-managed encryption but this stack requires CMEK: "
            "set encryption={'default_kms_key_name': <the stack's kmsKeyName>} and grant the "
            "Cloud Storage service agent roles/cloudkms.cryptoKeyEncrypterDecrypter on the key."
        )


POLICIES = [
    ResourceValidationPolicy(
        name="storage-uniform-bucket-level-access",
        description="Buckets use uniform bucket-level access (no object ACLs).",
        validate=_uniform_access,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_29", "AVD-GCP-0002"],
        remediation_steps="Set uniform_bucket_level_access=True on the bucket.",
    ),
    ResourceValidationPolicy(
        name="storage-public-access-prevention",
        description="Buckets enforce public access prevention.",
        validate=_public_access_prevention,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_114"],
        remediation_steps='Set public_access_prevention="enforced" on the bucket.',
    ),
    ResourceValidationPolicy(
        name="storage-no-public-principals",
        description="No bucket IAM grant to allUsers or allAuthenticatedUsers.",
        validate=for_types(BUCKET_IAM)(no_public_principals("bucket")),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
        tags=["CKV_GCP_28", "AVD-GCP-0001"],
        remediation_steps="Grant the role to a specific principal instead.",
    ),
    ResourceValidationPolicy(
        name="storage-versioning",
        description="Data and output buckets keep object versions (access-logs bucket exempt).",
        validate=_versioning,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        tags=["CKV_GCP_78"],
        remediation_steps="Set versioning={'enabled': True} on the bucket.",
    ),
    ResourceValidationPolicy(
        name="storage-access-logging",
        description="Buckets log access to another bucket, never to themselves "
        "(the access-logs bucket itself is exempt from logging).",
        validate=_access_logging,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
        tags=["CKV_GCP_62", "CKV_GCP_63"],
        remediation_steps="Set logging.log_bucket to the access-logs bucket's name.",
    ),
    ResourceValidationPolicy(
        name="storage-cmek",
        description="Buckets are encrypted with a customer-managed key where the stack "
        "requires CMEK.",
        validate=_bucket_cmek,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["AVD-GCP-0066"],
        config_schema=PolicyConfigSchema(properties=CMEK_SCHEMA),
        remediation_steps="Set encryption.default_kms_key_name to the stack's KMS key.",
    ),
]
