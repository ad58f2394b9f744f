"""The providers' outputs, in-process against the fake JobService: exactly what create and
read report for each job kind (name, id, state, console page, times, error), what read
rebuilds from the live job on import, and what a read of a job that is gone returns."""

from __future__ import annotations

from datetime import datetime

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1

from tests.harness.fake_job_service import checked, tuning_job_inputs
from tests.harness.job_kinds import KINDS
from vertex_emulator.rules import TUNING
from vertex_jobs.contract import RESOURCE_UID_LABEL

# Google's SDK links both kinds so (vertex_jobs/links.py); Logs Explorer on the ml_job logs.
CONSOLE = "https://console.cloud.google.com/agent-platform/locations"
LOGS = "https://console.cloud.google.com/logs/query;query="
COLLECTION = {"custom": "customJobs", "tuning": "hyperparameterTuningJobs"}
KMS_KEY = "projects/my-project/locations/europe-west4/keyRings/ring/cryptoKeys/key"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _create(kind: str, **overrides):
    provider_class, _, make_inputs, _ = KINDS[kind]
    provider = provider_class()
    inputs = checked(provider, make_inputs(region="europe-west4", **overrides))
    return provider, inputs


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_create_reports_exactly_the_job_it_submitted(vertex_fake, kind):
    provider, inputs = _create(kind)

    outs = provider.create({**inputs, "__provider": "pickled provider"}).outs

    job_id = outs["job_id"]
    assert job_id.isdigit()
    name = f"projects/my-project/locations/europe-west4/{COLLECTION[kind]}/{job_id}"
    extra = {"trials": [], "best_trial": None, "pareto_trials": None} if kind == "tuning" else {}
    assert {k: v for k, v in outs.items() if k != "create_time"} == {
        **inputs,  # the inputs, echoed; not the pickled provider (the host adds it back)
        "name": name,
        "job_id": job_id,
        "state": "JOB_STATE_QUEUED",
        "console_url": f"{CONSOLE}/europe-west4/training/{job_id}?project=my-project",
        "logs_url": (
            f"{LOGS}resource.type%3D%22ml_job%22%20AND%20resource.labels.job_id%3D%22{job_id}%22"
            "?project=my-project"
        ),
        "start_time": None,
        "end_time": None,
        "error": None,
        **extra,
    }
    assert _when(outs["create_time"]) == vertex_fake.job(name).create_time


def test_read_reports_the_times_and_the_error_of_a_failed_job(vertex_fake):
    provider, inputs = _create("custom")
    outs = provider.create(inputs).outs
    name = outs["name"]
    vertex_fake.advance(name, "RUNNING")
    vertex_fake.finish(name, succeeded=False, message="replica workerpool0-0 exited 137")

    read = provider.read(name, outs)

    assert read.id == name
    live = vertex_fake.job(name)
    assert read.outs["state"] == "JOB_STATE_FAILED"
    assert read.outs["error"] == {"code": 13, "message": "replica workerpool0-0 exited 137"}
    assert _when(read.outs["create_time"]) == live.create_time
    assert _when(read.outs["start_time"]) == live.start_time
    assert _when(read.outs["end_time"]) == live.end_time
    assert live.create_time <= live.start_time <= live.end_time


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_read_with_only_an_id_rebuilds_inputs_and_outputs_from_the_job(vertex_fake, kind):
    """Import / `get`: the engine passes the id and no props; project, region and the
    console page come from the job's name, the rest from the job itself."""
    provider, inputs = _create(kind, encryption_kms_key=KMS_KEY, project="other-project")
    name = provider.create(inputs).id

    outs = provider.read(name, {}).outs

    job_id = name.rsplit("/", 1)[1]
    assert outs["name"] == name and outs["job_id"] == job_id
    assert outs["console_url"] == (
        f"{CONSOLE}/europe-west4/training/{job_id}?project=other-project"
    )
    assert outs["logs_url"].startswith(LOGS) and outs["logs_url"].endswith(
        f"%22{job_id}%22?project=other-project"
    )
    assert (outs["project"], outs["region"]) == ("other-project", "europe-west4")
    assert outs["api_endpoint"] is None and outs["wait"] is None  # client-side: not on the job
    assert outs["display_name"] == inputs["display_name"]
    assert outs["labels"] == inputs["labels"]
    assert outs["labels"][RESOURCE_UID_LABEL] == outs["resource_uid"] == inputs["resource_uid"]
    assert outs["encryption_kms_key"] == KMS_KEY
    assert outs["job_spec"]["service_account"] == inputs["job_spec"]["service_account"]
    if kind == "tuning":
        counts = ("max_trial_count", "parallel_trial_count", "max_failed_trial_count")
        assert [outs[k] for k in counts] == [8, 2, 2]
        assert outs["study_spec"]["algorithm"] == "RANDOM_SEARCH"
    # Every input the resource reports, plus every output, and nothing else.
    assert set(outs) == (set(inputs) - {"resource_key"}) | {
        "name", "job_id", "state", "console_url", "logs_url", "create_time", "start_time",
        "end_time", "error",
        *(("trials", "best_trial", "pareto_trials") if kind == "tuning" else ()),
    }  # fmt: skip


def test_read_without_a_kms_key_reports_none(vertex_fake):
    provider, inputs = _create("custom")
    name = provider.create(inputs).id
    assert provider.read(name, {}).outs["encryption_kms_key"] is None


def test_read_keeps_the_client_side_inputs_from_state(vertex_fake):
    provider, inputs = _create("custom")
    outs = provider.create(inputs).outs
    state = {
        **outs,
        "api_endpoint": "psc.example:443",
        "wait": {"until_terminal": False},
        "__provider": "pickled provider",
    }
    read = provider.read(outs["name"], state).outs
    assert read["api_endpoint"] == "psc.example:443"
    assert read["wait"] == {"until_terminal": False}
    assert "__provider" not in read


def test_read_of_a_job_that_is_gone_returns_an_empty_id(vertex_fake):
    provider, inputs = _create("custom")
    outs = provider.create(inputs).outs
    vertex_fake.remove_job(outs["name"])
    read = provider.read(outs["name"], outs)
    assert (read.id, read.outs) == ("", {})


def test_read_of_a_malformed_id_reports_the_api_answer(vertex_fake):
    provider, _ = _create("custom")
    with pytest.raises(exceptions.InvalidArgument):
        provider.read("not-a-job-name", {})


def test_tuning_results_use_the_declared_study_when_the_job_has_none(vertex_fake):
    """A job whose study the API does not return: the goal and the integer parameters come
    from the declared `study_spec` in state."""
    provider, _ = _create("tuning")
    parent = "projects/my-project/locations/us-central1"
    name = vertex_fake.put_job(
        TUNING, parent, aiplatform_v1.HyperparameterTuningJob(display_name="tune-resnet")
    )
    vertex_fake.add_trial(name, {"learning_rate": 0.01, "batch_size": 32}, 0.9, metric_id="loss")
    vertex_fake.add_trial(name, {"learning_rate": 0.02, "batch_size": 64}, 0.4, metric_id="loss")
    declared = tuning_job_inputs(goal="MINIMIZE")["study_spec"]
    declared["metrics"][0]["metric_id"] = "loss"

    outs = provider.read(name, {"study_spec": declared}).outs

    assert outs["best_trial"] == {
        "id": "2",
        "parameters": {"learning_rate": 0.02, "batch_size": 64},
        "metric_id": "loss",
        "metric_value": 0.4,
    }
