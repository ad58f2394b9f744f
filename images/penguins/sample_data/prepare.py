"""Rebuild train.csv and val.csv from the Palmer Penguins CSV (see SOURCE.md).

Usage: python prepare.py path/to/penguins.csv

Keeps the label and the four numeric measurements, drops rows with a missing
measurement, and sends every fifth remaining row to validation. The source file is
grouped by species, so this deterministic split keeps the class mix alike in both.
"""

import csv
import sys
from pathlib import Path

LABEL_COLUMN = "species"
FEATURE_COLUMNS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
VALIDATION_EVERY_NTH_ROW = 5


def main(source_csv: Path) -> None:
    with source_csv.open(newline="") as source:
        rows = [row for row in csv.DictReader(source) if "NA" not in _selected(row).values()]
    train_rows = [row for index, row in enumerate(rows) if index % VALIDATION_EVERY_NTH_ROW]
    val_rows = [row for index, row in enumerate(rows) if not index % VALIDATION_EVERY_NTH_ROW]
    here = Path(__file__).parent
    _write(here / "train.csv", train_rows)
    _write(here / "val.csv", val_rows)
    print(f"train: {len(train_rows)} rows, val: {len(val_rows)} rows")


def _selected(row: dict[str, str]) -> dict[str, str]:
    return {column: row[column] for column in [LABEL_COLUMN, *FEATURE_COLUMNS]}


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=[LABEL_COLUMN, *FEATURE_COLUMNS])
        writer.writeheader()
        writer.writerows(_selected(row) for row in rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
