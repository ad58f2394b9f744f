"""TrainingBuckets: private, regional, versioned where it matters, logged elsewhere."""

import pytest

from tests.harness.engine import run_stack
from tests.harness.stack_config import cli_config

NS = "vertex-training"


def _buckets(run) -> dict[str, dict]:
    return {
        bucket.plain_inputs["labels"]["vtrain-bucket-role"]: bucket.plain_inputs
        for bucket in run.of_type("gcp:storage/bucket:Bucket")
    }


def test_three_private_regional_buckets(stack_run):
    buckets = _buckets(stack_run)
    assert set(buckets) == {"data", "output", "access-logs"}
    for bucket in buckets.values():
        assert bucket["location"] == cli_config(stack_run.stack)[f"{NS}:region"]
        assert bucket["uniformBucketLevelAccess"] is True
        assert bucket["publicAccessPrevention"] == "enforced"


def test_data_and_output_are_versioned_and_log_to_the_log_bucket(stack_run):
    buckets = _buckets(stack_run)
    log_bucket = buckets["access-logs"]["name"]
    for role in ("data", "output"):
        assert buckets[role]["versioning"] == {"enabled": True}
        assert buckets[role]["logging"]["logBucket"] == log_bucket != buckets[role]["name"]
    assert "logging" not in buckets["access-logs"]  # never logs into itself


def test_log_bucket_accepts_googles_usage_log_writer(stack_run):
    (writer,) = [
        grant.plain_inputs
        for grant in stack_run.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if grant.plain_inputs["member"] == "group:cloud-storage-analytics@google.com"
    ]
    assert writer["role"] == "roles/storage.objectCreator"
    assert writer["bucket"] == _buckets(stack_run)["access-logs"]["name"]


def test_the_usage_log_writer_grant_is_a_switch_for_domain_restricted_sharing():
    """An organization enforcing iam.allowedPolicyMemberDomains rejects the google.com group;
    with the switch off the grant is gone, logging stays configured, and preview says what
    that means."""
    run = run_stack("dev", {f"{NS}:grantStorageAnalyticsWriter": False})
    members = {
        g.plain_inputs["member"] for g in run.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    }
    assert "group:cloud-storage-analytics@google.com" not in members
    assert _buckets(run)["data"]["logging"]["logBucket"] == _buckets(run)["access-logs"]["name"]
    assert any("grantStorageAnalyticsWriter: false" in warning for warning in run.warnings)


def test_lifecycle_rules_come_from_config():
    buckets = {
        "data": {"noncurrentVersionsToKeep": 2, "noncurrentVersionAgeDays": 9},
        "output": {"deleteAfterDays": 40},
        "accessLogs": {"deleteAfterDays": 5},
    }
    rules = {
        role: [rule["condition"] for rule in bucket["lifecycleRules"]]
        for role, bucket in _buckets(run_stack("dev", {f"{NS}:buckets": buckets})).items()
    }
    assert rules["data"] == [
        {"withState": "ARCHIVED", "numNewerVersions": 2},
        {"withState": "ARCHIVED", "daysSinceNoncurrentTime": 9},
    ]
    assert rules["output"] == [{"withState": "ANY", "age": 40}]
    assert rules["access-logs"] == [{"withState": "ANY", "age": 5}]


@pytest.mark.parametrize("stack, allowed", [("dev", True), ("prod", False)])
def test_force_destroy_only_where_the_stack_allows(stack_runs, stack, allowed):
    assert {b["forceDestroy"] for b in _buckets(stack_runs[stack]).values()} == {allowed}


def test_cmek_on_every_bucket_when_configured(stack_runs):
    key = cli_config("prod")[f"{NS}:kmsKeyName"]
    keys = {
        role: b["encryption"]["defaultKmsKeyName"]
        for role, b in _buckets(stack_runs["prod"]).items()
    }
    assert keys == dict.fromkeys(("data", "output", "access-logs"), key)


def test_bucket_names_carry_project_and_stack(stack_run):
    project = cli_config(stack_run.stack)["gcp:project"]
    for role, bucket in _buckets(stack_run).items():
        assert bucket["name"] == f"{project}-{stack_run.stack}-{role}"
