"""Entry point: ``python -m trainer.task --train-data ... --val-data ... [flags]``.

Follows the Vertex AI custom-container contract: model to AIP_MODEL_DIR, a checkpoint
per epoch to AIP_CHECKPOINT_DIR (resumed after a worker restart), TensorBoard scalars to
AIP_TENSORBOARD_LOG_DIR, the objective through cloudml-hypertune, and a process group
derived from CLUSTER_SPEC when the job has more than one replica.
"""

import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer import checkpoints, storage
from trainer.config import TrainingConfig, parse_args
from trainer.data import DataFiles, FeatureSchema, LabeledTensors, load_train_and_val
from trainer.distributed import (
    Collective,
    resolve_process_group_spec,
    start_process_group,
    stop_process_group,
)
from trainer.errors import TrainerError
from trainer.model import build_mlp
from trainer.reporting import (
    ObjectiveReporter,
    ScalarWriter,
    check_metric_file_writable,
    open_scalar_writer,
)
from trainer.training import (
    autocast_dtype,
    build_optimizer,
    choose_device,
    choose_precision,
    evaluate,
    shard_indices,
    steps_per_epoch,
    train_one_epoch,
    validation_shard,
)

MODEL_FILE = "model.pt"
METADATA_FILE = "metadata.json"
SCALAR_TAGS = {"train/loss": "train_loss", "val/loss": "val_loss", "val/accuracy": "val_accuracy"}


@dataclass
class TrainingOutcome:
    """What a run produced; returned so tests can inspect the real objects."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    precision: str  # fp32, tf32 or bf16: what --precision resolved to
    autocast_dtype: torch.dtype | None
    start_epoch: int
    steps_per_epoch: int
    global_step: int
    val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _OutputDirs:
    """The chief's output directories, created and checked writable at start-up (each
    with its uploader where it is a gs:// location without the /gcs mount)."""

    model: storage.OutputDir
    checkpoints: storage.OutputDir | None
    tensorboard: storage.OutputDir | None


@dataclass
class _ChiefOutputs:
    """Output locations and writers; only rank 0 has them."""

    model_dir: Path
    checkpoint_dir: Path | None
    scalars: ScalarWriter | None
    objective: ObjectiveReporter
    mirrors: tuple[storage.GcsMirror, ...] = ()

    def sync(self) -> None:
        """Upload what changed to gs:// locations that have no /gcs mount."""
        for mirror in self.mirrors:
            mirror.sync()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        stream=sys.stdout,  # stderr is kept for the one-line fatal error
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        outcome = train(parse_args(argv), os.environ)
    except TrainerError as error:
        print(f"trainer.task: error: {error}", file=sys.stderr)
        return 2
    logging.getLogger("trainer").info("done: val accuracy %.6f", outcome.val_accuracy)
    return 0


def train(config: TrainingConfig, environ: Mapping[str, str]) -> TrainingOutcome:
    """Check the outputs, load data, join the process group if there is one, train, and
    write outputs."""
    spec = resolve_process_group_spec(environ)
    # Only the chief writes, so only it checks; before the data download and the first
    # epoch, so an unwritable location costs seconds, not a trial's worth of training.
    output_dirs = _check_chief_outputs(config) if spec is None or spec.rank == 0 else None
    device = choose_device(environ)
    precision = choose_precision(config.precision, device)  # may refuse: before the data
    train_data, val_data, schema = _load_data(config, environ, device)
    if spec:
        log = logging.getLogger("trainer")
        log.info("joining %s as rank %d of %d", spec.init_method, spec.rank, spec.world_size)
    collective = start_process_group(spec, device)
    completed = False
    try:
        outcome = _train_on_device(
            config, schema, train_data, val_data, collective, precision, output_dirs
        )
        completed = True
    finally:
        stop_process_group(collective, completed=completed)
    return outcome


def _load_data(
    config: TrainingConfig, environ: Mapping[str, str], device: torch.device
) -> tuple[LabeledTensors, LabeledTensors, FeatureSchema]:
    """Both data sets, on ``device``; downloads (where there is no /gcs mount) are
    deleted once read."""
    with tempfile.TemporaryDirectory(prefix="trainer-data-") as download_dir:
        train_files, val_files = (
            DataFiles(location, storage.localize_inputs(location, Path(download_dir)))
            for location in (config.train_data, config.val_data)
        )
        return load_train_and_val(train_files, val_files, config.label_column, environ, device)


@dataclass
class _Run:
    """Everything one process's training loop works with."""

    config: TrainingConfig
    schema: FeatureSchema
    collective: Collective
    device: torch.device
    precision: str
    model: nn.Module  # the plain module: what checkpoints and the model file hold
    trained: nn.Module  # the module the loop steps: DDP-wrapped when distributed
    optimizer: torch.optim.Optimizer
    outputs: _ChiefOutputs | None
    log: logging.Logger


