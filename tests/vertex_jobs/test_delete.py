"""The providers' delete, in-process against the fake JobService: cancel, the bounded wait for
a terminal state, the delete operation and its polling, transient faults and stalls.

Waits run on `clock` (conftest.py): production bounds on a fake clock. Where a test pins an
exact sequence of waits, `max_jitter` takes the randomness out of the backoff: every interval
is its ceiling (production: 5 s doubling to 60 s; delete bound 3600 s).
"""

from __future__ import annotations

import concurrent.futures
import random
import time as real_time

import grpc
import pytest

from tests.harness.fake_job_service import checked
from tests.harness.job_kinds import KINDS
from vertex_jobs.api import VertexJobError
from vertex_jobs.providers import CustomJobProvider

Code = grpc.StatusCode


@pytest.fixture
def max_jitter(monkeypatch):
    """Every backoff interval (ours and google.api_core's) at the top of its jitter range."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


def _running(fake, kind: str = "custom"):
    provider_class, _, make_inputs, _ = KINDS[kind]
    provider = provider_class()
    outs = provider.create(checked(provider, make_inputs())).outs
    fake.advance(outs["name"], "RUNNING")
    fake.reset_calls()
    return provider, outs


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("verb", ["Get", "Cancel", "Delete", "GetOperation"])
def test_a_transient_fault_at_any_step_of_delete_is_retried(vertex_fake, clock, kind, verb):
    provider, outs = _running(vertex_fake, kind)
    rpc = KINDS[kind][3]
    method = "GetOperation" if verb == "GetOperation" else f"{verb}{rpc}"
    vertex_fake.operation_delay_polls = 1  # so that the operation is polled at all
    vertex_fake.inject(method, Code.UNAVAILABLE)

    provider.delete(outs["name"], outs)

    assert vertex_fake.job_names() == []
    assert vertex_fake.pending_faults(method) == 0
    assert vertex_fake.call_count(method) >= 2  # the faulted call, then its retry


@pytest.mark.parametrize("verb", ["Cancel", "Delete"])
def test_a_delete_step_that_stalls_is_given_up_and_retried(vertex_fake, clock, monkeypatch, verb):
    monkeypatch.setenv("VTRAIN_VERTEX_RPC_TIMEOUT_S", "0.5")  # real seconds; a busy runner
    provider, outs = _running(vertex_fake)  # answers a normal call well within it
    vertex_fake.before(f"{verb}CustomJob", lambda request: real_time.sleep(1.5))

    provider.delete(outs["name"], outs)

    assert vertex_fake.job_names() == []
    assert vertex_fake.call_count(f"{verb}CustomJob") >= 2


def test_a_job_already_cancelling_is_not_cancelled_again(vertex_fake, clock):
    vertex_fake.cancel_delay_gets = 2
    provider, outs = _running(vertex_fake)
    vertex_fake.advance(outs["name"], "CANCELLING")

    provider.delete(outs["name"], outs)

    assert vertex_fake.call_count("CancelCustomJob") == 0
    assert vertex_fake.job_names() == []


def test_a_job_that_does_not_stop_is_left_with_an_error_after_the_bound(
    vertex_fake, clock, max_jitter
):
    vertex_fake.cancel_delay_gets = 10**6  # CANCELLING for ever
    provider, outs = _running(vertex_fake)

    with pytest.raises(VertexJobError) as raised:
        provider.delete(outs["name"], outs)

    assert str(raised.value) == (
        f"{outs['name']} is still JOB_STATE_CANCELLING 3600s after it was asked to cancel; "
        "it is not deleted yet. Re-run destroy to keep waiting."
    )
    assert vertex_fake.job_names() == [outs["name"]]  # not deleted: it may still bill
    assert vertex_fake.call_count("DeleteCustomJob") == 0
    # 5, 10, 20, 40, then 60 s, the last cut to the 3600 s bound, which is spent in full.
    assert clock.sleeps[:5] == [5, 10, 20, 40, 60]
    assert set(clock.sleeps[5:-1]) == {60}
    assert clock.elapsed == pytest.approx(3600)


def test_the_bound_is_spent_to_its_last_fraction(vertex_fake, clock, max_jitter, monkeypatch):
    monkeypatch.setenv("VTRAIN_VERTEX_DELETE_TIMEOUT_S", "36")
    vertex_fake.cancel_delay_gets = 10**6
    provider, outs = _running(vertex_fake)
    with pytest.raises(VertexJobError, match="still JOB_STATE_CANCELLING 36s after"):
        provider.delete(outs["name"], outs)
    assert clock.sleeps == [5, 10, 20, 1]
    assert vertex_fake.call_count("GetCustomJob") == 1 + 5


def test_the_delete_operation_is_polled_with_backoff_within_the_bound(
    vertex_fake, clock, max_jitter
):
    vertex_fake.operation_delay_polls = 10**6  # the delete never completes
    provider, outs = _running(vertex_fake)
    vertex_fake.finish(outs["name"])

    with pytest.raises(concurrent.futures.TimeoutError):
        provider.delete(outs["name"], outs)

    # Polled at 5, 10, 20, 40, then every 60 s (poll_initial_s doubling to poll_max_s), and
    # given up before the delete bound rather than polling on.
    assert clock.sleeps[:5] == [5, 10, 20, 40, 60]
    assert set(clock.sleeps[5:]) == {60}
    assert 3600 - 60 < clock.elapsed <= 3600
    assert vertex_fake.call_count("GetOperation") == len(clock.sleeps) + 1


def test_the_delete_operation_polling_follows_the_environment(
    vertex_fake, clock, max_jitter, monkeypatch
):
    monkeypatch.setenv("VTRAIN_VERTEX_POLL_INITIAL_S", "2")
    monkeypatch.setenv("VTRAIN_VERTEX_POLL_MAX_S", "30")
    monkeypatch.setenv("VTRAIN_VERTEX_DELETE_TIMEOUT_S", "600")
    vertex_fake.operation_delay_polls = 10**6
    provider, outs = _running(vertex_fake)
    vertex_fake.finish(outs["name"])

    with pytest.raises(concurrent.futures.TimeoutError):
        provider.delete(outs["name"], outs)

    assert clock.sleeps[:5] == [2, 4, 8, 16, 30]
    assert set(clock.sleeps[5:]) == {30}
    assert 600 - 30 < clock.elapsed <= 600


def test_a_job_gone_before_delete_counts_as_deleted(vertex_fake, clock):
    provider, outs = _running(vertex_fake)
    vertex_fake.remove_job(outs["name"])
    provider.delete(outs["name"], outs)
    assert vertex_fake.methods_called() == ["GetCustomJob"]


def test_a_job_that_ends_between_the_get_and_the_cancel_is_deleted(vertex_fake, clock):
    provider, outs = _running(vertex_fake)
    vertex_fake.before("CancelCustomJob", lambda request: vertex_fake.finish(request.name))
    provider.delete(outs["name"], outs)  # the cancel is FAILED_PRECONDITION: fine
    assert vertex_fake.job_names() == []
    assert clock.sleeps == []


def test_delete_with_only_the_id_works_like_with_the_outputs(vertex_fake, clock):
    provider = CustomJobProvider()
    _, outs = _running(vertex_fake)
    provider.delete(outs["name"], {})
    assert vertex_fake.job_names() == []
