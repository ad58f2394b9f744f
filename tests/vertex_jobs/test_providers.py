"""Vertex job providers' lifecycle: check, diff, create, read and delete, through Pulumi's
dynamic-provider host and directly, against the fake JobService.

Check failures per input: test_validation.py; trials: test_trials.py; endpoint and client:
test_api.py; pickling, type tokens and keys: test_compatibility.py.
"""

from __future__ import annotations

import threading
import time

import pytest
from pulumi.output import Unknown

from tests.harness.dynamic_host import UNKNOWN
from tests.harness.fake_job_service import OTHER_IMAGE, custom_job_inputs, tuning_job_inputs
from vertex_jobs.contract import (
    CUSTOM_JOB_TYPE,
    HYPERPARAMETER_TUNING_JOB_TYPE,
    RESOURCE_UID_LABEL,
)
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider

CONSOLE = "https://console.cloud.google.com/vertex-ai/locations/us-central1/training"


def checked(provider, inputs, olds=None):
    result = provider.check(olds or {}, inputs)
    assert [(f.property, f.reason) for f in result.failures] == []
    return result.inputs


# ---- lifecycle through the real dynamic-provider host -----------------------------------


def test_custom_job_lifecycle_through_dynamic_host(hosted):
    fake, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="train")

    inputs = job.check({}, custom_job_inputs())["inputs"]
    uid = inputs["resource_uid"]
    assert inputs["labels"][RESOURCE_UID_LABEL] == uid and len(uid) == 32

    started = time.monotonic()
    created = job.create(inputs)
    assert time.monotonic() - started < 5  # returns on submission, no waiting
    outs, name = created["properties"], created["id"]
    assert name.startswith("projects/my-project/locations/us-central1/customJobs/")
    assert outs["state"] == "JOB_STATE_QUEUED"
    assert outs["name"] == name and outs["job_id"] == name.rsplit("/", 1)[1]
    assert outs["console_url"] == f"{CONSOLE}/{outs['job_id']}/cpu?project=my-project"
    assert outs["create_time"].endswith("Z") and "start_time" not in outs  # None is dropped
    assert outs["job_spec"] == inputs["job_spec"] and outs["resource_uid"] == uid
    assert fake.job(name).labels[RESOURCE_UID_LABEL] == uid

    fake.advance(name, "RUNNING")
    running = job.read(name, outs)
    assert running["id"] == name and running["properties"]["state"] == "JOB_STATE_RUNNING"
    assert running["properties"]["start_time"]

    fake.finish(name)
    done = job.read(name, running["properties"])["properties"]
    assert done["state"] == "JOB_STATE_SUCCEEDED" and done["end_time"]

    job.delete(name, done)
    assert fake.job_names() == []
    assert fake.call_count("CancelCustomJob") == 0  # already terminal: nothing to cancel
    assert fake.call_count("CreateCustomJob") == 1


def test_destroy_cancels_a_running_job_waits_for_it_then_deletes(hosted):
    fake, host = hosted
    fake.cancel_delay_gets = 3
    fake.operation_delay_polls = 2
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="train")
    created = job.create(job.check({}, custom_job_inputs())["inputs"])
    fake.advance(created["id"], "RUNNING")

    job.delete(created["id"], created["properties"])

    calls = fake.methods_called()
    assert calls.index("CancelCustomJob") < calls.index("DeleteCustomJob")
    assert calls.count("GetCustomJob") >= 4  # waited through CANCELLING
    assert calls.count("GetOperation") >= 2  # waited for the delete operation
    assert fake.job_names() == [] and fake.live_jobs() == []


