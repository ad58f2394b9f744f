# Over 400 lines: one typed builder per resource kind and the pass/fail cases of every policy.
"""Checkov-style fixtures for the policy pack: resources as the engine sends them to Analyze.

Builders return compliant resources (wire property names, as the engine sends inputs);
`CASES` pairs each policy with resources that must pass, one that must fail, a fragment of the
message that says what to change, and how the policy treats the checked value when it is
unknown at preview.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

PROJECT = "acme-ml-dev"
REGION = "us-central1"
KEY = f"projects/{PROJECT}/locations/{REGION}/keyRings/vertex-training/cryptoKeys/training-data"
TRAINING_SA = f"vtrain-training@{PROJECT}.iam.gserviceaccount.com"
DIGEST = "sha256:" + "ab12" * 16
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/training-images/penguins-gpu@{DIGEST}"

# What the engine sends for a value it cannot know during preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

# Policy config used by the fixtures (the strictest settings, so every check is active).
CONFIG: dict[str, dict[str, Any]] = {
    "storage-cmek": {"requireCmek": True},
    "registry-cmek": {"requireCmek": True},
    "jobs-region": {"region": REGION},
    "stack-single-region": {"region": REGION},
    "jobs-accelerator-ceiling": {"maxAcceleratorCount": 4},
    "jobs-timeout-ceiling": {"maxTimeoutSeconds": 14400},
    "jobs-trial-ceiling": {"maxTrialCount": 20, "maxParallelTrialCount": 4},
    "cost-accelerator-hours-ceiling": {"maxAcceleratorHours": 100},
}

# The enforcement level each policy must declare (a change here is a deliberate decision).
EXPECTED_ENFORCEMENT = {
    "storage-uniform-bucket-level-access": "mandatory",
    "storage-public-access-prevention": "mandatory",
    "storage-no-public-principals": "mandatory",
    "storage-versioning": "mandatory",
    "storage-access-logging": "mandatory",
    "storage-cmek": "mandatory",
    "registry-no-public-principals": "mandatory",
    "registry-cleanup-policy": "advisory",
    "registry-cmek": "mandatory",
    "iam-no-basic-roles": "mandatory",
    "iam-no-project-level-sa-impersonation": "mandatory",
    "iam-no-service-account-keys": "mandatory",
    "iam-no-default-service-account": "mandatory",
    "iam-no-admin-roles-for-service-accounts": "mandatory",
    "iam-object-admin-only-on-output-bucket": "mandatory",
    "jobs-custom-service-account": "mandatory",
    "jobs-image-pinned-by-digest": "mandatory",
    "jobs-region": "mandatory",
    "jobs-accelerator-ceiling": "mandatory",
    "jobs-timeout-ceiling": "mandatory",
    "jobs-trial-ceiling": "mandatory",
    "jobs-required-labels": "advisory",
    "stack-single-region": "mandatory",
    # Advisory in the pack; prod's policy config makes it mandatory (test_cost.py).
    "cost-accelerator-hours-ceiling": "advisory",
}

# Config keys each policy's schema must declare.
EXPECTED_CONFIG = {
    "storage-cmek": {"requireCmek"},
    "registry-cmek": {"requireCmek"},
    "jobs-region": {"region"},
    "stack-single-region": {"region"},
    "jobs-accelerator-ceiling": {"maxAcceleratorCount"},
    "jobs-timeout-ceiling": {"maxTimeoutSeconds"},
    "jobs-trial-ceiling": {"maxTrialCount", "maxParallelTrialCount"},
    "cost-accelerator-hours-ceiling": {"maxAcceleratorHours"},
}


@dataclass
class Resource:
    type: str
    name: str
    props: dict[str, Any]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    registered_urn: str = ""

    @property
    def urn(self) -> str:
        return self.registered_urn or f"urn:pulumi:test::vertex-training::{self.type}::{self.name}"

    def with_value(self, path: tuple[str | int, ...], value: Any) -> Resource:
        """A copy with the value at `path` replaced (created if absent)."""
        props = copy.deepcopy(self.props)
        node: Any = props
        for key in path[:-1]:
            node = node[key] if isinstance(key, int) else node.setdefault(key, {})
        node[path[-1]] = value
        return Resource(self.type, self.name, props, dict(self.property_dependencies))

    def without(self, *path: str | int) -> Resource:
        """A copy with the value at `path` removed."""
        props = copy.deepcopy(self.props)
        node: Any = props
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return Resource(self.type, self.name, props, dict(self.property_dependencies))


# --- Cloud Storage -----------------------------------------------------------------------------


def bucket(role: str = "data", **overrides: Any) -> Resource:
    name = f"{PROJECT}-{role}"
    props: dict[str, Any] = {
        "name": name,
        "location": REGION.upper(),
        "uniformBucketLevelAccess": True,
        "publicAccessPrevention": "enforced",
        "versioning": {"enabled": True},
        "logging": {"logBucket": f"{PROJECT}-access-logs"},
        "encryption": {"defaultKmsKeyName": KEY},
        "labels": {"vtrain-bucket-role": role, "team": "ml-platform"},
    }
    if role == "access-logs":
        del props["logging"]
        del props["versioning"]
    props.update(overrides)
    return Resource("gcp:storage/bucket:Bucket", f"{role}-bucket", props)


def bucket_member(role: str, member: str, bucket_name: str = f"{PROJECT}-data") -> Resource:
    return Resource(
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        f"bucket-{role.split('/')[-1]}",
        {"bucket": bucket_name, "role": role, "member": member},
    )


def bucket_binding(role: str, members: list[str]) -> Resource:
    return Resource(
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        "bucket-binding",
        {"bucket": f"{PROJECT}-data", "role": role, "members": members},
    )


# --- Artifact Registry -------------------------------------------------------------------------


def repository(**overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "location": REGION,
        "repositoryId": "training-images",
        "format": "DOCKER",
        "kmsKeyName": KEY,
        "cleanupPolicyDryRun": False,
        "cleanupPolicies": [
            {
                "id": "delete-untagged",
                "action": "DELETE",
                "condition": {"tagState": "UNTAGGED", "olderThan": "1209600s"},
            },
            {"id": "keep-recent", "action": "KEEP", "mostRecentVersions": {"keepCount": 10}},
        ],
    }
    props.update(overrides)
    return Resource("gcp:artifactregistry/repository:Repository", "images", props)


def repository_member(role: str, member: str) -> Resource:
    return Resource(
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        "repo-reader",
        {"location": REGION, "repository": "training-images", "role": role, "member": member},
    )


# --- IAM ---------------------------------------------------------------------------------------


def project_member(role: str, member: str = f"serviceAccount:{TRAINING_SA}") -> Resource:
    return Resource(
        "gcp:projects/iAMMember:IAMMember",
        f"project-{role.split('/')[-1]}",
        {"project": PROJECT, "role": role, "member": member},
    )


def project_binding(role: str, members: list[str]) -> Resource:
    return Resource(
        "gcp:projects/iAMBinding:IAMBinding",
        "project-binding",
        {"project": PROJECT, "role": role, "members": members},
    )


def service_account_member(
    role: str = "roles/iam.serviceAccountUser",
    member: str = "group:ml-engineers@acme.example",
    account: str = f"projects/{PROJECT}/serviceAccounts/{TRAINING_SA}",
) -> Resource:
    return Resource(
        "gcp:serviceaccount/iAMMember:IAMMember",
        "training-sa-user",
        {"serviceAccountId": account, "role": role, "member": member},
    )


def service_account() -> Resource:
    return Resource(
        "gcp:serviceaccount/account:Account",
        "training-sa",
        {"accountId": "vtrain-training", "project": PROJECT, "displayName": "Vertex training"},
    )


def service_account_key() -> Resource:
    return Resource(
        "gcp:serviceaccount/key:Key", "training-sa-key", {"serviceAccountId": TRAINING_SA}
    )


# --- Vertex AI jobs ----------------------------------------------------------------------------

CUSTOM_JOB = "pulumi-python:dynamic/vtrain/jobs:CustomJob"
TUNING_JOB = "pulumi-python:dynamic/vtrain/jobs:HyperparameterTuningJob"


def _job_spec() -> dict[str, Any]:
    return {
        "worker_pool_specs": [
            {
                "machine_spec": {
                    "machine_type": "n1-standard-8",
                    "accelerator_type": "NVIDIA_TESLA_T4",
                    "accelerator_count": 1,
                },
                "replica_count": "1",
                "container_spec": {
                    "image_uri": IMAGE,
                    "command": ["python", "-m", "trainer.train"],
                    "args": ["--epochs=3"],
                    "env": [{"name": "VTRAIN_STACK", "value": "dev"}],
                },
            }
        ],
        "scheduling": {"timeout": "3600s"},
        "service_account": TRAINING_SA,
        "base_output_directory": {"output_uri_prefix": f"gs://{PROJECT}-output/jobs/train"},
    }


def custom_job(type_token: str = CUSTOM_JOB, **overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "project": PROJECT,
        "region": REGION,
        "api_endpoint": f"{REGION}-aiplatform.googleapis.com",
        "display_name": "vtrain-dev-train",
        "labels": {"vtrain-stack": "dev", "vtrain-project": "vertex-training"},
        "job_spec": _job_spec(),
        "encryption_kms_key": KEY,
    }
    props.update(overrides)
    return Resource(type_token, "train", props)


def tuning_job(**overrides: Any) -> Resource:
    props = custom_job().props
    props.update(
        {
            "display_name": "vtrain-dev-tune",
            "study_spec": {
                "metrics": [{"metric_id": "val_loss", "goal": "MINIMIZE"}],
                "parameters": [
                    {
                        "parameter_id": "lr",
                        "double_value_spec": {"min_value": 1e-4, "max_value": 1e-1},
                        "scale_type": "UNIT_LOG_SCALE",
                    }
                ],
            },
            "max_trial_count": 12,
            "parallel_trial_count": 3,
            "max_failed_trial_count": 3,
        }
    )
    props.update(overrides)
    return Resource(TUNING_JOB, "tune", props)


POOL = ("job_spec", "worker_pool_specs", 0)


def stack_resources(*extra: Resource) -> list[Resource]:
    """A compliant stack's resources (what AnalyzeStack gets), plus `extra`."""
    return [
        bucket("data"),
        bucket("output"),
        bucket("access-logs"),
        repository(),
        custom_job(),
        tuning_job(),
        *extra,
    ]


