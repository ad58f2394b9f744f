"""Two `python -m trainer.task` processes join one gloo process group through the
CLUSTER_SPEC that Vertex would give them (chief in workerpool0, one worker in
workerpool1), as two replicas of a CPU job; and how replicas leave the group.

benchmarks/distributed_repeat.py runs this file many times, to show that the replicas'
shutdown does not fail now and then."""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.trainer import (
    free_port,
    read_metrics_file,
    start_trainer,
    subprocess_env,
    threads_at_exit,
    trainer_args,
)

RANKS = (0, 1)
FINAL_METRIC = re.compile(r"final accuracy (\d\.\d+)")
# Threads of a live gloo process group: its work loops, gloo's TCP event loop, and the
# TCPStore server on rank 0 (torch names them pt_gloo_runloop, gloo_tcp_loop,
# pt_tcpstore_uv).
PROCESS_GROUP_THREAD = re.compile(r"gloo|tcpstore")


def process_group_threads(names: list[str]) -> list[str]:
    return [name for name in names if PROCESS_GROUP_THREAD.search(name)]


@dataclass
class ReplicaRun:
    returncode: int
    stdout: str
    stderr: str
    output_dir: Path
    metrics_file: Path

    def final_metric(self) -> str:
        return FINAL_METRIC.findall(self.stdout)[-1]

    def process_group_threads_at_exit(self) -> list[str]:
        return process_group_threads(threads_at_exit(self.stderr))


def run_two_replicas(base_dir: Path, epochs: int) -> list[ReplicaRun]:
    """Start the chief and the worker at once; each gets its own output directories,
    so anything the worker wrote would show."""
    cluster = {"workerpool0": [f"127.0.0.1:{free_port()}"], "workerpool1": ["127.0.0.1:0"]}
    processes = []
    for rank, task in zip(RANKS, [("workerpool0", 0), ("workerpool1", 0)], strict=True):
        output_dir = base_dir / f"replica{rank}"
        spec = {"cluster": cluster, "task": {"type": task[0], "index": task[1]}}
        env = subprocess_env(
            CLUSTER_SPEC=json.dumps(spec),
            CLOUD_ML_HP_METRIC_FILE=str(output_dir / "hypertune" / "output.metrics"),
            OMP_NUM_THREADS="1",  # two replicas share the test machine's cores
        )
        args = trainer_args(output_dir, "--epochs", str(epochs), "--batch-size", "16")
        processes.append((start_trainer(args, env, report_threads=True), output_dir))
    runs = []
    for process, output_dir in processes:
        stdout, stderr = process.communicate(timeout=180)
        metrics = output_dir / "hypertune" / "output.metrics"
        runs.append(ReplicaRun(process.returncode, stdout, stderr, output_dir, metrics))
    return runs


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory: pytest.TempPathFactory) -> list[ReplicaRun]:
    return run_two_replicas(tmp_path_factory.mktemp("ddp"), epochs=2)


def test_both_replicas_finish_in_one_world_of_two(first_runs: list[ReplicaRun]) -> None:
    for rank, run in zip(RANKS, first_runs, strict=True):
        assert run.returncode == 0, run.stderr
        assert f"trainer.rank{rank}: device cpu, precision fp32, world size 2" in run.stdout


def test_replicas_shut_down_with_the_process_group_closed(
    first_runs: list[ReplicaRun],
) -> None:
    """When the interpreter starts shutting down, destroy_process_group has really
    closed the group. A group left alive (as when torch.distributed.nn.functional, which
    binds group.WORLD as a default argument, was first imported by DDP after the group
    existed) keeps its C++ threads running into interpreter teardown, where a replica
    now and then died with SIGABRT, "terminate called without an active exception"."""
    for run in first_runs:
        assert run.returncode == 0, run.stderr
        assert run.process_group_threads_at_exit() == [], run.stderr


def test_replicas_agree_on_the_metric(first_runs: list[ReplicaRun]) -> None:
    chief, worker = first_runs
    assert chief.final_metric() == worker.final_metric()
    reported = read_metrics_file(chief.metrics_file)[-1]
    assert float(reported["accuracy"]) == pytest.approx(float(chief.final_metric()), abs=1e-6)
    assert float(chief.final_metric()) >= 0.8


