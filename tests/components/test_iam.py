"""TrainingIdentity: a dedicated service account and nothing broader than needed."""

import pytest

from config.loader import ConfigError
from tests.harness.engine import FAKE_PROJECT_NUMBER, run_stack
from tests.harness.stack_config import StackConfigError, stack_file
from vertex_jobs.contract import CUSTOM_JOB_TYPE
from vertex_jobs.contract import HYPERPARAMETER_TUNING_JOB_TYPE as TUNING_JOB_TYPE

NS = "vertex-training"
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
IAM_TYPES = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:projects/iAMPolicy:IAMPolicy",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
)
AGENT = f"serviceAccount:service-{FAKE_PROJECT_NUMBER}@gcp-sa-aiplatform-cc.iam.gserviceaccount.com"


def _grants(run, type_token):
    return [grant.plain_inputs for grant in run.of_type(type_token)]


def _training_member(run):
    return f"serviceAccount:{run.plain_outputs['trainingServiceAccount']}"


def test_a_dedicated_training_account_and_no_keys(stack_run):
    (account,) = stack_run.of_type("gcp:serviceaccount/account:Account")
    assert account.plain_inputs["accountId"] == f"vtrain-{stack_run.stack}"
    assert not stack_run.of_type("gcp:serviceaccount/key:Key")
    members = {g["member"] for t in IAM_TYPES for g in _grants(stack_run, t)}
    assert not any(m.endswith("-compute@developer.gserviceaccount.com") for m in members)
    assert not members & {"allUsers", "allAuthenticatedUsers"}


def test_no_primitive_roles_and_no_project_level_act_as(stack_run):
    roles = {grant["role"] for t in IAM_TYPES for grant in _grants(stack_run, t)}
    assert not roles & PRIMITIVE_ROLES
    assert not stack_run.of_type("gcp:projects/iAMBinding:IAMBinding")
    assert not stack_run.of_type("gcp:projects/iAMPolicy:IAMPolicy")
    project_roles = {g["role"] for g in _grants(stack_run, "gcp:projects/iAMMember:IAMMember")}
    assert project_roles <= {"roles/aiplatform.user"}


def test_training_account_gets_bucket_level_read_data_and_write_output(stack_run):
    outputs, member = stack_run.plain_outputs, _training_member(stack_run)
    grants = {
        (g["bucket"], g["role"])
        for g in _grants(stack_run, "gcp:storage/bucketIAMMember:BucketIAMMember")
        if g["member"] == member
    }
    assert grants == {
        (outputs["dataBucket"], "roles/storage.objectViewer"),
        (outputs["outputBucket"], "roles/storage.objectAdmin"),
    }
    project_members = {g["member"] for g in _grants(stack_run, "gcp:projects/iAMMember:IAMMember")}
    assert member not in project_members


