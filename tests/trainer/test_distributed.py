"""Two `python -m trainer.task` processes join one gloo process group through the
CLUSTER_SPEC that Vertex would give them (chief in workerpool0, one worker in
workerpool1), as two replicas of a CPU job."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.trainer import (
    free_port,
    read_metrics_file,
    start_trainer,
    subprocess_env,
    trainer_args,
)

RANKS = (0, 1)
FINAL_METRIC = re.compile(r"final accuracy (\d\.\d+)")


@dataclass
class ReplicaRun:
    returncode: int
    stdout: str
    stderr: str
    output_dir: Path
    metrics_file: Path

    def final_metric(self) -> str:
        return FINAL_METRIC.findall(self.stdout)[-1]


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
        processes.append((start_trainer(args, env), output_dir))
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
        assert f"trainer.rank{rank}: device cpu, autocast None, world size 2" in run.stdout


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
        assert "resuming from the epoch 2 checkpoint at epoch 3" in run.stdout
        assert "epoch 1/3" not in run.stdout and "epoch 3/3" in run.stdout
    assert chief.final_metric() == worker.final_metric()
