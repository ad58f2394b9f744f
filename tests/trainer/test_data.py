"""Input data: the sample data's label column, CSV validation with one clear error line,
and gs:// inputs read through the FUSE mount or downloaded."""

import sys
import types
from pathlib import Path

import pytest

from tests.harness.trainer import SAMPLE_TRAIN, SAMPLE_VAL, error_lines, trainer_args
from trainer import storage
from trainer.config import DEFAULT_LABEL_COLUMN, parse_args
from trainer.errors import TrainerError
from trainer.task import main, train

pytestmark = pytest.mark.usefixtures("metrics_file")


def test_default_label_column_is_the_sample_data_label() -> None:
    assert DEFAULT_LABEL_COLUMN == "species"
    assert SAMPLE_TRAIN.read_text().splitlines()[0].split(",")[0] == "species"


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


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
