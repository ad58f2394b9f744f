"""Input data: CSV and Parquet, from local paths, /gcs paths and gs:// URIs (through a
real Cloud Storage emulator), wildcard shards, Vertex's managed-data-set variables, and
one clear error line for every kind of bad input. How locations and patterns resolve to
files, and the errors for a location without data, are in test_storage.py."""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import torch

from tests.harness.trainer import (
    SAMPLE_TRAIN,
    SAMPLE_TRAIN_ROWS,
    SAMPLE_VAL,
    GcsEmulator,
    error_lines,
    train_in_process,
    trainer_args,
)
from trainer import storage
from trainer.config import DEFAULT_LABEL_COLUMN, parse_args
from trainer.data import DataFiles, FeatureSchema, LabeledTensors, load_train_and_val
from trainer.errors import TrainerError
from trainer.task import main

pytestmark = pytest.mark.usefixtures("metrics_file")

SAMPLE_LINES = SAMPLE_TRAIN.read_text().splitlines()
HEADER = SAMPLE_LINES[0]


def load(
    tmp_path: Path, train: str, val: str, environ: dict[str, str] | None = None
) -> tuple[LabeledTensors, LabeledTensors, FeatureSchema]:
    """Both data sets as the trainer loads them."""
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    train_files, val_files = (
        DataFiles(location, storage.localize_inputs(location, downloads))
        for location in (train, val)
    )
    return load_train_and_val(
        train_files, val_files, DEFAULT_LABEL_COLUMN, environ or {}, torch.device("cpu")
    )


def assert_same_data(loaded: tuple, expected: tuple) -> None:
    for got, want in zip(loaded[:2], expected[:2], strict=True):
        torch.testing.assert_close(got.features, want.features)
        assert torch.equal(got.labels, want.labels)
    assert loaded[2] == expected[2]


