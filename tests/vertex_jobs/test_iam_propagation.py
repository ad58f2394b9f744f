"""Create retries PERMISSION_DENIED while IAM grants propagate, and only that.

A grant made in the same `pulumi up` as the first job (serviceAccountUser on the training
account for the deployer) "typically" takes 2 minutes and "potentially 7 minutes or longer"
to take effect (cloud.google.com/iam/docs/access-change-propagation). Until then Vertex
answers the create with PERMISSION_DENIED and makes nothing; the fake does the same for its
first `iam_denied_creates` creates.

The retries run in-process on `clock` (conftest.py): the production window and backoff, on a
fake clock, so the tests assert the virtual time spent and the attempts made, whatever the
machine's speed.
"""

from __future__ import annotations

import grpc
import pytest

from tests.harness.dynamic_host import DynamicProviderError
from tests.harness.fake_job_service import custom_job_inputs
from tests.harness.job_kinds import KINDS
from vertex_jobs.api import Tunables, VertexJobError
from vertex_jobs.contract import CUSTOM_JOB_TYPE
from vertex_jobs.providers import CustomJobProvider

PERMISSIONS = {
    "custom": "aiplatform.customJobs.create",
    "tuning": "aiplatform.hyperparameterTuningJobs.create",
}


def _backoff_bounds(attempt: int) -> tuple[float, float]:
    """The production backoff before retry ``attempt`` (0-based): 1 s doubling to 32 s, the
    upper half jittered (`vertex_jobs.api.backoff`)."""
    delay = min(2.0**attempt, 32.0)
    return delay / 2, delay


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_job_is_created_once_the_grant_takes_effect(vertex_fake, clock, kind):
    provider_class, _, make_inputs, rpc = KINDS[kind]
    vertex_fake.iam_denied_creates = 3
    provider = provider_class()
    inputs = provider.check({}, make_inputs()).inputs

    outs = provider.create(inputs).outs

    assert vertex_fake.call_count(f"Create{rpc}") == 4  # three denials, then the job
    assert vertex_fake.job_names() == [outs["name"]]
    assert outs["state"] == "JOB_STATE_QUEUED"
    assert vertex_fake.call_count(f"List{rpc}s") == 1  # a denial made nothing: no adoption lookups
    # One backoff after each denial, and no other wait: 1 + 2 + 4 s at most, not the window.
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        low, high = _backoff_bounds(attempt)
        assert low <= slept <= high, (attempt, slept)
    assert clock.elapsed <= 7


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_grant_that_never_arrives_fails_after_the_bound_with_a_clear_message(
    vertex_fake, clock, kind
):
    provider_class, _, make_inputs, rpc = KINDS[kind]
    vertex_fake.iam_denied_creates = 10**6
    provider = provider_class()
    inputs = provider.check({}, make_inputs()).inputs

    with pytest.raises(VertexJobError) as raised:
        provider.create(inputs)

    # The production window (420 s from the first attempt) is spent in full and not overrun:
    # the last backoff is cut to what was left of it, then one last attempt, then the error.
    assert clock.elapsed == pytest.approx(420)
    creates = vertex_fake.call_count(f"Create{rpc}")
    assert creates == len(clock.sleeps) + 1  # a backoff after every denial but the last
    for attempt, slept in enumerate(clock.sleeps[:-1]):
        low, high = _backoff_bounds(attempt)
        assert low <= slept <= high, (attempt, slept)
    assert 0 < clock.sleeps[-1] <= _backoff_bounds(len(clock.sleeps) - 1)[1]
    # 1, 2, 4, 8, 16, then 32 s at most (19 attempts) or at least half that (32 attempts).
    assert 19 <= creates <= 32
    message = str(raised.value)
    for expected in (
        f"{rpc} '{inputs['display_name']}'",
        "projects/my-project/locations/us-central1",
        f"for 420s ({creates} attempts)",
        "PERMISSION_DENIED",
        "Nothing was created",
        "iam.serviceAccounts.actAs",
        "trainer@my-project.iam.gserviceaccount.com",
        "roles/iam.serviceAccountUser",
        PERMISSIONS[kind],
        "https://cloud.google.com/iam/docs/access-change-propagation",
        "re-run `pulumi up`",
        "VTRAIN_VERTEX_IAM_PROPAGATION_S, now 420s",
    ):
        assert expected in message, expected
    assert vertex_fake.call_count(f"List{rpc}s") == 1  # no adoption lookups either
    assert vertex_fake.job_names() == []


def test_the_window_is_the_one_the_environment_sets(vertex_fake, clock, monkeypatch):
    monkeypatch.setenv("VTRAIN_VERTEX_IAM_PROPAGATION_S", "900")
    vertex_fake.iam_denied_creates = 10**6
    provider = CustomJobProvider()
    with pytest.raises(VertexJobError, match=r"for 900s \(\d+ attempts\)"):
        provider.create(provider.check({}, custom_job_inputs()).inputs)
    assert clock.elapsed == pytest.approx(900)
    assert vertex_fake.call_count("CreateCustomJob") == len(clock.sleeps) + 1


def test_the_final_message_reaches_the_engine_through_the_host(hosted):
    # The host is another process, on the real clock: it waits out FAST_PROVIDER_ENV's 2 s
    # window. Nothing asserted here depends on how many attempts fit in it.
    fake, host = hosted
    fake.iam_denied_creates = 10**6
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    with pytest.raises(DynamicProviderError) as raised:
        job.create(job.check({}, custom_job_inputs())["inputs"])
    assert "VertexJobError: Vertex AI denied creating CustomJob 'train-resnet'" in (
        raised.value.details
    )
    assert f"({fake.call_count('CreateCustomJob')} attempts)" in raised.value.details
    assert fake.job_names() == []


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("CreateCustomJob", grpc.StatusCode.INVALID_ARGUMENT),
        ("CreateCustomJob", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateCustomJob", grpc.StatusCode.UNAUTHENTICATED),
        ("ListCustomJobs", grpc.StatusCode.PERMISSION_DENIED),  # create only
    ],
)
def test_nothing_else_is_retried(vertex_fake, clock, method, code):
    provider = CustomJobProvider()
    inputs = provider.check({}, custom_job_inputs()).inputs
    vertex_fake.inject(method, code, "no", times=1)
    with pytest.raises(Exception, match="no"):
        provider.create(inputs)
    assert vertex_fake.call_count(method) == 1
    assert clock.sleeps == []  # no backoff either
    assert vertex_fake.job_names() == []


def test_the_bound_is_a_few_minutes_by_default_and_set_by_the_environment(monkeypatch):
    assert Tunables().iam_propagation_s == 420.0  # the documented "potentially 7 minutes"
    monkeypatch.setenv("VTRAIN_VERTEX_IAM_PROPAGATION_S", "900")
    assert Tunables.from_env().iam_propagation_s == 900.0
