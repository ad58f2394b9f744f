"""How fast the Vertex AI JobService emulator turns requests into processes.

Starts `python -m vertex_emulator serve` on a temporary root (running the tests' probe app,
tests/vertex_emulator/apps/probe, a no-op that reports one metric) and prints:

- submit -> RUNNING latency of a CustomJob: from the create call to the first get that
  says RUNNING (client view), and start_time - create_time (the emulator's own record);
- the emulator's overhead per trial: a tuning job's wall time per trial (parallel 1)
  minus the median time of the same probe command run bare by this script (before the
  emulator starts);
- trials per minute of a tuning job with --parallel trials at a time.

    python benchmarks/emulator_latency.py                 # 10 jobs, 12 trials, parallel 4
    python benchmarks/emulator_latency.py --jobs 20 --trials 40 --parallel 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.harness.emulator import (  # noqa: E402
    APPS_DIR,
    PARENT,
    probe_custom_job,
    probe_job_spec,
    start_emulator,
    wait_for_job,
)
from vertex_jobs.api import Endpoint, make_job_client  # noqa: E402

POLL_S = 0.005


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="CustomJobs for the latency")
    parser.add_argument("--trials", type=int, default=12, help="trials per tuning job")
    parser.add_argument("--parallel", type=int, default=4, help="parallel trials (throughput)")
    return parser.parse_args()


def _seconds(later, earlier) -> float:
    return (later - earlier).total_seconds()


def submit_to_running(client, jobs: int) -> tuple[list[float], list[float]]:
    observed, recorded = [], []
    for _ in range(jobs):
        began = time.perf_counter()
        job = client.create_custom_job(parent=PARENT, custom_job=probe_custom_job("--sleep", "3"))
        while client.get_custom_job(name=job.name).state.name != "JOB_STATE_RUNNING":
            time.sleep(POLL_S)
        observed.append(time.perf_counter() - began)
        running = client.get_custom_job(name=job.name)
        recorded.append(_seconds(running.start_time, running.create_time))
        client.cancel_custom_job(name=job.name)
    return observed, recorded


def tuning_job(client, trials: int, parallel: int):
    request = {
        "display_name": "benchmark",
        "study_spec": {
            "metrics": [{"metric_id": "score", "goal": "MAXIMIZE"}],
            "parameters": [
                {"parameter_id": "x", "double_value_spec": {"min_value": 0, "max_value": 1}}
            ],
            "algorithm": "RANDOM_SEARCH",
        },
        "max_trial_count": trials,
        "parallel_trial_count": parallel,
        "trial_job_spec": probe_job_spec(),
    }
    job = client.create_hyperparameter_tuning_job(parent=PARENT, hyperparameter_tuning_job=request)
    done = wait_for_job(client.get_hyperparameter_tuning_job, job.name, timeout_s=3600)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    return done


def bare_probe_seconds(runs: int, root: Path) -> float:
    """The probe as the emulator runs a trial, without the emulator: its own cost (median)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(APPS_DIR / "probe"),
        "CLOUD_ML_HP_METRIC_FILE": str(root / "bare" / "output.metrics"),
    }
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "probe", "--x=0.5"],
            cwd=APPS_DIR / "probe", env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="emulator-bench-") as tmp:
        root = Path(tmp)
        bare = bare_probe_seconds(args.trials, root)  # before the emulator loads the CPUs
        emulator = start_emulator(root / "emulator", "--apps-dir", str(APPS_DIR))
        try:
            with make_job_client(Endpoint(emulator.address, insecure=True)) as client:
                observed, recorded = submit_to_running(client, args.jobs)
                serial = tuning_job(client, args.trials, 1)
                parallel = tuning_job(client, args.trials, args.parallel)
        finally:
            emulator.stop()
    # Wall time per trial at parallel 1: the probe's own run plus what the emulator adds
    # (planning, spawning, watching at POLL_S intervals, reading the metrics, storing).
    per_trial = _seconds(serial.end_time, serial.start_time) / args.trials
    wall = _seconds(parallel.end_time, parallel.start_time)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(
        f"submit -> RUNNING ({args.jobs} CustomJobs): client median "
        f"{statistics.median(observed) * 1000:.0f} ms, max {max(observed) * 1000:.0f} ms; "
        f"start_time - create_time median {statistics.median(recorded) * 1000:.0f} ms"
    )
    print(
        f"per trial (parallel 1, {args.trials} trials): {per_trial * 1000:.0f} ms, of which the "
        f"probe itself {bare * 1000:.0f} ms: emulator overhead {(per_trial - bare) * 1000:.0f} ms"
    )
    print(
        f"throughput (parallel {args.parallel}, {args.trials} trials): "
        f"{args.trials / wall * 60:.0f} trials per minute ({wall:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
