"""What the stack knows about the training app in `images/`: its images, flags and metric.

The trainer states the same flags in `images/penguins/trainer/config.py` (it runs in its own
image and cannot import this); `tests/config/test_trainer.py` keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path

# The Pulumi project directory, where the program runs.
PROJECT_DIR = Path(__file__).resolve().parents[1]
IMAGES_DIR = PROJECT_DIR / "images"
# The penguins trainer: its build context, `<flavour>.Dockerfile`, code and sample data.
TRAINER_APP_DIR = IMAGES_DIR / "penguins"
SAMPLE_DATA_DIR = TRAINER_APP_DIR / "sample_data"

# The images a stack can build, each from `images/penguins/<flavour>.Dockerfile`.
IMAGE_FLAVOURS = ("cpu", "gpu")
# Flavours whose image needs GPUs to be of use (and that GPUs need).
GPU_FLAVOURS = ("gpu",)

# The trainer's hyperparameter flags. Vertex passes each tuned parameter as
# `--<parameter id>=<value>`.
HYPERPARAMETERS = (
    "learning-rate",
    "batch-size",
    "hidden-units",
    "epochs",
    "weight-decay",
    "dropout",
    "seed",
)
DEFAULT_METRIC_TAG = "accuracy"
# Flags the job sets itself from the stack (data URIs) unless the job overrides them.
DATA_FLAGS = ("train-data", "val-data")
