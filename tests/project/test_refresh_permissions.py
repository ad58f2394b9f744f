"""The hourly refresh runs as the read-only CI reader: every resource it refreshes must be
readable with the roles docs/ci-bootstrap.md grants that reader.

The permission a refresh needs per resource type, and the permissions each role holds (only
those relied on here), are facts from Google's IAM reference
(cloud.google.com/iam/docs/roles-permissions) and the providers' read calls.
"""

from __future__ import annotations

import re

from tests.harness.stack_config import PROJECT_DIR

# Resource type -> the permission its provider's read (refresh) calls need; None: the read
# makes no Google call (a provider resource; the docker image refresh inspects nothing
# remote; ServiceIdentity has no read API and keeps its state).
REFRESH_PERMISSION = {
    "pulumi:providers:gcp": None,
    "docker:index/image:Image": None,
    "gcp:projects/serviceIdentity:ServiceIdentity": None,
    "gcp:projects/service:Service": "serviceusage.services.get",
    "gcp:projects/iAMMember:IAMMember": "resourcemanager.projects.getIamPolicy",
    "gcp:storage/bucket:Bucket": "storage.buckets.get",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "storage.buckets.getIamPolicy",
    "gcp:storage/bucketObject:BucketObject": "storage.objects.get",
    "gcp:artifactregistry/repository:Repository": "artifactregistry.repositories.get",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (
        "artifactregistry.repositories.getIamPolicy"
    ),
    "gcp:serviceaccount/account:Account": "iam.serviceAccounts.get",
    "gcp:serviceaccount/iAMMember:IAMMember": "iam.serviceAccounts.getIamPolicy",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "cloudkms.cryptoKeys.getIamPolicy",
    "pulumi-python:dynamic/vtrain/jobs:CustomJob": "aiplatform.customJobs.get",
    "pulumi-python:dynamic/vtrain/jobs:HyperparameterTuningJob": (
        "aiplatform.hyperparameterTuningJobs.get"
    ),
    # The local stack's buckets and objects live in the local storage emulator.
    "pulumi-python:dynamic/vtrain/gcs:Bucket": None,
    "pulumi-python:dynamic/vtrain/gcs:Object": None,
}

# Role -> the permissions of it this project relies on (a subset of each predefined role).
ROLE_PERMISSIONS = {
    "roles/iam.securityReviewer": {
        "resourcemanager.projects.getIamPolicy",
        "storage.buckets.getIamPolicy",
        "artifactregistry.repositories.getIamPolicy",
        "iam.serviceAccounts.getIamPolicy",
        "cloudkms.cryptoKeys.getIamPolicy",
    },
    "roles/iam.serviceAccountViewer": {"iam.serviceAccounts.get"},
    "roles/serviceusage.serviceUsageViewer": {"serviceusage.services.get"},
    "roles/storage.bucketViewer": {"storage.buckets.get"},
    "roles/storage.objectViewer": {"storage.objects.get"},
    "roles/artifactregistry.reader": {"artifactregistry.repositories.get"},
    "roles/aiplatform.viewer": {
        "aiplatform.customJobs.get",
        "aiplatform.hyperparameterTuningJobs.get",
    },
    "roles/cloudkms.viewer": set(),
}


def _documented_reader_roles() -> set[str]:
    """The project roles the reader section of docs/ci-bootstrap.md grants in its loop."""
    text = (PROJECT_DIR / "docs" / "ci-bootstrap.md").read_text()
    section = text[text.index("### Reader") :]
    start = section.index("for role in")
    loop = section[start : section.index("; do", start)]
    return set(re.findall(r"roles/[\w.]+", loop))


def test_every_registered_resource_type_has_a_known_refresh_permission(stack_runs):
    registered = {r.type for run in stack_runs.values() for r in run.resources if r.custom}
    unknown = sorted(registered - set(REFRESH_PERMISSION))
    assert unknown == [], "say what refreshing these reads (REFRESH_PERMISSION)"


def test_the_documented_reader_roles_can_refresh_every_resource(stack_runs):
    roles = _documented_reader_roles()
    assert roles <= set(ROLE_PERMISSIONS), roles - set(ROLE_PERMISSIONS)
    granted = set().union(*(ROLE_PERMISSIONS[role] for role in roles))
    registered = {r.type for run in stack_runs.values() for r in run.resources if r.custom}
    missing = {
        resource_type: REFRESH_PERMISSION[resource_type]
        for resource_type in registered
        if REFRESH_PERMISSION.get(resource_type)
        and REFRESH_PERMISSION[resource_type] not in granted
    }
    assert missing == {}


def test_the_reader_holds_no_write_role():
    writers = re.compile(r"\.(admin|editor|user|writer|creator)$|^roles/(owner|editor)$", re.I)
    assert not [role for role in _documented_reader_roles() if writers.search(role)]
