"""CMEK access: lets Google's service agents use the stack's KMS key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import child_options

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# The service agents that encrypt on the stack's behalf, by what they encrypt.
SERVICE_AGENT_DOMAINS = {
    "storage": "gs-project-accounts.iam.gserviceaccount.com",
    "registry": "gcp-sa-artifactregistry.iam.gserviceaccount.com",
    "vertex": "gcp-sa-aiplatform.iam.gserviceaccount.com",
}


@dataclass(frozen=True)
class KeyAccessArgs:
    kms_key_name: str
    project_number: pulumi.Input[str]


class KeyAccess(pulumi.ComponentResource):
    """Grants encrypter/decrypter on the CMEK key to the Storage, Artifact Registry and
    Vertex AI service agents, which must hold it before a bucket, repository or job can use
    the key. Grants are on the key, not the project.
    Inputs: key name, project number. Outputs: `kms_key_name`.
    Creates: one `gcp.kms.CryptoKeyIAMMember` per service agent.
    """

    kms_key_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeyAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:encryption:KeyAccess", name, None, opts)
        self._child_opts = child_options(self, opts)
        number = pulumi.Output.from_input(args.project_number)
        self.grants = [
            gcp.kms.CryptoKeyIAMMember(
                f"{name}-{agent}",
                crypto_key_id=args.kms_key_name,
                role=ENCRYPTER_DECRYPTER,
                member=number.apply(lambda n, d=domain: f"serviceAccount:service-{n}@{d}"),
                opts=self._child_opts,
            )
            for agent, domain in SERVICE_AGENT_DOMAINS.items()
        ]
        self.kms_key_name = pulumi.Output.from_input(args.kms_key_name)
        self.register_outputs({"kms_key_name": self.kms_key_name})
