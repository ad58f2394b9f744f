"""`vertex-training:persistentResource`: an optional Vertex AI persistent resource per stack,
and whether a job fits it.

A persistent resource keeps its machines (and bills for them) while it exists; jobs with
`persistentResource: true` run on those machines instead of provisioning their own, which
saves the start-up time. How a job must match it, from "Run training jobs on a persistent
resource" (cloud.google.com/vertex-ai/docs/training/persistent-resource-train): each worker
pool's `machine_spec` and `disk_spec` "match exactly with a corresponding resource pool", and
its replica count is "less than or equal to the replica-count or max-replica-count of the
corresponding resource pool"; CustomJobSpec.persistent_resource_id: "The network and CMEK
configs on the job should be consistent with those on the PersistentResource, otherwise, the
job will be rejected."
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from config import catalogue
from config.base import ConfigSection
from config.jobs import Job, PscInterfaceConfig, WorkerPool


class ResourcePool(WorkerPool):
    """One resource pool: a WorkerPool's machine and disk, its size and optional autoscaling.

    pulumi-gcp's `AiPersistentResourceResourcePoolMachineSpec` has machine type and
    accelerators only, so TPU topologies and reservation affinity are refused here."""

    id: str
    min_replica_count: Annotated[int, Field(ge=1)] | None = None
    max_replica_count: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _pool_fits_pulumi_and_autoscaling(self) -> ResourcePool:
        if not catalogue.PERSISTENT_RESOURCE_ID_PATTERN.match(self.id):
            raise ValueError(
                f"id {self.id!r}: 1-63 lowercase letters, digits or hyphens, starting with a "
                "letter and not ending with a hyphen"
            )
        if self.tpu_topology is not None or self.reservation_affinity is not None:
            raise ValueError(
                f"resource pool {self.id!r}: tpuTopology and reservationAffinity are not "
                "supported on a persistent resource (pulumi-gcp's resource pool machine spec "
                "has machineType, acceleratorType and acceleratorCount only)"
            )
        low, high = self.min_replica_count, self.max_replica_count
        if (low is None) != (high is None):
            raise ValueError(
                f"resource pool {self.id!r}: set both minReplicaCount and maxReplicaCount "
                "(autoscaling), or neither"
            )
        # AutoscalingSpec (pulumi-gcp, from the API): min "must be <= replica_count and <
        # max_replica_count", max "must be >= replica_count and > min_replica_count"; for a
        # persistent resource min "must be > 0".
        if low is not None and high is not None and not low <= self.replica_count <= high:
            raise ValueError(
                f"resource pool {self.id!r}: needs minReplicaCount <= replicaCount <= "
                f"maxReplicaCount, got {low} <= {self.replica_count} <= {high}"
            )
        if low is not None and high is not None and low >= high:
            raise ValueError(
                f"resource pool {self.id!r}: minReplicaCount {low} must be below "
                f"maxReplicaCount {high}"
            )
        return self

    @property
    def most_replicas(self) -> int:
        return self.max_replica_count or self.replica_count


class PersistentResourceSettings(ConfigSection):
    """The stack's persistent resource: its ID, resource pools and network."""

    # Empty: vtrain-<stack>. CreatePersistentResourceRequest.persistent_resource_id.
    id: str | None = None
    resource_pools: Annotated[list[ResourcePool], Field(min_length=1)]
    network: str | None = None
    psc_interface_config: PscInterfaceConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PersistentResourceSettings:
        if self.id is not None and not catalogue.PERSISTENT_RESOURCE_ID_PATTERN.match(self.id):
            raise ValueError(
                f"id {self.id!r}: 1-63 lowercase letters, digits or hyphens, starting with a "
                "letter and not ending with a hyphen"
            )
        ids = [pool.id for pool in self.resource_pools]
        if len(set(ids)) != len(ids):
            raise ValueError(f"resourcePools ids repeat: {ids}")
        if self.network and self.psc_interface_config:
            raise ValueError("set network or pscInterfaceConfig, not both")
        if self.network and not catalogue.NETWORK_PATTERN.match(self.network):
            raise ValueError(
                f"network {self.network!r} must be projects/<project number>/global/networks/<n>"
            )
        return self

    def resource_id(self, stack: str) -> str:
        return self.id or f"vtrain-{stack}"[:63].rstrip("-")


def _pool_problem(pool: WorkerPool, resource: PersistentResourceSettings) -> str | None:
    """Why no resource pool takes `pool`, or None."""
    machine = (
        pool.machine_type,
        pool.accelerator_type,
        pool.accelerator_count,
        pool.boot_disk_type,
        pool.boot_disk_size_gb,
    )
    if pool.tpu_topology is not None or pool.reservation_affinity is not None:
        return "tpuTopology and reservationAffinity do not apply on a persistent resource"
    same = [
        candidate
        for candidate in resource.resource_pools
        if machine
        == (
            candidate.machine_type,
            candidate.accelerator_type,
            candidate.accelerator_count,
            candidate.boot_disk_type,
            candidate.boot_disk_size_gb,
        )
    ]
    if not same:
        described = ", ".join(
            f"{c.id} ({c.machine_type}"
            + (f", {c.accelerator_count} x {c.accelerator_type}" if c.accelerator_type else "")
            + f", {c.boot_disk_type} {c.boot_disk_size_gb} GB)"
            for c in resource.resource_pools
        )
        return (
            "machine and disk match no resource pool of the persistent resource (machineType, "
            "acceleratorType, acceleratorCount, bootDiskType and bootDiskSizeGb must all be a "
            f"pool's); its pools: {described}"
        )
    most = max(candidate.most_replicas for candidate in same)
    if pool.replica_count > most:
        ids = ", ".join(candidate.id for candidate in same)
        return f"replicaCount {pool.replica_count} is above the {most} of resource pool {ids}"
    return None


def job_fit_problems(job: Job, resource: PersistentResourceSettings) -> list[tuple[str, str]]:
    """`[(job key, problem)]` for a job with `persistentResource: true` on `resource`."""
    problems = [
        (f"workerPools[{index}]", problem)
        for index, pool in enumerate(job.worker_pools)
        if (problem := _pool_problem(pool, resource))
    ]
    if job.network != resource.network:
        problems.append(
            (
                "network",
                f"{job.network!r} differs from the persistent resource's network "
                f"{resource.network!r}; a job's network must be its persistent resource's",
            )
        )
    if job.psc_interface_config != resource.psc_interface_config:
        problems.append(
            (
                "pscInterfaceConfig",
                "differs from the persistent resource's pscInterfaceConfig; a job's network "
                "config must be its persistent resource's",
            )
        )
    return problems
