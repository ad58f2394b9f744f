"""A program that grants a CMEK key to a service agent named by string, as main once did;
test_encryption runs it to show the engine refuses it on a new project."""

import pulumi_gcp as gcp

gcp.kms.CryptoKeyIAMMember(
    "by-name",
    crypto_key_id="projects/acme-ml-prod/locations/europe-west4/keyRings/r/cryptoKeys/k",
    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
    member="serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com",
)
