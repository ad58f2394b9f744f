"""The emulator's JobService through the real aiplatform client: create, get, list with the
documented filter grammar, cancel, delete as an LRO through the Operations service, and the
gRPC codes the client maps."""

from __future__ import annotations

import pytest
from google.api_core import exceptions

from tests.harness.emulator import PARENT, probe_custom_job, wait_for_job
from vertex_emulator.rules import CUSTOM


def test_create_returns_a_queued_job_with_a_numeric_id_and_times(client):
    job = client.create_custom_job(parent=PARENT, custom_job=probe_custom_job(name="created"))
    assert job.name.startswith(f"{PARENT}/customJobs/")
    assert job.name.rsplit("/", 1)[1].isdigit()
    assert job.state.name == "JOB_STATE_QUEUED"
    assert job.create_time == job.update_time
    assert client.get_custom_job(name=job.name).display_name == "created"


def test_create_ignores_output_only_fields_of_the_request(client):
    request = probe_custom_job(name="output-only")
    request.update(state="JOB_STATE_SUCCEEDED", error={"code": 5, "message": "made up"})
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    assert job.state.name == "JOB_STATE_QUEUED"
    assert not job.error.message


def test_a_job_runs_to_succeeded_with_start_and_end_times(client):
    job = client.create_custom_job(parent=PARENT, custom_job=probe_custom_job())
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    assert done.create_time <= done.start_time <= done.end_time
    assert not done.error.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"display_name": ""}, "custom_job.display_name"),
        ({"labels": {"Bad": "x"}}, "custom_job.labels"),
        ({"job_spec": {"worker_pool_specs": []}}, "custom_job.job_spec.worker_pool_specs"),
    ],
)
def test_create_refuses_what_vertex_documents_as_invalid(client, change, field):
    request = {**probe_custom_job(), **change}
    with pytest.raises(exceptions.InvalidArgument, match=f"Field: {field}"):
        client.create_custom_job(parent=PARENT, custom_job=request)


def test_a_parent_outside_the_vertex_regions_is_invalid_argument(client):
    with pytest.raises(exceptions.InvalidArgument, match="not a Vertex AI region"):
        client.create_custom_job(
            parent="projects/p/locations/global", custom_job=probe_custom_job()
        )


def test_get_of_an_unknown_job_is_not_found(client):
    with pytest.raises(exceptions.NotFound):
        client.get_custom_job(name=f"{PARENT}/customJobs/42")
    with pytest.raises(exceptions.InvalidArgument):
        client.get_custom_job(name=f"{PARENT}/hyperparameterTuningJobs/42")


def test_list_applies_the_filter_grammar_and_pages(client):
    names = []
    for index, team in enumerate(["red", "red", "blue"]):
        request = probe_custom_job(name=f"listed-{index}")
        request["labels"] = {"team": team, "suite": "listing"}
        names.append(client.create_custom_job(parent=PARENT, custom_job=request).name)

    def listed(filter_text: str, page_size: int = 0) -> list[str]:
        found = client.list_custom_jobs(
            request={"parent": PARENT, "filter": filter_text, "page_size": page_size}
        )
        return [job.name for job in found]

    assert listed('labels.suite="listing" AND labels.team="red"') == names[:2]
    assert listed('labels.suite="listing" AND labels.team!="red"') == names[2:]
    assert listed('labels.suite="listing" AND (display_name="listed-0" OR labels.team=blue)') == [
        names[0],
        names[2],
    ]
    assert listed('labels.suite="listing"', page_size=1) == names  # three pages, in order
    page = client.list_custom_jobs(
        request={"parent": PARENT, "filter": 'labels.suite="listing"', "page_size": 2}
    )
    assert [job.name for job in next(iter(page.pages)).custom_jobs] == names[:2]
    # The rest of the documented grammar: NOT, wildcards, key existence, create_time.
    assert (
        listed('labels.suite:* AND display_name:"listed-*" AND NOT labels.team=blue') == (names[:2])
    )
    first = client.get_custom_job(name=names[0]).create_time.isoformat()
    assert listed(f'labels.suite="listing" AND create_time>"{first}"') == names[1:]
    with pytest.raises(exceptions.InvalidArgument, match="Invalid filter"):
        listed("labels.my-key=x")
    assert listed('labels.suite="listing"') == names  # other parents and kinds are apart
    assert list(client.list_custom_jobs(parent="projects/other/locations/us-central1")) == []
    assert not [
        job
        for job in client.list_hyperparameter_tuning_jobs(parent=PARENT)
        if job.labels.get("suite") == "listing"
    ]


def test_cancel_stops_a_running_job_and_ends_it_cancelled_with_code_1(client):
    job = client.create_custom_job(parent=PARENT, custom_job=probe_custom_job("--sleep", "60"))
    wait_for_job(client.get_custom_job, job.name, states=("JOB_STATE_RUNNING",))
    client.cancel_custom_job(name=job.name)
    assert client.get_custom_job(name=job.name).state.name in (
        "JOB_STATE_CANCELLING",
        "JOB_STATE_CANCELLED",
    )
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_CANCELLED"
    assert done.error.code == 1
    assert done.end_time >= done.start_time
    with pytest.raises(exceptions.FailedPrecondition, match="cannot be cancelled"):
        client.cancel_custom_job(name=job.name)


def test_delete_of_a_running_job_is_refused_and_of_a_finished_one_is_an_lro(client):
    job = client.create_custom_job(parent=PARENT, custom_job=probe_custom_job("--sleep", "60"))
    wait_for_job(client.get_custom_job, job.name, states=("JOB_STATE_RUNNING",))
    with pytest.raises(exceptions.FailedPrecondition, match="terminal state"):
        client.delete_custom_job(name=job.name)
    client.cancel_custom_job(name=job.name)
    wait_for_job(client.get_custom_job, job.name)
    operation = client.delete_custom_job(name=job.name)
    assert operation.operation.name.startswith(f"{job.name}/operations/")
    operation.result(timeout=10)
    assert operation.metadata.generic_metadata.create_time
    with pytest.raises(exceptions.NotFound):
        client.get_custom_job(name=job.name)
    # The Operations service still answers for the finished delete.
    again = client.get_operation(request={"name": operation.operation.name})
    assert again.done
    with pytest.raises(exceptions.NotFound):
        client.get_operation(request={"name": f"{job.name}/operations/1"})


def test_the_fake_and_the_emulator_share_one_home_for_the_rules():
    from tests.harness import fake_job_service

    assert fake_job_service.CUSTOM is CUSTOM
