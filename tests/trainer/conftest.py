"""Fixtures for the trainer tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.trainer import GcsEmulator, gcs_emulator


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


@pytest.fixture(scope="module")
def gcs_server() -> Iterator[GcsEmulator]:
    """One in-memory Cloud Storage emulator per test module (starting one takes a moment)."""
    with gcs_emulator() as emulator:
        yield emulator


@pytest.fixture
def gcs(gcs_server: GcsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> GcsEmulator:
    """The emulator, reached as the trainer reaches it on the local stack: through
    STORAGE_EMULATOR_HOST, with no /gcs FUSE mount (so gs:// inputs are downloaded)."""
    from trainer import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    monkeypatch.setattr(storage, "GCS_FUSE_ROOT", tmp_path / "no-fuse-mount")
    return gcs_server
