"""Tabular data: CSV or Parquet files with one label column, every other column a numeric
feature, read with pyarrow (multi-threaded, in native code).

Non-numeric feature values (text, empty cells, NA, nan, inf) are rejected with the file,
line (CSV) or row (Parquet), column and value, rather than one-hot encoded: a silently
encoded free-text or ID column is a common way to train on the wrong thing. Drop or
encode such columns before training.

Memory: pyarrow parses into float32 columns; those are copied once into one row-major
numpy matrix, record batch by record batch, each batch dropped once copied (so the two
copies overlap by little more than a batch); torch wraps that matrix without a copy, and
moves it to the device once.
"""

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import torch

from trainer.errors import TrainerError
from trainer.storage import InputFile

DATA_FORMATS = ("csv", "parquet")
FORMAT_OF_EXTENSION = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Vertex's variable for the format of a managed data set's export (jsonl, csv or bigquery;
# https://cloud.google.com/vertex-ai/docs/training/using-managed-datasets); the trainer
# also takes parquet there, for files whose names carry no extension.
DATA_FORMAT_VARIABLE = "AIP_DATA_FORMAT"
FEATURE_TYPE = pa.float32()
# Rows interleaved into the row-major matrix at a time: 8192 x 64 float32 is 2 MiB, so a
# block stays in cache while each column is written into it.
COPY_BLOCK_ROWS = 8192
_ARROW_BAD_VALUE = re.compile(
    r"In CSV column #(\d+): CSV conversion error to \w+: invalid value '(.*)'", re.DOTALL
)


@dataclass(frozen=True)
class FeatureSchema:
    """What a model was trained on; saved with it so predictions can be reproduced."""

    feature_names: list[str]
    class_names: list[str]
    feature_means: list[float]
    feature_stds: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LabeledTensors:
    features: torch.Tensor  # float32, (rows, features), standardized
    labels: torch.Tensor  # int64, (rows,), class indices

    def __len__(self) -> int:
        return self.labels.shape[0]

    def to(self, device: torch.device) -> "LabeledTensors":
        return LabeledTensors(self.features.to(device), self.labels.to(device))


@dataclass
class _Shard:
    """One file's data, checked: record batches of float32 feature columns in
    ``feature_names`` order (taken from the list, and so freed, once copied), and the
    string labels."""

    file: InputFile
    feature_names: list[str]
    batches: list[list[pa.Array]]
    labels: pa.ChunkedArray
    csv_header: list[str] | None  # None for Parquet

    @property
    def rows(self) -> int:
        return len(self.labels)


def _feature_batches(table: pa.Table, names: list[str]) -> list[list[pa.Array]]:
    """The columns ``names`` of ``table`` as record batches: zero-copy slices."""
    return [batch.columns for batch in table.select(names).to_batches()]


@dataclass(frozen=True)
class _Table:
    location: str  # what the user named: a path, URI or pattern
    feature_names: list[str]
    shards: list[_Shard]

    @property
    def rows(self) -> int:
        return sum(shard.rows for shard in self.shards)

    def labels(self) -> pa.ChunkedArray:
        chunks = [chunk for shard in self.shards for chunk in shard.labels.chunks]
        return pa.chunked_array(chunks, pa.string())


@dataclass(frozen=True)
class DataFiles:
    """A data set: the location the user gave (path, URI or pattern) and its files."""

    location: str
    files: list[InputFile]


def load_train_and_val(
    train_files: DataFiles,
    val_files: DataFiles,
    label_column: str,
    environ: Mapping[str, str],
    device: torch.device,
) -> tuple[LabeledTensors, LabeledTensors, FeatureSchema]:
    """Read both data sets onto ``device``, standardize features with the training
    statistics, and index the labels (classes in sorted order)."""
    train = _read_table(train_files, label_column, environ)
    val = _read_table(val_files, label_column, environ, train.feature_names)
    class_names = sorted(pc.unique(train.labels()).to_pylist())
    unknown = sorted(set(pc.unique(val.labels()).to_pylist()) - set(class_names))
    if unknown:
        raise TrainerError(f"{val.location}: labels {unknown} do not occur in the training data")
    train_features = _feature_matrix(train)
    means, stds = _column_means_and_stds(train_features)
    schema = FeatureSchema(train.feature_names, class_names, means.tolist(), stds.tolist())
    train_tensors = _to_tensors(train, train_features, schema, device)
    del train_features  # on a GPU, the host copy goes before the validation data comes
    val_tensors = _to_tensors(val, _feature_matrix(val), schema, device)
    return train_tensors, val_tensors, schema


def data_format(file: InputFile, environ: Mapping[str, str]) -> str:
    """The file's format from its extension, else from AIP_DATA_FORMAT."""
    by_extension = FORMAT_OF_EXTENSION.get(Path(file.source).suffix.lower())
    if by_extension:
        return by_extension
    declared = environ.get(DATA_FORMAT_VARIABLE)
    if not declared:
        raise TrainerError(
            f"{file.source}: cannot tell the data format from the name; name the files "
            f"{' or '.join(FORMAT_OF_EXTENSION)}, or set {DATA_FORMAT_VARIABLE} to one of "
            f"{', '.join(DATA_FORMATS)}"
        )
    if declared not in DATA_FORMATS:
        raise TrainerError(
            f"{DATA_FORMAT_VARIABLE}={declared!r} is not supported (for {file.source}); "
            f"allowed: {', '.join(DATA_FORMATS)} (export the data set as CSV)"
        )
    return declared


def _read_table(
    data: DataFiles,
    label_column: str,
    environ: Mapping[str, str],
    expected_features: list[str] | None = None,
) -> _Table:
    shards = []
    for file in data.files:
        if file.local.stat().st_size == 0:
            raise TrainerError(f"{file.source}: empty file, expected a header row")
        reader = _read_parquet if data_format(file, environ) == "parquet" else _read_csv
        shard = reader(file, label_column, expected_features)
        shards.append(shard)
        expected_features = expected_features or shard.feature_names
    table = _Table(data.location, expected_features or [], shards)
    if table.rows == 0:
        files = data.files
        raise TrainerError(
            f"{files[0].source}: no data rows after the header"
            if len(files) == 1
            else f"{data.location}: no data rows in any of its {len(files)} files"
        )
    return table


def _feature_matrix(table: _Table) -> np.ndarray:
    """The float32 (rows, features) matrix of all shards, checked for nan and inf."""
    features = np.empty((table.rows, len(table.feature_names)), dtype=np.float32)
    offset = 0
    for shard in table.shards:
        shard_row = 0
        while shard.batches:
            columns = [array.to_numpy(zero_copy_only=False) for array in shard.batches.pop(0)]
            rows = len(columns[0])
            _copy_checked(shard, shard_row, columns, features[offset : offset + rows])
            offset, shard_row = offset + rows, shard_row + rows
            del columns  # with the batch popped, nothing holds its Arrow buffers now
    return features


def _column_means_and_stds(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population standard deviation, accumulated in float64 over
    cache-sized blocks (Chan et al.'s pairwise update): exact where a float32 sum over
    millions of rows drifts, with no full-size temporary, and faster than torch.std_mean
    over dim 0 of a row-major matrix."""
    count, means, squares = 0, np.zeros(features.shape[1]), np.zeros(features.shape[1])
    for start in range(0, len(features), COPY_BLOCK_ROWS):
        block = features[start : start + COPY_BLOCK_ROWS]
        block_count, block_means = len(block), block.mean(axis=0, dtype=np.float64)
        centred = block - block_means.astype(np.float32)
        block_squares = np.einsum("ij,ij->j", centred, centred, dtype=np.float64)
        delta, total = block_means - means, count + block_count
        means += delta * block_count / total
        squares += block_squares + delta**2 * count * block_count / total
        count = total
    stds = np.sqrt(squares / count)
    # A constant column has std 0; dividing by 1 instead leaves it at 0 after centring.
    return means, np.where(stds > 0, stds, 1.0)


def _to_tensors(
    table: _Table, features: np.ndarray, schema: FeatureSchema, device: torch.device
) -> LabeledTensors:
    """Standardize ``features`` in place and hand it to torch (no copy on the CPU, one to
    a GPU), with the labels as class indices."""
    np.subtract(features, np.float32(schema.feature_means), out=features)
    np.divide(features, np.float32(schema.feature_stds), out=features)
    value_set = pa.array(schema.class_names, pa.string())
    labels = pc.index_in(table.labels(), value_set=value_set).to_numpy().astype(np.int64)
    return LabeledTensors(
        torch.from_numpy(features).to(device), torch.from_numpy(labels).to(device)
    )


def _copy_checked(
    shard: _Shard, shard_row: int, columns: list[np.ndarray], target: np.ndarray
) -> None:
    """Interleave one batch's columns into its rows of the matrix, a cache-sized block at
    a time, rejecting nan and inf (which both readers parse as numbers)."""
    for start in range(0, len(target), COPY_BLOCK_ROWS):
        block = target[start : start + COPY_BLOCK_ROWS]
        np.stack([column[start : start + len(block)] for column in columns], axis=1, out=block)
        finite = np.isfinite(block)
        if not finite.all():
            row, index = np.argwhere(~finite)[0]  # the first in file order
            raise _non_finite(shard, shard.feature_names[index], shard_row + start + int(row))


# --- CSV ---------------------------------------------------------------------------


def _read_csv(file: InputFile, label_column: str, expected: list[str] | None) -> _Shard:
    header = _csv_header(file)
    feature_names = _check_columns(file, header, label_column, expected)
    column_types = {name: FEATURE_TYPE for name in feature_names} | {label_column: pa.string()}
    try:
        table = pa_csv.read_csv(
            file.local,
            read_options=pa_csv.ReadOptions(column_names=header, skip_rows=1),
            # No null values: an empty or NA cell is an error, not a missing value.
            convert_options=pa_csv.ConvertOptions(
                column_types=column_types,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        raise _csv_error(file, header, error) from None
    labels = pc.utf8_trim_whitespace(table.column(label_column))
    order = expected or feature_names
    return _Shard(file, order, _feature_batches(table, order), labels, header)


def _csv_header(file: InputFile) -> list[str]:
    # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first name.
    with file.local.open(newline="", encoding="utf-8-sig") as csv_file:
        header = [name.strip() for name in next(csv.reader(csv_file), [])]
    if not header:
        raise TrainerError(f"{file.source}: empty file, expected a CSV header row")
    return header


def _csv_records(file: InputFile) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data row, skipping blank lines as Arrow does."""
    with file.local.open(newline="", encoding="utf-8-sig") as csv_file:
        reader = csv.reader(csv_file)
        next(reader, None)
        for row in reader:
            if row:
                yield reader.line_num, row


def _csv_error(file: InputFile, header: list[str], error: pa.ArrowInvalid) -> TrainerError:
    """Arrow names neither the line nor always the row of a bad value; find it by reading
    the file again in Python, up to that row (only on this error path)."""
    bad_value = _ARROW_BAD_VALUE.search(str(error))
    for line, row in _csv_records(file):
        if len(row) != len(header):
            found = len(row)
            return TrainerError(
                f"{file.source}:{line}: expected {len(header)} fields, found {found}"
            )
        if bad_value:
            column, text = int(bad_value.group(1)), row[int(bad_value.group(1))]
            if text == bad_value.group(2) or not _is_number(text):
                return _non_numeric(f"{file.source}:{line}", header[column], text)
    return TrainerError(f"{file.source}: {error}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text  # Python takes 1_000, Arrow does not


def _non_numeric(where: str, column: str, value: object) -> TrainerError:
    return TrainerError(
        f"{where}: column {column!r} has non-numeric value {value!r}; features must be "
        "numbers (drop or encode the column before training)"
    )


def _non_finite(shard: _Shard, column: str, row: int) -> TrainerError:
    """The error for a nan or inf in data row ``row`` (0-based) of a shard."""
    if shard.csv_header is None:
        return _non_numeric(f"{shard.file.source}: row {row + 1}", column, "nan or inf")
    line, fields = next(record for n, record in enumerate(_csv_records(shard.file)) if n == row)
    return _non_numeric(
        f"{shard.file.source}:{line}", column, fields[shard.csv_header.index(column)]
    )


# --- Parquet -----------------------------------------------------------------------


def _read_parquet(file: InputFile, label_column: str, expected: list[str] | None) -> _Shard:
    try:
        schema = pq.read_schema(file.local)
    except (pa.ArrowInvalid, OSError) as error:
        raise TrainerError(f"{file.source}: not a readable Parquet file ({error})") from None
    feature_names = _check_columns(file, schema.names, label_column, expected)
    for name in feature_names:
        field_type = schema.field(name).type
        if not (pa.types.is_integer(field_type) or pa.types.is_floating(field_type)):
            raise TrainerError(
                f"{file.source}: column {name!r} has type {field_type}; features must be "
                "numbers (drop or encode the column before training)"
            )
    table = pq.read_table(file.local, columns=schema.names)
    for name in table.column_names:
        column = table.column(name)
        if column.null_count:
            row = pc.index(pc.is_null(column), True).as_py()
            raise TrainerError(f"{file.source}: row {row + 1}: column {name!r} is empty (null)")
    labels = pc.utf8_trim_whitespace(table.column(label_column).cast(pa.string()))
    order = expected or feature_names
    for name in order:
        column = table.column(name).cast(FEATURE_TYPE, safe=False)
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return _Shard(file, order, _feature_batches(table, order), labels, None)


# --- both --------------------------------------------------------------------------


def _check_columns(
    file: InputFile, names: list[str], label_column: str, expected: list[str] | None
) -> list[str]:
    """The feature columns (every column but the label), checked against the training's."""
    if label_column not in names:
        raise TrainerError(
            f"{file.source}: label column {label_column!r} not in header {names}; "
            "set --label-column"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TrainerError(f"{file.source}: duplicate columns {duplicates}")
    found = [name for name in names if name != label_column]
    if not found:
        raise TrainerError(f"{file.source}: no feature columns besides the label column")
    if expected is not None and sorted(found) != sorted(expected):
        raise TrainerError(
            f"{file.source}: feature columns {found} differ from the training data's {expected}"
        )
    return found
