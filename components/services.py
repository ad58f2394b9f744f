"""Project services: the Google APIs the training platform needs, enabled once per project."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import child_options

# What each API is for, so a reviewer can tell why it is enabled.
REQUIRED_SERVICES = {
    "aiplatform.googleapis.com": "Vertex AI custom and tuning jobs",
    "artifactregistry.googleapis.com": "the training image repository",
    "cloudresourcemanager.googleapis.com": "reading the project number",
    "containerscanning.googleapis.com": "vulnerability scanning of pushed images",
    "iam.googleapis.com": "the training service account",
    "storage.googleapis.com": "data, output and access-log buckets",
}
CMEK_SERVICES = {"cloudkms.googleapis.com": "customer-managed encryption keys"}


@dataclass(frozen=True)
class ProjectServicesArgs:
    project: str
    uses_cmek: bool = False


class ProjectServices(pulumi.ComponentResource):
    """Enables the APIs the stack needs.

    Inputs: project ID, whether CMEK is used (adds Cloud KMS).
    Outputs: `services`, the enabled API names.
    Creates: one `gcp.projects.Service` per API, with `disable_on_destroy=False` because
    other workloads in the project may rely on the same APIs.
    """

    services: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: ProjectServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:services:ProjectServices", name, None, opts)
        self._child_opts = child_options(self, opts)
        wanted = dict(REQUIRED_SERVICES, **(CMEK_SERVICES if args.uses_cmek else {}))
        self.enabled = [
            gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                project=args.project,
                service=api,
                disable_on_destroy=False,
                opts=self._child_opts,
            )
            for api in sorted(wanted)
        ]
        self.services = pulumi.Output.all(*[service.service for service in self.enabled])
        self.register_outputs({"services": self.services})
