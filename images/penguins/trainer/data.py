"""CSV loading: a header row, one label column, every other column a numeric feature.

Non-numeric feature values (text, empty cells, NA, nan, inf) are rejected with the
column, line and value, rather than one-hot encoded: a silently encoded free-text or
ID column is a common way to train on the wrong thing. Drop or encode such columns
before training.
"""

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from trainer.errors import TrainerError


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


@dataclass(frozen=True)
class _RawTable:
    feature_names: list[str]
    rows: list[list[float]]
    labels: list[str]


def load_train_and_val(
    train_path: Path, val_path: Path, label_column: str
) -> tuple[LabeledTensors, LabeledTensors, FeatureSchema]:
    """Read both CSVs, standardize features with train statistics, index the labels."""
    train = _read_table(train_path, label_column)
    val = _read_table(val_path, label_column, expected_features=train.feature_names)
    class_names = sorted(set(train.labels))
    unknown = sorted(set(val.labels) - set(class_names))
    if unknown:
        raise TrainerError(f"{val_path}: labels {unknown} do not occur in the training data")
    train_features = torch.tensor(train.rows, dtype=torch.float32)
    means = train_features.mean(dim=0)
    # A constant column has std 0; dividing by 1 instead leaves it at 0 after centring.
    stds = train_features.std(dim=0, unbiased=False)
    stds = torch.where(stds > 0, stds, torch.ones_like(stds))
    schema = FeatureSchema(train.feature_names, class_names, means.tolist(), stds.tolist())
    return _to_tensors(train, schema), _to_tensors(val, schema), schema


def _to_tensors(table: _RawTable, schema: FeatureSchema) -> LabeledTensors:
    features = torch.tensor(table.rows, dtype=torch.float32)
    features = (features - torch.tensor(schema.feature_means)) / torch.tensor(schema.feature_stds)
    class_index = {name: index for index, name in enumerate(schema.class_names)}
    labels = torch.tensor([class_index[label] for label in table.labels], dtype=torch.int64)
    return LabeledTensors(features, labels)


def _read_table(
    path: Path, label_column: str, expected_features: list[str] | None = None
) -> _RawTable:
    with path.open(newline="") as csv_file:
        reader = csv.reader(csv_file)
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise TrainerError(f"{path}: empty file, expected a CSV header row")
        if label_column not in header:
            raise TrainerError(
                f"{path}: label column {label_column!r} not in header {header}; set --label-column"
            )
        label_index = header.index(label_column)
        feature_names = [name for index, name in enumerate(header) if index != label_index]
        _check_feature_columns(path, feature_names, expected_features)
        order = [header.index(name) for name in (expected_features or feature_names)]
        rows, labels = [], []
        for row in reader:
            if not row:
                continue  # tolerate blank lines, e.g. a trailing newline
            _check_width(path, reader.line_num, row, len(header))
            rows.append([_parse_number(path, reader.line_num, header[i], row[i]) for i in order])
            labels.append(row[label_index].strip())
    if not rows:
        raise TrainerError(f"{path}: no data rows after the header")
    return _RawTable(expected_features or feature_names, rows, labels)


def _check_feature_columns(path: Path, found: list[str], expected: list[str] | None) -> None:
    if not found:
        raise TrainerError(f"{path}: no feature columns besides the label column")
    if expected is not None and sorted(found) != sorted(expected):
        raise TrainerError(
            f"{path}: feature columns {found} differ from the training data's {expected}"
        )


def _check_width(path: Path, line: int, row: list[str], width: int) -> None:
    if len(row) != width:
        raise TrainerError(f"{path}:{line}: expected {width} fields, found {len(row)}")


def _parse_number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise TrainerError(
            f"{path}:{line}: column {column!r} has non-numeric value {text!r}; features must "
            "be numbers (drop or encode the column before training)"
        )
    return value
