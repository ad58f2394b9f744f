"""The trainer really trains on the sample data (CPU), follows the Vertex output contract,
gives each hyperparameter flag its effect, and runs as Vertex runs it: a subprocess.

Flag parsing is in test_config.py, input data in test_data.py and test_storage.py,
output locations in test_outputs.py, CLUSTER_SPEC in test_cluster_spec.py.
"""

import importlib.metadata
import json
import logging
import math
import sys
from pathlib import Path

import pytest
import torch

from tests.harness.trainer import (
    PROJECT_DIR,
    SAMPLE_MAJORITY_ACCURACY,
    SAMPLE_TRAIN,
    SAMPLE_TRAIN_ROWS,
    SAMPLE_VAL,
    TRAINER_ROOT,
    checkpoint_names,
    error_lines,
    read_metrics_file,
    run_trainer,
    subprocess_env,
    train_in_process,
    trainer_args,
)
from trainer.config import parse_args
from trainer.errors import TrainerError
from trainer.task import SCALAR_TAGS, train

pytestmark = pytest.mark.usefixtures("metrics_file")


# --- it learns ---------------------------------------------------------------------


def test_training_on_sample_data_beats_chance_clearly(tmp_path: Path) -> None:
    outcome = train_in_process(tmp_path, "--epochs", "15")
    assert SAMPLE_MAJORITY_ACCURACY < 0.5
    assert outcome.val_accuracy >= 0.9
    assert outcome.history[-1]["train_loss"] < outcome.history[0]["train_loss"]
    assert outcome.device.type == "cpu" and outcome.autocast_dtype is None
    assert outcome.precision == "fp32"  # auto on the CPU


def test_bf16_precision_flag_trains_under_autocast_on_cpu(tmp_path: Path) -> None:
    outcome = train_in_process(tmp_path, "--precision", "bf16", "--epochs", "10")
    assert outcome.precision == "bf16" and outcome.autocast_dtype == torch.bfloat16
    assert outcome.val_accuracy >= 0.85


def test_tf32_precision_on_the_cpu_is_refused_before_loading_data(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match=r"--precision tf32: the CPU lacks TF32"):
        train_in_process(tmp_path, "--precision", "tf32", "--train-data", "/nonexistent.csv")


def test_the_cpu_loop_uses_the_default_adamw_and_leaves_matmul_precision_alone(
    tmp_path: Path,
) -> None:
    before = torch.get_float32_matmul_precision()
    outcome = train_in_process(tmp_path, "--epochs", "1")
    assert outcome.optimizer.defaults["fused"] is None
    assert torch.get_float32_matmul_precision() == before


# --- Vertex output contract --------------------------------------------------------


def test_metrics_file_has_one_hypertune_line_per_epoch(tmp_path: Path, metrics_file: Path) -> None:
    outcome = train_in_process(tmp_path, "--epochs", "3", "--batch-size", "64")
    lines = read_metrics_file(metrics_file)
    assert len(lines) == 3
    steps = math.ceil(SAMPLE_TRAIN_ROWS / 64)
    assert [int(line["global_step"]) for line in lines] == [steps, 2 * steps, 3 * steps]
    assert float(lines[-1]["accuracy"]) == pytest.approx(outcome.val_accuracy)
    assert {"timestamp", "trial", "checkpoint_path"} <= set(lines[-1])


def test_writes_model_files_and_a_checkpoint_per_epoch(tmp_path: Path) -> None:
    train_in_process(tmp_path, "--epochs", "3")
    assert checkpoint_names(tmp_path) == [f"checkpoint-epoch-0000{epoch}.pt" for epoch in (1, 2, 3)]
    saved = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert saved["schema"]["class_names"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert metadata["schema"]["feature_names"] == saved["schema"]["feature_names"]
    assert metadata["final_metrics"]["epoch"] == 3


def test_restart_resumes_from_latest_checkpoint_and_matches_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    first = train_in_process(tmp_path / "restarted", "--epochs", "2")
    resumed = train_in_process(tmp_path / "restarted", "--epochs", "4")
    straight = train_in_process(tmp_path / "straight", "--epochs", "4")
    assert first.start_epoch == 1 and resumed.start_epoch == 3
    assert [entry["epoch"] for entry in resumed.history] == [1, 2, 3, 4]
    assert len(checkpoint_names(tmp_path / "restarted")) == 4
    for name, tensor in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor)


