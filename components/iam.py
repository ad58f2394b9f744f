"""Least-privilege IAM: a dedicated training service account and resource-level grants."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components import child_options

REGISTRY_READER = "roles/artifactregistry.reader"


def custom_code_service_agent(project_number: str) -> str:
    """The Vertex AI agent that pulls custom-container images for training jobs."""
    return f"serviceAccount:service-{project_number}@gcp-sa-aiplatform-cc.iam.gserviceaccount.com"


@dataclass(frozen=True)
class TrainingIdentityArgs:
    project: str
    project_number: pulumi.Input[str]
    account_id: str
    data_bucket: pulumi.Input[str]
    output_bucket: pulumi.Input[str]
    region: str
    repository_name: pulumi.Input[str]
    grant_service_agent_registry_read: bool = False
    # Who may submit jobs as the training account: the stack's deployers and up identity.
    deployers: list[str] = field(default_factory=list)


class TrainingIdentity(pulumi.ComponentResource):
    """The identity training jobs run as, and who may launch them.

    The training service account gets bucket-level objectViewer on data, objectAdmin on
    output, and artifactregistry.reader on the repository: never a project role, never a
    key. Optionally the Vertex AI Custom Code Service Agent reads the repository too (needed
    when the repository lives in another project; its default role already reads
    same-project repositories). Each deployer may act as the training account
    (serviceAccountUser on that account only) and submit jobs (aiplatform.user on the project).
    Inputs: see `TrainingIdentityArgs`.
    Outputs: `email`, `member` of the training service account.
    Creates: `gcp.serviceaccount.Account`, `gcp.storage.BucketIAMMember` x2,
    `gcp.artifactregistry.RepositoryIamMember` x1-2, and per deployer one
    `gcp.serviceaccount.IAMMember` and one `gcp.projects.IAMMember`.
    """

    email: pulumi.Output[str]
    member: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:iam:TrainingIdentity", name, None, opts)
        self._child_opts = child_options(self, opts)
        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=args.project,
            account_id=args.account_id,
            display_name="Vertex AI training jobs",
            description="Runs this stack's Vertex AI training jobs. Managed by Pulumi.",
            opts=self._child_opts,
        )
        self.email = self.account.email
        self.member = self.account.member
        self.bucket_grants = [
            gcp.storage.BucketIAMMember(
                f"{name}-{purpose}",
                bucket=bucket,
                role=role,
                member=self.member,
                opts=self._child_opts,
            )
            for purpose, bucket, role in (
                ("data-reader", args.data_bucket, "roles/storage.objectViewer"),
                ("output-writer", args.output_bucket, "roles/storage.objectAdmin"),
            )
        ]
        self.registry_grant = self._registry_reader(f"{name}-registry-reader", self.member, args)
        # Only for a stack without jobs (validation refuses it beside jobs): the agent exists
        # only after the project's first custom job, so nothing here waits for this grant.
        self.agent_registry_grant = (
            self._registry_reader(
                f"{name}-agent-registry-reader",
                pulumi.Output.from_input(args.project_number).apply(custom_code_service_agent),
                args,
            )
            if args.grant_service_agent_registry_read
            else None
        )
        self.deployer_grants = []
        for index, deployer in enumerate(args.deployers):
            self.deployer_grants += [
                gcp.serviceaccount.IAMMember(
                    f"{name}-deployer-{index}-act-as",
                    service_account_id=self.account.name,
                    role="roles/iam.serviceAccountUser",
                    member=deployer,
                    opts=self._child_opts,
                ),
                gcp.projects.IAMMember(
                    f"{name}-deployer-{index}-vertex-user",
                    project=args.project,
                    role="roles/aiplatform.user",
                    member=deployer,
                    opts=self._child_opts,
                ),
            ]
        # What a job needs before it is submitted (not the optional agent grant).
        self.job_prerequisites: list[pulumi.Resource] = [
            self.account,
            *self.bucket_grants,
            self.registry_grant,
            *self.deployer_grants,
        ]
        self.register_outputs({"email": self.email, "member": self.member})

    def _registry_reader(
        self, resource_name: str, member: pulumi.Input[str], args: TrainingIdentityArgs
    ) -> gcp.artifactregistry.RepositoryIamMember:
        return gcp.artifactregistry.RepositoryIamMember(
            resource_name,
            project=args.project,
            location=args.region,
            repository=args.repository_name,
            role=REGISTRY_READER,
            member=member,
            opts=self._child_opts,
        )
