"""KeyAccess: CMEK stacks let Google's service agents use the key, and nothing else."""

import pytest

from tests.harness.engine import FAKE_PROJECT_NUMBER, run_stack, service_agent_email
from tests.harness.stack_config import PROJECT_DIR


def test_service_agents_get_encrypter_decrypter_on_the_key(stack_runs):
    run = stack_runs["prod"]
    grants = [g.plain_inputs for g in run.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")]
    (bucket, *_) = run.of_type("gcp:storage/bucket:Bucket")
    key = bucket.plain_inputs["encryption"]["defaultKmsKeyName"]
    assert {g["cryptoKeyId"] for g in grants} == {key}
    assert {g["role"] for g in grants} == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    assert {g["member"] for g in grants} == {
        f"serviceAccount:service-{FAKE_PROJECT_NUMBER}@{domain}"
        for domain in (
            "gs-project-accounts.iam.gserviceaccount.com",
            "gcp-sa-artifactregistry.iam.gserviceaccount.com",
            "gcp-sa-aiplatform.iam.gserviceaccount.com",
        )
    }


def test_encrypted_resources_wait_for_the_key_grants(stack_runs):
    run = stack_runs["prod"]
    grant_urns = {g.urn for g in run.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")}
    encrypted = run.of_type("gcp:storage/bucket:Bucket") + run.of_type(
        "gcp:artifactregistry/repository:Repository"
    )
    for resource in encrypted:
        assert grant_urns <= set(resource.dependencies), resource.name


def test_no_key_grants_without_cmek(stack_runs):
    assert not stack_runs["dev"].of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")


def test_each_agent_is_created_before_its_key_grant(stack_runs):
    """On a new project the agents do not exist until created, and IAM refuses a grant to a
    missing account: the engine behaves like a new project, so the prod run proves it."""
    run = stack_runs["prod"]
    identities = {
        identity.plain_inputs["service"]: identity
        for identity in run.of_type("gcp:projects/serviceIdentity:ServiceIdentity")
    }
    assert set(identities) == {"artifactregistry.googleapis.com", "aiplatform.googleapis.com"}
    for agent, service in (("registry", "artifactregistry"), ("vertex", "aiplatform")):
        grant = run.named(f"cmek-{agent}")
        assert identities[f"{service}.googleapis.com"].urn in grant.dependencies
        assert grant.plain_inputs["member"] == (
            f"serviceAccount:{service_agent_email(f'{service}.googleapis.com')}"
        )
    tokens = [token for token, _ in run.invokes]
    assert "gcp:storage/getProjectServiceAccount:getProjectServiceAccount" in tokens


def test_a_grant_to_an_agent_nobody_created_fails_as_on_a_new_project():
    """The same KeyAccess with the agents' names written as strings (the old code) fails."""
    from tests.harness.stack_config import StackConfigError

    program = PROJECT_DIR / "tests" / "components" / "_strings_for_agents.py"
    with pytest.raises(StackConfigError, match="does not exist"):
        run_stack("prod", program=program)
