"""Loading tabular training data: the trainer's pyarrow reader against the pure-Python
CSV reader it replaced, on the same generated file, in one run.

Writes a CSV of ROWS x FEATURES numeric features plus a label column to a temporary
directory, then loads it as training data (with a small validation file) once per path,
each in its own subprocess so that its peak resident memory (ru_maxrss) is its own, and
prints seconds, the speed-up (goal: >= 10x) and peak memory.

    python benchmarks/data_loading.py                 # 1M rows x 64 features
    python benchmarks/data_loading.py --rows 100000   # quicker
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAINER_ROOT = Path(__file__).resolve().parent.parent / "images" / "penguins"
LABEL = "label"
VAL_ROWS = 1_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--arrow-threads",
        type=int,
        action="append",
        help="also time the new path with pyarrow limited to N threads (repeatable), "
        "to see how it scales with cores",
    )
    parser.add_argument("--measure", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--val", help=argparse.SUPPRESS)
    return parser.parse_args()


def write_data(path: Path, rows: int, features: int, seed: int) -> None:
    """Features rounded to 3 decimals (like the sample data, ~7 characters a value) and a
    label from 10 classes; written with pyarrow, in blocks, to bound memory."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    generator = np.random.default_rng(seed)
    names = [f"f{index:02d}" for index in range(features)]
    classes = np.array([f"class{index}" for index in range(10)])
    block = 100_000
    with pa_csv.CSVWriter(
        path, pa.schema([(LABEL, pa.string())] + [(n, pa.float64()) for n in names])
    ) as writer:
        for start in range(0, rows, block):
            count = min(block, rows - start)
            values = np.round(generator.normal(size=(count, features)) * 100, 3)
            labels = classes[generator.integers(0, 10, size=count)]
            columns = [pa.array(labels)] + [pa.array(values[:, i]) for i in range(features)]
            writer.write_table(pa.table(columns, names=[LABEL, *names]))


# --- the old path: the trainer's pure-Python reader before pyarrow, kept verbatim in
# substance (csv module, float() per cell, list of lists, torch.tensor) ----------------


def old_load(train_path: Path, val_path: Path, label_column: str):
    import csv
    import math

    import torch

    def read_table(path: Path, expected: list[str] | None = None):
        with path.open(newline="") as csv_file:
            reader = csv.reader(csv_file)
            header = [name.strip() for name in next(reader, [])]
            if not header:
                raise ValueError(f"{path}: empty file, expected a CSV header row")
            label_index = header.index(label_column)
            names = [name for index, name in enumerate(header) if index != label_index]
            order = [header.index(name) for name in (expected or names)]
            rows, labels = [], []
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise ValueError(f"{path}:{reader.line_num}: expected {len(header)} fields")
                parsed = []
                for index in order:
                    try:
                        value = float(row[index])
                    except ValueError:
                        value = math.nan
                    if not math.isfinite(value):
                        raise ValueError(f"{path}:{reader.line_num}: non-numeric {row[index]!r}")
                    parsed.append(value)
                rows.append(parsed)
                labels.append(row[label_index].strip())
        return expected or names, rows, labels

    def to_tensors(rows, labels, means, stds, class_names):
        features = torch.tensor(rows, dtype=torch.float32)
        features = (features - torch.tensor(means)) / torch.tensor(stds)
        index = {name: position for position, name in enumerate(class_names)}
        return features, torch.tensor([index[label] for label in labels], dtype=torch.int64)

    names, train_rows, train_labels = read_table(train_path)
    _, val_rows, val_labels = read_table(val_path, names)
    class_names = sorted(set(train_labels))
    train_features = torch.tensor(train_rows, dtype=torch.float32)
    means = train_features.mean(dim=0)
    stds = train_features.std(dim=0, unbiased=False)
    stds = torch.where(stds > 0, stds, torch.ones_like(stds))
    del train_features
    train = to_tensors(train_rows, train_labels, means.tolist(), stds.tolist(), class_names)
    val = to_tensors(val_rows, val_labels, means.tolist(), stds.tolist(), class_names)
    return train, val


def new_load(train_path: Path, val_path: Path, label_column: str):
    import torch

    from trainer.data import DataFiles, load_train_and_val
    from trainer.storage import InputFile

    train, val = (
        DataFiles(str(path), [InputFile(path, str(path))]) for path in (train_path, val_path)
    )
    return load_train_and_val(train, val, label_column, {}, torch.device("cpu"))


def measure(path_name: str, train: Path, val: Path) -> None:
    """Child process: load once, print seconds and memory as one JSON line."""
    import pyarrow  # imported before the baseline, as both paths pay for torch
    import torch  # noqa: F401

    threads = os.environ.get("ARROW_THREADS")
    if threads:
        pyarrow.set_cpu_count(int(threads))
    sys.path.insert(0, str(TRAINER_ROOT))
    import trainer.data  # noqa: F401  (imports are not what is timed)

    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    loaded = (old_load if path_name == "old" else new_load)(train, val, LABEL)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = len(loaded[0][1]) if path_name == "old" else len(loaded[0])
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024,
                      "baseline_mib": baseline_kib / 1024, "rows": rows}))  # fmt: skip


def run_child(path_name: str, train: Path, val: Path, threads: int | None = None) -> dict:
    env = {**os.environ, "ARROW_THREADS": str(threads or "")}
    command = [
        sys.executable,
        __file__,
        "--measure",
        path_name,
        "--train",
        str(train),
        "--val",
        str(val),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{path_name} path failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.measure:
        measure(args.measure, Path(args.train), Path(args.val))
        return
    import pyarrow as pa
    import torch

    directory = Path(tempfile.mkdtemp(prefix="data-loading-"))
    train, val = directory / "train.csv", directory / "val.csv"
    write_data(train, args.rows, args.features, seed=0)
    write_data(val, VAL_ROWS, args.features, seed=1)
    size_mib = train.stat().st_size / 2**20
    print(
        f"{args.rows:,} rows x {args.features} features + label: {size_mib:,.0f} MiB CSV; "
        f"{os.cpu_count()} CPUs, pyarrow {pa.__version__} ({pa.cpu_count()} threads), "
        f"torch {torch.__version__}"
    )
    data_mib = args.rows * args.features * 4 / 2**20
    print(f"the float32 feature matrix itself: {data_mib:,.0f} MiB")
    results = {name: run_child(name, train, val) for name in ("new", "old")}
    for threads in args.arrow_threads or []:
        results[f"new, {threads} thread(s)"] = run_child("new", train, val, threads)
    for name, result in results.items():
        assert result["rows"] == args.rows, result
        print(
            f"{name:>4} path: {result['seconds']:8.2f} s, peak RSS {result['peak_mib']:8,.0f} MiB "
            f"({result['peak_mib'] - result['baseline_mib']:,.0f} MiB over the imports' "
            f"{result['baseline_mib']:,.0f} MiB)"
        )
    print(f"speed-up: {results['old']['seconds'] / results['new']['seconds']:.1f}x (goal >= 10x)")
    if args.keep:
        print(f"files kept in {directory}")
    else:
        for path in (train, val):
            path.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
