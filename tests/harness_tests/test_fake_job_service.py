"""The fake JobService behaves like Vertex for the real aiplatform client."""

from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1

from tests.harness.fake_job_service import CUSTOM, FakeVertexJobService
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


def test_list_rejects_filters_it_does_not_understand(client):
    with pytest.raises(exceptions.InvalidArgument):
        list(client.list_custom_jobs(request={"parent": PARENT, "filter": "display_name=job"}))


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


def test_put_job_and_remove_job_act_out_of_band(vertex_fake):
    name = vertex_fake.put_job(CUSTOM, PARENT, aiplatform_v1.CustomJob(display_name="other"))
    assert vertex_fake.state(name) == "JOB_STATE_QUEUED"
    vertex_fake.remove_job(name)
    assert vertex_fake.job_names() == []
