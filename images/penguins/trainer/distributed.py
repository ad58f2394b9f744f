"""Process-group setup from Vertex's CLUSTER_SPEC, or from torchrun's variables.

Vertex sets CLUSTER_SPEC for custom containers but not MASTER_ADDR/WORLD_SIZE/RANK, so
the torch ranks are derived here: workerpool0 (the chief, one replica) is rank 0, then
the replicas of workerpool1 and workerpool2 in order. workerpool3 is the Reduction
Server pool, which runs Google's reducer image and is not a torch rank.
"""

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from trainer.errors import TrainerError

TORCH_WORKER_POOLS = ("workerpool0", "workerpool1", "workerpool2")
TORCHRUN_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK")
PROCESS_GROUP_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class ProcessGroupSpec:
    master_addr: str
    master_port: int
    world_size: int
    rank: int

    @property
    def init_method(self) -> str:
        return f"tcp://{self.master_addr}:{self.master_port}"


def parse_cluster_spec(cluster_spec_json: str) -> ProcessGroupSpec:
    """Derive this process's torch rank and rendezvous address from a CLUSTER_SPEC."""
    try:
        spec = json.loads(cluster_spec_json)
        cluster: dict[str, list[str]] = spec["cluster"]
        task_type: str = spec["task"]["type"]
        task_index = int(spec["task"].get("index", 0))
        chief_address: str = cluster["workerpool0"][0]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise TrainerError(f"malformed CLUSTER_SPEC ({error!r}): {cluster_spec_json}") from None
    if task_type not in TORCH_WORKER_POOLS:
        raise TrainerError(f"CLUSTER_SPEC task type {task_type!r} is not a torch worker pool")
    pool_sizes = [len(cluster.get(pool, [])) for pool in TORCH_WORKER_POOLS]
    pool_position = TORCH_WORKER_POOLS.index(task_type)
    if not 0 <= task_index < pool_sizes[pool_position]:
        raise TrainerError(f"CLUSTER_SPEC task index {task_index} is outside {task_type}")
    host, _, port = chief_address.rpartition(":")
    if not host or not port.isdigit():
        raise TrainerError(f"CLUSTER_SPEC chief address {chief_address!r} is not host:port")
    return ProcessGroupSpec(
        master_addr=host,
        master_port=int(port),
        world_size=sum(pool_sizes),
        rank=sum(pool_sizes[:pool_position]) + task_index,
    )


def resolve_process_group_spec(environ: Mapping[str, str]) -> ProcessGroupSpec | None:
    """The process group to join, or None for a single-process run.

    Variables that torchrun (or a user) already set win over CLUSTER_SPEC.
    """
    if all(environ.get(name) for name in TORCHRUN_VARIABLES):
        try:
            spec = ProcessGroupSpec(
                master_addr=environ["MASTER_ADDR"],
                master_port=int(environ["MASTER_PORT"]),
                world_size=int(environ["WORLD_SIZE"]),
                rank=int(environ["RANK"]),
            )
        except ValueError as error:
            raise TrainerError(f"bad torchrun variables: {error}") from None
    elif environ.get("CLUSTER_SPEC"):
        spec = parse_cluster_spec(environ["CLUSTER_SPEC"])
    else:
        return None
    return spec if spec.world_size > 1 else None


def local_device_index(environ: Mapping[str, str]) -> int:
    """GPU index for this process: torchrun's LOCAL_RANK; Vertex runs one per replica."""
    return int(environ.get("LOCAL_RANK", "0"))


class Collective:
    """The few collectives the trainer needs, which are no-ops in a single process."""

    def __init__(self, spec: ProcessGroupSpec | None, device: torch.device) -> None:
        self.spec = spec
        self.device = device  # where collective tensors live: cuda for NCCL, cpu for gloo
        self.rank = spec.rank if spec else 0
        self.world_size = spec.world_size if spec else 1
        self.is_chief = self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.spec is not None

    def barrier(self) -> None:
        """Wait until every rank gets here (within the process group's timeout)."""
        if not self.enabled:
            return
        # NCCL's barrier runs on a device tensor and has to know which device.
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        dist.barrier(device_ids=device_ids)

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast_from_chief(self, value: Any) -> Any:
        """Send the chief's ``value`` (tensors and plain data) to every rank.

        Serialized with torch.save and read back with ``weights_only=True`` rather than
        sent with dist.broadcast_object_list, which unpickles whatever it receives.
        """
        if not self.enabled:
            return value
        payload = bytearray()
        if self.is_chief:
            buffer = io.BytesIO()
            torch.save(value, buffer)
            payload = bytearray(buffer.getvalue())
        size = torch.tensor([len(payload)], dtype=torch.int64, device=self.device)
        dist.broadcast(size, src=0)
        if not self.is_chief:
            payload = bytearray(int(size.item()))
        host_bytes = torch.frombuffer(payload, dtype=torch.uint8)  # shares payload's memory
        wire_bytes = host_bytes.to(self.device)
        dist.broadcast(wire_bytes, src=0)
        host_bytes.copy_(wire_bytes)
        return torch.load(io.BytesIO(payload), weights_only=True)


def start_process_group(spec: ProcessGroupSpec | None, device: torch.device) -> Collective:
    if spec is not None:
        _import_modules_that_capture_the_world_group()
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend,
            init_method=spec.init_method,
            world_size=spec.world_size,
            rank=spec.rank,
            timeout=PROCESS_GROUP_TIMEOUT,
        )
    return Collective(spec, device)


def stop_process_group(collective: Collective, *, completed: bool) -> None:
    """Leave the process group; after a ``completed`` run, only together with every rank.

    A completed run first waits at a barrier, which the chief reaches after writing the
    model and its last checkpoint (within PROCESS_GROUP_TIMEOUT): no rank closes its
    connections, or exits, while another still has collective work, and every rank's
    collectives are finished when the group is destroyed. A failed run skips the
    barrier, as its peers may be inside another collective, where a barrier would hang
    them until the timeout; leaving at once makes their collectives fail with a
    connection error, so the job fails now. destroy_process_group then closes the group
    and joins gloo's threads (see _import_modules_that_capture_the_world_group).
    """
    if not (collective.enabled and dist.is_initialized()):
        return
    try:
        if completed:
            collective.barrier()  # raises if a peer failed and left instead
    finally:
        dist.destroy_process_group()


def _import_modules_that_capture_the_world_group() -> None:
    """Import, before the group exists, the torch module that would keep it alive.

    ``torch.distributed.nn.functional`` binds ``group.WORLD`` as default arguments when
    it is imported, and DistributedDataParallel's constructor imports it (through
    torch._dynamo). Imported after init_process_group, it holds the world group for the
    life of the process, so destroy_process_group leaves the gloo group, and its worker
    threads, running. Such a thread drops its reference to the last collective's work
    (and with it the Python tensors) some time after the collective returned; if the
    main thread has meanwhile reached interpreter shutdown, the thread cannot take the
    GIL, is ended by the interpreter, and the replica dies with SIGABRT ("terminate
    called without an active exception") after it has trained. Imported first, the
    defaults are None, and destroy_process_group really closes the group, joining its
    threads while the interpreter is still alive.
    """
    import torch.distributed.nn.functional  # noqa: F401
