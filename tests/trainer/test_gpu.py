"""The CUDA path: data and model on the GPU, bf16 autocast where the GPU supports it.
Skipped on machines without CUDA (the CPU path is covered by test_trainer.py)."""

from pathlib import Path

import pytest
import torch

from tests.harness.trainer import trainer_args
from trainer.config import parse_args
from trainer.task import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def metrics_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(tmp_path / "hypertune" / "output.metrics"))


def test_trains_on_cuda_with_bf16_autocast_when_supported(tmp_path: Path) -> None:
    outcome = train(parse_args(trainer_args(tmp_path, "--epochs", "15"), environ={}), environ={})
    assert outcome.device.type == "cuda"
    assert all(parameter.is_cuda for parameter in outcome.model.parameters())
    assert outcome.optimizer.state_dict()["state"][0]["exp_avg"].is_cuda
    expected_dtype = (
        torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else None
    )
    assert outcome.autocast_dtype == expected_dtype
    assert outcome.val_accuracy >= 0.9


def test_fp32_precision_flag_turns_autocast_off_on_cuda(tmp_path: Path) -> None:
    args = trainer_args(tmp_path, "--epochs", "5", "--precision", "fp32")
    outcome = train(parse_args(args, environ={}), environ={})
    assert outcome.device.type == "cuda" and outcome.autocast_dtype is None
    assert outcome.val_accuracy >= 0.8


def test_saved_model_loads_without_a_gpu(tmp_path: Path) -> None:
    train(parse_args(trainer_args(tmp_path, "--epochs", "1"), environ={}), environ={})
    saved = torch.load(tmp_path / "model" / "model.pt", map_location=None, weights_only=True)
    assert all(tensor.device.type == "cpu" for tensor in saved["state_dict"].values())
