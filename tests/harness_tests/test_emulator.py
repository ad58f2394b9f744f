"""The emulator fixture: a subprocess on free ports with the environment
pointed at it, the default apps dir (images/), restart on the same ports and root."""

from __future__ import annotations

import os

from tests.harness.emulator import PARENT, pool, probe_custom_job, wait_for_job
from vertex_jobs.api import Endpoint, make_job_client

PENGUINS_IMAGE = "local.vtrain/penguins/cpu:ctx-0123456789abcdef"


def test_the_fixture_serves_the_repo_apps_and_survives_a_restart(emulator):
    assert os.environ["VERTEX_AI_EMULATOR_HOST"] == emulator.address
    assert os.environ["STORAGE_EMULATOR_HOST"] == emulator.storage_url
    command = ["python", "-c", "import trainer, os; print(os.getcwd())"]
    request = probe_custom_job(pools=[pool(image=PENGUINS_IMAGE, command=command)])
    with make_job_client(Endpoint(emulator.address, insecure=True)) as client:
        job = client.create_custom_job(parent=PARENT, custom_job=request)
        done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    address, storage = emulator.address, emulator.storage_url
    emulator.restart()
    assert (emulator.address, emulator.storage_url) == (address, storage)
    with make_job_client(Endpoint(emulator.address, insecure=True)) as client:
        assert client.get_custom_job(name=job.name) == done
