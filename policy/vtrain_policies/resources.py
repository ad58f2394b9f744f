"""Type tokens, config access and IAM grant extraction shared by the policy modules.

Property names are the engine's wire names (camelCase for pulumi-gcp resources, the dynamic
job resources' own snake_case keys for Vertex AI jobs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .values import UNKNOWN, defer, plain

BUCKET = "gcp:storage/bucket:Bucket"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
PERSISTENT_RESOURCE = "gcp:vertex/aiPersistentResource:AiPersistentResource"
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
HMAC_KEY = "gcp:storage/hmacKey:HmacKey"

PROJECT_IAM = frozenset(
    {
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/iAMBinding:IAMBinding",
        "gcp:projects/iAMPolicy:IAMPolicy",
    }
)
BUCKET_IAM = frozenset(
    {
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
        "gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
        "gcp:storage/managedFolderIamBinding:ManagedFolderIamBinding",
        "gcp:storage/managedFolderIamPolicy:ManagedFolderIamPolicy",
    }
)
REPOSITORY_IAM = frozenset(
    {
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
        "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
    }
)
SERVICE_ACCOUNT_IAM = frozenset(
    {
        "gcp:serviceaccount/iAMMember:IAMMember",
        "gcp:serviceaccount/iAMBinding:IAMBinding",
        "gcp:serviceaccount/iAMPolicy:IAMPolicy",
    }
)

# Any pulumi-gcp IAM resource: `...IAMMember`, `...IamBinding`, `...IAMPolicy` (not
# IAMAuditConfig, IAMCustomRole or IamMemberRemove).
_IAM_TYPE = re.compile(r"^gcp:[^:]+:\w*?(IAM|Iam)(Member|Binding|Policy)$")

# The project's default service accounts: Compute Engine's and App Engine's.
DEFAULT_SERVICE_ACCOUNT = re.compile(
    r"(^|[:/])(\d+-compute@developer\.gserviceaccount\.com|[a-z0-9-]+@appspot\.gserviceaccount\.com)$"
)
PUBLIC_PRINCIPALS = frozenset({"allUsers", "allAuthenticatedUsers"})

BUCKET_ROLE_LABEL = "vtrain-bucket-role"

# The jobs are pulumi.dynamic.Resource subclasses declared with module="vtrain/jobs", so they
# register as `pulumi-python:dynamic/vtrain/jobs:CustomJob` (and ...:HyperparameterTuningJob).
# Also accepted: a bare dynamic resource (`pulumi-python:dynamic:Resource`) that has a job spec,
# and `vtrain:jobs:*` in case the jobs move to a component provider.
JOB_TYPE = re.compile(
    r"^(vtrain:jobs:|pulumi-python:dynamic(/[\w./-]+)?:)(CustomJob|HyperparameterTuningJob|Resource)$"
)


def is_training_job(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A Vertex AI job resource: a job type token and a job spec among its plain inputs."""
    return bool(JOB_TYPE.match(resource_type)) and (
        "job_spec" in props or "trial_job_spec" in props
    )


def is_iam(resource_type: str) -> bool:
    return bool(_IAM_TYPE.match(resource_type))


@dataclass(frozen=True)
class Grant:
    """One (role, member) pair of an IAM resource; either may be UNKNOWN during preview.

    `field` names where the member came from, for messages ("member", "members[1]", ...).
    """

    role: Any
    member: Any
    field: str


def iam_grants(resource_type: str, props: Mapping[str, Any]) -> list[Grant]:
    """The grants an IAM Member/Binding/Policy resource makes, from its plain properties."""
    if resource_type.endswith("Member"):
        return [Grant(props.get("role"), props.get("member"), "member")]
    if resource_type.endswith("Binding"):
        members = props.get("members")
        if members is UNKNOWN:
            return [Grant(props.get("role"), UNKNOWN, "members")]
        return [
            Grant(props.get("role"), member, f"members[{index}]")
            for index, member in enumerate(members or [])
        ]
    policy_data = props.get("policyData")
    if policy_data is UNKNOWN:
        return [Grant(UNKNOWN, UNKNOWN, "policyData")]
    try:
        bindings = json.loads(policy_data or "{}").get("bindings", [])
    except (TypeError, ValueError):
        return []
    return [
        Grant(binding.get("role"), member, f"policyData.bindings[{index}].members")
        for index, binding in enumerate(bindings)
        for member in binding.get("members", [])
    ]


def is_service_account_member(member: str) -> bool:
    return member.startswith("serviceAccount:") or member.startswith("deleted:serviceAccount:")


def setting(args: Any, schema: Mapping[str, Mapping[str, Any]], key: str) -> Any:
    """Policy config `key`, or the default its schema declares.

    The CLI fills schema defaults in before `Configure`, but a pack run without a config file
    (or a test that sends none) gets them here as well.
    """
    config = args.get_config() or {}
    value = config[key] if key in config else schema[key].get("default")
    # Config travels as a protobuf Struct, where every number is a double.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def no_public_principals(resource_kind: str) -> Callable[..., None]:
    """A check that no grant of an IAM resource goes to allUsers/allAuthenticatedUsers."""

    def check(args: ResourceValidationArgs, props: dict[str, Any], report: ReportViolation) -> None:
        unknown_fields = []
        for grant in iam_grants(args.resource_type, props):
            if grant.member is UNKNOWN:
                unknown_fields.append(grant.field)
            elif grant.member in PUBLIC_PRINCIPALS:
                report(
                    f"`{args.name}` grants {grant.role!r} on the {resource_kind} to "
                    f"`{grant.member}` ({grant.field}): remove it and grant the role to the "
                    "specific user, group or service account that needs it."
                )
        if unknown_fields:
            # Public principals are literals; an unknown member is another resource's output
            # (typically a service account's e-mail). Checked again during `pulumi up`.
            defer(unknown_fields[0])

    return check


Validate = Callable[[ResourceValidationArgs, ReportViolation], None]


def for_types(*types: str | frozenset[str]) -> Callable[[Callable[..., None]], Validate]:
    """Run a validation only for the given type tokens, passing it plain properties."""
    wanted: set[str] = set()
    for item in types:
        wanted.update({item} if isinstance(item, str) else item)

    def decorate(check: Callable[..., None]) -> Validate:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type in wanted:
                check(args, plain(args.props), report)

        validate.__name__ = check.__name__
        validate.__doc__ = check.__doc__
        return validate

    return decorate
