"""Say where the local stack's jobs put their models (the last step of scripts/local_up.sh).

Reads the stack outputs (`pulumi stack output --json`) on stdin and prints, per job, its
state and its model directory: as a `gs://` URI in the storage emulator, and as the
directory on this machine where the emulator keeps that object (gcp-storage-emulator's
layout, `<root>/gcs/.cloudstorage/<bucket>/<object>`). For a tuning job, the best trial's.

    pulumi stack output --json -s local | python scripts/local_models.py --root DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

# Vertex AI's layout under a job's base output directory (AIP_MODEL_DIR): `model/` for a
# CustomJob, `<trial id>/model/` for each trial of a tuning job
# (cloud.google.com/vertex-ai/docs/training/code-requirements#environment-variables).
MODEL_DIR = "model/"


def output_prefix(bucket: str, job: str) -> str:
    """The job's base output directory, as components/jobs.py sets it."""
    return f"gs://{bucket}/jobs/{job}/"


def model_uri(bucket: str, job: str, summary: dict[str, Any]) -> str | None:
    """Where the job's model is: its own, or its best trial's; None for a tuning job that
    has no best trial (yet)."""
    if "trials" not in summary:
        return output_prefix(bucket, job) + MODEL_DIR
    best = summary.get("best_trial")
    return f"{output_prefix(bucket, job)}{best['id']}/{MODEL_DIR}" if best else None


def on_disk(root: Path, uri: str) -> Path:
    return root / "gcs" / ".cloudstorage" / uri.removeprefix("gs://")


def log_dir(root: Path, job_name: str) -> Path:
    """Where the emulator writes the job's replica logs (vertex_emulator/runner.py's layout:
    `jobs/<job id>/logs/`, and `jobs/<job id>/trials/<trial id>/logs/` per trial)."""
    return root / "jobs" / job_name.rsplit("/", 1)[-1]


def report(outputs: dict[str, Any], root: Path, out: TextIO) -> None:
    bucket = outputs["outputBucket"]
    jobs = outputs.get("jobs") or {}
    if not jobs:
        print("The local stack declares no jobs (vertex-training:jobs).", file=out)
        return
    for job, summary in sorted(jobs.items()):
        state = str(summary.get("state", "")).removeprefix("JOB_STATE_")
        print(f"{job}: {state}", file=out)
        if summary.get("error"):
            print(f"  error: {summary['error'].get('message')}", file=out)
        if summary.get("name"):
            print(f"  logs: {log_dir(root, summary['name'])}", file=out)
        best = summary.get("best_trial")
        if best:
            metric = f"{best.get('metric_id')} {best.get('metric_value')}"
            print(f"  best trial: {best['id']} ({metric}) {best.get('parameters')}", file=out)
        uri = model_uri(bucket, job, summary)
        if uri is None:
            print("  model: none yet (no trial succeeded so far)", file=out)
            continue
        path = on_disk(root, uri)
        found = "" if path.is_dir() else " (not there yet)"
        print(f"  model: {uri}\n         {path}{found}", file=out)
    print(
        "Refresh the states: PULUMI_BACKEND_URL=file://$PWD/.vtrain-local/state "
        "pulumi refresh -s local",
        file=out,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="the emulator's --root")
    args = parser.parse_args(argv)
    report(json.load(sys.stdin), args.root.resolve(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
