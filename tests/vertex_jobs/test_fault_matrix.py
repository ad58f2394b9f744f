"""Fault matrix: every fault the JobService can throw at each step of a job's lifecycle.

Each case runs create -> refresh -> destroy through Pulumi's real dynamic-provider host
against the fake, with one fault injected before one step, and then checks the invariants
that matter for money and correctness:

* exactly one job exists for the resource after create (and create was sent exactly once:
  never blindly retried; a lost response is recovered by adopting the job it made);
* after destroy no job is left, so nothing keeps running or billing;
* a create the API rejects fails with the API's own message and leaves no job behind.

Then: a lost create whose job the (eventually consistent) list shows only later; the job
states the provider must handle in destroy, refresh and `wait` (PAUSED, UPDATING and
UNSPECIFIED are not terminal, EXPIRED and PARTIALLY_SUCCEEDED are); and the bounds on
retries and waits, run on a fake clock so that no test depends on wall-clock deadlines.

PERMISSION_DENIED on create (retried while IAM grants propagate): test_iam_propagation.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest

from tests.harness.dynamic_host import DynamicProviderError
from tests.harness.fake_job_service import custom_job_inputs
from tests.harness.job_kinds import KINDS
from vertex_jobs.api import VertexJobError
from vertex_jobs.contract import RESOURCE_UID_LABEL
from vertex_jobs.providers import CustomJobProvider

Code = grpc.StatusCode


@dataclass(frozen=True)
class Case:
    id: str
    verb: str  # Create, Get, List, Cancel, Delete, or GetOperation
    code: grpc.StatusCode
    step: str  # the step the fault is injected before: create, read or destroy
    times: int = 1
    lose_response: bool = False
    gone: bool = False  # the job really is deleted out of band when the fault fires

    def method(self, rpc: str) -> str:
        if self.verb == "GetOperation":
            return "GetOperation"
        return f"List{rpc}s" if self.verb == "List" else f"{self.verb}{rpc}"


RECOVERED = [
    Case("unavailable-on-list", "List", Code.UNAVAILABLE, "create", times=2),
    Case("exhausted-on-list", "List", Code.RESOURCE_EXHAUSTED, "create", times=2),
    Case("lost-create-unavailable", "Create", Code.UNAVAILABLE, "create", lose_response=True),
    Case("lost-create-deadline", "Create", Code.DEADLINE_EXCEEDED, "create", lose_response=True),
    Case("lost-create-internal", "Create", Code.INTERNAL, "create", lose_response=True),
    Case("unavailable-on-get", "Get", Code.UNAVAILABLE, "read", times=2),
    Case("exhausted-on-get", "Get", Code.RESOURCE_EXHAUSTED, "read", times=2),
    Case("deadline-on-get", "Get", Code.DEADLINE_EXCEEDED, "read"),
    Case("internal-on-get", "Get", Code.INTERNAL, "read"),
    Case("unavailable-on-get-in-destroy", "Get", Code.UNAVAILABLE, "destroy", times=3),
    Case("unavailable-on-cancel", "Cancel", Code.UNAVAILABLE, "destroy", times=2),
    Case("lost-cancel-response", "Cancel", Code.UNAVAILABLE, "destroy", lose_response=True),
    Case("unavailable-on-delete", "Delete", Code.UNAVAILABLE, "destroy", times=2),
    Case("lost-delete-response", "Delete", Code.UNAVAILABLE, "destroy", lose_response=True),
    Case("exhausted-on-delete", "Delete", Code.RESOURCE_EXHAUSTED, "destroy"),
    Case("unavailable-on-operation", "GetOperation", Code.UNAVAILABLE, "destroy", times=2),
    Case("not-found-on-get-in-destroy", "Get", Code.NOT_FOUND, "destroy", gone=True),
    Case("not-found-on-cancel", "Cancel", Code.NOT_FOUND, "destroy", gone=True),
    Case("not-found-on-delete", "Delete", Code.NOT_FOUND, "destroy", gone=True),
]


def _count_with_uid(fake, uid: str) -> int:
    return sum(1 for name in fake.job_names() if fake.job(name).labels[RESOURCE_UID_LABEL] == uid)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", RECOVERED, ids=[case.id for case in RECOVERED])
def test_lifecycle_survives_fault(hosted, kind, case):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    fake.operation_delay_polls = 1  # make the delete operation need a GetOperation
    job = host.bind(provider_class(), type_token=type_token, name=case.id)
    inputs = job.check({}, make_inputs())["inputs"]
    method = case.method(rpc)
    name_holder: dict[str, str] = {}

    def inject() -> None:
        side_effect = (lambda: fake.remove_job(name_holder["name"])) if case.gone else None
        fake.inject(
            method,
            case.code,
            times=case.times,
            lose_response=case.lose_response,
            side_effect=side_effect,
        )

    if case.step == "create":
        inject()
    created = job.create(inputs)
    name = name_holder["name"] = created["id"]
    assert fake.call_count(f"Create{rpc}") == 1, "create must never be retried blindly"
    assert _count_with_uid(fake, inputs["resource_uid"]) == 1
    assert created["properties"]["state"] == "JOB_STATE_QUEUED"

    fake.advance(name, "RUNNING")
    if case.step == "read":
        inject()
    refreshed = job.read(name, created["properties"])
    assert refreshed["id"] == name
    assert refreshed["properties"]["state"] == "JOB_STATE_RUNNING"

    if case.step == "destroy":
        inject()
    job.delete(name, refreshed["properties"])

    assert fake.pending_faults(method) == 0, "the fault never fired"
    assert fake.job_names() == [] and fake.live_jobs() == []
    assert fake.call_count(f"Create{rpc}") == 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_refresh_reports_a_job_gone_when_get_says_not_found(hosted, kind):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token)
    created = job.create(job.check({}, make_inputs())["inputs"])
    fake.inject(f"Get{rpc}", Code.NOT_FOUND, side_effect=lambda: fake.remove_job(created["id"]))
    assert job.read(created["id"], created["properties"])["id"] == ""


def _chief_replicas(inputs: dict) -> None:
    inputs["job_spec"]["worker_pool_specs"][0]["replica_count"] = 2


def _machine_type(inputs: dict) -> None:
    inputs["job_spec"]["worker_pool_specs"][0]["machine_spec"]["machine_type"] = "x9-huge"


REJECTED = [
    # (id, verb fault or an edit the fake's own validation rejects, message the user must see,
    #  ListX calls expected: 1 before create, plus any adoption lookups)
    ("invalid-machine-type", _machine_type, 'Machine type "x9-huge" is not supported', 1),
    ("chief-with-two-replicas", _chief_replicas, "exactly 1 replica, got 2", 1),
    ("invalid-argument", Code.INVALID_ARGUMENT, "worker_pool_specs[0].replica_count", 1),
    ("quota", Code.RESOURCE_EXHAUSTED, "Quota exceeded for aiplatform.googleapis.com", 2),
    ("unavailable-not-created", Code.UNAVAILABLE, "The service is currently unavailable", 4),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    ("case", "code", "message", "lists"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_rejected_create_surfaces_the_api_message_and_leaves_no_job(
    hosted, kind, case, code, message, lists
):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token)
    inputs = make_inputs()
    if isinstance(code, Code):
        fake.inject(f"Create{rpc}", code, message)
    else:
        code(inputs)
    checked = job.check({}, inputs)["inputs"]

    with pytest.raises(DynamicProviderError) as raised:
        job.create(checked)

    assert message in raised.value.details
    assert "VertexJobError" in raised.value.details
    if code == Code.UNAVAILABLE:  # ambiguous: tells the operator how to find a late job
        uid_filter = f'labels.{RESOURCE_UID_LABEL}="{checked["resource_uid"]}"'
        assert uid_filter in raised.value.details
    assert fake.call_count(f"Create{rpc}") == 1
    assert fake.call_count(f"List{rpc}s") == lists
    assert fake.job_names() == []


def test_a_grid_search_over_a_double_is_rejected_by_the_api(hosted):
    """StudySpec.Algorithm GRID_SEARCH: "all parameters must be INTEGER, CATEGORICAL, or
    DISCRETE". The provider's check leaves it to the API; the API's answer reaches the user."""
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS["tuning"]
    job = host.bind(provider_class(), type_token=type_token)
    inputs = make_inputs()
    inputs["study_spec"]["algorithm"] = "GRID_SEARCH"  # learning_rate is a DOUBLE
    with pytest.raises(DynamicProviderError) as raised:
        job.create(job.check({}, inputs)["inputs"])
    assert "INVALID_ARGUMENT" in raised.value.details and "grid search" in raised.value.details
    assert fake.job_names() == []


