"""Shared helpers for the trainer tests: paths, CLI runs, and the metrics file format.

Importing this module puts ``images/trainer`` on sys.path, so ``import trainer`` finds
the package the images ship (the lead's conftest.py is left alone).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
TRAINER_ROOT = PROJECT_DIR / "images" / "trainer"
SAMPLE_TRAIN = TRAINER_ROOT / "sample_data" / "train.csv"
SAMPLE_VAL = TRAINER_ROOT / "sample_data" / "val.csv"
SAMPLE_TRAIN_ROWS = 273
# Share of the most common class in val.csv (31 of 69 Adelie): what guessing achieves.
SAMPLE_MAJORITY_ACCURACY = 31 / 69
ERROR_PREFIX = "trainer.task: error:"

if str(TRAINER_ROOT) not in sys.path:
    sys.path.insert(0, str(TRAINER_ROOT))


def trainer_args(output_dir: Path, *extra: str) -> list[str]:
    """Flags for a short run on the sample data, writing under ``output_dir``."""
    return [
        "--train-data", str(SAMPLE_TRAIN),
        "--val-data", str(SAMPLE_VAL),
        "--model-dir", str(output_dir / "model"),
        "--checkpoint-dir", str(output_dir / "checkpoints"),
        "--epochs", "3",
        *extra,
    ]  # fmt: skip


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for ``python -m trainer.task``, without Vertex/torchrun variables
    that might leak in from the machine running the tests."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIP_", "CLUSTER_SPEC", "CLOUD_ML_"))
        and name not in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK")
    }
    env["PYTHONPATH"] = str(TRAINER_ROOT)
    env["CUDA_VISIBLE_DEVICES"] = ""  # subprocess runs are CPU runs, even on a GPU host
    env.update(overrides)
    return env


def start_trainer(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trainer.task", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_trainer(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
    process = start_trainer(args, env)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def error_lines(stderr: str) -> list[str]:
    """The trainer's own error lines (the interpreter may add unrelated warnings)."""
    return [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def read_metrics_file(path: Path) -> list[dict[str, str]]:
    """cloudml-hypertune writes one JSON object per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
