"""Artifact Registry guardrails: the Docker repository for the training images and its IAM."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .resources import REPOSITORY, REPOSITORY_IAM, for_types, no_public_principals, setting
from .storage import CMEK_SCHEMA
from .values import UNKNOWN, defer, has_unknown, unverifiable


@for_types(REPOSITORY)
def _cleanup_policy(args: ResourceValidationArgs, props: dict[str, Any], report) -> None:
    policies = props.get("cleanupPolicies")
    if has_unknown(policies):
        report(unverifiable("cleanupPolicies", "Build the cleanup policies from stack config."))
        return
    deletes = [policy for policy in policies or [] if policy.get("action") == "DELETE"]
    if not deletes:
        report(
            f"Repository `{args.name}` has no DELETE cleanup policy, so every image ever pushed "
            "is kept (and billed): add cleanup_policies with a DELETE rule for old untagged "
            "versions and a KEEP rule with most_recent_versions."
        )
    dry_run = props.get("cleanupPolicyDryRun")
    if dry_run is UNKNOWN:
        report(unverifiable("cleanupPolicyDryRun", "Set it to the literal False."))
    elif dry_run is True:
        report(
            f"Repository `{args.name}` runs its cleanup policies in dry-run mode, which deletes "
            "nothing: set cleanup_policy_dry_run=False."
        )


@for_types(REPOSITORY)
def _repository_cmek(args: ResourceValidationArgs, props: dict[str, Any], report) -> None:
    if not setting(args, CMEK_SCHEMA, "requireCmek"):
        return
    key = props.get("kmsKeyName")
    if key is UNKNOWN:
        # The key may be created in this stack: its id is known only once it exists.
        defer("kmsKeyName")
    if not key:
        report(
            f"Repository `{args.name}` uses Google-managed encryption but this stack requires "
            "CMEK: set kms_key_name to the stack's kmsKeyName (it can only be set at creation) "
            "and grant the Artifact Registry service agent "
            "roles/cloudkms.cryptoKeyEncrypterDecrypter on the key."
        )


POLICIES = [
    ResourceValidationPolicy(
        name="registry-no-public-principals",
        description="No Artifact Registry repository IAM grant to allUsers or "
        "allAuthenticatedUsers.",
        validate=for_types(REPOSITORY_IAM)(no_public_principals("repository")),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
        tags=["CKV_GCP_101"],
        remediation_steps="Grant the role to a specific principal instead.",
    ),
    ResourceValidationPolicy(
        name="registry-cleanup-policy",
        description="The image repository has an active (not dry-run) DELETE cleanup policy.",
        validate=_cleanup_policy,
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
        tags=["hygiene"],
        remediation_steps="Add cleanup_policies (DELETE old untagged, KEEP most recent N).",
    ),
    ResourceValidationPolicy(
        name="registry-cmek",
        description="The image repository is encrypted with a customer-managed key where the "
        "stack requires CMEK.",
        validate=_repository_cmek,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_84"],
        config_schema=PolicyConfigSchema(properties=CMEK_SCHEMA),
        remediation_steps="Set kms_key_name on the repository to the stack's KMS key.",
    ),
]
