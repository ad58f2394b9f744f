"""Bad stack config fails with one clear message, before any resource is registered."""

from __future__ import annotations

import pytest

from config.loader import ConfigError
from tests.harness.engine import run_stack

NS = "vertex-training"
EU_KEY = "projects/acme-ml-dev/locations/europe-west4/keyRings/r/cryptoKeys/k"

# (stack-file overrides, the message the user must see). Each message names the key path,
# the bad value and what is allowed.
BAD_CONFIGS = {
    "region typo": (
        {f"{NS}:region": "us-centrall"},
        f"{NS}:region: 'us-centrall' is not a Vertex AI region; did you mean 'us-central1'?",
    ),
    "region upper case": (
        {f"{NS}:region": "US-EAST4"},
        f"{NS}:region: 'US-EAST4' is not a Vertex AI region; did you mean 'us-east4'?",
    ),
    "region without Vertex AI": (
        {f"{NS}:region": "mars-north1"},
        f"{NS}:region: 'mars-north1' is not a Vertex AI region",
    ),
    "provider region elsewhere": (
        {"gcp:region": "us-east1"},
        f"gcp:region: 'us-east1' differs from {NS}:region 'us-central1'",
    ),
    "project missing": ({"gcp:project": None}, "gcp:project: required but not set"),
    "project malformed": (
        {"gcp:project": "Acme_ML"},
        "gcp:project: 'Acme_ML' is not a Google Cloud project ID",
    ),
    "unknown key": (
        {f"{NS}:regoin": "us-central1"},
        f"{NS}:regoin: unknown key; did you mean 'region'?",
    ),
    "kms key malformed": (
        {f"{NS}:kmsKeyName": "my-key"},
        f"{NS}:kmsKeyName: 'my-key' is not a Cloud KMS key name",
    ),
    "kms key in another region": (
        {f"{NS}:kmsKeyName": EU_KEY},
        f"{NS}:kmsKeyName: key location 'europe-west4' is not the stack's region 'us-central1'",
    ),
    "repository id malformed": (
        {f"{NS}:repositoryId": "Training_Images"},
        f"{NS}:repositoryId: 'Training_Images' is not an Artifact Registry repository ID",
    ),
    "keep zero versions": (
        {f"{NS}:keepRecentVersions": 0},
        f"{NS}:keepRecentVersions: 0 is not allowed: Input should be greater than or equal to 1",
    ),
    "negative untagged age": (
        {f"{NS}:deleteUntaggedAfterDays": -3},
        f"{NS}:deleteUntaggedAfterDays: -3 is not allowed: Input should be greater than or equal",
    ),
    "public deployer": (
        {f"{NS}:deployers": ["allUsers"]},
        f"{NS}:deployers[0]: 'allUsers' is public; deployers must be named principals",
    ),
    "deployer without type": (
        {f"{NS}:deployers": ["group:ml@acme.example", "bob@acme.example"]},
        f"{NS}:deployers[1]: 'bob@acme.example' is not an IAM principal; use one of 'user:...'",
    ),
    "compute default service account deployer": (
        {f"{NS}:deployers": ["serviceAccount:1234-compute@developer.gserviceaccount.com"]},
        "is the Compute Engine default service account; not allowed",
    ),
    "label key upper case": (
        {f"{NS}:labels": {"Team": "ml"}},
        f"{NS}:labels: label key 'Team' is invalid",
    ),
    "label value with spaces": (
        {f"{NS}:labels": {"team": "ML Platform"}},
        f"{NS}:labels: label 'team' has value 'ML Platform'; values are lowercase letters",
    ),
    "reserved label": (
        {f"{NS}:labels": {"vtrain-stack": "other"}},
        f"{NS}:labels: label key 'vtrain-stack' is reserved",
    ),
    "labels not an object": (
        {f"{NS}:labels": "team=ml"},
        f"{NS}:labels: 'team=ml' is not allowed: Input should be a valid dictionary",
    ),
    "unknown bucket": (
        {f"{NS}:buckets": {"dta": {}}},
        f"{NS}:buckets.dta: unknown key; did you mean 'data'? (allowed: accessLogs, data, output)",
    ),
    "unknown lifecycle key": (
        {f"{NS}:buckets": {"data": {"maxAgeDays": 3}}},
        f"{NS}:buckets.data.maxAgeDays: unknown key",
    ),
    "zero noncurrent versions": (
        {f"{NS}:buckets": {"data": {"noncurrentVersionsToKeep": 0}}},
        f"{NS}:buckets.data.noncurrentVersionsToKeep: 0 is not allowed",
    ),
    "lifecycle days as text": (
        {f"{NS}:buckets": {"output": {"deleteAfterDays": "30"}}},
        f"{NS}:buckets.output.deleteAfterDays: '30' is not allowed: Input should be a valid int",
    ),
    "versions rule on unversioned log bucket": (
        {f"{NS}:buckets": {"accessLogs": {"noncurrentVersionsToKeep": 2}}},
        "accessLogs: the access-log bucket is not versioned",
    ),
}


@pytest.mark.parametrize("overrides, message", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_rejected_before_any_resource(overrides, message):
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", overrides)
    assert message in str(raised.value)
    assert raised.value.stack_run.resources == []


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:keepRecentVersions": 0, f"{NS}:deployers": ["bob"]})
    message = str(raised.value)
    assert f"{NS}:keepRecentVersions" in message and f"{NS}:deployers[0]" in message


def test_stack_name_must_fit_resource_names():
    from config.loader import validate_settings

    with pytest.raises(ConfigError, match="stack name 'Prod_EU' must be 1-20 lowercase"):
        validate_settings({"pulumi:stack": "Prod_EU", "gcp:project": "acme-ml-prod"})


def test_config_error_is_a_run_error_so_the_cli_prints_no_traceback():
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_good_overrides_are_applied():
    run = run_stack("dev", {f"{NS}:keepRecentVersions": 7})
    (repository,) = run.of_type("gcp:artifactregistry/repository:Repository")
    keep = repository.inputs["cleanupPolicies"][0]["mostRecentVersions"]["keepCount"]
    assert keep == 7


def test_principals_in_the_reserved_example_domain_are_warned_about_at_preview():
    run = run_stack("dev")
    assert [w for w in run.warnings if "reserved .example domain" in w] == [
        f"{NS}:deployers[0]: 'group:ml-engineers@acme.example' is in the reserved .example "
        "domain (RFC 2606) and can never exist, so its IAM grant will fail; point the stack "
        "at your own principals (README: Use your own project)"
    ]
    mine = run_stack("dev", {f"{NS}:deployers": ["group:ml@corp.example.com"]})
    assert not [w for w in mine.warnings if "reserved .example domain" in w]
