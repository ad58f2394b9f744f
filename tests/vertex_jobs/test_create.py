"""The providers' create, in-process against the fake JobService: adopting a job already made
for the resource, recovering from an ambiguous or lost create, the messages of a create that
fails, stalled RPCs, and the optional bounded wait.

Waits run on `clock` (conftest.py). Where a test pins an exact sequence of waits, `max_jitter`
takes the randomness out of the backoff: every interval is its ceiling (production: poll 5 s
doubling to 60 s, IAM retry 1 s doubling to 32 s).
"""

from __future__ import annotations

import random
import time as real_time

import grpc
import pytest
from google.cloud import aiplatform_v1

from tests.harness.fake_job_service import checked, custom_job_inputs, job_spec_with
from tests.harness.job_kinds import KINDS
from vertex_emulator.rules import CUSTOM
from vertex_jobs.api import VertexJobError
from vertex_jobs.contract import RESOURCE_UID_LABEL
from vertex_jobs.providers import CustomJobProvider

Code = grpc.StatusCode
PARENT = "projects/my-project/locations/us-central1"


@pytest.fixture
def max_jitter(monkeypatch):
    """Every backoff interval (ours and google.api_core's) at the top of its jitter range."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


def _stall(seconds: float):
    """A `before`/`after` hook: the server sits on the request (on the real clock)."""
    return lambda request: real_time.sleep(seconds)


def _created(provider, **overrides):
    inputs = checked(provider, custom_job_inputs(**overrides))
    return inputs, provider.create(inputs)


# ---- adopting what was made before ----------------------------------------------------


def test_create_adopts_the_newest_job_labelled_with_the_uid_and_nothing_else(vertex_fake):
    provider = CustomJobProvider()
    inputs = checked(provider, custom_job_inputs())
    uid = inputs["resource_uid"]

    def put(label_value: str | None) -> str:
        labels = {RESOURCE_UID_LABEL: label_value} if label_value else {}
        job = aiplatform_v1.CustomJob(display_name="train-resnet", labels=labels)
        name = vertex_fake.put_job(CUSTOM, PARENT, job)
        real_time.sleep(0.002)  # distinct create times
        return name

    put("0" * 32)  # another resource's job
    older = put(uid)
    put(None)
    newer = put(uid)
    put("f" * 32)
    vertex_fake.reset_calls()

    result = provider.create(inputs)

    assert result.id == newer != older
    assert vertex_fake.methods_called() == ["ListCustomJobs"]  # adopted, nothing submitted


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_list_that_fails_transiently_is_retried(vertex_fake, clock, kind):
    provider_class, _, make_inputs, rpc = KINDS[kind]
    provider = provider_class()
    vertex_fake.inject(f"List{rpc}s", Code.UNAVAILABLE)
    outs = provider.create(checked(provider, make_inputs())).outs
    assert vertex_fake.call_count(f"List{rpc}s") == 2
    assert vertex_fake.job_names() == [outs["name"]]


# ---- stalled RPCs: given up after VTRAIN_VERTEX_RPC_TIMEOUT_S -------------------------


# Real seconds: a stalled call outlasts the timeout; a normal one (milliseconds) fits in it
# even on a busy 2-core CI runner (0.2 s was too tight there).
RPC_TIMEOUT_S = 0.5
STALL_S = 3 * RPC_TIMEOUT_S


@pytest.fixture
def short_rpc_timeout(vertex_fake, clock, monkeypatch):
    monkeypatch.setenv("VTRAIN_VERTEX_RPC_TIMEOUT_S", str(RPC_TIMEOUT_S))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_create_that_stalls_is_given_up_and_the_job_it_made_adopted(
    vertex_fake, short_rpc_timeout, kind
):
    provider_class, _, make_inputs, rpc = KINDS[kind]
    provider = provider_class()
    # The job is made at once; its answer comes after the timeout (lists see the job).
    vertex_fake.after(f"Create{rpc}", _stall(STALL_S))

    outs = provider.create(checked(provider, make_inputs())).outs

    # Not left hanging on the create: it timed out, and the lookup found the job it made.
    methods = vertex_fake.methods_called()
    assert methods[:2] == [f"List{rpc}s", f"Create{rpc}"]
    assert methods[2:] and set(methods[2:]) == {f"List{rpc}s"}
    assert vertex_fake.job_names() == [outs["name"]]


def test_a_lookup_that_stalls_is_given_up_and_retried(vertex_fake, short_rpc_timeout):
    provider = CustomJobProvider()
    vertex_fake.after("ListCustomJobs", _stall(STALL_S))
    outs = provider.create(checked(provider, custom_job_inputs())).outs
    assert vertex_fake.call_count("ListCustomJobs") >= 2
    assert vertex_fake.job_names() == [outs["name"]]


def test_a_read_that_stalls_is_given_up_and_retried(vertex_fake, short_rpc_timeout):
    provider = CustomJobProvider()
    name = provider.create(checked(provider, custom_job_inputs())).id
    vertex_fake.after("GetCustomJob", _stall(STALL_S))
    assert provider.read(name, {}).outs["state"] == "JOB_STATE_QUEUED"
    assert vertex_fake.call_count("GetCustomJob") >= 2


# ---- a create that fails ----------------------------------------------------------------


@pytest.mark.parametrize("code", [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.INTERNAL])
def test_a_lost_create_response_is_recovered_by_adopting_the_job(vertex_fake, clock, code):
    vertex_fake.inject("CreateCustomJob", code, lose_response=True)
    vertex_fake.list_lag_calls = 2  # the new job shows in the third list only
    provider = CustomJobProvider()

    inputs, result = _created(provider)

    assert vertex_fake.job_names() == [result.id]
    assert vertex_fake.call_count("CreateCustomJob") == 1  # never blindly re-sent
    assert vertex_fake.job(result.id).labels[RESOURCE_UID_LABEL] == inputs["resource_uid"]
    # The first lookup, then three after the failure (production adopt_attempts), one poll
    # backoff (5 s, then 10 s at most) between those three.
    assert vertex_fake.call_count("ListCustomJobs") == 4
    assert len(clock.sleeps) == 2
    assert 2.5 <= clock.sleeps[0] <= 5 and 5 <= clock.sleeps[1] <= 10


def test_an_ambiguous_create_that_made_nothing_says_how_to_find_a_late_job(vertex_fake, clock):
    vertex_fake.inject("CreateCustomJob", Code.UNAVAILABLE, "backend unavailable")
    provider = CustomJobProvider()
    inputs = checked(provider, custom_job_inputs())
    uid = inputs["resource_uid"]

    with pytest.raises(VertexJobError) as raised:
        provider.create(inputs)

    message = str(raised.value)
    assert message.startswith(f"creating CustomJob 'train-resnet' in {PARENT} failed")
    assert "(UNAVAILABLE: backend unavailable)" in message
    assert f"no job labelled {RESOURCE_UID_LABEL}={uid} was found" in message
    assert f'filter labels.{RESOURCE_UID_LABEL}="{uid}"' in message
    assert vertex_fake.call_count("ListCustomJobs") == 1 + 3  # looked three times
    assert vertex_fake.job_names() == []


def test_a_lost_create_over_quota_is_adopted_after_one_look(vertex_fake, clock):
    vertex_fake.inject("CreateCustomJob", Code.RESOURCE_EXHAUSTED, lose_response=True)
    provider = CustomJobProvider()
    _, result = _created(provider)
    assert vertex_fake.job_names() == [result.id]
    assert vertex_fake.methods_called() == ["ListCustomJobs", "CreateCustomJob", "ListCustomJobs"]


def test_a_create_over_quota_reports_the_api_answer_after_one_look(vertex_fake, clock):
    vertex_fake.inject("CreateCustomJob", Code.RESOURCE_EXHAUSTED, "quota: 0 A100 left")
    provider = CustomJobProvider()
    with pytest.raises(VertexJobError) as raised:
        _created(provider)
    assert str(raised.value) == (
        f"Vertex AI rejected CustomJob 'train-resnet' in {PARENT}: "
        "RESOURCE_EXHAUSTED: quota: 0 A100 left"
    )
    assert vertex_fake.methods_called() == ["ListCustomJobs", "CreateCustomJob", "ListCustomJobs"]
    assert clock.sleeps == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_rejected_create_names_the_job_and_the_api_answer(vertex_fake, kind):
    provider_class, _, make_inputs, rpc = KINDS[kind]
    provider = provider_class()
    vertex_fake.inject(f"Create{rpc}", Code.INVALID_ARGUMENT, "bad machine type")
    with pytest.raises(VertexJobError) as raised:
        provider.create(checked(provider, make_inputs(region="europe-west4")))
    name = make_inputs()["display_name"]
    assert str(raised.value) == (
        f"Vertex AI rejected {rpc} '{name}' in projects/my-project/locations/europe-west4: "
        "INVALID_ARGUMENT: bad machine type"
    )
    assert vertex_fake.call_count(f"List{rpc}s") == 1  # nothing can have been made


def test_a_denied_create_without_a_service_account_names_the_roles_to_grant(
    vertex_fake, clock, monkeypatch
):
    monkeypatch.setenv("VTRAIN_VERTEX_IAM_PROPAGATION_S", "30")
    vertex_fake.iam_denied_creates = 10**6
    provider = CustomJobProvider()
    spec = job_spec_with()
    del spec["service_account"]  # runs as Vertex's Custom Code Service Agent

    with pytest.raises(VertexJobError) as raised:
        _created(provider, job_spec=spec)

    message = str(raised.value)
    assert "may lack iam.serviceAccounts.actAs on the job's service account, or " in message
    assert "serviceAccountUser" not in message  # no account to grant it on
    assert "aiplatform.customJobs.create on project my-project (roles/aiplatform.user)" in message
    assert "IAM grants take effect after typically 2 and potentially 7 or more minutes" in (message)
    assert "(https://cloud.google.com/iam/docs/access-change-propagation): if the grant was " in (
        message
    )
    assert "now 30s, to wait longer" in message
    assert message.endswith("grant the missing role to the identity that runs `pulumi up`.")


def test_a_denied_create_uses_the_whole_window_to_its_last_fraction(
    vertex_fake, clock, max_jitter, monkeypatch
):
    monkeypatch.setenv("VTRAIN_VERTEX_IAM_PROPAGATION_S", "31.5")
    vertex_fake.iam_denied_creates = 10**6
    with pytest.raises(VertexJobError, match=r"for 32s \(7 attempts\)"):
        _created(CustomJobProvider())
    assert clock.sleeps == [1, 2, 4, 8, 16, 0.5]  # the last backoff cut to what was left
    assert vertex_fake.call_count("CreateCustomJob") == 7


# ---- the optional wait ------------------------------------------------------------------


def test_the_wait_is_ten_minutes_unless_the_inputs_say(vertex_fake, clock):
    provider = CustomJobProvider()
    _, result = _created(provider, wait={"until_terminal": True})
    assert result.outs["state"] == "JOB_STATE_QUEUED"
    assert clock.elapsed == pytest.approx(600)


def test_the_wait_uses_its_timeout_to_its_last_fraction(vertex_fake, clock, max_jitter):
    provider = CustomJobProvider()
    _created(provider, wait={"until_terminal": True, "timeout_seconds": 36})
    assert clock.sleeps == [5, 10, 20, 1]  # the last interval cut to what was left
    assert vertex_fake.call_count("GetCustomJob") == 4


def test_a_wait_whose_poll_fails_returns_the_last_state_it_saw(vertex_fake, clock):
    provider = CustomJobProvider()
    vertex_fake.script_states("GetCustomJob", ["RUNNING", "RUNNING"])
    vertex_fake.before("GetCustomJob", lambda request: vertex_fake.remove_job(request.name))

    _, result = _created(provider, wait={"until_terminal": True, "timeout_seconds": 600})

    # The third poll failed (NOT_FOUND, not retried): no error, the last state seen.
    assert result.outs["state"] == "JOB_STATE_RUNNING"
    assert vertex_fake.call_count("GetCustomJob") == 3
    assert len(clock.sleeps) == 3 and clock.elapsed < 600