# ---- a lost create, and a list that shows the job late -------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_lost_create_is_adopted_when_the_job_is_listed_late(hosted, kind):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token)
    inputs = job.check({}, make_inputs())["inputs"]
    # VTRAIN_VERTEX_ADOPT_ATTEMPTS=3 (FAST_PROVIDER_ENV): the job stays out of the first two
    # lists after it was made, so only the third adoption attempt can see it.
    fake.list_lag_calls = 2
    fake.inject(f"Create{rpc}", Code.UNAVAILABLE, lose_response=True)

    created = job.create(inputs)

    assert fake.call_count(f"Create{rpc}") == 1, "create must never be retried blindly"
    assert fake.call_count(f"List{rpc}s") == 1 + 3  # the lookup before create, 3 attempts
    assert fake.job_names() == [created["id"]]
    assert created["properties"]["resource_uid"] == inputs["resource_uid"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_lost_create_listed_too_late_fails_loudly_and_the_next_run_adopts_it(hosted, kind):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token)
    inputs = job.check({}, make_inputs())["inputs"]
    fake.list_lag_calls = 3  # out of every list the failed create makes
    fake.inject(f"Create{rpc}", Code.DEADLINE_EXCEEDED, lose_response=True)

    with pytest.raises(DynamicProviderError) as raised:
        job.create(inputs)
    assert f'labels.{RESOURCE_UID_LABEL}="{inputs["resource_uid"]}"' in raised.value.details
    assert len(fake.job_names()) == 1  # Vertex did make it

    again = job.create(inputs)  # the next `pulumi up`: same uid, and the list shows it now
    assert fake.job_names() == [again["id"]]
    assert fake.call_count(f"Create{rpc}") == 1
    assert fake.call_count(f"List{rpc}s") == 1 + 3 + 1


