"""TrainingIdentity: a dedicated service account and nothing broader than needed."""

from tests.harness.engine import FAKE_PROJECT_NUMBER, run_stack

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


def test_service_agent_registry_read_is_behind_a_switch():
    def agent_grants(enabled):
        run = run_stack("dev", {f"{NS}:grantServiceAgentRegistryRead": enabled})
        readers = _grants(run, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
        return [r for r in readers if r["member"] == AGENT]

    assert agent_grants(False) == []
    (grant,) = agent_grants(True)
    assert grant["role"] == "roles/artifactregistry.reader"


def test_project_number_comes_from_get_project(stack_runs):
    tokens = [token for token, _ in stack_runs["prod"].invokes]
    assert "gcp:organizations/getProject:getProject" in tokens


def test_deployers_may_act_as_the_training_account_only():
    deployers = ["group:ml@acme.example", "user:ana@acme.example"]
    run = run_stack("dev", {f"{NS}:deployers": deployers})
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


def test_no_deployers_no_grants():
    run = run_stack("dev", {f"{NS}:deployers": []})
    assert not run.of_type("gcp:serviceaccount/iAMMember:IAMMember")
    assert not run.of_type("gcp:projects/iAMMember:IAMMember")
