"""Talking to the JobService (`vertex_jobs.api`): endpoint selection (emulator, API endpoint
override, regional default) and the client built for it, the error text an operator reads,
the `Tunables` and their environment overrides, the RPC retry and the poll backoff. No
network."""

from __future__ import annotations

import itertools
import random
from dataclasses import fields

import pytest
from google.api_core import exceptions
from google.api_core.retry import retry_base, retry_unary
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1.services.job_service.transports import JobServiceGrpcTransport

from tests.harness.fake_clock import FakeClock
from vertex_jobs.api import (
    Endpoint,
    Tunables,
    api_message,
    api_retry,
    backoff,
    make_job_client,
    resolve_endpoint,
)

# ---- endpoint and client -----------------------------------------------------------------


def test_emulator_env_selects_an_insecure_channel():
    endpoint = resolve_endpoint(
        "us-central1", "psc.example:443", {"VERTEX_AI_EMULATOR_HOST": "h:1"}
    )
    assert endpoint == Endpoint("h:1", insecure=True)
    with make_job_client(endpoint) as client:
        assert isinstance(client.transport, JobServiceGrpcTransport)
        assert client.transport._host == "h:1"
        assert client.transport._ignore_credentials  # anonymous: no ADC lookup


def test_api_endpoint_overrides_the_regional_host():
    endpoint = resolve_endpoint("us-central1", "us-central1-aiplatform-psc.p.googleapis.com", {})
    assert endpoint == Endpoint("us-central1-aiplatform-psc.p.googleapis.com", insecure=False)
    with make_job_client(endpoint, credentials=AnonymousCredentials()) as client:
        assert client.api_endpoint == "us-central1-aiplatform-psc.p.googleapis.com"


def test_default_endpoint_is_regional():
    endpoint = resolve_endpoint("europe-west4", None, {})
    assert endpoint == Endpoint("europe-west4-aiplatform.googleapis.com", insecure=False)
    with make_job_client(endpoint, credentials=AnonymousCredentials()) as client:
        assert client.api_endpoint == "europe-west4-aiplatform.googleapis.com"
        assert client.transport._host == "europe-west4-aiplatform.googleapis.com:443"


def test_endpoint_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("VERTEX_AI_EMULATOR_HOST", "localhost:8085")
    assert resolve_endpoint("us-central1", None) == Endpoint("localhost:8085", insecure=True)
    monkeypatch.delenv("VERTEX_AI_EMULATOR_HOST")
    assert resolve_endpoint("us-central1", None) == Endpoint(
        "us-central1-aiplatform.googleapis.com", insecure=False
    )


def test_empty_settings_count_as_unset():
    endpoint = resolve_endpoint("us-east1", "", {"VERTEX_AI_EMULATOR_HOST": ""})
    assert endpoint == Endpoint("us-east1-aiplatform.googleapis.com", insecure=False)


# ---- the error text an operator reads ----------------------------------------------------


def test_api_message_is_the_status_code_and_the_api_message():
    assert api_message(exceptions.NotFound("job 42 is gone")) == "NOT_FOUND: job 42 is gone"
    denied = exceptions.PermissionDenied("caller lacks aiplatform.customJobs.create")
    assert api_message(denied) == "PERMISSION_DENIED: caller lacks aiplatform.customJobs.create"


def test_api_message_of_any_other_error_is_its_text():
    assert api_message(ValueError("channel closed")) == "channel closed"
    assert api_message(RuntimeError()) == ""


def test_api_message_without_a_message_falls_back_to_the_text():
    class Bare(Exception):
        message = ""

    assert api_message(Bare("socket reset")) == "socket reset"


# ---- Tunables ----------------------------------------------------------------------------

PRODUCTION_DEFAULTS = {
    "retry_initial_s": 1.0,
    "retry_max_s": 32.0,
    "retry_deadline_s": 300.0,
    "rpc_timeout_s": 60.0,
    "poll_initial_s": 5.0,
    "poll_max_s": 60.0,
    "delete_timeout_s": 3600.0,
    "adopt_attempts": 3,
    "iam_propagation_s": 420.0,
}


@pytest.fixture
def no_overrides(monkeypatch):
    for field in fields(Tunables):
        monkeypatch.delenv(f"VTRAIN_VERTEX_{field.name.upper()}", raising=False)
    return monkeypatch