# ---- states, bounds and waits (in-process, on a fake clock) ----------------------------------
#
# `clock` (conftest.py) gives these tests the production backoffs and bounds and makes every
# wait virtual, so nothing depends on how fast the machine is.

ALL_STATES = [
    "QUEUED",
    "PENDING",
    "RUNNING",
    "CANCELLING",
    "PAUSED",
    "UPDATING",
    "UNSPECIFIED",
    "SUCCEEDED",
    "FAILED",
    "CANCELLED",
    "EXPIRED",
    "PARTIALLY_SUCCEEDED",
]
# job_state.proto: these never change again; the rest can (PAUSED "can be resumed",
# UPDATING "goes back to the RUNNING state", UNSPECIFIED says nothing).
FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED", "PARTIALLY_SUCCEEDED"}
_PATH = {"UPDATING": ["RUNNING"], "CANCELLED": ["CANCELLING"]}  # documented moves only


def _drive(fake, name: str, state: str) -> None:
    for step in [*_PATH.get(state, []), state]:
        fake.advance(name, step)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("state", ALL_STATES)
def test_destroy_cancels_and_waits_unless_the_job_is_finished(vertex_fake, clock, kind, state):
    provider_class, _, make_inputs, rpc = KINDS[kind]
    provider = provider_class()
    outs = provider.create(provider.check({}, make_inputs()).inputs).outs
    _drive(vertex_fake, outs["name"], state)
    vertex_fake.reset_calls()

    provider.delete(outs["name"], outs)

    methods = vertex_fake.methods_called()
    assert vertex_fake.job_names() == []
    assert methods.count(f"Delete{rpc}") == 1, "delete was refused or repeated"
    if state in FINISHED:
        assert f"Cancel{rpc}" not in methods
    elif state == "CANCELLING":
        assert f"Cancel{rpc}" not in methods  # already on its way
        assert methods.index(f"Delete{rpc}") > methods.index(f"Get{rpc}")
    else:  # a PAUSED job can be resumed: it must be cancelled, not deleted straight away
        assert methods.count(f"Cancel{rpc}") == 1
        assert methods.index(f"Cancel{rpc}") < methods.index(f"Delete{rpc}")


