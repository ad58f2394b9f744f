"""Vertex job providers' lifecycle: check, diff, create, read and delete, through Pulumi's
dynamic-provider host and directly, against the fake JobService.

Check failures per input: test_validation.py; trials: test_trials.py; endpoint and client:
test_api.py; pickling, type tokens and keys: test_compatibility.py.
"""

from __future__ import annotations

import pytest

from tests.harness.dynamic_host import UNKNOWN
from tests.harness.fake_job_service import (
    OTHER_IMAGE,
    checked,
    custom_job_inputs,
    job_spec_with,
    tuning_job_inputs,
)
from vertex_jobs.contract import (
    CUSTOM_JOB_TYPE,
    HYPERPARAMETER_TUNING_JOB_TYPE,
    RESOURCE_UID_LABEL,
)
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider

CONSOLE = "https://console.cloud.google.com/agent-platform/locations/us-central1/training"


# ---- lifecycle through the real dynamic-provider host -----------------------------------


def test_custom_job_lifecycle_through_dynamic_host(hosted):
    fake, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="train")

    inputs = job.check({}, custom_job_inputs())["inputs"]
    uid = inputs["resource_uid"]
    assert inputs["labels"][RESOURCE_UID_LABEL] == uid and len(uid) == 32

    created = job.create(inputs)
    # Returns on submission: one lookup by uid, one create, no polling (in-process on the
    # fake clock, no waiting at all: test_create_returns_on_submission_without_waiting).
    assert fake.methods_called() == ["ListCustomJobs", "CreateCustomJob"]
    outs, name = created["properties"], created["id"]
    assert name.startswith("projects/my-project/locations/us-central1/customJobs/")
    assert outs["state"] == "JOB_STATE_QUEUED"
    assert outs["name"] == name and outs["job_id"] == name.rsplit("/", 1)[1]
    assert outs["console_url"] == f"{CONSOLE}/{outs['job_id']}?project=my-project"
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


def test_tuning_job_lifecycle_through_dynamic_host(hosted):
    fake, host = hosted
    job = host.bind(HyperparameterTuningJobProvider(), type_token=HYPERPARAMETER_TUNING_JOB_TYPE)
    inputs = job.check({}, tuning_job_inputs())["inputs"]
    created = job.create(inputs)
    name, outs = created["id"], created["properties"]
    assert "/hyperparameterTuningJobs/" in name
    assert outs["console_url"] == f"{CONSOLE}/{outs['job_id']}?project=my-project"
    assert outs["trials"] == [] and "best_trial" not in outs  # None is dropped
    assert "pareto_trials" not in outs  # one metric: best_trial, no Pareto set
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
    spec = job_spec_with(image_uri=UNKNOWN)
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


# The waits below run on `clock` (conftest.py): production poll intervals on a fake clock, so
# the tests assert the virtual time spent and the polls made. Poll backoff: 5 s doubling to
# 60 s, the upper half jittered (`vertex_jobs.api.backoff`).


def _poll_bounds(poll: int) -> tuple[float, float]:
    delay = min(5.0 * 2**poll, 60.0)
    return delay / 2, delay


def test_create_returns_on_submission_without_waiting(vertex_fake, clock):
    provider = CustomJobProvider()
    outs = provider.create(checked(provider, custom_job_inputs())).outs
    assert outs["state"] == "JOB_STATE_QUEUED"
    assert vertex_fake.methods_called() == ["ListCustomJobs", "CreateCustomJob"]
    assert clock.sleeps == []


def test_create_can_wait_for_short_jobs_to_finish(vertex_fake, clock):
    provider = CustomJobProvider()
    inputs = checked(
        provider, custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 30})
    )
    # The job starts by the first poll and has finished by the second.
    vertex_fake.script_states("GetCustomJob", ["RUNNING", "SUCCEEDED"])

    outs = provider.create(inputs).outs

    assert outs["state"] == "JOB_STATE_SUCCEEDED" and outs["start_time"] and outs["end_time"]
    # It returns at the first terminal state: two polls, each after one backoff, no more.
    assert vertex_fake.methods_called() == [
        "ListCustomJobs",
        "CreateCustomJob",
        "GetCustomJob",
        "GetCustomJob",
    ]
    assert len(clock.sleeps) == 2
    for poll, slept in enumerate(clock.sleeps):
        low, high = _poll_bounds(poll)
        assert low <= slept <= high, (poll, slept)
    assert clock.elapsed <= 15 < 30  # well inside the timeout