def test_production_defaults(no_overrides):
    assert {f.name for f in fields(Tunables)} == set(PRODUCTION_DEFAULTS)
    for tunables in (Tunables(), Tunables.from_env()):
        assert {k: getattr(tunables, k) for k in PRODUCTION_DEFAULTS} == PRODUCTION_DEFAULTS
        assert isinstance(tunables.adopt_attempts, int)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("retry_initial_s", "0.25", 0.25),
        ("retry_max_s", "0.5", 0.5),
        ("retry_deadline_s", "2.5", 2.5),
        ("rpc_timeout_s", "7", 7.0),
        ("poll_initial_s", "0.01", 0.01),
        ("poll_max_s", "0.2", 0.2),
        ("delete_timeout_s", "9.5", 9.5),
        ("iam_propagation_s", "1.5", 1.5),
        ("adopt_attempts", "5", 5),
        ("adopt_attempts", "2.0", 2),  # a count: a float spelling is truncated to an int
    ],
)
def test_each_tunable_is_overridden_by_its_environment_variable(no_overrides, name, raw, expected):
    no_overrides.setenv(f"VTRAIN_VERTEX_{name.upper()}", raw)
    tunables = Tunables.from_env()
    assert getattr(tunables, name) == expected
    assert type(getattr(tunables, name)) is type(PRODUCTION_DEFAULTS[name])
    others = {k: v for k, v in PRODUCTION_DEFAULTS.items() if k != name}
    assert {k: getattr(tunables, k) for k in others} == others


def test_an_empty_variable_keeps_the_default(no_overrides):
    no_overrides.setenv("VTRAIN_VERTEX_POLL_MAX_S", "")
    no_overrides.setenv("VTRAIN_VERTEX_ADOPT_ATTEMPTS", "")
    assert Tunables.from_env() == Tunables()


# ---- the retry of idempotent calls -------------------------------------------------------


class Flaky:
    """Raises ``errors`` in turn, then answers "done"; counts the calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    """api_core's retry sleeps on a fake clock; its jitter is at the top of its range."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    return FakeClock(limit_s=3600).install(monkeypatch, retry_unary, retry_base)


@pytest.mark.parametrize(
    "error",
    [
        exceptions.ServiceUnavailable("unavailable"),
        exceptions.ResourceExhausted("quota"),
        exceptions.DeadlineExceeded("slow"),
        exceptions.InternalServerError("oops"),
    ],
    ids=type,
)
def test_transient_errors_are_retried(fake_clock, error):
    call = Flaky(error, error)
    assert api_retry(Tunables())(call)() == "done"
    assert call.calls == 3
    assert fake_clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [
        exceptions.NotFound("gone"),
        exceptions.PermissionDenied("denied"),
        exceptions.InvalidArgument("bad"),
        exceptions.FailedPrecondition("not now"),
        exceptions.Cancelled("cancelled"),
        ValueError("a bug"),
    ],
    ids=type,
)
def test_other_errors_are_not_retried(fake_clock, error):
    call = Flaky(error)
    with pytest.raises(type(error)):
        api_retry(Tunables())(call)()
    assert call.calls == 1
    assert fake_clock.sleeps == []


def test_retry_doubles_from_initial_to_maximum_until_the_deadline(fake_clock):
    call = Flaky(*[exceptions.ServiceUnavailable("down")] * 100)
    with pytest.raises(exceptions.RetryError):
        api_retry(Tunables())(call)()
    assert fake_clock.sleeps[:8] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0, 32.0]
    assert 300.0 - 32.0 < fake_clock.elapsed <= 300.0  # retry_deadline_s


def test_retry_follows_the_tunables(fake_clock):
    tunables = Tunables(retry_initial_s=0.5, retry_max_s=3.0, retry_deadline_s=10.0)
    call = Flaky(*[exceptions.ServiceUnavailable("down")] * 100)
    with pytest.raises(exceptions.RetryError):
        api_retry(tunables)(call)()
    assert fake_clock.sleeps[:5] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert 10.0 - 3.0 < fake_clock.elapsed <= 10.0


# ---- the poll backoff --------------------------------------------------------------------


def test_backoff_doubles_to_the_maximum_with_half_of_each_delay_jittered(monkeypatch):
    calls = []

    def uniform(low, high, pick):
        calls.append((low, high))
        return pick(low, high)

    monkeypatch.setattr(random, "uniform", lambda low, high: uniform(low, high, max))
    assert list(itertools.islice(backoff(5.0, 60.0), 6)) == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert calls[:3] == [(0, 2.5), (0, 5.0), (0, 10.0)]
    monkeypatch.setattr(random, "uniform", lambda low, high: uniform(low, high, min))
    assert list(itertools.islice(backoff(5.0, 60.0), 6)) == [2.5, 5.0, 10.0, 20.0, 30.0, 30.0]


def test_backoff_is_capped_at_its_maximum(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert list(itertools.islice(backoff(1.0, 3.0), 4)) == [1.0, 2.0, 3.0, 3.0]
