"""Fault matrix: every fault the JobService can throw at each step of a job's lifecycle.

Each case runs create -> refresh -> destroy through Pulumi's real dynamic-provider host
against the fake, with one fault injected before one step, and then checks the invariants
that matter for money and correctness:

* exactly one job exists for the resource after create (and create was sent exactly once:
  never blindly retried; a lost response is recovered by adopting the job it made);
* after destroy no job is left, so nothing keeps running or billing;
* a create the API rejects fails with the API's own message and leaves no job behind.

PERMISSION_DENIED on create (retried while IAM grants propagate): test_iam_propagation.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest

from tests.harness.dynamic_host import DynamicProviderError
from tests.harness.fake_job_service import custom_job_inputs, tuning_job_inputs
from vertex_jobs.api import VertexJobError
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE, RESOURCE_UID_LABEL
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider

Code = grpc.StatusCode

KINDS = {
    "custom": (CustomJobProvider, CUSTOM_JOB_TYPE, custom_job_inputs, "CustomJob"),
    "tuning": (
        HyperparameterTuningJobProvider,
        HYPERPARAMETER_TUNING_JOB_TYPE,
        tuning_job_inputs,
        "HyperparameterTuningJob",
    ),
}


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


REJECTED = [
    # (id, verb fault or None for the fake's own validation, message the user must see,
    #  ListX calls expected: 1 before create, plus any adoption lookups)
    ("invalid-machine-type", None, 'Machine type "x9-huge" is not supported', 1),
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
    if code is None:
        inputs["job_spec"]["worker_pool_specs"][0]["machine_spec"]["machine_type"] = "x9-huge"
    else:
        fake.inject(f"Create{rpc}", code, message)
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


# ---- bounds (in-process, with the knobs turned down) ---------------------------------------


def test_persistent_unavailability_gives_up_after_the_retry_deadline(vertex_fake, monkeypatch):
    monkeypatch.setenv("VTRAIN_VERTEX_RETRY_DEADLINE_S", "0.3")
    provider = CustomJobProvider()
    inputs = provider.check({}, custom_job_inputs()).inputs
    outs = provider.create(inputs).outs
    vertex_fake.inject("GetCustomJob", Code.UNAVAILABLE, times=10_000)
    with pytest.raises(Exception, match="UNAVAILABLE|unavailable|Timeout"):
        provider.read(outs["name"], outs)
    assert vertex_fake.call_count("GetCustomJob") > 2  # it did retry before giving up


def test_destroy_of_a_job_stuck_cancelling_fails_after_the_bound_and_keeps_it(
    vertex_fake, monkeypatch
):
    monkeypatch.setenv("VTRAIN_VERTEX_DELETE_TIMEOUT_S", "0.3")
    vertex_fake.cancel_delay_gets = 10**9
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    vertex_fake.advance(outs["name"], "RUNNING")
    with pytest.raises(VertexJobError, match="still JOB_STATE_CANCELLING"):
        provider.delete(outs["name"], outs)
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