def test_only_the_chief_writes_model_checkpoints_and_metrics(
    first_runs: list[ReplicaRun],
) -> None:
    chief, worker = first_runs
    assert (chief.output_dir / "model" / "model.pt").is_file()
    assert len(list((chief.output_dir / "checkpoints").glob("*.pt"))) == 2
    assert not (worker.output_dir / "model").exists()
    assert not (worker.output_dir / "checkpoints").exists()
    assert not worker.metrics_file.exists()


def test_restarted_replicas_resume_from_the_chiefs_checkpoint(
    first_runs: list[ReplicaRun],
) -> None:
    """The worker's own checkpoint directory is empty: it resumes from the state the
    chief broadcasts, so both continue at the same epoch."""
    base_dir = first_runs[0].output_dir.parent
    chief, worker = run_two_replicas(base_dir, epochs=3)
    for run in (chief, worker):
        assert run.returncode == 0, run.stderr
        assert run.process_group_threads_at_exit() == [], run.stderr
        assert "resuming from the epoch 2 checkpoint at epoch 3" in run.stdout
        assert "epoch 1/3" not in run.stdout and "epoch 3/3" in run.stdout
    assert chief.final_metric() == worker.final_metric()


# --- leaving the process group ----------------------------------------------------------

# One rank of a two-rank group: with "ddp", a DDP step as in training (DDP's constructor
# imports torch.distributed.nn.functional); then, after ``delay`` seconds (the chief
# writing the model), stop_process_group. Prints what it saw as JSON.
PEER_SCRIPT = """
import json, os, sys, time
import torch
from torch.nn.parallel import DistributedDataParallel
from trainer.distributed import ProcessGroupSpec, start_process_group, stop_process_group

rank, port, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
outcome, ddp = sys.argv[4], sys.argv[5] == "ddp"
def threads():
    tasks = os.listdir("/proc/self/task")
    return [open(f"/proc/self/task/{task}/comm").read().strip() for task in tasks]
collective = start_process_group(ProcessGroupSpec("127.0.0.1", port, 2, rank), torch.device("cpu"))
if ddp:
    model = DistributedDataParallel(torch.nn.Linear(4, 2))
    model(torch.randn(8, 4)).sum().backward()
    del model
else:
    collective.all_reduce_sum(torch.ones(1))
report = {"threads_in_group": threads()}
time.sleep(delay)
report["arrived"] = time.time()
try:
    stop_process_group(collective, completed=outcome == "completed")
except RuntimeError as error:
    report["error"] = str(error)
report["left"] = time.time()
report["threads_after"] = threads()
print(json.dumps(report))
"""


def run_peers(
    delays: tuple[float, float], outcomes: tuple[str, str], step: str = "ddp"
) -> list[dict]:
    port = str(free_port())
    env = subprocess_env(OMP_NUM_THREADS="1")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PEER_SCRIPT, str(rank), port, str(delay), outcome, step],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank, delay, outcome in zip(RANKS, delays, outcomes, strict=True)
    ]
    reports = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        reports.append(json.loads(stdout.splitlines()[-1]))
    return reports


def test_after_a_completed_run_ranks_leave_together_and_close_the_group() -> None:
    """The worker reaches the end first but waits at the barrier until the chief, busy
    writing its outputs for half a second, arrives too; then both really close the group."""
    chief_delay = 0.5
    chief, worker = run_peers((chief_delay, 0.0), ("completed", "completed"))
    assert "error" not in chief and "error" not in worker
    assert worker["left"] >= chief["arrived"]
    assert worker["left"] - worker["arrived"] >= chief_delay / 2
    for report in (chief, worker):
        assert process_group_threads(report["threads_in_group"])  # the names still match
        assert process_group_threads(report["threads_after"]) == []


def test_a_failed_rank_leaves_at_once_and_its_peer_fails_fast() -> None:
    """A rank that failed does not wait at the barrier (its peers may be in another
    collective); the chief's barrier then fails at once, not after the group timeout."""
    chief, worker = run_peers((0.5, 0.0), ("completed", "failed"), step="all_reduce")
    assert worker["left"] - worker["arrived"] < 5
    assert "error" not in worker
    assert "error" in chief, "the chief's barrier should fail: its peer is gone"
    assert chief["left"] - chief["arrived"] < 30
    for report in (chief, worker):
        assert process_group_threads(report["threads_after"]) == []
