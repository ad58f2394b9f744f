"""CMEK access: lets Google's service agents use the stack's KMS key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import child_options

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# Services whose agent encrypts on the stack's behalf, by what it encrypts. On a new project
# these agents do not exist yet (cloud.google.com/iam/docs/service-agents: most are created
# on first use of the service), and a grant to a missing account fails. So each is created
# first: `projects.ServiceIdentity` (serviceusage generateServiceIdentity) for Artifact
# Registry and Vertex AI, and `storage.get_project_service_account`, which creates the
# Cloud Storage agent if it is missing (pulumi-gcp docs of getProjectServiceAccount).
AGENT_SERVICES = {
    "registry": "artifactregistry.googleapis.com",
    "vertex": "aiplatform.googleapis.com",
}


@dataclass(frozen=True)
class KeyAccessArgs:
    project: str
    kms_key_name: str


class KeyAccess(pulumi.ComponentResource):
    """Grants encrypter/decrypter on the CMEK key to the Storage, Artifact Registry and
    Vertex AI service agents, which must hold it before a bucket, repository or job can use
    the key. Each agent is created (or looked up) first; grants are on the key only.
    Inputs: project, key name. Outputs: `kms_key_name`.
    Creates: `gcp.projects.ServiceIdentity` x2 and one `gcp.kms.CryptoKeyIAMMember` per
    service agent (Storage, Artifact Registry, Vertex AI).
    """

    kms_key_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeyAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:encryption:KeyAccess", name, None, opts)
        self._child_opts = child_options(self, opts)
        self.agents = {
            agent: gcp.projects.ServiceIdentity(
                f"{name}-{agent}-agent",
                project=args.project,
                service=service,
                opts=self._child_opts,
            )
            for agent, service in AGENT_SERVICES.items()
        }
        storage_agent = gcp.storage.get_project_service_account_output(
            project=args.project,
            # After the Storage API is enabled; the provider comes from this component.
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=self._child_opts.depends_on),
        )
        members = {
            "storage": storage_agent.member,
            **{agent: identity.member for agent, identity in self.agents.items()},
        }
        self.grants = [
            gcp.kms.CryptoKeyIAMMember(
                f"{name}-{agent}",
                crypto_key_id=args.kms_key_name,
                role=ENCRYPTER_DECRYPTER,
                member=member,
                opts=self._child_opts,
            )
            for agent, member in members.items()
        ]
        self.kms_key_name = pulumi.Output.from_input(args.kms_key_name)
        self.register_outputs({"kms_key_name": self.kms_key_name})
