"""IAM guardrails: least privilege for the training service account and everyone else.

Roles are literals in this program, so an unknown role is a violation (strict). Members are
often a service account's e-mail, which GCP assigns when the account is created: an unknown
member is deferred to `pulumi up` (see values.py).

`roles/storage.objectAdmin` on a bucket is the one admin role the training service account
holds by design (it writes checkpoints and models into the output bucket). A resource policy
cannot see which bucket an IAM member points at, so `iam-no-admin-roles-for-service-accounts`
leaves bucket-level objectAdmin to the stack policy `iam-object-admin-only-on-output-bucket`,
which matches the grant to the bucket's `vtrain-bucket-role` label.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .resources import (
    BUCKET,
    BUCKET_IAM,
    BUCKET_ROLE_LABEL,
    DEFAULT_SERVICE_ACCOUNT,
    HMAC_KEY,
    PROJECT_IAM,
    SERVICE_ACCOUNT_IAM,
    SERVICE_ACCOUNT_KEY,
    iam_grants,
    is_iam,
    is_service_account_member,
)
from .values import UNKNOWN, defer, plain, unverifiable

BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
IMPERSONATION_ROLES = frozenset(
    {"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"}
)
OBJECT_ADMIN = "roles/storage.objectAdmin"
_ADMIN_ROLE = re.compile(r"admin", re.IGNORECASE)


def is_admin_role(role: str) -> bool:
    """`roles/*admin*` (predefined or custom), plus owner and editor which include admin."""
    return bool(_ADMIN_ROLE.search(role)) or role in {"roles/owner", "roles/editor"}


def _project_role_check(banned: frozenset[str], advice: str):
    """A check that no project-level grant uses one of the `banned` roles."""

    def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in PROJECT_IAM:
            return
        for grant in iam_grants(args.resource_type, plain(args.props)):
            if grant.role is UNKNOWN:
                report(unverifiable("role", "Use a literal role name."))
            elif grant.role in banned:
                report(
                    f"`{args.name}` grants {grant.role} to `{grant.member}` at project "
                    f"level: {advice}"
                )

    return check


def _no_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == SERVICE_ACCOUNT_KEY:
        report(
            f"`{args.name}` creates a service account key, a long-lived credential that can "
            "leak: remove it. CI authenticates through Workload Identity Federation and the "
            "training jobs run as their attached service account."
        )
    elif args.resource_type == HMAC_KEY:
        report(
            f"`{args.name}` creates an HMAC key for a service account, a long-lived credential: "
            "remove it and use IAM-authenticated access."
        )


def _no_default_service_account(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_iam(args.resource_type):
        return
    props = plain(args.props)
    if args.resource_type in SERVICE_ACCOUNT_IAM:
        account = props.get("serviceAccountId")
        if isinstance(account, str) and DEFAULT_SERVICE_ACCOUNT.search(account):
            report(
                f"`{args.name}` grants access to the default service account `{account}`: "
                "grant it on the dedicated training service account instead."
            )
    unknown_fields = []
    for grant in iam_grants(args.resource_type, props):
        if grant.member is UNKNOWN:
            unknown_fields.append(grant.field)
        elif isinstance(grant.member, str) and DEFAULT_SERVICE_ACCOUNT.search(grant.member):
            report(
                f"`{args.name}` grants {grant.role!r} to the default service account "
                f"`{grant.member}` ({grant.field}): grant it to the dedicated training service "
                "account; the default one is shared by everything in the project."
            )
    if unknown_fields:
        defer(unknown_fields[0])


def _no_admin_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_iam(args.resource_type):
        return
    unknown_fields = []
    for grant in iam_grants(args.resource_type, plain(args.props)):
        if grant.role is UNKNOWN:
            report(unverifiable("role", "Use a literal role name."))
            continue
        if not isinstance(grant.role, str) or not is_admin_role(grant.role):
            continue
        if args.resource_type in BUCKET_IAM and grant.role == OBJECT_ADMIN:
            continue  # by design on the output bucket; iam-object-admin-only-on-output-bucket
        if grant.member is UNKNOWN:
            unknown_fields.append(grant.field)
        elif isinstance(grant.member, str) and is_service_account_member(grant.member):
            scope = "project" if args.resource_type in PROJECT_IAM else "resource"
            report(
                f"`{args.name}` grants the admin role {grant.role} to `{grant.member}` at "
                f"{scope} level: grant the narrowest predefined role that covers what the "
                "service account does (e.g. roles/aiplatform.user, roles/storage.objectViewer, "
                "roles/artifactregistry.reader)."
            )
    if unknown_fields:
        defer(unknown_fields[0])


def _bucket_name(value: Any) -> Any:
    """IAM resources may hold `b/<name>`; buckets hold `<name>`."""
    if isinstance(value, str) and value.startswith("b/"):
        return value[2:]
    return value


def _bucket_roles(args: StackValidationArgs) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each bucket's vtrain-bucket-role label, by URN and by bucket name."""
    by_urn: dict[str, Any] = {}
    by_name: dict[str, Any] = {}
    for resource in args.resources:
        if resource.resource_type != BUCKET:
            continue
        props = plain(resource.props)
        labels = props.get("labels")
        role = UNKNOWN if labels is UNKNOWN else (labels or {}).get(BUCKET_ROLE_LABEL)
        by_urn[resource.urn] = role
        if isinstance(props.get("name"), str):
            by_name[props["name"]] = role
    return by_urn, by_name


