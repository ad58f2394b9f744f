"""KeyAccess: CMEK stacks let Google's service agents use the key, and nothing else."""

from tests.harness.engine import FAKE_PROJECT_NUMBER


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