def test_restart_after_the_last_epoch_reports_the_metric_and_writes_the_model(
    tmp_path: Path, metrics_file: Path
) -> None:
    first = train_in_process(tmp_path, "--epochs", "2")
    metrics_file.unlink()  # the old worker's local metrics file is gone after a restart
    (tmp_path / "model" / "model.pt").unlink()
    again = train_in_process(tmp_path, "--epochs", "2")
    assert again.start_epoch == 3 and again.val_accuracy == first.val_accuracy
    assert [int(line["global_step"]) for line in read_metrics_file(metrics_file)] == [
        first.global_step
    ]
    assert (tmp_path / "model" / "model.pt").is_file()


def test_resume_rejects_a_checkpoint_of_another_architecture(tmp_path: Path) -> None:
    train_in_process(tmp_path, "--epochs", "1", "--hidden-units", "8")
    with pytest.raises(TrainerError, match="hidden_units"):
        train_in_process(tmp_path, "--epochs", "2", "--hidden-units", "16")


def test_output_dirs_default_from_vertex_variables(tmp_path: Path) -> None:
    environ = {
        "AIP_MODEL_DIR": str(tmp_path / "aip-model"),
        "AIP_CHECKPOINT_DIR": str(tmp_path / "aip-checkpoints"),
        "AIP_TENSORBOARD_LOG_DIR": str(tmp_path / "aip-tensorboard"),
    }
    args = ["--train-data", str(SAMPLE_TRAIN), "--val-data", str(SAMPLE_VAL), "--epochs", "1"]
    config = parse_args(args, environ=environ)
    assert (config.model_dir, config.checkpoint_dir, config.tensorboard_dir) == tuple(
        environ.values()
    )
    train(config, environ={})
    assert (tmp_path / "aip-model" / "model.pt").is_file()
    assert (tmp_path / "aip-checkpoints" / "checkpoint-epoch-00001.pt").is_file()