def _object_admin_only_on_output(args: StackValidationArgs, report: ReportViolation) -> None:
    roles_by_urn, roles_by_name = _bucket_roles(args)
    for resource in args.resources:
        if resource.resource_type not in BUCKET_IAM:
            continue
        props = plain(resource.props)
        if not any(
            grant.role == OBJECT_ADMIN
            and (grant.member is UNKNOWN or is_service_account_member(grant.member))
            for grant in iam_grants(resource.resource_type, props)
        ):
            continue
        name = _bucket_name(props.get("bucket"))
        # During preview the name may be unknown: the property dependency still names the bucket.
        depended_on = [
            dep.urn
            for dep in resource.property_dependencies.get("bucket", [])
            if dep.urn in roles_by_urn
        ]
        if name in roles_by_name:
            bucket_role = roles_by_name[name]
        elif depended_on:
            bucket_role = roles_by_urn[depended_on[0]]
        elif name is UNKNOWN:
            report(unverifiable("bucket", "Pass the bucket resource's name output."), resource.urn)
            continue
        else:
            bucket_role = "<not a bucket of this stack>"
        if bucket_role is UNKNOWN:
            report(
                unverifiable(f"labels.{BUCKET_ROLE_LABEL}", "Set the labels from config."),
                resource.urn,
            )
        elif bucket_role != "output":
            report(
                f"`{resource.name}` grants {OBJECT_ADMIN} on bucket {name!r} "
                f"({BUCKET_ROLE_LABEL}={bucket_role!r}) to a service account: only the output "
                "bucket may be written by the training service account; grant "
                "roles/storage.objectViewer on data buckets.",
                resource.urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="iam-no-basic-roles",
        description="No basic role (owner, editor, viewer) is granted at project level.",
        validate=_project_role_check(
            BASIC_ROLES,
            "grant predefined roles scoped to what the principal needs instead.",
        ),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_117"],
        remediation_steps="Replace the basic role with predefined, narrowly scoped roles.",
    ),
    ResourceValidationPolicy(
        name="iam-no-project-level-sa-impersonation",
        description="Service Account User / Token Creator are never granted at project level.",
        validate=_project_role_check(
            IMPERSONATION_ROLES,
            "at project level it lets the principal act as every service account in the "
            "project; grant it on the training service account only "
            "(gcp.serviceaccount.IAMMember).",
        ),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_41", "CKV_GCP_49"],
        remediation_steps="Grant the role on the one service account (serviceaccount.IAMMember).",
    ),
    ResourceValidationPolicy(
        name="iam-no-service-account-keys",
        description="No user-managed service account keys (or HMAC keys) are created.",
        validate=_no_keys,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV2_GCP_3"],
        remediation_steps="Remove the key; use Workload Identity Federation or attached SAs.",
    ),
    ResourceValidationPolicy(
        name="iam-no-default-service-account",
        description="The default Compute Engine / App Engine service account is never granted "
        "roles or impersonated.",
        validate=_no_default_service_account,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_46"],
        remediation_steps="Grant roles to the dedicated training service account instead.",
    ),
    ResourceValidationPolicy(
        name="iam-no-admin-roles-for-service-accounts",
        description="No service account is granted an admin role (roles/*admin*, owner, editor) "
        "at project or resource level; bucket-level objectAdmin is checked by "
        "iam-object-admin-only-on-output-bucket.",
        validate=_no_admin_roles,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_42"],
        remediation_steps="Grant the narrowest predefined role instead of an admin role.",
    ),
    StackValidationPolicy(
        name="iam-object-admin-only-on-output-bucket",
        description="A service account holds roles/storage.objectAdmin only on the bucket "
        "labelled vtrain-bucket-role=output.",
        validate=_object_admin_only_on_output,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["CKV_GCP_42"],
        remediation_steps="Grant roles/storage.objectViewer on data buckets; objectAdmin only "
        "on the output bucket.",
    ),
]
