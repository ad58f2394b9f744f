"""Command-line flags: one per hyperparameter, so Vertex can pass trial values as args."""

import argparse
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from trainer.errors import TrainerError

DEFAULT_LABEL_COLUMN = "species"
DEFAULT_METRIC_TAG = "accuracy"
PRECISION_CHOICES = ("auto", "tf32", "bf16", "fp32")
# Set by Vertex when a custom training pipeline is given a managed data set; for CSV and
# JSONL exports the URI is a wildcard over shards, e.g. gs://bucket/path/training-*
# (https://cloud.google.com/vertex-ai/docs/training/using-managed-datasets).
TRAINING_DATA_VARIABLE = "AIP_TRAINING_DATA_URI"
VALIDATION_DATA_VARIABLE = "AIP_VALIDATION_DATA_URI"

Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class TrainingConfig:
    train_data: str
    val_data: str
    label_column: str
    learning_rate: float
    batch_size: int
    hidden_units: tuple[int, ...]
    epochs: int
    weight_decay: float
    dropout: float
    seed: int
    metric_tag: str
    precision: str
    model_dir: str
    checkpoint_dir: str | None
    tensorboard_dir: str | None


class _OneLineErrorParser(argparse.ArgumentParser):
    """Turns argparse's usage-plus-message exit into a TrainerError (one stderr line)."""

    def error(self, message: str) -> NoReturn:
        raise TrainerError(message)


def _checked(
    parse: Callable[[str], Number], is_valid: Callable[[Number], bool], rule: str
) -> Callable[[str], Number]:
    """An argparse ``type`` that parses, checks a rule, and names the rule on failure."""

    def convert(text: str) -> Number:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}") from None
        if not is_valid(value):
            raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}")
        return value

    return convert


def whole_number(text: str) -> int:
    """An integer, also when written as an integral float: ``"32"`` or ``"32.0"``.

    Vertex passes the trial values of INTEGER and DISCRETE parameters as numbers, and they
    can reach the command line as ``32.0`` (googleapis/python-aiplatform#866: integer
    specs come back as doubles), so a plain ``int()`` would fail every trial. ``32.5``,
    ``inf`` and ``nan`` still raise ValueError.
    """
    try:
        return int(text)
    except ValueError:
        value = float(text)  # ValueError for non-numbers, as int() would raise
        if not value.is_integer():  # also False for inf and nan
            raise ValueError(f"{text!r} is not a whole number") from None
        return int(value)


positive_float = _checked(float, lambda value: 0 < value < math.inf, "a number > 0")
non_negative_float = _checked(float, lambda value: 0 <= value < math.inf, "a number >= 0")
dropout_probability = _checked(float, lambda value: 0 <= value < 1, "a number in [0, 1)")
positive_int = _checked(whole_number, lambda value: value > 0, "an integer > 0")
any_int = _checked(whole_number, lambda value: True, "an integer")


def hidden_layer_sizes(text: str) -> tuple[int, ...]:
    """``"64"`` or ``"128,64"``: one positive width per hidden layer. Widths may be
    integral floats (``"64.0"``), as a tuned INTEGER parameter arrives."""
    try:
        sizes = tuple(whole_number(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers > 0 (e.g. 64 or 128,64), got {text!r}"
        )
    return sizes


def non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(
        prog="trainer.task",
        description="Train an MLP classifier on tabular CSV or Parquet data.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--train-data",
        default=environ.get(TRAINING_DATA_VARIABLE),
        help=f"CSV/Parquet path, gs:// URI or wildcard pattern; env {TRAINING_DATA_VARIABLE}",
    )
    data.add_argument(
        "--val-data",
        default=environ.get(VALIDATION_DATA_VARIABLE),
        help=f"like --train-data; env {VALIDATION_DATA_VARIABLE}",
    )
    data.add_argument(
        "--label-column", type=non_empty, default=DEFAULT_LABEL_COLUMN, help="class label column"
    )

    hyper = parser.add_argument_group("hyperparameters")
    hyper.add_argument("--learning-rate", type=positive_float, default=1e-2, help="AdamW lr")
    hyper.add_argument(
        "--batch-size", type=positive_int, default=32, help="rows per step per replica"
    )
    hyper.add_argument(
        "--hidden-units", type=hidden_layer_sizes, default="64,64", help="e.g. 64 or 128,64"
    )
    hyper.add_argument("--epochs", type=positive_int, default=30, help="passes over the data")
    hyper.add_argument(
        "--weight-decay", type=non_negative_float, default=1e-4, help="AdamW weight decay"
    )
    hyper.add_argument(
        "--dropout", type=dropout_probability, default=0.1, help="after each hidden layer"
    )
    hyper.add_argument("--seed", type=any_int, default=0, help="weights, shuffling and dropout")

    run = parser.add_argument_group("run")
    run.add_argument(
        "--metric-tag",
        type=non_empty,
        default=DEFAULT_METRIC_TAG,
        help="hypertune tag for the validation accuracy",
    )
    run.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="auto: tf32 on CUDA GPUs that have it (Ampere and newer), fp32 otherwise; "
        "bf16: bf16 autocast",
    )

    outputs = parser.add_argument_group("outputs (gs:// is written through the /gcs mount)")
    outputs.add_argument(
        "--model-dir", default=environ.get("AIP_MODEL_DIR"), help="env AIP_MODEL_DIR"
    )
    outputs.add_argument(
        "--checkpoint-dir",
        default=environ.get("AIP_CHECKPOINT_DIR"),
        help="env AIP_CHECKPOINT_DIR; unset: no checkpoints",
    )
    outputs.add_argument(
        "--tensorboard-dir",
        default=environ.get("AIP_TENSORBOARD_LOG_DIR"),
        help="env AIP_TENSORBOARD_LOG_DIR; unset: no scalars",
    )
    return parser


def parse_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> TrainingConfig:
    """Parse flags; data and output locations default from the AIP_* variables Vertex
    sets."""
    environ = os.environ if environ is None else environ
    namespace = build_parser(environ).parse_args(argv)
    for flag, variable in (
        ("--train-data", TRAINING_DATA_VARIABLE),
        ("--val-data", VALIDATION_DATA_VARIABLE),
    ):
        if not getattr(namespace, flag.removeprefix("--").replace("-", "_")):
            raise TrainerError(
                f"no {flag.removeprefix('--').replace('-', ' ')}: pass {flag} or set {variable} "
                "(Vertex sets it for a managed data set)"
            )
    if not namespace.model_dir:
        raise TrainerError("no model directory: pass --model-dir or set AIP_MODEL_DIR")
    return TrainingConfig(
        train_data=namespace.train_data,
        val_data=namespace.val_data,
        label_column=namespace.label_column,
        learning_rate=namespace.learning_rate,
        batch_size=namespace.batch_size,
        hidden_units=tuple(namespace.hidden_units),
        epochs=namespace.epochs,
        weight_decay=namespace.weight_decay,
        dropout=namespace.dropout,
        seed=namespace.seed,
        metric_tag=namespace.metric_tag,
        precision=namespace.precision,
        model_dir=namespace.model_dir,
        checkpoint_dir=namespace.checkpoint_dir or None,
        tensorboard_dir=namespace.tensorboard_dir or None,
    )
