"""Output locations: gs:// through the /gcs FUSE mount, and the start-up check that every
location the chief writes (the hypertune metrics file's directory, AIP_MODEL_DIR,
AIP_CHECKPOINT_DIR, AIP_TENSORBOARD_LOG_DIR) is writable, failing with exit code 2 and one
line that names the path and the fix.

The subprocess tests take access away for real as a non-root user. As root, permission
bits deny nothing, so tests/harness/trainer.py has the subprocess raise the same EACCES
from os.stat/os.mkdir/os.open for the denied directory (see ``denied_dir``).
"""

import json
import os
import pathlib
import sys
from pathlib import Path

import pytest
from hypertune import hypertune as hypertune_module

from tests.harness.trainer import (
    ERROR_PREFIX,
    SAMPLE_TRAIN,
    SAMPLE_VAL,
    GcsEmulator,
    denied_dir,
    error_lines,
    run_trainer,
    subprocess_env,
    trainer_args,
)
from trainer import reporting, storage, task
from trainer.config import parse_args
from trainer.errors import TrainerError

pytestmark = pytest.mark.usefixtures("metrics_file")

OUTPUT_VARIABLES = {
    "AIP_MODEL_DIR": "--model-dir/AIP_MODEL_DIR",
    "AIP_CHECKPOINT_DIR": "--checkpoint-dir/AIP_CHECKPOINT_DIR",
    "AIP_TENSORBOARD_LOG_DIR": "--tensorboard-dir/AIP_TENSORBOARD_LOG_DIR",
}


def assert_failed_before_training(returncode: int, stdout: str, stderr: str) -> str:
    """Exit code 2, no traceback, no epoch run; returns the one error line."""
    assert returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    assert "epoch 1/" not in stdout
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


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
    task.train(parse_args(args, environ={}), environ={})
    assert (fuse_root / "out-bucket" / "run-1" / "model" / "model.pt").is_file()
    assert (
        fuse_root / "out-bucket" / "run-1" / "checkpoints" / "checkpoint-epoch-00001.pt"
    ).is_file()
    assert not list(fuse_root.rglob(".trainer-write-check-*")), "the write probe is removed"


def test_gs_outputs_without_the_mount_are_uploaded_and_a_restart_resumes_from_the_bucket(
    tmp_path: Path, gcs: GcsEmulator
) -> None:
    """As the local emulator runs the trainer: no /gcs, STORAGE_EMULATOR_HOST set. Every
    output lands in the bucket after each epoch, and a fresh process (a restarted
    replica) resumes from the checkpoint it finds there."""
    gcs.upload("upload-bucket", {})
    outputs = [
        "--model-dir", "gs://upload-bucket/run/model/",  # Vertex's form: a trailing slash
        "--checkpoint-dir", "gs://upload-bucket/run/checkpoints/",
        "--tensorboard-dir", "gs://upload-bucket/run/logs/",
    ]  # fmt: skip
    first = task.train(parse_args(trainer_args(tmp_path, *outputs, "--epochs", "2"), {}), {})
    bucket = gcs.client().bucket("upload-bucket")
    names = sorted(blob.name for blob in bucket.list_blobs())
    assert names[:4] == [
        "run/checkpoints/checkpoint-epoch-00001.pt",
        "run/checkpoints/checkpoint-epoch-00002.pt",
        "run/logs/" + names[2].removeprefix("run/logs/"),
        "run/model/metadata.json",
    ] and names[2].startswith("run/logs/events.out.tfevents.")
    assert names[4:] == ["run/model/model.pt"]
    metadata = json.loads(bucket.blob("run/model/metadata.json").download_as_bytes())
    assert metadata["final_metrics"]["val_accuracy"] == first.val_accuracy

    resumed = task.train(parse_args(trainer_args(tmp_path, *outputs, "--epochs", "3"), {}), {})
    assert resumed.start_epoch == 3 and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert bucket.blob("run/checkpoints/checkpoint-epoch-00003.pt").exists()