def test_tuning_job_lifecycle_through_dynamic_host(hosted):
    fake, host = hosted
    job = host.bind(HyperparameterTuningJobProvider(), type_token=HYPERPARAMETER_TUNING_JOB_TYPE)
    inputs = job.check({}, tuning_job_inputs())["inputs"]
    created = job.create(inputs)
    name, outs = created["id"], created["properties"]
    assert "/hyperparameterTuningJobs/" in name
    assert outs["console_url"] == f"{CONSOLE}/{outs['job_id']}?project=my-project"
    assert outs["trials"] == [] and "best_trial" not in outs  # None is dropped
    stored = fake.job(name)
    assert stored.max_trial_count == 8 and stored.trial_job_spec.worker_pool_specs
    assert stored.study_spec.metrics[0].metric_id == "accuracy"

    fake.advance(name, "RUNNING")
    fake.add_trial(name, {"learning_rate": 0.01, "batch_size": 32}, 0.81)
    fake.add_trial(name, {"learning_rate": 0.02, "batch_size": 64}, 0.86)
    refreshed = job.read(name, outs)["properties"]
    assert refreshed["state"] == "JOB_STATE_RUNNING"
    assert refreshed["best_trial"] == {
        "id": "2",
        "parameters": {"learning_rate": 0.02, "batch_size": 64},
        "metric_id": "accuracy",
        "metric_value": 0.86,
    }
    assert [t["id"] for t in refreshed["trials"]] == ["1", "2"]

    job.delete(name, refreshed)
    assert fake.call_count("CancelHyperparameterTuningJob") == 1
    assert fake.job_names() == []


def test_a_failed_job_shows_in_outputs_without_failing_refresh(hosted):
    fake, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    created = job.create(job.check({}, custom_job_inputs())["inputs"])
    fake.finish(created["id"], succeeded=False, message="replica workerpool0-0 exited 137")
    outs = job.read(created["id"], created["properties"])["properties"]
    assert outs["state"] == "JOB_STATE_FAILED"
    assert outs["error"] == {"code": 13, "message": "replica workerpool0-0 exited 137"}


def test_refresh_of_a_job_deleted_out_of_band_reports_it_gone(hosted):
    fake, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    created = job.create(job.check({}, custom_job_inputs())["inputs"])
    fake.remove_job(created["id"])
    assert job.read(created["id"], created["properties"]) == {
        "id": "",
        "properties": {},
        "inputs": None,
    }


def test_diff_through_the_host_makes_no_api_calls(hosted):
    fake, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    inputs = job.check({}, custom_job_inputs())["inputs"]
    created = job.create(inputs)
    fake.reset_calls()
    changed = custom_job_inputs(display_name="train-resnet-v2")
    news = job.check(inputs, changed)["inputs"]
    result = job.diff(created["id"], created["properties"], news)
    assert result["changes"] == "DIFF_SOME"
    assert result["replaces"] == ["display_name"]
    assert result["delete_before_replace"] is True
    same = job.diff(created["id"], created["properties"], inputs)
    assert same["changes"] == "DIFF_NONE" and same["replaces"] == []
    assert fake.call_count() == 0


def test_preview_with_an_unknown_image_checks_clean_and_plans_a_replacement(hosted):
    fake, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    inputs = job.check({}, custom_job_inputs())["inputs"]
    created = job.create(inputs)
    fake.reset_calls()
    spec = _spec_with(image_uri=UNKNOWN)
    previewed = job.check(inputs, custom_job_inputs(job_spec=spec))
    assert previewed["failures"] == []
    result = job.diff(created["id"], created["properties"], previewed["inputs"])
    assert result["replaces"] == ["job_spec"]
    assert fake.call_count() == 0


def test_check_failures_reach_the_engine_per_property(hosted):
    _, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    result = job.check({}, custom_job_inputs(region="Mars", display_name=""))
    assert {f["property"] for f in result["failures"]} == {"region", "display_name"}


# ---- create --------------------------------------------------------------------------


def test_create_adopts_a_job_already_labelled_with_the_resource_uid(vertex_fake):
    provider = CustomJobProvider()
    inputs = checked(provider, custom_job_inputs())
    first = provider.create(inputs)
    again = provider.create(inputs)
    assert again.id == first.id
    assert vertex_fake.call_count("CreateCustomJob") == 1
    assert len(vertex_fake.job_names()) == 1