def test_registry_reader_on_the_repository_not_the_project(stack_run):
    (repository,) = stack_run.of_type("gcp:artifactregistry/repository:Repository")
    readers = _grants(stack_run, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    training = [r for r in readers if r["member"] == _training_member(stack_run)]
    assert len(training) == 1
    assert training[0]["role"] == "roles/artifactregistry.reader"
    assert training[0]["repository"] == repository.outputs["name"]
    assert training[0]["location"] == stack_run.plain_outputs["region"]


def test_service_agent_registry_read_is_refused_beside_jobs():
    """On a new project the Custom Code Service Agent exists only after the first custom
    job, which would wait for this grant: validation explains instead of deadlocking."""
    with pytest.raises(ConfigError, match="grantServiceAgentRegistryRead: true cannot work"):
        run_stack("dev", {f"{NS}:grantServiceAgentRegistryRead": True})


def test_service_agent_registry_read_fails_on_a_new_project_as_iam_would():
    no_jobs = {f"{NS}:grantServiceAgentRegistryRead": True, f"{NS}:jobs": []}
    with pytest.raises(StackConfigError, match="gcp-sa-aiplatform-cc.* does not exist"):
        run_stack("dev", no_jobs)


def test_service_agent_registry_read_works_once_the_agent_exists():
    def agent_grants(enabled, agents):
        overrides = {f"{NS}:grantServiceAgentRegistryRead": enabled, f"{NS}:jobs": []}
        run = run_stack("dev", overrides, existing_service_agents=agents)
        readers = _grants(run, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
        return [r for r in readers if r["member"] == AGENT]

    assert agent_grants(False, set()) == []
    (grant,) = agent_grants(True, {AGENT.removeprefix("serviceAccount:")})
    assert grant["role"] == "roles/artifactregistry.reader"


def test_jobs_and_images_never_wait_for_the_agent_grant():
    agent = {AGENT.removeprefix("serviceAccount:")}
    run = run_stack(
        "dev",
        {f"{NS}:grantServiceAgentRegistryRead": True, f"{NS}:jobs": []},
        existing_service_agents=agent,
    )
    grant = run.named("training-agent-registry-reader")
    for resource in run.of_type("docker:index/image:Image"):
        assert grant.urn not in resource.dependencies, resource.name


def test_project_number_comes_from_get_project(stack_runs):
    tokens = [token for token, _ in stack_runs["prod"].invokes]
    assert "gcp:organizations/getProject:getProject" in tokens


def test_deployers_may_act_as_the_training_account_only():
    deployers = ["group:ml@acme.example", "user:ana@acme.example"]
    run = run_stack("dev", {f"{NS}:deployers": deployers, f"{NS}:jobs": [], f"{NS}:upIdentity": ""})
    (account,) = run.of_type("gcp:serviceaccount/account:Account")
    act_as = _grants(run, "gcp:serviceaccount/iAMMember:IAMMember")
    assert {(g["member"], g["role"]) for g in act_as} == {
        (d, "roles/iam.serviceAccountUser") for d in deployers
    }
    assert {g["serviceAccountId"] for g in act_as} == {account.outputs["name"]}
    submitters = _grants(run, "gcp:projects/iAMMember:IAMMember")
    assert {(g["member"], g["role"]) for g in submitters} == {
        (d, "roles/aiplatform.user") for d in deployers
    }


def test_no_deployers_and_no_jobs_no_grants():
    run = run_stack("dev", {f"{NS}:deployers": [], f"{NS}:jobs": [], f"{NS}:upIdentity": ""})
    assert not run.of_type("gcp:serviceaccount/iAMMember:IAMMember")
    assert not run.of_type("gcp:projects/iAMMember:IAMMember")


def test_the_identity_that_runs_up_can_act_as_the_training_account(stack_run):
    """It submits the jobs, which run as the training account: without actAs on it, the
    first job of a dev -> staging -> prod rollout fails and the chain stops."""
    if not stack_run.of_type(CUSTOM_JOB_TYPE) and not stack_run.of_type(TUNING_JOB_TYPE):
        pytest.skip("no jobs in this stack")
    up_identity = stack_file(stack_run.stack)["config"][f"{NS}:upIdentity"]
    (account,) = stack_run.of_type("gcp:serviceaccount/account:Account")
    act_as = {
        (g["member"], g["serviceAccountId"])
        for g in _grants(stack_run, "gcp:serviceaccount/iAMMember:IAMMember")
        if g["role"] == "roles/iam.serviceAccountUser"
    }
    assert (up_identity, account.outputs["name"]) in act_as


def test_jobs_without_an_up_identity_are_refused_before_any_resource():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:upIdentity": ""})
    assert f"{NS}:upIdentity: not set, but the stack declares jobs" in str(raised.value)
    assert raised.value.stack_run.resources == []


def test_the_up_identity_is_granted_once_when_it_is_also_a_deployer():
    ci = "serviceAccount:ci@acme-ml-dev.iam.gserviceaccount.com"
    run = run_stack("dev", {f"{NS}:deployers": [ci], f"{NS}:upIdentity": ci})
    act_as = _grants(run, "gcp:serviceaccount/iAMMember:IAMMember")
    assert [g["member"] for g in act_as] == [ci]
