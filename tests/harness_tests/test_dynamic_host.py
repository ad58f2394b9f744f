"""The test driver for Pulumi's dynamic-provider host works for any dynamic provider."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading

import pulumi
import pytest
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from tests.harness import fake_job_service as fakes
from tests.harness.dynamic_host import (
    PROJECT_DIR,
    UNKNOWN,
    DynamicProviderError,
    DynamicProviderHost,
    make_urn,
    serialized_provider,
    to_struct,
)
from tests.harness.fake_job_service import custom_job_inputs
from vertex_jobs.contract import CUSTOM_JOB_TYPE, RESOURCE_UID_LABEL
from vertex_jobs.providers import CustomJobProvider
from vertex_jobs.resources import CustomJob

URN = make_urn("pulumi-python:dynamic:Echo", "echo")


class EchoProvider(ResourceProvider):
    """Echoes its inputs, reports the host's environment, and fails on request."""

    def check(self, olds, news):
        failures = [CheckFailure("size", "must be positive")] if news.get("size", 1) < 1 else []
        return CheckResult({**news, "checked": True}, failures)

    def create(self, props):
        if props.get("explode"):
            raise RuntimeError("boom: the API said no")
        return CreateResult("echo-1", {**props, "marker": os.environ.get("ECHO_MARKER")})

    def read(self, id_, props):
        return ReadResult("" if props.get("gone") else id_, {**props, "read": True})


@pytest.fixture(scope="module")
def host():
    with DynamicProviderHost(env={"ECHO_MARKER": "from-env"}) as started:
        yield started


def test_host_starts_serves_and_stops_cleanly():
    host = DynamicProviderHost()
    host.start()
    assert host.running and host.port
    host.stop()
    assert not host.running
    host.stop()  # idempotent


def test_round_trip_of_every_method_with_plain_dicts(host):
    echo = host.bind(EchoProvider(), type_token="pulumi-python:dynamic:Echo")
    checked = echo.check({}, {"size": 3, "tags": {"a": "b"}, "items": [1, "x"]})
    assert checked == {
        "inputs": {"size": 3, "tags": {"a": "b"}, "items": [1, "x"], "checked": True},
        "failures": [],
    }
    created = echo.create(checked["inputs"])
    assert created["id"] == "echo-1" and created["properties"]["marker"] == "from-env"
    read = echo.read("echo-1", created["properties"])
    assert read["id"] == "echo-1" and read["properties"]["read"] is True
    assert echo.diff("echo-1", created["properties"], checked["inputs"]) == {
        "changes": "DIFF_UNKNOWN",  # the base ResourceProvider.diff says nothing
        "replaces": [],
        "stables": [],
        "delete_before_replace": False,
    }
    assert echo.update("echo-1", created["properties"], checked["inputs"]) == {"properties": {}}
    echo.delete("echo-1", created["properties"])


def test_check_failures_come_back_per_property(host):
    echo = host.bind(EchoProvider())
    assert echo.check({}, {"size": 0})["failures"] == [
        {"property": "size", "reason": "must be positive"}
    ]


def test_provider_exceptions_surface_with_the_host_traceback(host):
    echo = host.bind(EchoProvider())
    with pytest.raises(DynamicProviderError) as raised:
        echo.create({"explode": True})
    assert raised.value.method == "Create"
    assert "RuntimeError: boom: the API said no" in raised.value.details


def test_raw_calls_take_the_provider_property_even_as_a_secret(host):
    """`pulumi.dynamic.Resource` registers `__provider` as a secret; the host refuses secrets
    (Configure answers acceptSecrets=False), so the engine, and the driver, send it plain."""
    configured = host._call(
        "Configure", provider_pb2.ConfigureRequest(args=to_struct(host.config), acceptSecrets=True)
    )
    assert configured.acceptSecrets is False
    secret = rpc.wrap_rpc_secret(serialized_provider(EchoProvider()))
    created = host.create(URN, {"__provider": secret, "size": 1})
    assert created["properties"]["__provider"] == rpc.unwrap_rpc_secret(secret)