def test_tensorboard_event_files_hold_each_epochs_scalars(tmp_path: Path) -> None:
    """AIP_TENSORBOARD_LOG_DIR gets real event files: read back with TensorBoard's own
    reader, one point per tag and epoch, at the epoch's global step, with its metric."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = tmp_path / "aip-tensorboard"
    args = trainer_args(tmp_path, "--epochs", "3", "--batch-size", "64")
    config = parse_args(args, environ={"AIP_TENSORBOARD_LOG_DIR": str(log_dir)})
    assert config.tensorboard_dir == str(log_dir)
    outcome = train(config, environ={})
    assert list(log_dir.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(log_dir))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(SCALAR_TAGS)
    steps = [int(entry["global_step"]) for entry in outcome.history]
    assert steps == [math.ceil(SAMPLE_TRAIN_ROWS / 64) * epoch for epoch in (1, 2, 3)]
    for tag, key in SCALAR_TAGS.items():
        points = events.Scalars(tag)
        assert [point.step for point in points] == steps, tag
        expected = [entry[key] for entry in outcome.history]
        assert [point.value for point in points] == pytest.approx(expected, rel=1e-6), tag
    assert events.Scalars("val/accuracy")[-1].value == pytest.approx(outcome.val_accuracy)


def test_training_without_tensorboard_installed_logs_the_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """tensorboard is optional for the trainer itself: without it (a None entry in
    sys.modules makes the import fail) training goes on and the scalars are skipped
    with a log line."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    caplog.set_level(logging.INFO)
    outcome = train_in_process(tmp_path, "--epochs", "1", "--tensorboard-dir", str(tmp_path / "tb"))
    assert outcome.val_accuracy > 0
    assert "TensorBoard scalars skipped" in caplog.text
    assert not list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_the_tests_install_the_packages_the_images_ship() -> None:
    """tensorboard, pyarrow, google-cloud-storage, cloudml-hypertune: the versions tested
    are the versions pinned for the images."""
    lines = (TRAINER_ROOT / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    # The tests install the local stack's requirements, which include every app's own
    # (tests/config/test_apps.py checks that part).
    dev = (PROJECT_DIR / "requirements-dev.txt").read_text().splitlines()
    assert {"tensorboard", "pyarrow", "google-cloud-storage"} <= set(pins)
    assert "-r requirements-local.txt" in dev
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name


# --- each hyperparameter flag reaches what it should --------------------------------


def test_hidden_units_flag_sets_the_saved_layer_shapes(tmp_path: Path) -> None:
    train_in_process(tmp_path, "--hidden-units", "16,8", "--epochs", "1")
    saved = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    shapes = [tuple(t.shape) for name, t in saved["state_dict"].items() if name.endswith("weight")]
    assert shapes == [(16, 4), (8, 16), (3, 8)]
    assert saved["hidden_units"] == [16, 8]


def test_epochs_flag_sets_checkpoints_and_global_step(tmp_path: Path) -> None:
    outcome = train_in_process(tmp_path, "--epochs", "2", "--batch-size", "100")
    assert len(checkpoint_names(tmp_path)) == 2
    assert outcome.global_step == 2 * math.ceil(SAMPLE_TRAIN_ROWS / 100)


def test_metric_tag_flag_names_the_reported_metric(tmp_path: Path, metrics_file: Path) -> None:
    train_in_process(tmp_path, "--epochs", "1", "--metric-tag", "val_acc")
    line = read_metrics_file(metrics_file)[0]
    assert "val_acc" in line and "accuracy" not in line


def test_optimizer_and_model_receive_the_hyperparameters(tmp_path: Path) -> None:
    outcome = train_in_process(
        tmp_path,
        "--learning-rate", "0.003",
        "--weight-decay", "0.02",
        "--dropout", "0.35",
        "--batch-size", "50",
        "--epochs", "1",
    )  # fmt: skip
    group = outcome.optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.003, 0.02)
    dropouts = [m.p for m in outcome.model.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.35, 0.35]
    assert outcome.steps_per_epoch == math.ceil(SAMPLE_TRAIN_ROWS / 50)


def test_seed_flag_makes_runs_reproducible(tmp_path: Path) -> None:
    def first_weight(seed: str, run: str) -> torch.Tensor:
        outcome = train_in_process(tmp_path / run, "--seed", seed, "--epochs", "1")
        return outcome.model.state_dict()["0.weight"]

    assert torch.equal(first_weight("7", "a"), first_weight("7", "b"))
    assert not torch.equal(first_weight("7", "c"), first_weight("8", "d"))


# --- as Vertex runs it: a subprocess ---------------------------------------------


def test_module_entry_point_trains_and_reports(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics" / "output.metrics"
    env = subprocess_env(CLOUD_ML_HP_METRIC_FILE=str(metrics))
    returncode, stdout, stderr = run_trainer(trainer_args(tmp_path, "--epochs", "5"), env)
    assert returncode == 0, stderr
    assert "epoch 5/5" in stdout
    assert float(read_metrics_file(metrics)[-1]["accuracy"]) >= 0.9
    assert (tmp_path / "model" / "model.pt").is_file()


def test_module_entry_point_fails_with_exit_code_and_one_line(tmp_path: Path) -> None:
    args = trainer_args(tmp_path, "--val-data", str(tmp_path / "missing.csv"))
    metrics = tmp_path / "metrics" / "output.metrics"
    returncode, _, stderr = run_trainer(args, subprocess_env(CLOUD_ML_HP_METRIC_FILE=str(metrics)))
    assert returncode == 2
    assert error_lines(stderr) == [
        f"trainer.task: error: data file not found: {tmp_path}/missing.csv"
    ]
    assert "Traceback" not in stderr