def _train_on_device(
    config: TrainingConfig,
    schema: FeatureSchema,
    train_data: LabeledTensors,
    val_data: LabeledTensors,
    collective: Collective,
    precision: str,
    output_dirs: _OutputDirs | None,
) -> TrainingOutcome:
    device = train_data.features.device
    run = _set_up_run(config, schema, collective, device, precision, output_dirs)
    resumed = _resume(run)
    start_epoch = resumed["epoch"] + 1 if resumed else 1
    history: list[dict[str, float]] = resumed["history"] if resumed else []
    run.trained = _wrap_for_ddp(run.model, collective, device)
    steps = steps_per_epoch(len(train_data), collective.world_size, config.batch_size)
    for epoch in range(start_epoch, config.epochs + 1):
        metrics = _run_epoch(run, epoch, train_data, val_data)
        metrics.update(epoch=epoch, global_step=epoch * steps)
        history.append(metrics)
        run.log.info("epoch %d/%d %s", epoch, config.epochs, _describe(metrics))
        if run.outputs:
            _write_epoch_outputs(run, history)
    final = history[-1] if history else {"val_accuracy": 0.0, "global_step": 0}
    run.log.info("final %s %.6f", config.metric_tag, final["val_accuracy"])
    if run.outputs:
        if start_epoch > config.epochs and history:
            # Restarted after the last checkpoint: the metrics file died with the old
            # worker, so report the checkpointed result again for the tuning service.
            run.outputs.objective.report(final["val_accuracy"], int(final["global_step"]))
        _write_model(run, history)
    return TrainingOutcome(
        model=run.model,
        optimizer=run.optimizer,
        device=device,
        precision=precision,
        autocast_dtype=autocast_dtype(precision),
        start_epoch=start_epoch,
        steps_per_epoch=steps,
        global_step=int(final["global_step"]),
        val_accuracy=float(final["val_accuracy"]),
        history=history,
    )


def _set_up_run(
    config: TrainingConfig,
    schema: FeatureSchema,
    collective: Collective,
    device: torch.device,
    precision: str,
    output_dirs: _OutputDirs | None,
) -> _Run:
    log = logging.getLogger(f"trainer.rank{collective.rank}")
    log.info("device %s, precision %s, world size %d", device, precision, collective.world_size)
    torch.manual_seed(config.seed)
    model = build_mlp(
        len(schema.feature_names), config.hidden_units, len(schema.class_names), config.dropout
    ).to(device)
    optimizer = build_optimizer(model, config.learning_rate, config.weight_decay, device)
    outputs = _open_chief_outputs(config, output_dirs) if output_dirs else None
    return _Run(
        config, schema, collective, device, precision, model, model, optimizer, outputs, log
    )


def _run_epoch(
    run: _Run, epoch: int, train_data: LabeledTensors, val_data: LabeledTensors
) -> dict[str, float]:
    config, collective = run.config, run.collective
    # Reseeding per epoch makes a resumed run draw the same dropout masks as an
    # uninterrupted one; ranks differ so their masks are independent.
    torch.manual_seed(config.seed * 1_000_003 + epoch * 1_009 + collective.rank)
    indices = shard_indices(len(train_data), epoch, config.seed, collective, run.device)
    dtype = autocast_dtype(run.precision)
    loss_sum = train_one_epoch(
        run.trained, run.optimizer, train_data, indices, config.batch_size, dtype
    )
    rows_trained = indices.shape[0] * collective.world_size
    return _epoch_metrics(run, loss_sum, rows_trained, val_data)


def _describe(metrics: dict[str, float]) -> str:
    return " ".join(
        f"{name} {value}" if name == "global_step" else f"{name} {value:.4f}"
        for name, value in metrics.items()
        if name != "epoch"
    )


def _wrap_for_ddp(model: nn.Module, collective: Collective, device: torch.device) -> nn.Module:
    if not collective.enabled:
        return model
    # DDP broadcasts rank 0's parameters here, so every rank starts from the same weights.
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def _epoch_metrics(
    run: _Run, train_loss_sum: torch.Tensor, rows_trained: int, val_data: LabeledTensors
) -> dict[str, float]:
    """Metrics over all ranks' shards, from one all_reduce and one host read per epoch.
    Every rank divides the same reduced totals, so all ranks agree on the objective."""
    shard = validation_shard(len(val_data), run.collective, run.device)
    val_totals = evaluate(run.trained, val_data, shard, autocast_dtype(run.precision))
    totals = run.collective.all_reduce_sum(torch.cat([val_totals, train_loss_sum.double().view(1)]))
    correct, val_loss_sum, val_rows, train_loss_sum_all = totals.tolist()
    return {
        "train_loss": train_loss_sum_all / rows_trained,
        "val_loss": val_loss_sum / val_rows,
        "val_accuracy": correct / val_rows,
    }


