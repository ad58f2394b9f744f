"""The trainer really trains on the sample data (CPU), honours every flag, follows the
Vertex output contract, and fails with one clear line on bad input."""

import json
import logging
import math
import sys
import types
from pathlib import Path

import pytest
import torch

from tests.harness.trainer import (
    SAMPLE_MAJORITY_ACCURACY,
    SAMPLE_TRAIN,
    SAMPLE_TRAIN_ROWS,
    SAMPLE_VAL,
    error_lines,
    read_metrics_file,
    run_trainer,
    subprocess_env,
    trainer_args,
)
from trainer import storage
from trainer.config import DEFAULT_LABEL_COLUMN, parse_args
from trainer.distributed import ProcessGroupSpec, parse_cluster_spec, resolve_process_group_spec
from trainer.errors import TrainerError
from trainer.task import TrainingOutcome, main, train


@pytest.fixture(autouse=True)
def metrics_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep hypertune's output per test (its default is a shared /tmp path)."""
    path = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
    for name in ("CLUSTER_SPEC", "MASTER_ADDR", "WORLD_SIZE", "RANK", "AIP_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    return path


def train_in_process(output_dir: Path, *extra: str) -> TrainingOutcome:
    return train(parse_args(trainer_args(output_dir, *extra), environ={}), environ={})


def checkpoint_names(output_dir: Path) -> list[str]:
    return sorted(path.name for path in (output_dir / "checkpoints").glob("*.pt"))


# --- it learns ---------------------------------------------------------------------


def test_training_on_sample_data_beats_chance_clearly(tmp_path: Path) -> None:
    outcome = train_in_process(tmp_path, "--epochs", "15")
    assert SAMPLE_MAJORITY_ACCURACY < 0.5
    assert outcome.val_accuracy >= 0.9
    assert outcome.history[-1]["train_loss"] < outcome.history[0]["train_loss"]
    assert outcome.device.type == "cpu" and outcome.autocast_dtype is None


def test_default_label_column_is_the_sample_data_label() -> None:
    assert DEFAULT_LABEL_COLUMN == "species"
    assert SAMPLE_TRAIN.read_text().splitlines()[0].split(",")[0] == "species"


def test_bf16_precision_flag_trains_under_autocast_on_cpu(tmp_path: Path) -> None:
    outcome = train_in_process(tmp_path, "--precision", "bf16", "--epochs", "10")
    assert outcome.autocast_dtype == torch.bfloat16
    assert outcome.val_accuracy >= 0.85


# --- Vertex output contract --------------------------------------------------------


def test_metrics_file_has_one_hypertune_line_per_epoch(tmp_path: Path, metrics_file) -> None:
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


def test_tensorboard_scalars(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Event files where `tensorboard` is installed (the images); a logged skip elsewhere."""
    caplog.set_level(logging.INFO)
    outcome = train_in_process(tmp_path, "--tensorboard-dir", str(tmp_path / "tb"))
    assert outcome.val_accuracy > 0
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        assert "TensorBoard scalars skipped" in caplog.text
    else:
        assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_gs_uris_map_to_the_fuse_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fuse_root = tmp_path / "gcs"
    (fuse_root / "data-bucket" / "penguins").mkdir(parents=True)
    for sample in (SAMPLE_TRAIN, SAMPLE_VAL):
        (fuse_root / "data-bucket" / "penguins" / sample.name).write_bytes(sample.read_bytes())
    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", fuse_root)
    args = [
        "--train-data", "gs://data-bucket/penguins/train.csv",
        "--val-data", "gs://data-bucket/penguins/val.csv",
        "--model-dir", "gs://out-bucket/run-1/model",
        "--checkpoint-dir", "gs://out-bucket/run-1/checkpoints",
        "--epochs", "1",
    ]  # fmt: skip
    train(parse_args(args, environ={}), environ={})
    assert (fuse_root / "out-bucket" / "run-1" / "model" / "model.pt").is_file()
    assert (
        fuse_root / "out-bucket" / "run-1" / "checkpoints" / "checkpoint-epoch-00001.pt"
    ).is_file()


def test_gs_input_without_fuse_mount_is_downloaded_with_the_storage_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[tuple[str, str]] = []

    class FakeBlob:
        def __init__(self, bucket: str, name: str) -> None:
            self.bucket, self.name = bucket, name

        def download_to_filename(self, filename: Path) -> None:
            downloads.append((self.bucket, self.name))
            Path(filename).write_bytes((SAMPLE_TRAIN.parent / Path(self.name).name).read_bytes())

    class FakeClient:
        def bucket(self, name: str) -> types.SimpleNamespace:
            return types.SimpleNamespace(blob=lambda object_name: FakeBlob(name, object_name))

    fake_storage = types.ModuleType("google.cloud.storage")
    fake_storage.Client = FakeClient
    fake_cloud = types.ModuleType("google.cloud")
    fake_cloud.storage = fake_storage
    fake_google = types.ModuleType("google")
    fake_google.cloud = fake_cloud
    for module in (fake_google, fake_cloud, fake_storage):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", tmp_path / "no-mount")
    path = storage.localize_input("gs://data-bucket/penguins/val.csv", tmp_path)
    assert downloads == [("data-bucket", "penguins/val.csv")]
    assert path.read_bytes() == SAMPLE_VAL.read_bytes()


def test_gs_output_without_fuse_mount_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", tmp_path / "no-mount")
    with pytest.raises(TrainerError, match="FUSE mount"):
        storage.prepare_output_dir("gs://out-bucket/model")


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


def test_metric_tag_flag_names_the_reported_metric(tmp_path: Path, metrics_file) -> None:
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


# --- CLUSTER_SPEC -------------------------------------------------------------------


def cluster_spec(task_type: str, index: int, **pools: list[str]) -> str:
    return json.dumps({"cluster": pools, "task": {"type": task_type, "index": index}})


def test_cluster_spec_with_one_replica_is_a_single_process_run() -> None:
    spec_json = cluster_spec("workerpool0", 0, workerpool0=["chief:2222"])
    assert parse_cluster_spec(spec_json) == ProcessGroupSpec("chief", 2222, 1, 0)
    assert resolve_process_group_spec({"CLUSTER_SPEC": spec_json}) is None
    assert resolve_process_group_spec({}) is None


def test_cluster_spec_ranks_follow_pools_and_skip_the_reduction_server() -> None:
    pools = {
        "workerpool0": ["chief:3333"],
        "workerpool1": ["w0:3333", "w1:3333"],
        "workerpool2": ["extra:3333"],
        "workerpool3": ["reducer0:3333", "reducer1:3333"],
    }
    ranks = {
        (task_type, index): parse_cluster_spec(cluster_spec(task_type, index, **pools))
        for task_type, index in [
            ("workerpool0", 0),
            ("workerpool1", 0),
            ("workerpool1", 1),
            ("workerpool2", 0),
        ]  # fmt: skip
    }
    assert {key: spec.rank for key, spec in ranks.items()} == {
        ("workerpool0", 0): 0,
        ("workerpool1", 0): 1,
        ("workerpool1", 1): 2,
        ("workerpool2", 0): 3,
    }
    assert {(spec.master_addr, spec.master_port, spec.world_size) for spec in ranks.values()} == {
        ("chief", 3333, 4)
    }
    with pytest.raises(TrainerError, match="not a torch worker pool"):
        parse_cluster_spec(cluster_spec("workerpool3", 0, **pools))


def test_torchrun_variables_win_over_cluster_spec() -> None:
    environ = {
        "MASTER_ADDR": "10.0.0.9",
        "MASTER_PORT": "29500",
        "WORLD_SIZE": "8",
        "RANK": "5",
        "CLUSTER_SPEC": cluster_spec("workerpool0", 0, workerpool0=["a:1"], workerpool1=["b:1"]),
    }
    assert resolve_process_group_spec(environ) == ProcessGroupSpec("10.0.0.9", 29500, 8, 5)


def test_malformed_cluster_spec_is_a_clear_error() -> None:
    with pytest.raises(TrainerError, match="malformed CLUSTER_SPEC"):
        parse_cluster_spec('{"cluster": {}}')


# --- errors: non-zero exit, one line ----------------------------------------------


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


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
    assert main(trainer_args(tmp_path, *flags)) != 0
    stderr = capsys.readouterr().err
    assert len(error_lines(stderr)) == 1 and message in stderr, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("train_csv", "message"),
    [
        ("species,mass\nAdelie,3\nGentoo,island\n", "train.csv:3: column 'mass' has non-numeric"),
        ("species,mass\nAdelie,3\nGentoo,NA\n", "non-numeric value 'NA'"),
        ("species,mass\nAdelie,3,4\n", "train.csv:2: expected 2 fields, found 3"),
        ("", "empty file"),
        ("species,mass\n", "no data rows"),
    ],
)
def test_malformed_csv_exits_nonzero_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, train_csv: str, message: str
) -> None:
    train_path = write_csv(tmp_path / "train.csv", train_csv)
    val_path = write_csv(tmp_path / "val.csv", "species,mass\nAdelie,3\n")
    flags = ["--train-data", str(train_path), "--val-data", str(val_path)]
    assert main(trainer_args(tmp_path, *flags)) != 0
    stderr = capsys.readouterr().err
    assert len(error_lines(stderr)) == 1 and message in stderr, stderr


def test_validation_labels_unknown_to_training_are_rejected(tmp_path: Path) -> None:
    train_path = write_csv(tmp_path / "train.csv", "species,mass\nAdelie,3\n")
    val_path = write_csv(tmp_path / "val.csv", "species,mass\nEmperor,30\n")
    flags = ["--train-data", str(train_path), "--val-data", str(val_path)]
    with pytest.raises(TrainerError, match=r"labels \['Emperor'\]"):
        train(parse_args(trainer_args(tmp_path, *flags), environ={}), environ={})


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
    returncode, _, stderr = run_trainer(args, subprocess_env())
    assert returncode != 0
    assert error_lines(stderr) == [
        f"trainer.task: error: data file not found: {tmp_path}/missing.csv"
    ]
    assert "Traceback" not in stderr
