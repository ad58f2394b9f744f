"""One emulator (running the probe app from tests/vertex_emulator/apps) shared by the tests
that need no fresh root, a real aiplatform client on it, and a storage client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.emulator import APPS_DIR, EmulatorProcess, start_emulator
from vertex_jobs.api import Endpoint, make_job_client


@pytest.fixture(scope="session")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    root = tmp_path_factory.mktemp("shared-emulator")
    running = start_emulator(root, "--apps-dir", str(APPS_DIR), "--grace-period", "2")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulator of its own, for tests that restart or kill it."""
    running = start_emulator(tmp_path / "emulator", "--apps-dir", str(APPS_DIR))
    try:
        yield running
    finally:
        running.stop(kill=True)


@pytest.fixture
def client(shared_emulator: EmulatorProcess):
    with make_job_client(Endpoint(shared_emulator.address, insecure=True)) as job_client:
        yield job_client


@pytest.fixture
def gcs(shared_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch):
    """A google-cloud-storage client of the shared emulator's storage."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", shared_emulator.storage_url)
    from google.cloud import storage

    return storage.Client()
