"""Training throughput: the trainer's loop against a reference loop, in one run on one
device, so the ratio is same-card.

The trainer's loop is what the images run: trainer.training's choose_precision (for
``--precision auto``, or the one given), build_optimizer, shard_indices and
train_one_epoch. The reference is the plain fast PyTorch loop: data on the device, bf16
autocast, fused AdamW, a device-side permutation per epoch, no per-step host sync. Both
train the same MLP (Linear-ReLU-Dropout per hidden layer). They take turns epoch by
epoch; each epoch is timed to the end of its queued GPU work, and the median of each
loop's epochs after a warm-up one counts.

    python benchmarks/trainer_throughput.py                # the issue's shape (a GPU)
    python benchmarks/trainer_throughput.py --small        # a shape a CPU finishes
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "images" / "penguins"))

from trainer.data import LabeledTensors  # noqa: E402
from trainer.distributed import Collective  # noqa: E402
from trainer.model import build_mlp  # noqa: E402
from trainer.training import (  # noqa: E402
    autocast_dtype,
    build_optimizer,
    choose_precision,
    shard_indices,
    train_one_epoch,
)

# The shape: 400k rows, MLP 64-1024-1024-10, batch 8192.
FULL = {
    "rows": 400_000,
    "features": 64,
    "hidden_units": "1024,1024",
    "classes": 10,
    "batch_size": 8192,
}
SMALL = {
    "rows": 40_000,
    "features": 64,
    "hidden_units": "256,256",
    "classes": 10,
    "batch_size": 1024,
}
DROPOUT = 0.1
LEARNING_RATE = 1e-3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help=f"defaults for a CPU: {SMALL}")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--features", type=int)
    parser.add_argument("--hidden-units")
    parser.add_argument("--classes", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per loop")
    parser.add_argument(
        "--precision", default="auto", help="the trainer's --precision (auto, tf32, bf16, fp32)"
    )
    parser.add_argument(
        "--reference-precision",
        choices=("bf16", "fp32"),
        default="bf16",
        help="the reference loop's: bf16 autocast (the issue's reference) or plain fp32",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    for key, value in (SMALL if args.small else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.hidden = tuple(int(width) for width in args.hidden_units.split(","))
    return args


def synthetic_data(args: argparse.Namespace, device: torch.device) -> LabeledTensors:
    """Gaussian features labelled by a random linear teacher: learnable, like real data."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(args.rows, args.features, generator=generator)
    teacher = torch.randn(args.features, args.classes, generator=generator)
    return LabeledTensors(inputs, (inputs @ teacher).argmax(dim=1)).to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_median_seconds(
    epochs: int, device: torch.device, loops: dict[str, Callable[[int], torch.Tensor]]
) -> dict[str, float]:
    """Median seconds per epoch of each loop over ``epochs`` after one warm-up epoch. The
    loops take turns epoch by epoch (in alternating order), so a change in the machine's
    load or clocks hits both alike."""
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    for epoch in range(epochs + 1):
        for name in list(loops) if epoch % 2 == 0 else list(reversed(loops)):
            synchronize(device)
            start = time.perf_counter()
            loss_sum = loops[name](epoch)
            loss_sum.item()  # one host read per epoch: waits for the epoch's queued work
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values[1:]) for name, values in seconds.items()}


def trainer_loop(
    args: argparse.Namespace, data: LabeledTensors
) -> tuple[str, Callable[[int], torch.Tensor]]:
    """The trainer's own functions, as trainer.task calls them for one process."""
    device = data.features.device
    precision = choose_precision(args.precision, device)
    torch.manual_seed(0)
    model = build_mlp(args.features, args.hidden, args.classes, DROPOUT).to(device)
    optimizer = build_optimizer(model, LEARNING_RATE, 1e-4, device)
    single_process = Collective(None, device)

    def run_epoch(epoch: int) -> torch.Tensor:
        choose_precision(args.precision, device)  # its matmul setting, over the reference's
        indices = shard_indices(len(data), epoch, 0, single_process, device)
        return train_one_epoch(
            model, optimizer, data, indices, args.batch_size, autocast_dtype(precision)
        )

    return precision, run_epoch


def reference_loop(args: argparse.Namespace, data: LabeledTensors) -> Callable[[int], torch.Tensor]:
    """Written from scratch, as a PyTorch user would write a fast loop."""
    device = data.features.device
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    width = args.features
    for hidden in args.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(DROPOUT)]
        width = hidden
    model = nn.Sequential(*layers, nn.Linear(width, args.classes)).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=LEARNING_RATE, weight_decay=1e-4, fused=True
    )
    use_bf16 = args.reference_precision == "bf16"
    rows = len(data)

    def run_epoch(epoch: int) -> torch.Tensor:
        if device.type == "cuda":  # TF32 for what autocast leaves in fp32 (or all, in fp32)
            torch.set_float32_matmul_precision("high")
        model.train()
        order = torch.randperm(rows, device=device)
        loss_sum = torch.zeros((), device=device)
        for start in range(0, rows, args.batch_size):
            batch = order[start : start + args.batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(data.features[batch])
            loss = functional.cross_entropy(logits.float(), data.labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
        return loss_sum

    return run_epoch


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name} ({torch.get_num_threads()} CPU threads)")
    print(
        f"rows {args.rows:,}, MLP {'-'.join(map(str, (args.features, *args.hidden)))}"
        f"-{args.classes}, "
        f"batch {args.batch_size}, median of {args.epochs} epochs after a warm-up"
    )
    data = synthetic_data(args, device)
    precision, trainer_epoch = trainer_loop(args, data)
    loops = {"trainer": trainer_epoch, "reference": reference_loop(args, data)}
    seconds = interleaved_median_seconds(args.epochs, device, loops)
    reference = args.rows / seconds["reference"]
    trainer = args.rows / seconds["trainer"]
    print(f"reference ({args.reference_precision}, fused AdamW): {reference:14,.0f} samples/s")
    print(f"trainer   (--precision {args.precision} -> {precision}): {trainer:14,.0f} samples/s")
    print(f"trainer / reference: {trainer / reference:.2f}x (goal >= 1.0x on the same card)")


if __name__ == "__main__":
    main()
