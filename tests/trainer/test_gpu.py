"""The CUDA path: data loaded onto the GPU, TF32 by default on GPUs that have it, bf16
autocast on request, fused AdamW, and an epoch with no host synchronization. Skipped on
machines without CUDA (the CPU path is covered by test_task.py and test_data.py)."""

from pathlib import Path

import pytest
import torch

from tests.harness.trainer import SAMPLE_TRAIN, SAMPLE_VAL, trainer_args
from trainer.config import DEFAULT_LABEL_COLUMN, parse_args
from trainer.data import DataFiles, LabeledTensors, load_train_and_val
from trainer.distributed import Collective
from trainer.model import build_mlp
from trainer.storage import InputFile
from trainer.task import train
from trainer.training import build_optimizer, shard_indices, train_one_epoch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda", 0)


@pytest.fixture(autouse=True)
def metrics_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(tmp_path / "hypertune" / "output.metrics"))


def has_tf32() -> bool:
    return torch.cuda.get_device_capability(CUDA) >= (8, 0)


def test_auto_precision_trains_in_tf32_with_fused_adamw_on_the_gpu(tmp_path: Path) -> None:
    outcome = train(parse_args(trainer_args(tmp_path, "--epochs", "15"), environ={}), environ={})
    assert outcome.device.type == "cuda"
    assert outcome.precision == ("tf32" if has_tf32() else "fp32")
    assert outcome.autocast_dtype is None
    assert torch.get_float32_matmul_precision() == ("high" if has_tf32() else "highest")
    assert all(parameter.is_cuda for parameter in outcome.model.parameters())
    assert outcome.optimizer.defaults["fused"] is True
    assert outcome.optimizer.state_dict()["state"][0]["exp_avg"].is_cuda
    assert outcome.val_accuracy >= 0.9


def test_bf16_precision_flag_trains_under_autocast(tmp_path: Path) -> None:
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("GPU without native bf16")
    args = trainer_args(tmp_path, "--epochs", "15", "--precision", "bf16")
    outcome = train(parse_args(args, environ={}), environ={})
    assert outcome.precision == "bf16" and outcome.autocast_dtype == torch.bfloat16
    assert outcome.val_accuracy >= 0.85


def test_fp32_precision_flag_turns_tf32_off(tmp_path: Path) -> None:
    args = trainer_args(tmp_path, "--epochs", "5", "--precision", "fp32")
    outcome = train(parse_args(args, environ={}), environ={})
    assert outcome.precision == "fp32" and outcome.autocast_dtype is None
    assert torch.get_float32_matmul_precision() == "highest"
    assert outcome.val_accuracy >= 0.8


def test_data_loads_straight_onto_the_gpu_with_the_cpu_values() -> None:
    def load(device: torch.device) -> tuple:
        files = [
            DataFiles(str(path), [InputFile(path, str(path))])
            for path in (SAMPLE_TRAIN, SAMPLE_VAL)
        ]
        return load_train_and_val(*files, DEFAULT_LABEL_COLUMN, {}, device)

    on_gpu, on_cpu = load(CUDA), load(torch.device("cpu"))
    for gpu_data, cpu_data in zip(on_gpu[:2], on_cpu[:2], strict=True):
        assert gpu_data.features.is_cuda and gpu_data.labels.is_cuda
        torch.testing.assert_close(gpu_data.features.cpu(), cpu_data.features)
        assert torch.equal(gpu_data.labels.cpu(), cpu_data.labels)


def test_an_epoch_never_waits_for_the_gpu() -> None:
    """No .item(), no host copy, no data-dependent shape inside an epoch's steps: CUDA's
    sync debug mode turns any synchronizing call into an error."""
    features = torch.randn(10_000, 16, device=CUDA)
    data = LabeledTensors(features, (features[:, 0] > 0).long())
    model = build_mlp(16, (64, 64), 2, dropout=0.1).to(CUDA)
    optimizer = build_optimizer(model, 1e-3, 1e-4, CUDA)
    single = Collective(None, CUDA)
    train_one_epoch(model, optimizer, data, shard_indices(len(data), 0, 0, single, CUDA), 512, None)
    indices = shard_indices(len(data), 1, 0, single, CUDA)
    torch.cuda.synchronize()  # warm-up done (lazy initialisation may synchronize)
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss_sum = train_one_epoch(model, optimizer, data, indices, 512, None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert loss_sum.is_cuda and loss_sum.item() > 0


def test_a_single_process_draws_the_epoch_permutation_on_the_gpu() -> None:
    single = Collective(None, CUDA)
    first = shard_indices(1000, 3, 7, single, CUDA)
    assert first.is_cuda
    assert torch.equal(first.sort().values.cpu(), torch.arange(1000))
    assert torch.equal(first, shard_indices(1000, 3, 7, single, CUDA))  # seeded
    assert not torch.equal(first, shard_indices(1000, 4, 7, single, CUDA))


def test_saved_model_loads_without_a_gpu(tmp_path: Path) -> None:
    train(parse_args(trainer_args(tmp_path, "--epochs", "1"), environ={}), environ={})
    saved = torch.load(tmp_path / "model" / "model.pt", map_location=None, weights_only=True)
    assert all(tensor.device.type == "cpu" for tensor in saved["state_dict"].values())
