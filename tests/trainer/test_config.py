"""Command-line flags: bad values fail with one clear line, and integer flags take the
integral floats that Vertex may pass for INTEGER and DISCRETE tuning parameters."""

import math
from pathlib import Path

import pytest
import torch

from tests.harness.trainer import (
    SAMPLE_TRAIN,
    SAMPLE_TRAIN_ROWS,
    SAMPLE_VAL,
    error_lines,
    train_in_process,
    trainer_args,
)
from trainer.config import parse_args
from trainer.task import main

pytestmark = pytest.mark.usefixtures("metrics_file")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--learning-rate", "-0.1"], "argument --learning-rate: expected a number > 0"),
        (["--batch-size", "0"], "argument --batch-size: expected an integer > 0"),
        (["--dropout", "1"], "argument --dropout: expected a number in [0, 1)"),
        (["--weight-decay", "-1"], "argument --weight-decay: expected a number >= 0"),
        (["--hidden-units", "64,x"], "argument --hidden-units: expected comma-separated"),
        (["--epochs", "two"], "argument --epochs: expected an integer > 0"),
        (["--label-column", "beak"], "label column 'beak' not in header"),
        (["--train-data", "/nonexistent/train.csv"], "data file not found: /nonexistent"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_input_exits_nonzero_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    assert main(trainer_args(tmp_path, *flags)) == 2
    stderr = capsys.readouterr().err
    assert len(error_lines(stderr)) == 1 and message in stderr, stderr
    assert "Traceback" not in stderr


# --- integer flags from a tuning trial ----------------------------------------------


def parse_with(*flags: str):
    args = ["--train-data", str(SAMPLE_TRAIN), "--val-data", str(SAMPLE_VAL), "--model-dir", "m"]
    return parse_args([*args, *flags], environ={})


@pytest.mark.parametrize(
    ("flags", "field", "expected"),
    [
        (["--batch-size", "32.0"], "batch_size", 32),
        (["--batch-size=64.0"], "batch_size", 64),  # how Vertex writes trial values
        (["--batch-size", "1e2"], "batch_size", 100),
        (["--epochs", "3.0"], "epochs", 3),
        (["--seed", "7.0"], "seed", 7),
        (["--seed", "-2.0"], "seed", -2),
        (["--hidden-units", "64.0"], "hidden_units", (64,)),
        (["--hidden-units", "128.0,64"], "hidden_units", (128, 64)),
        (["--batch-size", "32"], "batch_size", 32),  # plain integers as before
        (["--hidden-units", "128,64"], "hidden_units", (128, 64)),
    ],
)
def test_integer_flags_accept_integral_floats(
    flags: list[str], field: str, expected: int | tuple[int, ...]
) -> None:
    value = getattr(parse_with(*flags), field)
    assert value == expected
    assert all(type(item) is int for item in (value if isinstance(value, tuple) else [value]))


@pytest.mark.parametrize(
    ("flag", "text", "rule"),
    [
        ("--batch-size", "32.5", "an integer > 0"),
        ("--batch-size", "inf", "an integer > 0"),
        ("--epochs", "2.5", "an integer > 0"),
        ("--epochs", "nan", "an integer > 0"),
        ("--epochs", "0.0", "an integer > 0"),
        ("--seed", "0.5", "an integer"),
        ("--hidden-units", "64.5", "comma-separated integers > 0 (e.g. 64 or 128,64)"),
        ("--hidden-units", "128,64.5", "comma-separated integers > 0 (e.g. 64 or 128,64)"),
    ],
)
def test_integer_flags_reject_fractions_with_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture, flag: str, text: str, rule: str
) -> None:
    assert main(trainer_args(tmp_path, flag, text)) == 2
    assert error_lines(capsys.readouterr().err) == [
        f"trainer.task: error: argument {flag}: expected {rule}, got {text!r}"
    ]
    assert not (tmp_path / "model").exists()


def test_a_trial_with_float_integer_values_trains_with_those_integers(tmp_path: Path) -> None:
    outcome = train_in_process(
        tmp_path, "--epochs=2.0", "--batch-size=64.0", "--hidden-units=16.0", "--seed=3.0"
    )
    assert outcome.steps_per_epoch == math.ceil(SAMPLE_TRAIN_ROWS / 64)
    assert [entry["epoch"] for entry in outcome.history] == [1, 2]
    saved = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert saved["hidden_units"] == [16]
