"""Where results go: the hypertune metrics file and TensorBoard scalars."""

import logging
from pathlib import Path
from typing import Protocol

import hypertune

log = logging.getLogger(__name__)


class ScalarWriter(Protocol):
    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class ObjectiveReporter:
    """Reports the tuning objective through cloudml-hypertune.

    hypertune rewrites the file named by CLOUD_ML_HP_METRIC_FILE (default
    /tmp/hypertune/output.metrics) with every measurement its instance has seen, the
    latest 100, so one instance must live for the whole run: a fresh one per epoch
    would leave only the last measurement for Vertex's early stopping to read.
    """

    def __init__(self, metric_tag: str) -> None:
        self.metric_tag = metric_tag
        self._hypertune = hypertune.HyperTune()

    def report(self, value: float, global_step: int) -> None:
        self._hypertune.report_hyperparameter_tuning_metric(
            hyperparameter_metric_tag=self.metric_tag, metric_value=value, global_step=global_step
        )


def open_scalar_writer(log_dir: Path) -> ScalarWriter | None:
    """A TensorBoard event writer, or None (logged) where `tensorboard` is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        log.warning("TensorBoard scalars skipped for %s: %s", log_dir, error)
        return None
    return SummaryWriter(log_dir=str(log_dir))
