"""The fake's job states follow job_state.proto, for the real aiplatform client.

Terminal (finished) states: SUCCEEDED, FAILED, CANCELLED, EXPIRED, PARTIALLY_SUCCEEDED. Not
terminal: QUEUED, PENDING, RUNNING, CANCELLING, PAUSED ("can be resumed"), UPDATING ("goes back
to the RUNNING state") and UNSPECIFIED. Delete needs a terminal state (FAILED_PRECONDITION
otherwise); cancel works in every other state. See the comments in vertex_emulator/rules.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1

from tests.harness import fake_job_service
from tests.harness.fake_job_service import FakeVertexJobService
from vertex_jobs.api import Endpoint, make_job_client

PARENT = "projects/my-project/locations/us-central1"
FINISHED = ["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED", "PARTIALLY_SUCCEEDED"]
LIVE = ["QUEUED", "PENDING", "RUNNING", "CANCELLING", "PAUSED", "UPDATING", "UNSPECIFIED"]


def _job() -> dict:
    return {
        "display_name": "job",
        "job_spec": {
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": "n1-standard-4"},
                    "replica_count": 1,
                    "container_spec": {"image_uri": "gcr.io/p/i@sha256:" + "0" * 64},
                }
            ]
        },
    }


@pytest.fixture
def client(vertex_fake: FakeVertexJobService):
    with make_job_client(Endpoint(vertex_fake.address, insecure=True)) as job_client:
        yield job_client


def _in_state(client, fake: FakeVertexJobService, state: str) -> str:
    """A job driven, by documented moves only, into ``state``."""
    name = client.create_custom_job(parent=PARENT, custom_job=_job()).name
    path = {"UPDATING": ["RUNNING"], "CANCELLED": ["CANCELLING"]}.get(state, [])
    for step in [*path, state]:
        fake.advance(name, step)
    assert fake.state(name) == f"JOB_STATE_{state}"
    return name


def test_every_job_state_is_classified():
    assert {f"JOB_STATE_{s}" for s in FINISHED + LIVE} == set(aiplatform_v1.JobState.__members__), (
        "a JobState value the fake's rules (and these tests) do not cover"
    )


@pytest.mark.parametrize("state", LIVE)
def test_delete_of_a_job_not_finished_is_failed_precondition(client, vertex_fake, state):
    name = _in_state(client, vertex_fake, state)
    with pytest.raises(exceptions.FailedPrecondition, match=f"JOB_STATE_{state}"):
        client.delete_custom_job(name=name)
    assert vertex_fake.job_names() == [name]


@pytest.mark.parametrize("state", FINISHED)
def test_delete_of_a_finished_job_removes_it(client, vertex_fake, state):
    name = _in_state(client, vertex_fake, state)
    client.delete_custom_job(name=name).result(timeout=10)
    assert vertex_fake.job_names() == []


@pytest.mark.parametrize("state", [s for s in LIVE if s != "CANCELLING"])
def test_cancel_of_a_job_not_finished_ends_it_cancelled(client, vertex_fake, state):
    name = _in_state(client, vertex_fake, state)
    client.cancel_custom_job(name=name)
    assert vertex_fake.state(name) == "JOB_STATE_CANCELLING"
    job = client.get_custom_job(name=name)
    assert job.state.name == "JOB_STATE_CANCELLED"
    assert job.error.code == 1 and job.end_time is not None  # Code.CANCELLED, per the docs


@pytest.mark.parametrize("state", FINISHED)
def test_cancel_of_a_finished_job_is_failed_precondition(client, vertex_fake, state):
    name = _in_state(client, vertex_fake, state)
    with pytest.raises(exceptions.FailedPrecondition):
        client.cancel_custom_job(name=name)
    assert vertex_fake.state(name) == f"JOB_STATE_{state}"


def test_a_second_cancel_while_cancelling_changes_nothing(client, vertex_fake):
    vertex_fake.cancel_delay_gets = 1
    name = _in_state(client, vertex_fake, "RUNNING")
    client.cancel_custom_job(name=name)
    client.cancel_custom_job(name=name)
    assert [client.get_custom_job(name=name).state.name for _ in range(2)] == [
        "JOB_STATE_CANCELLING",
        "JOB_STATE_CANCELLED",
    ]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("SUCCEEDED", "RUNNING"),  # terminal: final
        ("EXPIRED", "QUEUED"),
        ("CANCELLING", "RUNNING"),  # CANCELLING "may only go to" SUCCEEDED/FAILED/CANCELLED
        ("QUEUED", "UPDATING"),  # "Only jobs in the RUNNING state can be updated"
        ("UPDATING", "SUCCEEDED"),  # "After updating, the job goes back to the RUNNING state"
    ],
)
def test_advance_refuses_moves_the_docs_rule_out(client, vertex_fake, start, target):
    name = _in_state(client, vertex_fake, start)
    with pytest.raises(ValueError, match=f"JOB_STATE_{target}"):
        vertex_fake.advance(name, target)
    assert vertex_fake.state(name) == f"JOB_STATE_{start}"
    vertex_fake.advance(name, target, force=True)  # a test may still force it
    assert vertex_fake.state(name) == f"JOB_STATE_{target}"


def test_paused_resumes_to_queued_and_updating_returns_to_running(client, vertex_fake):
    name = _in_state(client, vertex_fake, "PAUSED")
    for state in ("QUEUED", "RUNNING", "UPDATING", "RUNNING", "UNSPECIFIED", "RUNNING"):
        vertex_fake.advance(name, state)
    assert client.get_custom_job(name=name).state.name == "JOB_STATE_RUNNING"


@pytest.mark.parametrize(
    ("state", "has_end_time"),
    [("SUCCEEDED", True), ("FAILED", True), ("CANCELLED", True), ("EXPIRED", False)],
)
def test_end_time_is_set_on_the_documented_states(client, vertex_fake, state, has_end_time):
    # end_time: "Time when the CustomJob entered any of the following states:
    # JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, JOB_STATE_CANCELLED."
    name = _in_state(client, vertex_fake, state)
    assert ("end_time" in vertex_fake.job(name)) is has_end_time


def test_script_states_moves_the_job_on_each_get(client, vertex_fake):
    name = _in_state(client, vertex_fake, "RUNNING")
    vertex_fake.script_states("GetCustomJob", ["PAUSED", "QUEUED", "RUNNING"])
    seen = [client.get_custom_job(name=name).state.name for _ in range(4)]
    assert seen == [f"JOB_STATE_{s}" for s in ("PAUSED", "QUEUED", "RUNNING", "RUNNING")]


def test_before_runs_ahead_of_an_injected_fault(client, vertex_fake):
    name = _in_state(client, vertex_fake, "RUNNING")
    vertex_fake.before("CancelCustomJob", lambda request: vertex_fake.finish(request.name))
    with pytest.raises(exceptions.FailedPrecondition):
        client.cancel_custom_job(name=name)  # it finished just before the cancel arrived
    assert vertex_fake.state(name) == "JOB_STATE_SUCCEEDED"


def test_the_fake_takes_nothing_from_the_code_under_test():
    """Its rules are written from Google's documentation: it imports neither the providers
    nor the config catalogue (whose TERMINAL_JOB_STATES it would otherwise agree with by
    construction)."""
    # (a regex: simpler than the AST for two import forms)
    source = Path(fake_job_service.__file__).read_text()
    forbidden = re.findall(r"^\s*(?:from|import)\s+((?:config|vertex_jobs)\b\S*)", source, re.M)
    assert forbidden == []