def test_gs_output_the_bucket_refuses_without_the_mount_is_one_line(
    tmp_path: Path, gcs: GcsEmulator
) -> None:
    with pytest.raises(TrainerError) as raised:
        storage.open_output_dir("gs://no-such-bucket/model", "--model-dir/AIP_MODEL_DIR")
    message = str(raised.value)
    assert message.startswith("cannot write gs://no-such-bucket/model (from --model-dir/AIP_")
    assert message.endswith(
        "the job's service account needs to create and delete objects in gs://no-such-bucket "
        "(this stack grants it roles/storage.objectAdmin on the output bucket)"
    )


def test_gs_output_without_the_mount_or_the_storage_client_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", tmp_path / "no-mount")
    import google.cloud

    monkeypatch.delattr(google.cloud, "storage", raising=False)
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)  # so the import fails
    with pytest.raises(TrainerError, match="FUSE mount .* missing .* google-cloud-storage is not"):
        storage.open_output_dir("gs://out-bucket/model", "--model-dir/AIP_MODEL_DIR")
    with pytest.raises(TrainerError, match="FUSE mount"):
        storage.prepare_output_dir("gs://out-bucket/model")


# --- the hypertune metrics file ------------------------------------------------------


def test_metric_file_defaults_like_hypertune() -> None:
    assert reporting.HYPERTUNE_DEFAULT_METRIC_FILE == hypertune_module._DEFAULT_METRIC_PATH
    assert reporting.metric_file_path({}) == Path("/tmp/hypertune/output.metrics")
    assert reporting.metric_file_path({"CLOUD_ML_HP_METRIC_FILE": "/x/y.metric"}) == Path(
        "/x/y.metric"
    )


def test_metrics_file_in_a_read_only_directory_fails_at_start_with_one_line(
    tmp_path: Path,
) -> None:
    """As on Vertex: CLOUD_ML_HP_METRIC_FILE under /var/hypertune, which a non-root user
    cannot write unless the image made it theirs."""
    with denied_dir(tmp_path / "var-hypertune", "read-only") as denied:
        metrics = denied.path / "output.metric"
        env = subprocess_env(CLOUD_ML_HP_METRIC_FILE=str(metrics))
        result = run_trainer(trainer_args(tmp_path, "--epochs", "2"), env, denied=denied)
    line = assert_failed_before_training(*result)
    assert line == (
        f"{ERROR_PREFIX} cannot write the hypertune metrics directory {denied.path} "
        f"(CLOUD_ML_HP_METRIC_FILE={metrics}): Permission denied; the image must create "
        f"{denied.path} owned by the user the trainer runs as (uid {os.getuid()}), as "
        "the penguins images do for /var/hypertune; outside Vertex, point "
        "CLOUD_ML_HP_METRIC_FILE at a writable path"
    )
    assert not (tmp_path / "model").exists(), "checked before any output was created"


