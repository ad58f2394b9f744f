"""The device-side training loop.

The whole dataset sits on the device and batches are index slices of it, so there is no
DataLoader and no host copy per step. Losses accumulate in a device tensor and are read
back once per epoch: a per-step ``.item()`` would stall the GPU queue every step.
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


def choose_device(environ: Mapping[str, str]) -> torch.device:
    if not torch.cuda.is_available():
        return torch.device("cpu")
    device = torch.device("cuda", local_device_index(environ))
    torch.cuda.set_device(device)  # NCCL collectives run on the current device
    # TF32 matmuls for the fp32 path (Ampere+): float32 range, far faster, and ample
    # precision for training; the bf16 autocast path is unaffected.
    torch.set_float32_matmul_precision("high")
    return device


def choose_autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast for "auto" on GPUs with bf16 (Ampere and newer); None means fp32."""
    # Without including_emulation=False, pre-Ampere GPUs such as the T4 report bf16
    # support that is emulated and slower than fp32.
    bf16_on_gpu = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    if precision == "fp32" or (precision == "auto" and not bf16_on_gpu):
        return None
    if precision == "bf16" and device.type == "cuda" and not bf16_on_gpu:
        raise TrainerError(f"--precision bf16: {torch.cuda.get_device_name(device)} lacks bf16")
    return torch.bfloat16


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

    Every rank draws the same permutation (seeded by seed and epoch), pads it by
    wrapping around so all ranks get equally many rows (DDP needs the same number of
    steps on each), and takes every world_size-th index from its rank on.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
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
        loss_sum += loss.detach() * batch.shape[0]
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
