"""Where results go: the hypertune metrics file and TensorBoard scalars."""

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import hypertune

from trainer import storage

log = logging.getLogger(__name__)

METRIC_FILE_VARIABLE = "CLOUD_ML_HP_METRIC_FILE"
# cloudml-hypertune's own default, used when the variable is unset (local runs).
HYPERTUNE_DEFAULT_METRIC_FILE = "/tmp/hypertune/output.metrics"
# Where Vertex points the variable for tuning trials (/var/hypertune/output.metric): a
# directory under /var that only root can create (GoogleCloudPlatform/cloudml-hypertune#6,
# "ROOT user required to report metrics"), so the images create it for their user.
VERTEX_METRIC_DIR = "/var/hypertune"


def metric_file_path(environ: Mapping[str, str]) -> Path:
    """The file hypertune will write: the same lookup as ``hypertune.HyperTune()``."""
    return Path(environ.get(METRIC_FILE_VARIABLE) or HYPERTUNE_DEFAULT_METRIC_FILE)


def check_metric_file_writable(environ: Mapping[str, str]) -> Path:
    """Fail with one line now, not from inside hypertune after the first epoch, when the
    metrics file cannot be written (for instance /var/hypertune as a non-root user)."""
    path = metric_file_path(environ)
    fix = (
        f"the image must create {path.parent} owned by the user the trainer runs as "
        f"(uid {os.getuid()}), as the penguins images do for {VERTEX_METRIC_DIR}; "
        f"outside Vertex, point {METRIC_FILE_VARIABLE} at a writable path"
    )
    what = f"the hypertune metrics directory {path.parent} ({METRIC_FILE_VARIABLE}={path})"
    storage.ensure_writable_dir(path.parent, what, fix)
    if path.exists() and not storage.can_append(path):
        raise storage.not_writable_error(f"the hypertune metrics file {path}", None, fix)
    return path


class ScalarWriter(Protocol):
    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class ObjectiveReporter:
    """Reports the tuning objective through cloudml-hypertune.

    hypertune rewrites the file named by CLOUD_ML_HP_METRIC_FILE (Vertex sets it for
    tuning trials; hypertune's default is /tmp/hypertune/output.metrics) with every
    measurement its instance has seen, the latest 100, so one instance must live for the
    whole run: a fresh one per epoch would leave only the last measurement for Vertex's
    early stopping to read.
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