def test_metrics_directory_that_cannot_be_created_fails_at_start(tmp_path: Path) -> None:
    """A real failure for root too: the directory would have to be made under a file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    metrics = blocker / "hypertune" / "output.metric"
    env = subprocess_env(CLOUD_ML_HP_METRIC_FILE=str(metrics))
    line = assert_failed_before_training(*run_trainer(trainer_args(tmp_path), env))
    assert line.startswith(
        f"{ERROR_PREFIX} cannot write the hypertune metrics directory {metrics.parent} "
    )
    assert "Not a directory; the image must create" in line


# --- output directories --------------------------------------------------------------


@pytest.mark.parametrize("variable", sorted(OUTPUT_VARIABLES))
def test_output_dir_under_an_inaccessible_parent_fails_at_start_with_one_line(
    tmp_path: Path, variable: str
) -> None:
    """The parent cannot be searched, so mkdir fails and Path.is_dir() raises
    PermissionError instead of answering; the trainer reports it as one line."""
    with denied_dir(tmp_path / "locked", "no-access") as denied:
        target = denied.path / "out"
        locations = {name: str(tmp_path / name.lower()) for name in OUTPUT_VARIABLES}
        locations[variable] = str(target)
        metrics = str(tmp_path / "hypertune" / "output.metrics")
        env = subprocess_env(**locations, CLOUD_ML_HP_METRIC_FILE=metrics)
        args = ["--train-data", str(SAMPLE_TRAIN), "--val-data", str(SAMPLE_VAL)]
        result = run_trainer([*args, "--epochs", "1"], env, denied=denied)
    line = assert_failed_before_training(*result)
    flag = OUTPUT_VARIABLES[variable]
    assert line == (
        f"{ERROR_PREFIX} cannot write the output directory {target} (from {flag}): "
        f"Permission denied; make it writable by uid {os.getuid()} or pass another {flag}"
    )


def test_existing_output_dir_without_write_access_fails_at_start(tmp_path: Path) -> None:
    """mkdir(exist_ok=True) succeeds on a directory the process cannot write in: only
    writing tells, so the trainer writes (and removes) a probe file."""
    with denied_dir(tmp_path / "model", "read-only") as denied:
        metrics = str(tmp_path / "hypertune" / "output.metrics")
        env = subprocess_env(CLOUD_ML_HP_METRIC_FILE=metrics)
        result = run_trainer(trainer_args(tmp_path), env, denied=denied)
    line = assert_failed_before_training(*result)
    assert line.startswith(f"{ERROR_PREFIX} cannot write the output directory {denied.path} ")
    assert "Permission denied; make it writable by uid" in line


def test_unsearchable_gcs_mount_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Path.is_dir() raises PermissionError (rather than returning False) when /gcs or a
    bucket under it cannot be searched."""
    fuse_root = tmp_path / "gcs"
    real_is_dir = pathlib.Path.is_dir

    def is_dir(path: pathlib.Path) -> bool:
        if path == fuse_root:
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_dir(path)

    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", fuse_root)
    monkeypatch.setattr(pathlib.Path, "is_dir", is_dir)
    assert task.main(trainer_args(tmp_path, "--model-dir", "gs://out-bucket/run-1/model")) == 2
    lines = error_lines(capsys.readouterr().err)
    assert lines == [
        f"{ERROR_PREFIX} cannot write gs://out-bucket/run-1/model through {fuse_root}: "
        "Permission denied; the job's service account needs to create and delete objects "
        "in gs://out-bucket (this stack grants it roles/storage.objectAdmin on the output "
        "bucket)"
    ]


def test_gcs_output_the_bucket_refuses_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the FUSE mount the bucket's IAM decides: creating the probe object fails."""
    fuse_root = tmp_path / "gcs"
    fuse_root.mkdir()
    real_mkstemp = storage.tempfile.mkstemp

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        if fuse_root in Path(str(kwargs["dir"])).parents:
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", fuse_root)
    monkeypatch.setattr(storage.tempfile, "mkstemp", mkstemp)
    with pytest.raises(TrainerError) as raised:
        storage.prepare_output_dir("gs://out-bucket/ckpt", "--checkpoint-dir/AIP_CHECKPOINT_DIR")
    assert str(raised.value) == (
        f"cannot write gs://out-bucket/ckpt (at {fuse_root}/out-bucket/ckpt, from "
        "--checkpoint-dir/AIP_CHECKPOINT_DIR): Permission denied; the job's service account "
        "needs to create and delete objects in gs://out-bucket (this stack grants it "
        "roles/storage.objectAdmin on the output bucket)"
    )


@pytest.mark.parametrize(("task_type", "checks"), [("workerpool0", 1), ("workerpool1", 0)])
def test_only_the_chief_checks_and_before_loading_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task_type: str, checks: int
) -> None:
    """The chief checks (and creates) its outputs before the data is read; a worker, which
    writes nothing, neither checks nor creates them. Missing data stops both before any
    process group is joined."""
    calls: list[object] = []
    real_check = task._check_chief_outputs

    def check(config: object) -> object:
        calls.append(config)
        return real_check(config)

    monkeypatch.setattr(task, "_check_chief_outputs", check)
    cluster = {"workerpool0": ["chief:2222"], "workerpool1": ["worker:2222"]}
    spec = json.dumps({"cluster": cluster, "task": {"type": task_type, "index": 0}})
    args = trainer_args(tmp_path, "--train-data", str(tmp_path / "missing.csv"))
    with pytest.raises(TrainerError, match="data file not found"):
        task.train(parse_args(args, environ={}), environ={"CLUSTER_SPEC": spec})
    assert len(calls) == checks
    assert (tmp_path / "model").is_dir() == bool(checks)
