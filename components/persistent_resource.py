"""The stack's optional Vertex AI persistent resource: machines held for jobs to run on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components import child_options
from config.persistent_resource import PersistentResourceSettings, ResourcePool


@dataclass(frozen=True)
class TrainingClusterArgs:
    project: str
    region: str
    resource_id: str
    settings: PersistentResourceSettings
    kms_key_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


class TrainingCluster(pulumi.ComponentResource):
    """One Vertex AI PersistentResource in the stack's region, for jobs with
    `persistentResource: true` (CustomJobSpec.persistent_resource_id).

    Inputs: project, region, the resource ID, its resource pools (machine, accelerators,
    disk, replicas, optional autoscaling), optional network or PSC interface, optional CMEK
    key (the stack's: "The network and CMEK configs on the job should be consistent with
    those on the PersistentResource", CustomJobSpec.persistent_resource_id).
    Outputs: `resource_id` (the ID jobs name; depending on it orders them after the resource).
    Creates: `gcp.vertex.AiPersistentResource`. It holds its machines, and bills for them,
    for as long as it exists.
    """

    resource_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:persistent_resource:TrainingCluster", name, None, opts)
        settings = args.settings
        psc = settings.psc_interface_config
        self.resource = gcp.vertex.AiPersistentResource(
            name,
            project=args.project,
            location=args.region,
            name=args.resource_id,
            display_name=args.resource_id,
            resource_pools=[_resource_pool(pool) for pool in settings.resource_pools],
            network=settings.network,
            psc_interface_config=(
                gcp.vertex.AiPersistentResourcePscInterfaceConfigArgs(
                    network_attachment=psc.network_attachment
                )
                if psc
                else None
            ),
            encryption_spec=(
                gcp.vertex.AiPersistentResourceEncryptionSpecArgs(kms_key_name=args.kms_key_name)
                if args.kms_key_name
                else None
            ),
            # Jobs run as the stack's training service account, not the Custom Code Service
            # Agent: ServiceAccountSpec.enable_custom_service_account "If true, custom
            # user-managed service account is enforced to run any workloads (for example,
            # Vertex Jobs) on the resource".
            resource_runtime_spec=gcp.vertex.AiPersistentResourceResourceRuntimeSpecArgs(
                service_account_spec=gcp.vertex.AiPersistentResourceResourceRuntimeSpecServiceAccountSpecArgs(
                    enable_custom_service_account=True
                )
            ),
            labels=args.labels,
            opts=child_options(self, opts),
        )
        self.resource_id = self.resource.name
        self.register_outputs({"resource_id": self.resource_id})


def _resource_pool(pool: ResourcePool) -> gcp.vertex.AiPersistentResourceResourcePoolArgs:
    # ResourcePool.replica_count and the autoscaling counts are int64: strings in pulumi-gcp.
    autoscaling = (
        gcp.vertex.AiPersistentResourceResourcePoolAutoscalingSpecArgs(
            min_replica_count=str(pool.min_replica_count),
            max_replica_count=str(pool.max_replica_count),
        )
        if pool.min_replica_count is not None
        else None
    )
    return gcp.vertex.AiPersistentResourceResourcePoolArgs(
        id=pool.id,
        machine_spec=gcp.vertex.AiPersistentResourceResourcePoolMachineSpecArgs(
            machine_type=pool.machine_type,
            accelerator_type=pool.accelerator_type,
            accelerator_count=pool.accelerator_count,
        ),
        replica_count=str(pool.replica_count),
        disk_spec=gcp.vertex.AiPersistentResourceResourcePoolDiskSpecArgs(
            boot_disk_type=pool.boot_disk_type, boot_disk_size_gb=pool.boot_disk_size_gb
        ),
        autoscaling_spec=autoscaling,
    )
