"""The Artifact Registry Docker repository that holds the training images."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components import child_options

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class ImageRepositoryArgs:
    project: str
    region: str
    repository_id: str
    keep_recent_versions: int
    delete_untagged_after_days: int
    immutable_tags: bool = False
    kms_key_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


class ImageRepository(pulumi.ComponentResource):
    """One DOCKER repository in the stack's region.

    Inputs: project, region, repository ID, cleanup settings (keep the N most recent
    versions; delete untagged versions older than D days), immutable tags, optional CMEK key.
    Outputs: `repository_url` (`<region>-docker.pkg.dev/<project>/<id>`), `repository_name`.
    Creates: `gcp.artifactregistry.Repository`.
    """

    repository_url: pulumi.Output[str]
    repository_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImageRepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:registry:ImageRepository", name, None, opts)
        self._child_opts = child_options(self, opts)
        self.repository = gcp.artifactregistry.Repository(
            name,
            project=args.project,
            location=args.region,
            repository_id=args.repository_id,
            format="DOCKER",
            description="Vertex AI training images, managed by Pulumi.",
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(
                immutable_tags=args.immutable_tags
            ),
            kms_key_name=args.kms_key_name,
            labels=args.labels,
            # Without this the policies only report what they would delete.
            cleanup_policy_dry_run=False,
            cleanup_policies=_cleanup_policies(args),
            opts=self._child_opts,
        )
        # Known at preview time, so image names and job specs can be shown in the diff.
        self.repository_url = pulumi.Output.from_input(
            f"{args.region}-docker.pkg.dev/{args.project}/{args.repository_id}"
        )
        self.repository_name = self.repository.name
        self.register_outputs(
            {"repository_url": self.repository_url, "repository_name": self.repository_name}
        )


def _cleanup_policies(
    args: ImageRepositoryArgs,
) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    # KEEP wins over DELETE in Artifact Registry, so recent versions survive even if untagged.
    return [
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="keep-recent-versions",
            action="KEEP",
            most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                keep_count=args.keep_recent_versions
            ),
        ),
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-old-untagged",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                tag_state="UNTAGGED",
                older_than=f"{args.delete_untagged_after_days * SECONDS_PER_DAY}s",
            ),
        ),
    ]