def _check_chief_outputs(config: TrainingConfig) -> _OutputDirs:
    """Create every output directory and prove it writable, or raise the one-line error."""
    check_metric_file_writable(os.environ)  # hypertune reads os.environ, not ``environ``

    def prepare(location: str | None, flag: str, restore: Any = None) -> storage.OutputDir | None:
        return storage.open_output_dir(location, flag, restore) if location else None

    if not config.checkpoint_dir:
        logging.getLogger("trainer").info("no --checkpoint-dir/AIP_CHECKPOINT_DIR: no checkpoints")
    model = storage.open_output_dir(config.model_dir, "--model-dir/AIP_MODEL_DIR")
    # Without the /gcs mount, the latest checkpoint is downloaded, so a restart resumes.
    restore = checkpoints.latest_name
    checkpoint_dir = prepare(config.checkpoint_dir, "--checkpoint-dir/AIP_CHECKPOINT_DIR", restore)
    tensorboard = prepare(config.tensorboard_dir, "--tensorboard-dir/AIP_TENSORBOARD_LOG_DIR")
    return _OutputDirs(model, checkpoint_dir, tensorboard)


def _open_chief_outputs(config: TrainingConfig, dirs: _OutputDirs) -> _ChiefOutputs:
    opened = [output for output in (dirs.model, dirs.checkpoints, dirs.tensorboard) if output]
    return _ChiefOutputs(
        model_dir=dirs.model.path,
        checkpoint_dir=dirs.checkpoints.path if dirs.checkpoints else None,
        scalars=open_scalar_writer(dirs.tensorboard.path) if dirs.tensorboard else None,
        objective=ObjectiveReporter(config.metric_tag),
        mirrors=tuple(output.mirror for output in opened if output.mirror),
    )


def _resume(run: _Run) -> dict[str, Any] | None:
    """Restore the latest checkpoint, if any, into model and optimizer on every rank."""
    state = None
    if run.outputs and run.outputs.checkpoint_dir:
        latest = checkpoints.latest_checkpoint(run.outputs.checkpoint_dir)
        state = checkpoints.load_checkpoint(latest) if latest else None
    # Only the chief reads the directory and sends the state to the others, so ranks
    # agree on the epoch even if they would see the directory differently.
    state = run.collective.broadcast_from_chief(state)
    if state is None:
        return None
    _check_checkpoint_matches(state, run.config, run.schema)
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    resume_epoch = state["epoch"] + 1
    run.log.info("resuming from the epoch %d checkpoint at epoch %d", state["epoch"], resume_epoch)
    return state


def _check_checkpoint_matches(
    state: dict[str, Any], config: TrainingConfig, schema: FeatureSchema
) -> None:
    expected = {
        "hidden_units": list(config.hidden_units),
        "feature_names": schema.feature_names,
        "class_names": schema.class_names,
    }
    for key, value in expected.items():
        if state[key] != value:
            raise TrainerError(
                f"checkpoint {key} {state[key]} differ from this run's {value}; "
                "use a fresh --checkpoint-dir for a different model or data set"
            )


def _write_epoch_outputs(run: _Run, history: list[dict[str, float]]) -> None:
    assert run.outputs is not None  # only the chief writes
    latest = history[-1]
    epoch, global_step = int(latest["epoch"]), int(latest["global_step"])
    run.outputs.objective.report(latest["val_accuracy"], global_step)
    if run.outputs.scalars:
        for tag, key in SCALAR_TAGS.items():
            run.outputs.scalars.add_scalar(tag, latest[key], global_step)
        run.outputs.scalars.flush()
    if run.outputs.checkpoint_dir:
        state = {
            "epoch": epoch,
            "model": _cpu_state_dict(run.model),
            "optimizer": run.optimizer.state_dict(),
            "hidden_units": list(run.config.hidden_units),
            "feature_names": run.schema.feature_names,
            "class_names": run.schema.class_names,
            "history": history,
        }
        checkpoints.save_checkpoint(run.outputs.checkpoint_dir, epoch, state)
    run.outputs.sync()


def _write_model(run: _Run, history: list[dict[str, float]]) -> None:
    """model.pt holds the weights plus what is needed to rebuild and feed the network;
    metadata.json repeats the non-tensor part for people and pipelines."""
    assert run.outputs is not None  # only the chief writes
    metadata = {
        "architecture": "mlp",
        "hidden_units": list(run.config.hidden_units),
        "dropout": run.config.dropout,
        "schema": run.schema.to_dict(),
        "metric_tag": run.config.metric_tag,
        "final_metrics": history[-1] if history else {},
    }
    model_dir = run.outputs.model_dir
    torch.save({"state_dict": _cpu_state_dict(run.model), **metadata}, model_dir / MODEL_FILE)
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    if run.outputs.scalars:
        run.outputs.scalars.close()
    run.outputs.sync()


def _cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    # CPU copies load anywhere, including a serving container without a GPU.
    return {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}


if __name__ == "__main__":
    sys.exit(main())