@pytest.mark.parametrize("state", ALL_STATES)
def test_refresh_reports_every_state_as_it_is(vertex_fake, clock, state):
    vertex_fake.cancel_delay_gets = 1  # CANCELLING is still seen by the first get
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    _drive(vertex_fake, outs["name"], state)
    read = provider.read(outs["name"], outs)
    assert read.id == outs["name"] and read.outs["state"] == f"JOB_STATE_{state}"


@pytest.mark.parametrize(
    "states",
    [
        ["PAUSED", "QUEUED", "RUNNING", "SUCCEEDED"],
        ["RUNNING", "UPDATING", "RUNNING", "FAILED"],
        ["UNSPECIFIED", "RUNNING", "SUCCEEDED"],
        ["EXPIRED"],
        ["RUNNING", "PARTIALLY_SUCCEEDED"],
    ],
    ids=lambda states: "-".join(states).lower(),
)
def test_wait_stops_at_the_first_terminal_state_and_not_before(vertex_fake, clock, states):
    provider = CustomJobProvider()
    inputs = custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 3600})
    vertex_fake.script_states("GetCustomJob", states)  # each get moves the job on
    outs = provider.create(provider.check({}, inputs).inputs).outs
    assert outs["state"] == f"JOB_STATE_{states[-1]}"
    assert vertex_fake.call_count("GetCustomJob") == len(states)


def test_wait_for_a_paused_job_is_bounded_and_reports_it_paused(vertex_fake, clock):
    provider = CustomJobProvider()
    inputs = custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 600})
    vertex_fake.script_states("GetCustomJob", ["PAUSED"])
    outs = provider.create(provider.check({}, inputs).inputs).outs
    assert outs["state"] == "JOB_STATE_PAUSED"
    assert clock.elapsed == pytest.approx(600)
    assert vertex_fake.job_names() == [outs["name"]]


def test_persistent_unavailability_gives_up_after_the_retry_deadline(vertex_fake, clock):
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    vertex_fake.inject("GetCustomJob", Code.UNAVAILABLE, times=10_000)
    started = clock.now
    with pytest.raises(Exception, match="Timeout of 300.0s exceeded"):
        provider.read(outs["name"], outs)
    # Production bounds (deadline 300 s, backoff 1 s doubling to 32 s): the client gives up
    # when the next sleep would pass the deadline, so it slept more than 300 - 32 s in all,
    # in at least (300 - 32) / 32 sleeps, after one get each.
    assert 300 - 32 < clock.now - started <= 300
    assert vertex_fake.call_count("GetCustomJob") >= 10


def test_destroy_of_a_job_stuck_cancelling_fails_after_the_bound_and_keeps_it(vertex_fake, clock):
    vertex_fake.cancel_delay_gets = 10**9
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    vertex_fake.advance(outs["name"], "RUNNING")
    with pytest.raises(VertexJobError, match="still JOB_STATE_CANCELLING 3600s after"):
        provider.delete(outs["name"], outs)
    assert clock.elapsed == pytest.approx(3600)  # the production bound, waited in full
    assert vertex_fake.call_count("GetCustomJob") >= 3600 // 60  # polled at most a minute apart
    assert vertex_fake.state(outs["name"]) == "JOB_STATE_CANCELLING"  # not forgotten
    assert vertex_fake.call_count("DeleteCustomJob") == 0


def test_destroy_of_an_already_deleted_job_succeeds(vertex_fake):
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    vertex_fake.remove_job(outs["name"])
    provider.delete(outs["name"], outs)
    assert vertex_fake.methods_called()[-1] == "GetCustomJob"


def test_a_job_finishing_between_get_and_cancel_is_still_deleted(vertex_fake):
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    name = outs["name"]
    vertex_fake.advance(name, "RUNNING")
    vertex_fake.inject(
        "CancelCustomJob",
        Code.FAILED_PRECONDITION,
        "already finished",
        side_effect=lambda: vertex_fake.finish(name),
    )
    provider.delete(name, outs)
    assert vertex_fake.job_names() == []
