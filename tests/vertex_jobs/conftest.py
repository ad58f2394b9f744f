"""Fixtures shared by the Vertex job tests: ``clock``, the providers' waits on a fake clock."""

from __future__ import annotations

import pytest

from tests.harness.fake_clock import FakeClock

# The providers read `Tunables` from the environment at call time; `vertex_fake` shrinks these
# (FAST_PROVIDER_ENV) and `clock` takes them away again, so that the production backoffs and
# bounds apply. VTRAIN_VERTEX_RPC_TIMEOUT_S stays shrunk: an RPC's own timeout is measured by
# the gRPC channel on the real clock.
PRODUCTION_KNOBS = (
    "VTRAIN_VERTEX_RETRY_INITIAL_S",
    "VTRAIN_VERTEX_RETRY_MAX_S",
    "VTRAIN_VERTEX_RETRY_DEADLINE_S",
    "VTRAIN_VERTEX_POLL_INITIAL_S",
    "VTRAIN_VERTEX_POLL_MAX_S",
    "VTRAIN_VERTEX_DELETE_TIMEOUT_S",
    "VTRAIN_VERTEX_ADOPT_ATTEMPTS",
    "VTRAIN_VERTEX_IAM_PROPAGATION_S",
)


@pytest.fixture
def clock(vertex_fake, monkeypatch) -> FakeClock:
    """``vertex_fake`` with the production bounds, and every wait of an in-process provider
    virtual: ``time`` in vertex_jobs.providers (create's IAM retry and wait, the adoption
    lookups, delete's wait) and in google.api_core's retry (the client's retry deadline and
    the delete operation's polling) is a FakeClock that moves only when slept on. Nothing
    depends on how fast the machine is; assert on ``clock.elapsed`` and ``clock.sleeps``.

    Not for the dynamic-provider host (``hosted``): it is another process, on the real clock.
    """
    from google.api_core.retry import retry_base, retry_unary

    from vertex_jobs import providers

    for key in PRODUCTION_KNOBS:
        monkeypatch.delenv(key, raising=False)
    # The longest production bound is the 3600 s delete timeout; twice that means a bound is
    # missing, and the test fails instead of polling the fake forever.
    return FakeClock(limit_s=2 * 3600).install(monkeypatch, providers, retry_unary, retry_base)