def test_unknowns_reach_the_provider_as_the_engine_sends_them(host):
    """The engine sends the UNKNOWN marker; check and diff see ``pulumi.output.Unknown``."""
    echo = host.bind(EchoProvider())
    assert isinstance(echo.check({}, {"size": 2, "image": UNKNOWN})["inputs"]["image"], Unknown)


def test_read_of_a_missing_resource_returns_an_empty_id(host):
    echo = host.bind(EchoProvider())
    assert echo.read("echo-1", {"gone": True})["id"] == ""


def test_serialization_helpers_work_inside_a_running_event_loop():
    async def inside() -> int:
        return len(to_struct({"a": 1, "b": [1, 2]}).fields)

    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset this thread's loop
    try:
        assert loop.run_until_complete(inside()) == 2
    finally:
        loop.close()


def test_providers_are_imported_from_the_project_root_in_the_host(tmp_path):
    """The Vertex providers are pickled by reference, so the host must be able to import
    ``vertex_jobs``: it can from the project root (where the engine starts it), and from
    anywhere else only with the project root on PYTHONPATH."""
    job = {**custom_job_inputs()}
    elsewhere = DynamicProviderHost(cwd=tmp_path, env={"PYTHONPATH": None})
    with elsewhere as host, pytest.raises(DynamicProviderError) as raised:
        host.bind(CustomJobProvider()).check({}, job)
    assert "No module named 'vertex_jobs'" in raised.value.details

    with DynamicProviderHost(cwd=tmp_path, env={"PYTHONPATH": str(PROJECT_DIR)}) as host:
        assert host.bind(CustomJobProvider()).check({}, job)["failures"] == []


def _in_fresh_context(function) -> None:
    """Run ``function`` on a new thread with empty context variables and its own event loop,
    as tests/harness/engine.py runs programs, so Pulumi's global state never leaks between tests."""
    failure: list[BaseException] = []

    def target() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            function()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            failure.append(error)
        finally:
            loop.close()

    thread = threading.Thread(target=contextvars.Context().run, args=(target,))
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_engine_handler_runs_a_program_registered_job_through_the_host():
    """A ``CustomJob`` declared in a Pulumi program (mock monitor) is checked and created
    by the real host against the fake, and its outputs resolve on the Python object."""
    with fakes.FakeVertexJobService() as fake:
        env = {"VERTEX_AI_EMULATOR_HOST": fake.address, **fakes.FAST_PROVIDER_ENV}
        with DynamicProviderHost(env=env) as host:
            handler = host.engine_handler()
            registered: list[tuple[str, str]] = []
            resolved: list[tuple] = []

            class Mocks(pulumi.runtime.Mocks):
                def new_resource(self, args):
                    registered.append((args.typ, args.inputs.get("resource_key")))
                    return handler(args)

                def call(self, args):
                    return {}

            args = {k: v for k, v in custom_job_inputs().items() if k != "resource_key"}

            @pulumi.runtime.test
            def program():
                job = CustomJob("train", args)
                outputs = pulumi.Output.all(job.id, job.state, job.resource_uid, job.console_url)
                return outputs.apply(lambda values: resolved.append(tuple(values)))

            def run() -> None:
                pulumi.runtime.set_mocks(Mocks(), project="proj", stack="dev", preview=False)
                program()

            _in_fresh_context(run)

        assert registered == [(CUSTOM_JOB_TYPE, "proj/dev/train")]  # set by the resource
        [(job_id, state, uid, console_url)] = resolved
        assert job_id == fake.job_names()[0] and state == "JOB_STATE_QUEUED"
        assert fake.job(job_id).labels[RESOURCE_UID_LABEL] == uid
        assert console_url.endswith(f"/training/{job_id.rsplit('/', 1)[-1]}?project=my-project")