@dataclass
class Case:
    """One policy's fixtures. `unknown` is the path of the offending value in `failing`, and
    `on_unknown` what the policy does when that value is unknown at preview instead:
    "strict" (violation at its own level), "defer" (advisory now, enforced at up) or "pass"
    (an unknown value cannot be the offending one by construction)."""

    policy: str
    passing: list[Resource]
    failing: Resource
    fix: str
    unknown: tuple[str | int, ...] | None = None
    on_unknown: str = "strict"


CASES = [
    Case(
        "storage-uniform-bucket-level-access",
        [bucket("data"), bucket("access-logs")],
        bucket("data", uniformBucketLevelAccess=False),
        "set uniform_bucket_level_access=True",
        ("uniformBucketLevelAccess",),
    ),
    Case(
        "storage-uniform-bucket-level-access",
        [bucket("output")],
        bucket("output").without("uniformBucketLevelAccess"),
        "set uniform_bucket_level_access=True",
    ),
    Case(
        "storage-public-access-prevention",
        [bucket("data")],
        bucket("data", publicAccessPrevention="inherited"),
        'set public_access_prevention="enforced"',
        ("publicAccessPrevention",),
    ),
    Case(
        "storage-no-public-principals",
        [bucket_member("roles/storage.objectViewer", f"serviceAccount:{TRAINING_SA}")],
        bucket_member("roles/storage.objectViewer", "allUsers"),
        "grant the role to the specific user, group or service account",
        ("member",),
        "defer",
    ),
    Case(
        "storage-no-public-principals",
        [bucket_binding("roles/storage.objectViewer", ["group:ml-engineers@acme.example"])],
        bucket_binding(
            "roles/storage.objectViewer", ["group:x@acme.example", "allAuthenticatedUsers"]
        ),
        "members[1]",
        ("members", 1),
        "defer",
    ),
    Case(
        "storage-versioning",
        [bucket("data"), bucket("output"), bucket("access-logs")],
        bucket("output", versioning={"enabled": False}),
        "set versioning={'enabled': True}",
        ("versioning", "enabled"),
    ),
    Case(
        "storage-access-logging",
        [bucket("data"), bucket("access-logs")],
        bucket("data").without("logging"),
        "set logging={'log_bucket': <the access-logs bucket's name>}",
        ("labels", "vtrain-bucket-role"),
    ),
    Case(
        "storage-access-logging",
        [bucket("output")],
        bucket("output", logging={"logBucket": f"{PROJECT}-output"}),
        "point logging.log_bucket at the separate access-logs bucket",
        ("logging", "logBucket"),
        "pass",
    ),
    Case(
        "storage-cmek",
        [bucket("data"), bucket("access-logs")],
        bucket("data").without("encryption"),
        "set encryption={'default_kms_key_name'",
        ("encryption", "defaultKmsKeyName"),
        "defer",
    ),
    Case(
        "registry-no-public-principals",
        [repository_member("roles/artifactregistry.reader", f"serviceAccount:{TRAINING_SA}")],
        repository_member("roles/artifactregistry.reader", "allUsers"),
        "grant the role to the specific user, group or service account",
        ("member",),
        "defer",
    ),
    Case(
        "registry-cleanup-policy",
        [repository()],
        repository(cleanupPolicies=[]),
        "add cleanup_policies with a DELETE rule",
        ("cleanupPolicies",),
    ),
    Case(
        "registry-cleanup-policy",
        [repository()],
        repository(cleanupPolicyDryRun=True),
        "set cleanup_policy_dry_run=False",
        ("cleanupPolicyDryRun",),
    ),
    Case(
        "registry-cmek",
        [repository()],
        repository(kmsKeyName=None),
        "set kms_key_name to the stack's kmsKeyName",
        ("kmsKeyName",),
        "defer",
    ),
    Case(
        "iam-no-basic-roles",
        [project_member("roles/aiplatform.user"), service_account()],
        project_member("roles/editor"),
        "grant predefined roles scoped to what the principal needs",
        ("role",),
    ),
    Case(
        "iam-no-basic-roles",
        [project_binding("roles/logging.logWriter", [f"serviceAccount:{TRAINING_SA}"])],
        project_binding("roles/viewer", ["group:ml-engineers@acme.example"]),
        "grant predefined roles scoped",
        ("role",),
    ),
    Case(
        "iam-no-project-level-sa-impersonation",
        [service_account_member("roles/iam.serviceAccountUser")],
        project_member("roles/iam.serviceAccountTokenCreator", "group:ml-engineers@acme.example"),
        "grant it on the training service account only",
        None,
    ),
    Case(
        "iam-no-project-level-sa-impersonation",
        [project_member("roles/aiplatform.user", "group:ml-engineers@acme.example")],
        project_member("roles/iam.serviceAccountUser", "group:ml-engineers@acme.example"),
        "grant it on the training service account only",
        ("role",),
    ),
    Case(
        "iam-no-service-account-keys",
        [service_account()],
        service_account_key(),
        "remove it",
    ),
    Case(
        "iam-no-default-service-account",
        [project_member("roles/aiplatform.user")],
        project_member(
            "roles/aiplatform.user",
            "serviceAccount:123456789-compute@developer.gserviceaccount.com",
        ),
        "grant it to the dedicated training service account",
        ("member",),
        "defer",
    ),
    Case(
        "iam-no-default-service-account",
        [service_account_member()],
        service_account_member(
            account=f"projects/{PROJECT}/serviceAccounts/123456789-compute@developer.gserviceaccount.com"
        ),
        "grant it on the dedicated training service account instead",
    ),
    Case(
        "iam-no-admin-roles-for-service-accounts",
        [
            project_member("roles/aiplatform.user"),
            project_member("roles/storage.admin", "group:platform-admins@acme.example"),
            bucket_member("roles/storage.objectAdmin", f"serviceAccount:{TRAINING_SA}"),
        ],
        project_member("roles/aiplatform.admin"),
        "grant the narrowest predefined role",
        ("member",),
        "defer",
    ),
    Case(
        "iam-no-admin-roles-for-service-accounts",
        [repository_member("roles/artifactregistry.reader", f"serviceAccount:{TRAINING_SA}")],
        repository_member("roles/artifactregistry.repoAdmin", f"serviceAccount:{TRAINING_SA}"),
        "at resource level: grant the narrowest predefined role",
        ("role",),
    ),
    Case(
        "jobs-custom-service-account",
        [custom_job(), tuning_job()],
        custom_job().without("job_spec", "service_account"),
        "set it to the dedicated training service account's e-mail",
        ("job_spec", "service_account"),
        "defer",
    ),
    Case(
        "jobs-custom-service-account",
        [custom_job()],
        custom_job().with_value(
            ("job_spec", "service_account"), "123-compute@developer.gserviceaccount.com"
        ),
        "set job_spec.service_account to the dedicated training service account",
        ("job_spec",),
        "defer",
    ),
    Case(
        "jobs-image-pinned-by-digest",
        [custom_job(), custom_job("pulumi-python:dynamic:Resource")],
        custom_job().with_value(
            (*POOL, "container_spec", "image_uri"),
            f"{REGION}-docker.pkg.dev/{PROJECT}/training-images/penguins-gpu:latest",
        ),
        "reference <repository>/<image>@sha256:<64 hex>",
        (*POOL, "container_spec", "image_uri"),
        "defer",
    ),
    Case(
        "jobs-image-pinned-by-digest",
        [tuning_job()],
        tuning_job().with_value((*POOL, "container_spec", "image_uri"), IMAGE[:-1]),
        "pinned by digest",
        ("job_spec", "worker_pool_specs"),
        "defer",
    ),
    Case(
        "jobs-region",
        [custom_job(), custom_job(region="US-CENTRAL1")],
        custom_job(region="europe-west4"),
        "set region='us-central1'",
        ("region",),
    ),
    Case(
        "jobs-region",
        [custom_job().without("api_endpoint")],
        custom_job(api_endpoint="europe-west4-aiplatform.googleapis.com"),
        "use us-central1-aiplatform.googleapis.com",
        ("api_endpoint",),
    ),
    Case(
        "jobs-accelerator-ceiling",
        [custom_job(), custom_job().with_value((*POOL, "replica_count"), "4")],
        custom_job().with_value((*POOL, "replica_count"), "5"),
        "lower accelerator_count or replica_count",
        (*POOL, "machine_spec", "accelerator_count"),
    ),
    Case(
        "jobs-accelerator-ceiling",
        [custom_job().with_value((*POOL, "machine_spec", "accelerator_count"), 4)],
        custom_job().with_value((*POOL, "machine_spec", "accelerator_count"), 8),
        "this stack allows at most 4 per worker pool",
        ("job_spec",),
    ),
    Case(
        "jobs-accelerator-ceiling",
        [custom_job()],
        custom_job()
        .with_value((*POOL, "machine_spec", "accelerator_count"), 8)
        .with_value((*POOL, "machine_spec", "accelerator_type"), UNKNOWN),
        "1 x 8 accelerator = 8 accelerators",
        (*POOL, "replica_count"),
    ),
    Case(
        "jobs-timeout-ceiling",
        [custom_job(), custom_job().with_value(("job_spec", "scheduling", "timeout"), "14400s")],
        custom_job().with_value(("job_spec", "scheduling", "timeout"), "86400s"),
        "lower the timeout or raise the ceiling",
        ("job_spec", "scheduling", "timeout"),
    ),
    Case(
        "jobs-timeout-ceiling",
        [tuning_job()],
        tuning_job().without("job_spec", "scheduling"),
        "Vertex AI lets it run for up to 7 days",
        ("job_spec", "scheduling"),
    ),
    Case(
        "jobs-trial-ceiling",
        [tuning_job(), custom_job()],
        tuning_job(max_trial_count=50),
        "lower max_trial_count",
        ("max_trial_count",),
    ),
    Case(
        "jobs-trial-ceiling",
        [tuning_job(parallel_trial_count=4)],
        tuning_job(parallel_trial_count=10),
        "lower parallel_trial_count",
        ("parallel_trial_count",),
    ),
    Case(
        "jobs-required-labels",
        [custom_job(), tuning_job()],
        custom_job(labels={"vtrain-stack": "dev"}),
        "has no `vtrain-project` label: add it",
        ("labels",),
    ),
]