def shards_of_sample(count: int) -> list[str]:
    """The sample training CSV cut into ``count`` files' texts, each with the header."""
    rows = SAMPLE_LINES[1:]
    size = -(-len(rows) // count)
    return ["\n".join([HEADER, *rows[i : i + size]]) + "\n" for i in range(0, len(rows), size)]


def as_parquet(csv_path: Path) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa_csv.read_csv(csv_path), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The sample data loaded from the plain local CSV files: what every other route must
    give, value for value."""
    return load(tmp_path_factory.mktemp("sample"), str(SAMPLE_TRAIN), str(SAMPLE_VAL))


def test_default_label_column_is_the_sample_data_label() -> None:
    assert DEFAULT_LABEL_COLUMN == "species"
    assert HEADER.split(",")[0] == "species"


def test_sample_data_loads_standardized_with_sorted_classes(sample: tuple) -> None:
    train, val, schema = sample
    assert schema.feature_names == HEADER.split(",")[1:]
    assert schema.class_names == ["Adelie", "Chinstrap", "Gentoo"]
    assert train.features.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.features.shape == (SAMPLE_TRAIN_ROWS, 4) and train.features.is_contiguous()
    torch.testing.assert_close(train.features.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(train.features.std(0, correction=0), torch.ones(4))
    label, *values = SAMPLE_LINES[1].split(",")
    restored = train.features[0] * torch.tensor(schema.feature_stds) + torch.tensor(
        schema.feature_means
    )
    torch.testing.assert_close(restored, torch.tensor([float(value) for value in values]))
    assert schema.class_names[int(train.labels[0])] == label
    assert len(val) == len(SAMPLE_VAL.read_text().splitlines()) - 1


# --- shards, formats and locations --------------------------------------------------


def test_local_wildcard_reads_every_shard_in_name_order(tmp_path: Path, sample: tuple) -> None:
    for number, text in enumerate(shards_of_sample(3)):
        (tmp_path / f"train-{number:05d}.csv").write_text(text)
    (tmp_path / "train-notes.txt").write_text("not data")
    loaded = load(tmp_path, str(tmp_path / "train-*.csv"), str(SAMPLE_VAL))
    assert_same_data(loaded, sample)


def test_parquet_gives_the_same_data_as_csv(tmp_path: Path, sample: tuple) -> None:
    (tmp_path / "train.parquet").write_bytes(as_parquet(SAMPLE_TRAIN))
    (tmp_path / "val.pq").write_bytes(as_parquet(SAMPLE_VAL))
    assert_same_data(
        load(tmp_path, str(tmp_path / "train.parquet"), str(tmp_path / "val.pq")), sample
    )


def test_gs_wildcard_without_fuse_mount_downloads_the_shards_from_cloud_storage(
    tmp_path: Path, gcs: GcsEmulator, sample: tuple
) -> None:
    shards = {
        f"data/train-{n:05d}-of-00003.csv": s.encode() for n, s in enumerate(shards_of_sample(3))
    }
    gcs.upload("shards-bucket", {
        **shards,
        "data/sub/train-99999.csv": b"species,x\nA,1\n",  # * stays in one folder level
        "data/val.parquet": as_parquet(SAMPLE_VAL),
    })  # fmt: skip
    loaded = load(
        tmp_path, "gs://shards-bucket/data/train-*", "gs://shards-bucket/data/val.parquet"
    )
    assert_same_data(loaded, sample)


def test_gs_input_is_read_from_the_fuse_mount_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: tuple
) -> None:
    folder = tmp_path / "gcs" / "data-bucket" / "penguins"
    folder.mkdir(parents=True)
    for number, text in enumerate(shards_of_sample(2)):
        (folder / f"train-{number}.csv").write_text(text)
    (folder / "val.csv").write_bytes(SAMPLE_VAL.read_bytes())
    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", tmp_path / "gcs")
    files = storage.localize_inputs("gs://data-bucket/penguins/train-*.csv", tmp_path)
    assert [file.source for file in files] == [
        "gs://data-bucket/penguins/train-0.csv",
        "gs://data-bucket/penguins/train-1.csv",
    ]
    assert files[0].local == folder / "train-0.csv"
    loaded = load(
        tmp_path, "gs://data-bucket/penguins/train-*.csv", "gs://data-bucket/penguins/val.csv"
    )
    assert_same_data(loaded, sample)


def test_the_format_comes_from_aip_data_format_when_names_have_no_extension(
    tmp_path: Path, sample: tuple
) -> None:
    (tmp_path / "training-00000").write_bytes(as_parquet(SAMPLE_TRAIN))
    (tmp_path / "validation-00000").write_bytes(as_parquet(SAMPLE_VAL))
    train, val = str(tmp_path / "training-*"), str(tmp_path / "validation-*")
    assert_same_data(load(tmp_path, train, val, {"AIP_DATA_FORMAT": "parquet"}), sample)
    with pytest.raises(TrainerError, match="training-00000: cannot tell the data format"):
        load(tmp_path, train, val)
    with pytest.raises(
        TrainerError, match=r"AIP_DATA_FORMAT='jsonl' is not supported .*csv, parquet"
    ):
        load(tmp_path, train, val, {"AIP_DATA_FORMAT": "jsonl"})


def test_data_flags_default_to_the_managed_data_set_variables(tmp_path: Path) -> None:
    environ = {
        "AIP_TRAINING_DATA_URI": "gs://b/training-*",
        "AIP_VALIDATION_DATA_URI": "gs://b/validation-*",
        "AIP_MODEL_DIR": str(tmp_path),
    }
    config = parse_args([], environ=environ)
    assert (config.train_data, config.val_data) == ("gs://b/training-*", "gs://b/validation-*")
    config = parse_args(["--train-data", "t.csv", "--val-data", "v.csv"], environ=environ)
    assert (config.train_data, config.val_data) == ("t.csv", "v.csv")
    del environ["AIP_VALIDATION_DATA_URI"]
    with pytest.raises(
        TrainerError, match="no val data: pass --val-data or set AIP_VALIDATION_DATA_URI"
    ):
        parse_args([], environ=environ)


def test_a_run_from_the_managed_data_set_variables_trains_on_the_gs_shards(
    tmp_path: Path, gcs: GcsEmulator
) -> None:
    """The whole trainer, as Vertex starts it with a managed CSV data set: no data flags,
    wildcard URIs in AIP_*_DATA_URI, extension-less shards, AIP_DATA_FORMAT=csv."""
    shards = enumerate(shards_of_sample(2))
    gcs.upload("managed-bucket", {
        **{f"export/training-{n:05d}-of-00002": text.encode() for n, text in shards},
        "export/validation-00000-of-00001": SAMPLE_VAL.read_bytes(),
    })  # fmt: skip
    environ = {
        "AIP_TRAINING_DATA_URI": "gs://managed-bucket/export/training-*",
        "AIP_VALIDATION_DATA_URI": "gs://managed-bucket/export/validation-*",
        "AIP_DATA_FORMAT": "csv",
        "AIP_MODEL_DIR": str(tmp_path / "model"),
    }
    from trainer.task import train

    outcome = train(parse_args(["--epochs", "2"], environ=environ), environ=environ)
    assert outcome.steps_per_epoch == -(-SAMPLE_TRAIN_ROWS // 32)
    assert (tmp_path / "model" / "model.pt").is_file()


# --- bad input: one error line each ------------------------------------------------


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("train_csv", "message"),
    [
        (
            "species,mass\nAdelie,3\nGentoo,island\n",
            "train.csv:3: column 'mass' has non-numeric value 'island'",
        ),
        (
            "species,mass\nAdelie,3\n\nGentoo,NA\n",
            "train.csv:4: column 'mass' has non-numeric value 'NA'",
        ),
        (
            "species,mass\nAdelie,3\nGentoo,\n",
            "train.csv:3: column 'mass' has non-numeric value ''",
        ),
        (
            "species,mass\nAdelie,3\nGentoo,nan\n",
            "train.csv:3: column 'mass' has non-numeric value 'nan'",
        ),
        (
            "species,mass\n\nAdelie,-inf\n",
            "train.csv:3: column 'mass' has non-numeric value '-inf'",
        ),
        ("species,mass\nAdelie,3,4\n", "train.csv:2: expected 2 fields, found 3"),
        ("species,mass\nAdelie,3\nGentoo\n", "train.csv:3: expected 2 fields, found 1"),
        (
            "species,weight\nAdelie,3\n",
            "feature columns ['weight'] differ from the training data's ['mass']",
        ),
        ("", "train.csv: empty file"),
        ("\n", "train.csv: empty file"),
        ("species,mass\n", "train.csv: no data rows"),
        ("species,mass,mass\nAdelie,3,4\n", "duplicate columns ['mass']"),
        ("mass,beak\n3,4\n", "label column 'species' not in header ['mass', 'beak']"),
        ("species\nAdelie\n", "no feature columns besides the label column"),
    ],
)
def test_malformed_csv_exits_nonzero_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, train_csv: str, message: str
) -> None:
    # As val here, the reference is train.csv, so the column checks name the bad file.
    good = write_csv(tmp_path / "good.csv", "species,mass\nAdelie,3\n")
    bad = write_csv(tmp_path / "train.csv", train_csv)
    val = good if "differ from" not in message else bad
    train = bad if val is good else good
    flags = ["--train-data", str(train), "--val-data", str(val)]
    assert main(trainer_args(tmp_path, *flags)) != 0
    stderr = capsys.readouterr().err
    assert len(error_lines(stderr)) == 1 and message in stderr, stderr


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"species": ["A", "B"], "mass": ["3", "4"]}), "column 'mass' has type string"),
        (pa.table({"species": ["A", "B"], "mass": [3.0, None]}), "row 2: column 'mass' is empty"),
        (
            pa.table({"species": ["A", None], "mass": [3.0, 4.0]}),
            "row 2: column 'species' is empty",
        ),
        (
            pa.table({"species": ["A", "B"], "mass": [3.0, float("inf")]}),
            "row 2: column 'mass' has non-numeric value 'nan or inf'",
        ),
        (
            pa.table({"species": pa.array([], pa.string()), "mass": pa.array([], pa.float64())}),
            "no data rows",
        ),
        (pa.table({"kind": ["A"], "mass": [3.0]}), "label column 'species' not in header"),
    ],
)
def test_malformed_parquet_is_refused_with_file_row_and_column(
    tmp_path: Path, table: pa.Table, message: str
) -> None:
    pq.write_table(table, tmp_path / "train.parquet")
    val = write_csv(tmp_path / "val.csv", "species,mass\nA,3\n")
    with pytest.raises(TrainerError) as raised:
        load(tmp_path, str(tmp_path / "train.parquet"), str(val))
    assert str(raised.value).startswith(f"{tmp_path}/train.parquet: ")
    assert message in str(raised.value)


def test_empty_parquet_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train.parquet").write_bytes(b"")
    with pytest.raises(TrainerError, match=r"train\.parquet: empty file"):
        load(tmp_path, str(tmp_path / "train.parquet"), str(SAMPLE_VAL))


def test_a_bad_value_in_a_later_shard_names_that_shard_and_its_line(tmp_path: Path) -> None:
    first, second = shards_of_sample(2)
    (tmp_path / "train-0.csv").write_text(first)
    lines = second.splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",heavy"
    (tmp_path / "train-1.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        TrainerError, match=r"train-1\.csv:6: column 'body_mass_g' has non-numeric value 'heavy'"
    ):
        load(tmp_path, str(tmp_path / "train-*.csv"), str(SAMPLE_VAL))


def test_validation_labels_unknown_to_training_are_rejected(tmp_path: Path) -> None:
    train_path = write_csv(tmp_path / "train.csv", "species,mass\nAdelie,3\n")
    val_path = write_csv(tmp_path / "val.csv", "species,mass\nEmperor,30\n")
    with pytest.raises(TrainerError, match=r"val\.csv: labels \['Emperor'\] do not occur"):
        load(tmp_path, str(train_path), str(val_path))


def test_training_on_sharded_parquet_learns_like_the_csv(tmp_path: Path) -> None:
    for number, text in enumerate(shards_of_sample(2)):
        csv_path = write_csv(tmp_path / f"part-{number}.csv", text)
        (tmp_path / f"part-{number}.parquet").write_bytes(as_parquet(csv_path))
    flags = ("--train-data", str(tmp_path / "part-*.parquet"), "--epochs", "15")
    assert train_in_process(tmp_path / "run", *flags).val_accuracy >= 0.9


def test_constant_columns_centre_to_zero_and_labels_lose_surrounding_spaces(
    tmp_path: Path,
) -> None:
    train = write_csv(tmp_path / "train.csv", "species,flat,mass\n Adelie ,5,1\nGentoo,5,3\n")
    val = write_csv(tmp_path / "val.csv", "mass,species,flat\n2,Adelie,7\n")
    train_data, val_data, schema = load(tmp_path, str(train), str(val))
    assert schema.class_names == ["Adelie", "Gentoo"]
    assert (schema.feature_means, schema.feature_stds) == ([5.0, 2.0], [1.0, 1.0])
    assert train_data.features.tolist() == [[0.0, -1.0], [0.0, 1.0]]
    assert val_data.features.tolist() == [[2.0, 0.0]]  # val's columns in the training order
    assert val_data.labels.tolist() == [0]
