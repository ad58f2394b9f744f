"""The device-side training loop.

The whole dataset sits on the device and batches are index slices of it, so there is no
DataLoader and no host copy per step. Losses accumulate in a device tensor and are read
back once per epoch: a per-step ``.item()`` would stall the GPU queue every step. At the
shapes this trainer runs (an MLP of a few layers) a GPU step is short, so the loop is
bound by kernel launches rather than arithmetic: it keeps them few (fused AdamW on CUDA,
one kernel to accumulate the loss, the epoch's permutation drawn on the device).
"""

import math
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn
from torch.nn import functional

from trainer.data import LabeledTensors
from trainer.distributed import Collective, local_device_index
from trainer.errors import TrainerError

EVAL_CHUNK_ROWS = 65_536


# TF32 tensor cores arrived with Ampere (compute capability 8.0).
TF32_MIN_CAPABILITY = (8, 0)


def choose_device(environ: Mapping[str, str]) -> torch.device:
    if not torch.cuda.is_available():
        return torch.device("cpu")
    device = torch.device("cuda", local_device_index(environ))
    torch.cuda.set_device(device)  # NCCL collectives run on the current device
    return device


def choose_precision(requested: str, device: torch.device) -> str:
    """The precision a run trains in: ``fp32``, ``tf32`` or ``bf16`` (autocast).

    ``auto`` is TF32 on CUDA GPUs that have it, plain fp32 elsewhere; never bf16. At the
    shapes the stacks run (the penguins MLP, batch 32-128) and at the issue's large shape
    (64-1024-1024-10, batch 8192, H200: bf16 4.34 M samples/s, TF32 4.82 M) a step is
    bound by kernel launches, not arithmetic, and autocast adds a cast kernel per weight
    per step; TF32 keeps float32's range at no extra kernels. Also sets the global
    float32 matmul precision, so ``fp32`` means full fp32 on a GPU.
    """
    on_cuda = device.type == "cuda"
    if on_cuda:
        capability = torch.cuda.get_device_capability(device)
        has_tf32 = capability >= TF32_MIN_CAPABILITY
        # Without including_emulation=False, pre-Ampere GPUs such as the T4 report bf16
        # support that is emulated and slower than fp32.
        has_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    else:
        has_tf32 = has_bf16 = False
    precision = {"auto": "tf32" if has_tf32 else "fp32"}.get(requested, requested)
    where = torch.cuda.get_device_name(device) if on_cuda else "the CPU"
    if precision == "tf32" and not has_tf32:
        raise TrainerError(f"--precision tf32: {where} lacks TF32 (CUDA, Ampere or newer)")
    if precision == "bf16" and on_cuda and not has_bf16:
        raise TrainerError(f"--precision bf16: {where} lacks bf16")
    if on_cuda:  # the CPU's matmuls are left as they are: fp32
        torch.set_float32_matmul_precision("highest" if precision == "fp32" else "high")
    return precision


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a precision chosen by choose_precision; None: no autocast."""
    return torch.bfloat16 if precision == "bf16" else None


def build_optimizer(
    model: nn.Module, learning_rate: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW; fused (one kernel for all parameters) on CUDA, the default foreach on CPU."""
    return torch.optim.AdamW(
        model.parameters(),
        lr=learning_rate,
        weight_decay=weight_decay,
        fused=device.type == "cuda" or None,
    )


def autocast(device_type: str, dtype: torch.dtype | None) -> AbstractContextManager:
    """Mixed precision when ``dtype`` is set; a plain fp32 region otherwise."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type, dtype=dtype)


def rows_per_rank(num_rows: int, world_size: int) -> int:
    return math.ceil(num_rows / world_size)


def steps_per_epoch(num_rows: int, world_size: int, batch_size: int) -> int:
    return math.ceil(rows_per_rank(num_rows, world_size) / batch_size)


def shard_indices(
    num_rows: int, epoch: int, seed: int, collective: Collective, device: torch.device
) -> torch.Tensor:
    """This rank's shuffled row indices for an epoch, like DistributedSampler.

    A single process draws the permutation on its device (no host work or copy between
    epochs). With several ranks, every rank draws the same permutation on the CPU
    (seeded by seed and epoch; the CPU generator gives the same numbers everywhere),
    pads it by wrapping around so all ranks get equally many rows (DDP needs the same
    number of steps on each), and takes every world_size-th index from its rank on.
    """
    epoch_seed = seed * 1_000_003 + epoch
    if collective.world_size == 1:
        generator = torch.Generator(device=device).manual_seed(epoch_seed)
        return torch.randperm(num_rows, generator=generator, device=device)
    generator = torch.Generator().manual_seed(epoch_seed)
    order = torch.randperm(num_rows, generator=generator)
    padded_size = rows_per_rank(num_rows, collective.world_size) * collective.world_size
    padded = order.repeat(math.ceil(padded_size / num_rows))[:padded_size]
    return padded[collective.rank :: collective.world_size].to(device)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: LabeledTensors,
    indices: torch.Tensor,
    batch_size: int,
    autocast_dtype: torch.dtype | None,
) -> torch.Tensor:
    """Run one pass over ``indices``; returns the summed training loss, on the device."""
    model.train()
    loss_sum = torch.zeros((), device=data.features.device)
    for start in range(0, indices.shape[0], batch_size):
        batch = indices[start : start + batch_size]
        with autocast(data.features.device.type, autocast_dtype):
            logits = model(data.features[batch])
        loss = functional.cross_entropy(logits.float(), data.labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum.add_(loss.detach(), alpha=batch.shape[0])  # one kernel, no host sync
    return loss_sum


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: LabeledTensors,
    indices: torch.Tensor,
    autocast_dtype: torch.dtype | None,
) -> torch.Tensor:
    """``[correct, loss_sum, rows]`` over ``indices`` as one float64 device tensor, so a
    single all_reduce combines the ranks' shards."""
    model.eval()
    device = data.features.device
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    for start in range(0, indices.shape[0], EVAL_CHUNK_ROWS):
        chunk = indices[start : start + EVAL_CHUNK_ROWS]
        with autocast(device.type, autocast_dtype):
            logits = model(data.features[chunk]).float()
        labels = data.labels[chunk]
        totals[0] += (logits.argmax(dim=1) == labels).sum()
        totals[1] += functional.cross_entropy(logits, labels, reduction="sum")
        totals[2] += chunk.shape[0]
    return totals


def validation_shard(num_rows: int, collective: Collective, device: torch.device) -> torch.Tensor:
    """Each validation row on exactly one rank (no padding, so no row counts twice)."""
    return torch.arange(collective.rank, num_rows, collective.world_size, device=device)
