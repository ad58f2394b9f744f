"""The fake JobService behaves like Vertex for the real aiplatform client."""

from __future__ import annotations

import threading

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1

from tests.harness.fake_clock import FakeClock
from tests.harness.fake_job_service import FakeVertexJobService
from vertex_emulator.rules import CUSTOM
from vertex_jobs.api import Endpoint, make_job_client

PARENT = "projects/my-project/locations/us-central1"


def _job(labels: dict[str, str] | None = None, machine: str = "n1-standard-4") -> dict:
    return {
        "display_name": "job",
        "labels": labels or {},
        "job_spec": {
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": machine},
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


def test_create_stores_a_queued_job_with_id_and_create_time(client, vertex_fake):
    job = client.create_custom_job(parent=PARENT, custom_job=_job())
    assert job.name.startswith(f"{PARENT}/customJobs/")
    assert job.state == aiplatform_v1.JobState.JOB_STATE_QUEUED
    assert job.create_time is not None
    assert vertex_fake.job_names() == [job.name]


def test_create_rejects_an_unsupported_machine_type(client):
    with pytest.raises(exceptions.InvalidArgument, match='Machine type "x9-huge"'):
        client.create_custom_job(parent=PARENT, custom_job=_job(machine="x9-huge"))


def test_list_filters_by_label_and_pages(client, vertex_fake):
    vertex_fake.page_size = 1
    for uid in ("a", "b", "a"):
        client.create_custom_job(parent=PARENT, custom_job=_job({"uid": uid}))
    found = list(client.list_custom_jobs(request={"parent": PARENT, "filter": 'labels.uid="a"'}))
    assert [job.labels["uid"] for job in found] == ["a", "a"]
    assert vertex_fake.call_count("ListCustomJobs") == 2  # two pages


def _listed(client, filter_text: str) -> list[str]:
    found = client.list_custom_jobs(request={"parent": PARENT, "filter": filter_text})
    return sorted(job.display_name for job in found)


def test_list_takes_the_documented_filter_grammar(client, vertex_fake):
    """customJobs.list `filter` (AIP-160): state / display_name / labels.key with = and !=,
    AND / OR (OR binds tighter), parentheses, quoted or bare values."""
    for name, labels in (("a", {"team": "x", "uid_key": "1"}), ("b", {"team": "y"})):
        job = _job(labels)
        job["display_name"] = name
        client.create_custom_job(parent=PARENT, custom_job=job)
    vertex_fake.advance(vertex_fake.job_names()[1], "RUNNING")  # "b" (ids increase)
    assert _listed(client, 'labels.uid_key="1"') == ["a"]
    assert _listed(client, "labels.team=y") == ["b"]
    assert _listed(client, 'labels.team != "x"') == ["b"]
    assert _listed(client, 'state="JOB_STATE_RUNNING"') == ["b"]
    assert _listed(client, 'display_name="a" OR display_name="b"') == ["a", "b"]
    assert (
        _listed(client, 'labels.team="x" AND display_name="b" OR state!="JOB_STATE_QUEUED"') == []
    )
    assert _listed(
        client, '(labels.team="y" AND state="JOB_STATE_RUNNING") OR display_name="a"'
    ) == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    "filter_text",
    [
        'labels.vtrain-resource-uid="abc"',  # `-` is AIP-160's negation operator
        "labels.my-key=value",
        'labels."my-key"="abc"',  # a quoted key: not a documented form
        'labels.Team="x"',  # label keys are lowercase
        'labels="x"',
        'labels.team="x" labels.uid_key="1"',  # implicit AND: not implemented
        'labels.team="x" AND',
        '(labels.team="x"',
        'labels.team="x',
        "labels.team='x'",
        'state="RUNNING"',  # enum values are the full JobState names
        'NOT display_name="a"',  # documented, not implemented by the fake
        'display_name:"a*"',
        'create_time>"2021-05-18T00:00:00Z"',
        "name=anything",
    ],
)
def test_list_rejects_filters_outside_the_grammar_as_invalid_argument(client, filter_text):
    with pytest.raises(exceptions.InvalidArgument, match="Invalid filter"):
        _listed(client, filter_text)


def test_creates_are_denied_until_an_iam_grant_takes_effect(client, vertex_fake):
    vertex_fake.iam_denied_creates = 2
    job = _job()
    job["job_spec"]["service_account"] = "trainer@my-project.iam.gserviceaccount.com"
    for _ in range(2):
        with pytest.raises(exceptions.PermissionDenied, match="iam.serviceAccounts.actAs"):
            client.create_custom_job(parent=PARENT, custom_job=job)
    assert vertex_fake.job_names() == []  # a denied create makes nothing
    assert client.create_custom_job(parent=PARENT, custom_job=job).name
    assert vertex_fake.call_count("CreateCustomJob") == 3


def test_state_moves_under_test_control(client, vertex_fake):
    name = client.create_custom_job(parent=PARENT, custom_job=_job()).name
    vertex_fake.advance(name, "RUNNING")
    running = client.get_custom_job(name=name)
    assert running.state.name == "JOB_STATE_RUNNING" and running.start_time is not None
    vertex_fake.finish(name, succeeded=False, message="OOM")
    failed = client.get_custom_job(name=name)
    assert failed.state.name == "JOB_STATE_FAILED"
    assert failed.error.message == "OOM" and failed.end_time is not None


def test_cancel_goes_through_cancelling_after_configured_gets(client, vertex_fake):
    vertex_fake.cancel_delay_gets = 2
    name = client.create_custom_job(parent=PARENT, custom_job=_job()).name
    client.cancel_custom_job(name=name)
    states = [client.get_custom_job(name=name).state.name for _ in range(3)]
    assert states == ["JOB_STATE_CANCELLING", "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"]
    with pytest.raises(exceptions.FailedPrecondition):
        client.cancel_custom_job(name=name)


def test_delete_refuses_live_jobs_and_returns_an_operation(client, vertex_fake):
    vertex_fake.operation_delay_polls = 2
    name = client.create_custom_job(parent=PARENT, custom_job=_job()).name
    with pytest.raises(exceptions.FailedPrecondition):
        client.delete_custom_job(name=name)
    vertex_fake.finish(name)
    operation = client.delete_custom_job(name=name)
    assert not operation.done()
    operation.result(polling=operation._polling.with_delay(initial=0.01, maximum=0.01))
    assert vertex_fake.call_count("GetOperation") >= 2
    assert vertex_fake.job_names() == []
    with pytest.raises(exceptions.NotFound):
        client.get_custom_job(name=name)


def test_faults_fire_in_order_and_are_recorded(client, vertex_fake):
    name = client.create_custom_job(parent=PARENT, custom_job=_job()).name
    vertex_fake.inject("GetCustomJob", grpc.StatusCode.UNAVAILABLE, times=1)
    vertex_fake.inject("GetCustomJob", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")
    with pytest.raises(exceptions.ServiceUnavailable):
        client.get_custom_job(name=name)
    with pytest.raises(exceptions.ResourceExhausted, match="quota"):
        client.get_custom_job(name=name)
    assert client.get_custom_job(name=name).name == name
    assert vertex_fake.methods_called() == ["CreateCustomJob"] + ["GetCustomJob"] * 3


def test_lost_response_stores_the_job_but_the_client_sees_an_error(client, vertex_fake):
    vertex_fake.inject("CreateCustomJob", grpc.StatusCode.UNAVAILABLE, lose_response=True)
    with pytest.raises(exceptions.ServiceUnavailable):
        client.create_custom_job(parent=PARENT, custom_job=_job())
    assert len(vertex_fake.job_names()) == 1


def test_an_after_hook_runs_once_the_call_took_effect_and_outside_the_lock(client, vertex_fake):
    seen = {}

    def look(request):
        seen["jobs"] = vertex_fake.job_names()

        def try_lock():  # as another RPC's thread would, while the answer is held back
            seen["free"] = vertex_fake._lock.acquire(blocking=False)
            if seen["free"]:
                vertex_fake._lock.release()

        other = threading.Thread(target=try_lock)
        other.start()
        other.join()

    vertex_fake.after("CreateCustomJob", look)
    job = client.create_custom_job(parent=PARENT, custom_job=_job())
    assert seen == {"jobs": [job.name], "free": True}


def test_put_job_and_remove_job_act_out_of_band(vertex_fake):
    name = vertex_fake.put_job(CUSTOM, PARENT, aiplatform_v1.CustomJob(display_name="other"))
    assert vertex_fake.state(name) == "JOB_STATE_QUEUED"
    vertex_fake.remove_job(name)
    assert vertex_fake.job_names() == []


def test_fake_clock_moves_only_when_slept_on_and_stops_a_wait_past_its_limit():
    clock = FakeClock(start=50.0, limit_s=10)
    assert clock.monotonic() == clock.time() == 50.0
    clock.sleep(4)
    clock.sleep(-1)  # never backwards
    assert clock.monotonic() == 54.0 and clock.elapsed == 4 and clock.sleeps == [4, -1]
    with pytest.raises(AssertionError, match="past the test's limit of 10s"):
        clock.sleep(7)
