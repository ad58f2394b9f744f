"""Shared helpers for the trainer tests: paths, CLI and in-process runs (with directory access
taken away where a test needs it), and the metrics file format.

Importing this module puts ``images/penguins`` on sys.path, so ``import trainer`` finds
the package the images ship (the lead's conftest.py is left alone).
"""

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

PROJECT_DIR = Path(__file__).resolve().parents[2]
TRAINER_ROOT = PROJECT_DIR / "images" / "penguins"
SAMPLE_TRAIN = TRAINER_ROOT / "sample_data" / "train.csv"
SAMPLE_VAL = TRAINER_ROOT / "sample_data" / "val.csv"
SAMPLE_TRAIN_ROWS = 273
# Share of the most common class in val.csv (31 of 69 Adelie): what guessing achieves.
SAMPLE_MAJORITY_ACCURACY = 31 / 69
ERROR_PREFIX = "trainer.task: error:"

if str(TRAINER_ROOT) not in sys.path:
    sys.path.insert(0, str(TRAINER_ROOT))

if TYPE_CHECKING:  # torch is imported only by the tests that train
    from trainer.task import TrainingOutcome


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


@dataclass(frozen=True)
class DeniedDir:
    """A directory the trainer must not be able to use: ``read-only`` (entries cannot be
    created in it) or ``no-access`` (mode 000: nothing under it can even be looked up, so
    ``Path.is_dir()`` of a child raises PermissionError)."""

    path: Path
    kind: str


RUNNING_AS_ROOT = os.geteuid() == 0
# As root, permission bits deny nothing, so the trainer subprocess gets the same errors
# from a wrapper around os.stat/os.mkdir/os.open instead (errno EACCES, as the kernel
# would give a non-root user). The trainer's code is the same either way.
_DENY_BOOTSTRAP = """
import errno, os, runpy
denied_root = os.environ.pop("TRAINER_TEST_DENIED_DIR")
read_only = os.environ.pop("TRAINER_TEST_DENIED_KIND") == "read-only"
real_stat, real_mkdir, real_open = os.stat, os.mkdir, os.open
def check(path, writing):
    if isinstance(path, int):
        return
    name = os.path.abspath(os.fsdecode(os.fspath(path)))
    if name.startswith(denied_root + os.sep) and (writing or not read_only):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
def stat(path, *args, **kwargs):
    check(path, False)
    return real_stat(path, *args, **kwargs)
def mkdir(path, *args, **kwargs):
    check(path, True)
    return real_mkdir(path, *args, **kwargs)
def open_(path, flags, *args, **kwargs):
    check(path, bool(flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR)))
    return real_open(path, flags, *args, **kwargs)
os.stat, os.mkdir, os.open = stat, mkdir, open_
runpy.run_module("trainer.task", run_name="__main__", alter_sys=True)
"""


# Runs trainer.task as ``python -m trainer.task`` does, then, once the interpreter starts
# shutting down (atexit: main() has returned, Python threads are joined), prints the
# names of the process's threads still running, C++ ones included, to stderr.
THREADS_AT_EXIT_PREFIX = "threads at exit: "
_THREADS_AT_EXIT_BOOTSTRAP = f"""
import atexit, os, runpy, sys
def report():
    names = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{{task}}/comm") as comm:
            names.append(comm.read().strip())
    print({THREADS_AT_EXIT_PREFIX!r} + ",".join(sorted(names)), file=sys.stderr, flush=True)
atexit.register(report)
runpy.run_module("trainer.task", run_name="__main__", alter_sys=True)
"""


def threads_at_exit(stderr: str) -> list[str]:
    """Thread names reported by a trainer started with ``report_threads=True``."""
    lines = [line for line in stderr.splitlines() if line.startswith(THREADS_AT_EXIT_PREFIX)]
    assert len(lines) == 1, f"no thread report in stderr:\n{stderr}"
    return lines[0].removeprefix(THREADS_AT_EXIT_PREFIX).split(",")


@contextmanager
def denied_dir(path: Path, kind: str) -> Iterator[DeniedDir]:
    """Create ``path`` and take the access away: by its mode for a non-root user, by the
    subprocess wrapper (see run_trainer) for root. Restores the mode afterwards."""
    assert kind in ("read-only", "no-access"), kind
    path.mkdir(parents=True, exist_ok=True)
    if not RUNNING_AS_ROOT:
        path.chmod(0o555 if kind == "read-only" else 0o000)
    try:
        yield DeniedDir(path, kind)
    finally:
        path.chmod(0o755)


def start_trainer(
    args: list[str],
    env: dict[str, str],
    denied: DeniedDir | None = None,
    report_threads: bool = False,
) -> subprocess.Popen:
    """``python -m trainer.task``; with ``report_threads``, through a wrapper that lists
    the threads left at interpreter shutdown (see threads_at_exit; Linux only)."""
    command = [sys.executable, "-m", "trainer.task", *args]
    if report_threads:
        assert denied is None, "one wrapper at a time"
        command = [sys.executable, "-c", _THREADS_AT_EXIT_BOOTSTRAP, *args]
    if denied is not None and RUNNING_AS_ROOT:
        command = [sys.executable, "-c", _DENY_BOOTSTRAP, *args]
        env = {
            **env,
            "TRAINER_TEST_DENIED_DIR": str(denied.path.resolve()),
            "TRAINER_TEST_DENIED_KIND": denied.kind,
        }
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_trainer(
    args: list[str], env: dict[str, str], timeout: float = 120, denied: DeniedDir | None = None
) -> tuple[int, str, str]:
    process = start_trainer(args, env, denied)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def train_in_process(output_dir: Path, *extra: str) -> "TrainingOutcome":
    """A short run of ``trainer.task.train`` on the sample data; returns its outcome."""
    from trainer.config import parse_args
    from trainer.task import train

    return train(parse_args(trainer_args(output_dir, *extra), environ={}), environ={})


def checkpoint_names(output_dir: Path) -> list[str]:
    return sorted(path.name for path in (output_dir / "checkpoints").glob("*.pt"))


def error_lines(stderr: str) -> list[str]:
    """The trainer's own error lines (the interpreter may add unrelated warnings)."""
    return [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def read_metrics_file(path: Path) -> list[dict[str, str]]:
    """cloudml-hypertune writes one JSON object per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class GcsEmulator:
    """gcp-storage-emulator running in this process (see ``gcs_emulator``)."""

    url: str

    def client(self):  # -> google.cloud.storage.Client, for the test's own uploads
        from google.cloud import storage

        return storage.Client()

    def upload(self, bucket: str, objects: dict[str, bytes]) -> None:
        """Create ``bucket`` (if needed) and write each object name -> bytes into it."""
        client = self.client()
        target = client.lookup_bucket(bucket) or client.create_bucket(bucket)
        for name, data in objects.items():
            target.blob(name).upload_from_string(data)


@contextmanager
def gcs_emulator() -> Iterator[GcsEmulator]:
    """An in-memory Cloud Storage emulator on a free port. The caller points
    STORAGE_EMULATOR_HOST at ``.url``, as the local Vertex emulator does for every
    replica; google-cloud-storage then talks to it without credentials."""
    from gcp_storage_emulator.server import create_server

    server = create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    try:
        port = server._api._httpd.server_address[1]  # port 0: the one the OS picked
        yield GcsEmulator(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