def test_create_can_wait_for_short_jobs_to_finish(vertex_fake):
    provider = CustomJobProvider()
    inputs = checked(
        provider, custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 30})
    )

    def finish_soon() -> None:
        for _ in range(200):
            if vertex_fake.job_names():
                time.sleep(0.05)
                vertex_fake.finish(vertex_fake.job_names()[0])
                return
            time.sleep(0.01)

    finisher = threading.Thread(target=finish_soon)
    finisher.start()
    outs = provider.create(inputs).outs
    finisher.join()
    assert outs["state"] == "JOB_STATE_SUCCEEDED" and outs["end_time"]


def test_create_wait_is_bounded_and_returns_the_current_state(vertex_fake):
    provider = CustomJobProvider()
    inputs = checked(
        provider, custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 1})
    )
    started = time.monotonic()
    outs = provider.create(inputs).outs
    assert 1 <= time.monotonic() - started < 3
    assert outs["state"] == "JOB_STATE_QUEUED"


def test_create_sends_the_kms_key_and_labels(vertex_fake):
    provider = CustomJobProvider()
    key = "projects/my-project/locations/us-central1/keyRings/ring/cryptoKeys/key"
    outs = provider.create(checked(provider, custom_job_inputs(encryption_kms_key=key))).outs
    stored = vertex_fake.job(outs["name"])
    assert stored.encryption_spec.kms_key_name == key
    assert stored.labels["vtrain-stack"] == "dev"
    assert stored.job_spec.scheduling.timeout.total_seconds() == 3600


def test_lower_camel_job_spec_is_accepted(vertex_fake):
    provider = CustomJobProvider()
    spec = {
        "workerPoolSpecs": [
            {
                "machineSpec": {"machineType": "n1-standard-8"},
                "replicaCount": "1",
                "containerSpec": {"imageUri": OTHER_IMAGE},
            }
        ],
        "scheduling": {"strategy": "SPOT", "maxWaitDuration": "1800s"},
        "enableWebAccess": True,
    }
    outs = provider.create(checked(provider, custom_job_inputs(job_spec=spec))).outs
    stored = vertex_fake.job(outs["name"]).job_spec
    assert stored.enable_web_access and stored.scheduling.strategy.name == "SPOT"


# ---- check (uid and placeholders) ---------------------------------------------------


def test_check_derives_the_same_uid_for_the_same_resource_and_job_without_old_state():
    provider = CustomJobProvider()
    first = checked(provider, custom_job_inputs())
    again = checked(provider, custom_job_inputs())
    endpoint_only = checked(provider, custom_job_inputs(api_endpoint="psc.example:443"))
    assert first["resource_uid"] == again["resource_uid"] == endpoint_only["resource_uid"]
    assert len(first["resource_uid"]) == 32 and int(first["resource_uid"], 16) >= 0
    assert again["labels"][RESOURCE_UID_LABEL] == first["resource_uid"]


def test_check_mints_a_new_uid_for_a_replacement_job():
    provider = CustomJobProvider()
    first = checked(provider, custom_job_inputs())
    replaced = checked(provider, custom_job_inputs(display_name="v2"), olds=first)
    assert replaced["resource_uid"] != first["resource_uid"]
    assert replaced["labels"][RESOURCE_UID_LABEL] == replaced["resource_uid"]


def test_check_drops_output_placeholders_the_resource_registers():
    inputs = checked(CustomJobProvider(), {**custom_job_inputs(), "state": None, "name": None})
    assert "state" not in inputs and "name" not in inputs


# ---- diff (pure) -------------------------------------------------------------------------


@pytest.fixture
def created_outputs(vertex_fake):
    provider = CustomJobProvider()
    inputs = checked(provider, custom_job_inputs())
    outs = provider.create(inputs).outs
    vertex_fake.reset_calls()
    yield provider, outs
    assert vertex_fake.call_count() == 0, "diff must not call the API"


def _spec_with(**container) -> dict:
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"].update(container)
    return spec


