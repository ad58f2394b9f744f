"""`emulator_host`: the local stack's jobs go to its own emulator, never to Google or to
whatever the environment names; without that emulator running, a clear error at once."""

from __future__ import annotations

import socket
import time

import pytest

from tests.harness.dynamic_host import DynamicProviderError, DynamicProviderHost
from tests.harness.fake_job_service import FAST_PROVIDER_ENV, FakeVertexJobService
from tests.harness.fake_job_service import custom_job_inputs as job_inputs
from vertex_jobs.api import Endpoint, resolve_endpoint
from vertex_jobs.contract import CUSTOM_JOB_TYPE
from vertex_jobs.providers import CustomJobProvider


def test_the_resources_emulator_beats_the_environment_and_the_api_endpoint():
    environ = {"VERTEX_AI_EMULATOR_HOST": "elsewhere:1"}
    endpoint = resolve_endpoint("us-central1", "psc.example:443", environ, emulator="h:8470")
    assert endpoint == Endpoint("h:8470", insecure=True)
    assert resolve_endpoint("us-central1", None, environ) == Endpoint("elsewhere:1", True)


@pytest.fixture(scope="module")
def fake() -> FakeVertexJobService:
    with FakeVertexJobService() as running:
        yield running


@pytest.fixture(scope="module")
def host(fake):
    """A provider host whose environment points at another (absent) emulator."""
    env = {**FAST_PROVIDER_ENV, "VERTEX_AI_EMULATOR_HOST": f"127.0.0.1:{_free_port()}"}
    with DynamicProviderHost(env=env) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_job_goes_to_its_emulator_host(host, fake):
    fake.reset()
    bound = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="local-train")
    checked = bound.check({}, job_inputs(emulator_host=fake.address))
    assert checked["failures"] == []
    created = bound.create(checked["inputs"])
    assert fake.job_names() == [created["id"]]
    assert created["properties"]["emulator_host"] == fake.address
    assert bound.read(created["id"], created["properties"])["properties"]["state"]
    bound.delete(created["id"], created["properties"])
    assert fake.job_names() == []


def test_no_emulator_at_emulator_host_is_a_clear_error_within_seconds(host):
    bound = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="local-train")
    address = f"127.0.0.1:{_free_port()}"
    checked = bound.check({}, job_inputs(emulator_host=address))["inputs"]
    started = time.monotonic()
    with pytest.raises(DynamicProviderError) as failed:
        bound.create(checked)
    assert time.monotonic() - started < 15  # not the client's minutes of UNAVAILABLE retries
    assert f"no Vertex AI emulator answers at {address}" in failed.value.details
    assert "vertex-training:emulatorHost" in failed.value.details
    assert "scripts/local_up.sh" in failed.value.details


def test_a_new_emulator_address_updates_in_place(host, fake):
    bound = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="local-train")
    olds = bound.check({}, job_inputs(emulator_host="127.0.0.1:8470"))["inputs"]
    news = bound.check(olds, job_inputs(emulator_host="127.0.0.1:9470"))["inputs"]
    diff = bound.diff("id", olds, news)
    assert diff["changes"] == "DIFF_SOME" and diff["replaces"] == []


@pytest.mark.parametrize("address", ["http://127.0.0.1:8470", "", 8470])
def test_check_refuses_an_emulator_host_that_is_not_host_port(host, address):
    bound = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="bad")
    failures = bound.check({}, job_inputs(emulator_host=address))["failures"]
    assert [f["property"] for f in failures] == ["emulator_host"]
    assert f"got {address!r}" in failures[0]["reason"]
