"""The stack's worst-case accelerator use, from its config alone: the `acceleratorHours` output.

Known before anything runs (at `pulumi preview`, so the PR comment shows it), because every
factor is a config value: for each job, the accelerators of each worker pool times its
replicas, times the job's `timeout` in hours (Vertex stops a job at `scheduling.timeout`),
times `maxTrialCount` for a tuning job (each trial is a run of the trial job spec, up to the
same timeout). Parallelism changes when the hours are spent, not how many; a tuning job's
early stopping and study stopping rules can only make it use fewer. TPU pools count chips:
a TPU machine type carries its chips (`catalogue.TPU_SINGLE_HOST_TOPOLOGY`), so a pool's
chips are its topology's product.

The policy pack's `cost-accelerator-hours-ceiling` computes the same total from the job
resources (it cannot import this); tests/policy/test_cost.py checks they agree on every
shipped stack.
"""

from __future__ import annotations

import math
from typing import Any

from config import catalogue
from config.jobs import Job, WorkerPool

SECONDS_PER_HOUR = 3600


def pool_accelerators(pool: WorkerPool) -> int:
    """Accelerators (GPUs, or TPU chips) of one replica of the pool."""
    if pool.accelerator_count:
        return pool.accelerator_count
    topology = getattr(pool, "tpu_topology", None) or catalogue.TPU_SINGLE_HOST_TOPOLOGY.get(
        pool.machine_type
    )
    if topology:
        return math.prod(int(side) for side in topology.split("x"))
    return 0


def job_accelerator_hours(job: Job) -> float:
    """The most accelerator hours the job can use: every pool's accelerators times its
    replicas, for the whole timeout, for every trial."""
    per_run = sum(pool_accelerators(pool) * pool.replica_count for pool in job.worker_pools)
    runs = job.study.max_trial_count if job.study else 1
    return per_run * job.timeout_seconds / SECONDS_PER_HOUR * runs


def accelerator_hours(jobs: list[Job]) -> dict[str, Any]:
    """`{total, byJob}`: worst-case accelerator hours of the stack and of each job."""
    by_job = {job.name: _number(job_accelerator_hours(job)) for job in jobs}
    return {"total": _number(sum(by_job.values())), "byJob": by_job}


def _number(hours: float) -> float | int:
    """Whole hours as an int, others rounded to the hundredth (a 90m timeout is 1.5 h)."""
    rounded = round(float(hours), 2)
    return int(rounded) if rounded.is_integer() else rounded
