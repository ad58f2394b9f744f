"""ImageRepository: one DOCKER repository in the region, with cleanup and options."""

from tests.harness.engine import run_stack
from tests.harness.stack_config import cli_config

NS = "vertex-training"


def _repository(run):
    (repository,) = run.of_type("gcp:artifactregistry/repository:Repository")
    return repository.plain_inputs


def test_one_docker_repository_in_the_stack_region(stack_run):
    repository = _repository(stack_run)
    assert repository["format"] == "DOCKER"
    config = cli_config(stack_run.stack)
    assert repository["location"] == config[f"{NS}:region"]
    assert repository["repositoryId"] == config[f"{NS}:repositoryId"]
    assert repository["labels"]["vtrain-stack"] == stack_run.stack


def test_cleanup_policy_keeps_recent_and_deletes_old_untagged():
    run = run_stack("dev", {f"{NS}:keepRecentVersions": 4, f"{NS}:deleteUntaggedAfterDays": 2})
    repository = _repository(run)
    keep, delete = repository["cleanupPolicies"]
    assert repository["cleanupPolicyDryRun"] is False
    assert keep["action"] == "KEEP" and keep["mostRecentVersions"]["keepCount"] == 4
    assert delete["action"] == "DELETE"
    assert delete["condition"] == {"tagState": "UNTAGGED", "olderThan": f"{2 * 86400}s"}


def test_cmek_and_immutable_tags_follow_config(stack_runs):
    prod, dev = _repository(stack_runs["prod"]), _repository(stack_runs["dev"])
    assert prod["kmsKeyName"] == cli_config("prod")[f"{NS}:kmsKeyName"]
    assert prod["dockerConfig"]["immutableTags"] is True
    assert "kmsKeyName" not in dev
    assert dev["dockerConfig"]["immutableTags"] is False
