"""Fixtures for the trainer tests."""

from pathlib import Path

import pytest


@pytest.fixture
def metrics_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep hypertune's output per test (its default is a shared /tmp path) and keep the
    machine's Vertex/torchrun variables out of in-process runs. Modules that train in
    process use it for every test (``pytest.mark.usefixtures``)."""
    path = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
    for name in ("CLUSTER_SPEC", "MASTER_ADDR", "WORLD_SIZE", "RANK", "AIP_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    return path
