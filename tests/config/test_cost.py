"""`config.cost`: each job's worst-case accelerator hours, and the stack's total, from config
alone (the `acceleratorHours` output; the stacks' values: tests/components/test_jobs.py)."""

from __future__ import annotations

import pytest

from config.cost import accelerator_hours, job_accelerator_hours, pool_accelerators
from config.jobs import Job, WorkerPool

L4 = {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1}
A100 = {
    "machineType": "a2-highgpu-2g",
    "acceleratorType": "NVIDIA_TESLA_A100",
    "acceleratorCount": 2,
}
STUDY = {
    "metric": {"id": "accuracy"},
    "parameters": [{"id": "learning-rate", "type": "double", "min": 0.001, "max": 0.1}],
    "maxTrialCount": 10,
}


def _job(name="j", image="penguins-gpu", **fields) -> Job:
    return Job.model_validate({"name": name, "image": image, **fields})


def test_a_cpu_job_uses_no_accelerator_hours():
    job = _job(image="penguins-cpu", workerPools=[{"machineType": "n1-standard-8"}], timeout="1d")
    assert job_accelerator_hours(job) == 0


def test_accelerators_times_replicas_times_timeout_hours():
    job = _job(workerPools=[A100, {**A100, "replicaCount": 3}], timeout="90m")
    assert job_accelerator_hours(job) == (2 * 1 + 2 * 3) * 1.5


def test_a_tuning_job_counts_every_trial():
    job = _job(workerPools=[L4], timeout="2h", study=STUDY)
    assert job_accelerator_hours(job) == 1 * 2 * 10


def test_tpu_pools_count_the_chips_of_their_topology():
    pool = WorkerPool.model_validate({"machineType": "ct5lp-hightpu-4t", "tpuTopology": "2x2"})
    assert pool_accelerators(pool) == 4


def test_the_stack_total_is_the_sum_of_its_jobs():
    jobs = [
        _job("train", workerPools=[L4], timeout="4h"),
        _job("tune", workerPools=[L4], timeout="6h", study={**STUDY, "maxTrialCount": 40}),
        _job("cpu", image="penguins-cpu", timeout="30m"),
        _job("short", workerPools=[L4], timeout="20m"),
    ]
    hours = accelerator_hours(jobs)
    assert hours == {
        "total": 244.33,
        "byJob": {"train": 4, "tune": 240, "cpu": 0, "short": 0.33},
    }
    assert isinstance(hours["byJob"]["train"], int)  # whole hours print as whole numbers


def test_no_jobs_no_hours():
    assert accelerator_hours([]) == {"total": 0, "byJob": {}}


@pytest.mark.parametrize("timeout", ["3600s", "60m", "1h"])
def test_every_duration_unit_counts_the_same(timeout):
    assert job_accelerator_hours(_job(workerPools=[L4], timeout=timeout)) == 1