def test_create_wait_is_bounded_and_returns_the_current_state(vertex_fake, clock):
    provider = CustomJobProvider()
    inputs = checked(
        provider, custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 60})
    )

    outs = provider.create(inputs).outs  # the job stays QUEUED

    assert outs["state"] == "JOB_STATE_QUEUED"
    assert vertex_fake.job_names() == [outs["name"]]  # kept: the wait never fails the create
    # Waited the 60 s in full and no longer (the last interval cut to what was left), one
    # poll after each interval, none after the deadline.
    assert clock.elapsed == pytest.approx(60)
    assert vertex_fake.call_count("GetCustomJob") == len(clock.sleeps)
    for poll, slept in enumerate(clock.sleeps[:-1]):
        low, high = _poll_bounds(poll)
        assert low <= slept <= high, (poll, slept)
    assert 0 < clock.sleeps[-1] <= _poll_bounds(len(clock.sleeps) - 1)[1]
    assert 4 <= len(clock.sleeps) <= 5  # 5 + 10 + 20 + 25, or 2.5 + 5 + 10 + 20 + 22.5


def test_delete_cancels_a_running_job_waits_for_it_then_deletes(vertex_fake, clock):
    vertex_fake.cancel_delay_gets = 3  # CANCELLING for three more gets
    vertex_fake.operation_delay_polls = 2  # the delete operation is done at the second poll
    provider = CustomJobProvider()
    outs = provider.create(checked(provider, custom_job_inputs())).outs
    vertex_fake.advance(outs["name"], "RUNNING")
    vertex_fake.reset_calls()

    provider.delete(outs["name"], outs)

    assert vertex_fake.methods_called() == [
        "GetCustomJob",  # RUNNING
        "CancelCustomJob",
        *["GetCustomJob"] * 4,  # CANCELLING three times, then CANCELLED
        "DeleteCustomJob",
        *["GetOperation"] * 2,  # not done, then done
    ]
    assert vertex_fake.job_names() == [] and vertex_fake.live_jobs() == []
    # One poll interval between the gets (production: 5, 10, 20 s at most), then one of the
    # operation's polling (initial 5 s) between the GetOperations.
    assert len(clock.sleeps) == 4
    for poll, slept in enumerate(clock.sleeps[:3]):
        low, high = _poll_bounds(poll)
        assert low <= slept <= high, (poll, slept)
    assert 0 <= clock.sleeps[3] <= 5
    assert clock.elapsed < 3600  # the delete bound


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


# ---- which endpoint each call talks to ----------------------------------------------


class _Captured(Exception):
    pass


@pytest.fixture
def endpoints(monkeypatch):
    """No emulator: the endpoint each provider call asks a client for (none is built)."""
    from vertex_jobs import providers

    monkeypatch.delenv("VERTEX_AI_EMULATOR_HOST", raising=False)
    seen = []

    def capture(endpoint, credentials=None):
        seen.append(endpoint)
        raise _Captured

    monkeypatch.setattr(providers, "make_job_client", capture)
    return seen


EUROPE_JOB = "projects/my-project/locations/europe-west4/customJobs/123"


@pytest.mark.parametrize(
    ("call", "host"),
    [
        # create: the inputs' region (no job name yet)
        (lambda p: p.create(custom_job_inputs(region="asia-east1")), "asia-east1"),
        # read/delete with only an id (import, old state): the job name's location
        (lambda p: p.read(EUROPE_JOB, {}), "europe-west4"),
        (lambda p: p.delete(EUROPE_JOB, {}), "europe-west4"),
        # with props: their region
        (lambda p: p.read(EUROPE_JOB, custom_job_inputs(region="asia-east1")), "asia-east1"),
        (lambda p: p.delete(EUROPE_JOB, custom_job_inputs(region="asia-east1")), "asia-east1"),
    ],
)
def test_each_call_talks_to_the_regional_endpoint(endpoints, call, host):
    with pytest.raises(_Captured):
        call(CustomJobProvider())
    assert [(e.host, e.insecure) for e in endpoints] == [
        (f"{host}-aiplatform.googleapis.com", False)
    ]


@pytest.mark.parametrize("verb", ["create", "read", "delete"])
def test_an_api_endpoint_in_the_inputs_replaces_the_regional_one(endpoints, verb):
    props = custom_job_inputs(api_endpoint="vertex-psc.p.googleapis.com:443")
    provider = CustomJobProvider()
    with pytest.raises(_Captured):
        if verb == "create":
            provider.create(props)
        else:
            getattr(provider, verb)(EUROPE_JOB, props)
    assert [(e.host, e.insecure) for e in endpoints] == [("vertex-psc.p.googleapis.com:443", False)]
