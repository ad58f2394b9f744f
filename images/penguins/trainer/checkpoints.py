"""Per-epoch checkpoints, so a restarted Vertex worker resumes instead of starting over."""

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_NAME = "checkpoint-epoch-{epoch:05d}.pt"
CHECKPOINT_PATTERN = re.compile(r"checkpoint-epoch-(\d{5})\.pt")


def checkpoint_epochs(directory: Path) -> list[int]:
    """Epochs that have a complete checkpoint in ``directory``, ascending."""
    return _epochs(path.name for path in directory.iterdir())


def latest_name(names: Iterable[str]) -> str | None:
    """The file name of the latest checkpoint among ``names`` (e.g. a bucket listing)."""
    epochs = _epochs(names)
    return CHECKPOINT_NAME.format(epoch=epochs[-1]) if epochs else None


def _epochs(names: Iterable[str]) -> list[int]:
    matches = (CHECKPOINT_PATTERN.fullmatch(name) for name in names)
    return sorted(int(match.group(1)) for match in matches if match)


def latest_checkpoint(directory: Path) -> Path | None:
    epochs = checkpoint_epochs(directory)
    return directory / CHECKPOINT_NAME.format(epoch=epochs[-1]) if epochs else None


def save_checkpoint(directory: Path, epoch: int, state: dict[str, Any]) -> Path:
    """Write atomically: a worker killed mid-write leaves a temp file, never a torn
    checkpoint that the restarted worker would then try to resume from."""
    target = directory / CHECKPOINT_NAME.format(epoch=epoch)
    partial = target.with_name(f".{target.name}.partial")
    torch.save(state, partial)
    os.replace(partial, target)
    return target


def load_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only: checkpoints hold tensors and plain data, nothing that needs pickle.
    return torch.load(path, map_location="cpu", weights_only=True)
