"""Training throughput of the trainer's loop: bf16 autocast vs plain fp32.

Runs trainer.training.train_one_epoch (the loop the images run) on synthetic data of a
configurable size, on CUDA when present, else CPU, and prints samples/s for each mode.

    python benchmarks/trainer_throughput.py --rows 200000 --hidden-units 512,512
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "images" / "penguins"))

from trainer.data import LabeledTensors  # noqa: E402
from trainer.distributed import Collective  # noqa: E402
from trainer.model import build_mlp  # noqa: E402
from trainer.training import shard_indices, train_one_epoch  # noqa: E402

MODES = {"fp32": None, "bf16-autocast": torch.bfloat16}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--hidden-units", default="256,256")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per mode")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args()


def synthetic_data(rows: int, features: int, classes: int, device: torch.device) -> LabeledTensors:
    """Gaussian features labelled by a random linear teacher: learnable, like real data."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(rows, features, generator=generator)
    teacher = torch.randn(features, classes, generator=generator)
    return LabeledTensors(inputs, (inputs @ teacher).argmax(dim=1)).to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def epoch_seconds(
    args: argparse.Namespace, data: LabeledTensors, dtype: torch.dtype | None
) -> list[float]:
    device = data.features.device
    hidden_units = tuple(int(width) for width in args.hidden_units.split(","))
    torch.manual_seed(0)
    model = build_mlp(args.features, hidden_units, args.classes, dropout=0.1).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    single_process = Collective(None, device)
    timings = []
    for epoch in range(args.epochs + 1):  # epoch 0 warms up kernels and allocator
        indices = shard_indices(len(data), epoch, 0, single_process, device)
        synchronize(device)
        start = time.perf_counter()
        loss_sum = train_one_epoch(model, optimizer, data, indices, args.batch_size, dtype)
        loss_sum.item()  # waits for the epoch's queued GPU work
        timings.append(time.perf_counter() - start)
    return timings[1:]


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name} ({torch.get_num_threads()} CPU threads)")
    print(
        f"rows {args.rows}, features {args.features}, hidden {args.hidden_units}, "
        f"batch {args.batch_size}, {args.epochs} timed epochs"
    )
    data = synthetic_data(args.rows, args.features, args.classes, device)
    baseline = None
    for mode, dtype in MODES.items():
        seconds = statistics.median(epoch_seconds(args, data, dtype))
        throughput = args.rows / seconds
        baseline = baseline or throughput
        print(
            f"{mode:>14}: {throughput:12,.0f} samples/s  "
            f"({seconds * 1000:8.1f} ms/epoch, {throughput / baseline:4.2f}x fp32)"
        )


if __name__ == "__main__":
    main()