@pytest.mark.parametrize(
    ("override", "replaces"),
    [
        ({"job_spec": _spec_with(image_uri=OTHER_IMAGE)}, ["job_spec"]),
        ({"job_spec": _spec_with(args=["--epochs", "20"])}, ["job_spec"]),
        ({"display_name": "other"}, ["display_name"]),
        ({"region": "europe-west4"}, ["region"]),
        ({"project": "other-project"}, ["project"]),
        ({"labels": {"vtrain-stack": "prod", "vtrain-project": "x"}}, ["labels"]),
        (
            {"encryption_kms_key": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
            ["encryption_kms_key"],
        ),
    ],
)
def test_diff_replaces_on_any_change_to_the_job(created_outputs, override, replaces):
    provider, outs = created_outputs
    news = checked(provider, custom_job_inputs(**override), olds=outs)
    result = provider.diff(outs["name"], outs, news)
    assert result.changes is True and result.replaces == replaces
    assert result.delete_before_replace is True


def test_diff_ignores_output_only_fields_and_the_uid_label(created_outputs):
    provider, outs = created_outputs
    drifted = {**outs, "state": "JOB_STATE_SUCCEEDED", "end_time": "2030-01-01T00:00:00Z"}
    news = checked(provider, custom_job_inputs(), olds=outs)
    result = provider.diff(outs["name"], drifted, news)
    assert result.changes is False and result.replaces == []


def test_diff_sees_camel_and_snake_case_specs_as_equal(created_outputs):
    provider, outs = created_outputs
    spec = custom_job_inputs()["job_spec"]
    camel = {
        "workerPoolSpecs": spec["worker_pool_specs"],
        "scheduling": {"timeout": "3600s", "restartJobOnWorkerRestart": False},
        "serviceAccount": spec["service_account"],
        "baseOutputDirectory": {
            "outputUriPrefix": spec["base_output_directory"]["output_uri_prefix"]
        },
    }
    news = checked(provider, custom_job_inputs(job_spec=camel), olds=outs)
    assert provider.diff(outs["name"], outs, news).changes is False


def test_diff_updates_client_side_inputs_in_place(created_outputs):
    provider, outs = created_outputs
    news = checked(provider, custom_job_inputs(api_endpoint="psc.example:443"), olds=outs)
    result = provider.diff(outs["name"], outs, news)
    assert result.changes is True and result.replaces == []
    updated = provider.update(outs["name"], outs, news).outs
    assert updated["api_endpoint"] == "psc.example:443" and updated["name"] == outs["name"]


def test_diff_replaces_when_a_value_is_unknown_in_preview(created_outputs):
    provider, outs = created_outputs
    news = {**outs, "job_spec": _spec_with(image_uri=Unknown()), "region": Unknown()}
    assert provider.diff(outs["name"], outs, news).replaces == ["region", "job_spec"]


def test_tuning_diff_replaces_on_study_changes(vertex_fake):
    provider = HyperparameterTuningJobProvider()
    outs = provider.create(checked(provider, tuning_job_inputs())).outs
    vertex_fake.reset_calls()
    for override, key in [
        ({"goal": "MINIMIZE"}, "study_spec"),
        ({"max_trial_count": 16}, "max_trial_count"),
        ({"parallel_trial_count": 4}, "parallel_trial_count"),
    ]:
        news = checked(provider, tuning_job_inputs(**override), olds=outs)
        assert provider.diff(outs["name"], outs, news).replaces == [key]
    assert vertex_fake.call_count() == 0


# ---- read ----------------------------------------------------------------------------


def test_read_with_only_an_id_rebuilds_the_inputs_from_the_live_job(vertex_fake):
    """``CustomJob.get(name, id)`` / import: the engine passes no prior props."""
    provider = HyperparameterTuningJobProvider()
    inputs = checked(provider, tuning_job_inputs())
    name = provider.create(inputs).id
    outs = provider.read(name, {}).outs
    assert (outs["project"], outs["region"]) == ("my-project", "us-central1")
    assert outs["display_name"] == inputs["display_name"]
    assert outs["resource_uid"] == inputs["resource_uid"]
    assert outs["max_trial_count"] == 8
    assert outs["study_spec"]["metrics"] == [{"metric_id": "accuracy", "goal": "MAXIMIZE"}]
    image = outs["job_spec"]["worker_pool_specs"][0]["container_spec"]["image_uri"]
    assert image == inputs["job_spec"]["worker_pool_specs"][0]["container_spec"]["image_uri"]
