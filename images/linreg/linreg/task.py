"""Fit y = w*x + b to synthetic data by gradient descent; report the validation MSE.

    python -m linreg.task --learning-rate 0.1 --steps 200 [--schedule decay] [--seed 0]
        [--model-dir DIR]   # default: AIP_MODEL_DIR; local, /gcs/... or gs://

The objective goes to cloudml-hypertune under the tag `mse` (Vertex sets
CLOUD_ML_HP_METRIC_FILE for tuning trials). The fitted model is written as model.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from pathlib import Path

METRIC_TAG = "mse"
TRUE_WEIGHT, TRUE_BIAS, NOISE = 3.0, -1.0, 0.1
ROWS, VALIDATION_ROWS = 200, 40
REPORTS = 10  # measurements per run, for Vertex's early stopping
DIVERGED = 1e6  # a validation MSE this many times the untrained one ends the run


def whole_number(text: str) -> int:
    """An integer, also written as an integral float: Vertex may pass an INTEGER or DISCRETE
    trial value as `32.0` (googleapis/python-aiplatform#866)."""
    value = float(text)
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def build_parser(environ: dict[str, str] | os._Environ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linreg.task", description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--steps", type=whole_number, default=200)
    parser.add_argument("--schedule", choices=("constant", "decay"), default="constant")
    parser.add_argument("--seed", type=whole_number, default=0)
    parser.add_argument("--model-dir", default=environ.get("AIP_MODEL_DIR"))
    return parser


def synthetic_data(seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(ROWS):
        x = rng.uniform(-1.0, 1.0)
        rows.append((x, TRUE_WEIGHT * x + TRUE_BIAS + rng.gauss(0.0, NOISE)))
    return rows


def mse(rows: list[tuple[float, float]], weight: float, bias: float) -> float:
    return sum((weight * x + bias - y) ** 2 for x, y in rows) / len(rows)


def fit(args: argparse.Namespace, report) -> tuple[float, float, float]:
    """Full-batch gradient descent; `report(step, validation_mse)` REPORTS times."""
    rows = synthetic_data(args.seed)
    train, validation = rows[VALIDATION_ROWS:], rows[:VALIDATION_ROWS]
    weight = bias = 0.0
    every = max(1, args.steps // REPORTS)
    untrained = loss = mse(validation, weight, bias)
    for step in range(1, args.steps + 1):
        rate = (
            args.learning_rate / (1 + step / 50) if args.schedule == "decay" else args.learning_rate
        )
        grad_w = sum(2 * (weight * x + bias - y) * x for x, y in train) / len(train)
        grad_b = sum(2 * (weight * x + bias - y) for x, y in train) / len(train)
        weight, bias = weight - rate * grad_w, bias - rate * grad_b
        if step % every == 0 or step == args.steps:
            loss = mse(validation, weight, bias)
            if not math.isfinite(loss) or loss > DIVERGED * untrained:
                raise SystemExit(
                    f"linreg.task: error: diverged at step {step} "
                    f"(--learning-rate {args.learning_rate} is too large)"
                )
            report(step, loss)
    return weight, bias, loss


def write_model(model_dir: str, model: dict) -> None:
    text = json.dumps(model)
    if model_dir.startswith("gs://"):
        fuse = Path("/gcs") / model_dir.removeprefix("gs://")
        if not Path("/gcs").is_dir():  # outside Vertex's Cloud Storage FUSE mount
            from google.cloud import storage

            bucket, _, prefix = model_dir.removeprefix("gs://").partition("/")
            blob = (
                storage.Client().bucket(bucket).blob(f"{prefix.rstrip('/')}/model.json".lstrip("/"))
            )
            blob.upload_from_string(text, content_type="application/json")
            return
        model_dir = str(fuse)
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    (Path(model_dir) / "model.json").write_text(text)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(os.environ).parse_args(argv)
    import hypertune

    tuner = hypertune.HyperTune()  # one instance: it keeps every measurement of the run

    def report(step: int, loss: float) -> None:
        tuner.report_hyperparameter_tuning_metric(
            hyperparameter_metric_tag=METRIC_TAG, metric_value=loss, global_step=step
        )
        print(f"step {step}: validation {METRIC_TAG} {loss:.6f}", flush=True)

    weight, bias, loss = fit(args, report)
    if args.model_dir:
        write_model(args.model_dir, {"weight": weight, "bias": bias, METRIC_TAG: loss})
    return 0


if __name__ == "__main__":
    sys.exit(main())
