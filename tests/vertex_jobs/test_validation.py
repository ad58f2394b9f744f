"""The providers' `check`: each bad input is reported as a failure naming its property, with
a reason that says what was given and what is allowed (`vertex_jobs.validation` and the
provider's required/unknown/reserved checks); good inputs at the edges pass, and preview
unknowns are tolerated."""

from __future__ import annotations

import pytest
from pulumi.output import Unknown

from tests.harness.dynamic_host import UNKNOWN
from tests.harness.fake_job_service import custom_job_inputs, tuning_job_inputs
from vertex_jobs.contract import RESOURCE_UID_LABEL
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider

KMS_KEY = "projects/my-project/locations/us-central1/keyRings/ring/cryptoKeys/key"


def failures(provider, inputs, olds=None) -> dict[str, str]:
    return {f.property: f.reason for f in provider.check(olds or {}, inputs).failures}


def custom_failures(**override) -> dict[str, str]:
    return failures(CustomJobProvider(), custom_job_inputs(**override))


def tuning_failures(**override) -> dict[str, str]:
    return failures(HyperparameterTuningJobProvider(), tuning_job_inputs(**override))


def pools(*specs) -> dict:
    return {"worker_pool_specs": list(specs)}


GOOD_POOL = custom_job_inputs()["job_spec"]["worker_pool_specs"][0]


def test_check_requires_the_core_fields():
    found = failures(CustomJobProvider(), {"labels": {}})
    assert {"project", "region", "display_name", "job_spec"} <= set(found)


@pytest.mark.parametrize(
    ("override", "prop", "says"),
    [
        ({"project": "X"}, "project", ["GCP project id", "got 'X'"]),
        ({"project": 1234}, "project", ["GCP project id", "got 1234"]),
        ({"region": "us central"}, "region", ["Vertex AI region", "got 'us central'"]),
        ({"region": "mars-north1"}, "region", ["Vertex AI region", "got 'mars-north1'"]),
        ({"display_name": "x" * 129}, "display_name", ["1 to 128 characters", "got 'xxx"]),
        ({"display_name": ""}, "display_name", ["1 to 128 characters", "got ''"]),
        ({"display_name": 7}, "display_name", ["string of 1 to 128", "got 7"]),
        ({"labels": {"Team": "ml"}}, "labels.Team", ["label key 'Team'", "lowercase"]),
        ({"labels": {"team": "ML Ops"}}, "labels.team", ["value 'ML Ops'", "lowercase"]),
        ({"labels": {RESOURCE_UID_LABEL: "mine"}}, f"labels.{RESOURCE_UID_LABEL}", ["reserved"]),
        ({"labels": ["team=ml"]}, "labels", ["map of string to string", "got list"]),
        ({"labels": "team=ml"}, "labels", ["map of string to string", "got str"]),
        (
            {"encryption_kms_key": "my-key"},
            "encryption_kms_key",
            ["projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>", "got 'my-key'"],
        ),
        ({"encryption_kms_key": 3}, "encryption_kms_key", ["keyRings", "got 3"]),
        ({"api_endpoint": "https://x"}, "api_endpoint", ["host[:port]", "got 'https://x'"]),
        ({"api_endpoint": 443}, "api_endpoint", ["host[:port]", "got 443"]),
        ({"resource_key": ""}, "resource_key", ["'<project>/<stack>/<resource name>'", "''"]),
        ({"resource_key": 5}, "resource_key", ["<project>/<stack>/<resource name>", "got 5"]),
        ({"wait": True}, "wait", ["None or {'until_terminal': bool, 'timeout_seconds': int}"]),
        ({"wait": {"until": True}}, "wait", ["{'until_terminal': bool, 'timeout_seconds'"]),
        ({"wait": {"until_terminal": "yes"}}, "wait.until_terminal", ["bool", "got 'yes'"]),
        ({"wait": {"timeout_seconds": 0}}, "wait.timeout_seconds", ["1 to 86400", "got 0"]),
        ({"wait": {"timeout_seconds": 86401}}, "wait.timeout_seconds", ["int", "got 86401"]),
        ({"wait": {"timeout_seconds": 1.5}}, "wait.timeout_seconds", ["int", "got 1.5"]),
        ({"wait": {"timeout_seconds": True}}, "wait.timeout_seconds", ["int", "got True"]),
        ({"wait": {"timeout_seconds": "60"}}, "wait.timeout_seconds", ["int", "got '60'"]),
        ({"colour": "blue"}, "colour", ["unknown property", "display_name"]),
    ],
)
def test_check_names_the_bad_property_and_says_why(override, prop, says):
    found = custom_failures(**override)
    assert prop in found, found
    for part in says:
        assert part in found[prop]


@pytest.mark.parametrize(
    "override",
    [
        {"project": "123456789012"},  # a project number
        {"project": "a23456"},
        {"region": "europe-west4"},
        {"display_name": "x"},
        {"display_name": "x" * 128},
        {"api_endpoint": None},
        {"api_endpoint": "us-central1-aiplatform-psc.p.googleapis.com"},
        {"api_endpoint": "localhost:8085"},
        {"encryption_kms_key": None},
        {"encryption_kms_key": KMS_KEY},
        {"resource_key": None},
        {"labels": {}},
        {"labels": None},
        {"labels": {f"label_{i}": "v" for i in range(63)}},  # one more is the uid label
        {"wait": None},
        {"wait": {}},
        {"wait": {"until_terminal": False}},
        {"wait": {"until_terminal": True, "timeout_seconds": 1}},
        {"wait": {"timeout_seconds": 86400}},
        {"wait": {"timeout_seconds": 86400.0}},  # Pulumi numbers are doubles
    ],
    ids=repr,
)
def test_check_accepts_good_inputs_at_the_edges(override):
    assert custom_failures(**override) == {}


def test_reasons_that_spell_the_allowed_form_in_full():
    assert custom_failures(wait=True) == {
        "wait": "must be None or {'until_terminal': bool, 'timeout_seconds': int}"
    }
    assert custom_failures(encryption_kms_key="my-key") == {
        "encryption_kms_key": "must be None or "
        "projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>, got 'my-key'"
    }


def test_at_most_63_labels_as_one_is_the_resource_uid():
    found = custom_failures(labels={f"label_{i}": "v" for i in range(64)})
    assert found == {"labels": "at most 63 labels allowed (one is reserved), got 64"}
    labels = {RESOURCE_UID_LABEL: "mine", **{f"label_{i}": "v" for i in range(64)}}
    assert custom_failures(labels=labels)["labels"].endswith("got 64")  # the uid is not counted


def test_a_checked_job_with_the_most_labels_checks_again():
    """The stamped uid label is not one of the user's 63."""
    provider = CustomJobProvider()
    inputs = custom_job_inputs(labels={f"label_{i}": "v" for i in range(63)})
    checked = provider.check({}, inputs)
    assert checked.failures == []
    assert len(checked.inputs["labels"]) == 64
    assert failures(provider, checked.inputs, olds=checked.inputs) == {}


def test_every_bad_label_is_reported_past_the_uid_label():
    labels = {RESOURCE_UID_LABEL: "mine", "Team": "ml", "env": "Prod"}
    found = custom_failures(labels=labels)
    assert {"labels.Team", "labels.env", f"labels.{RESOURCE_UID_LABEL}"} <= set(found)
    assert "'Prod'" in found["labels.env"]


# ---- job_spec ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"worker_pool_specs": [], "bogus": 1}, ["not a valid CustomJobSpec", "bogus"]),
        ("python -m trainer", ["not a valid CustomJobSpec", "expected an object", "got str"]),
        ({"worker_pool_specs": [{"replica_count": "many"}]}, ["CustomJobSpec", "many"]),
    ],
)
def test_an_unparsable_job_spec_says_what_is_wrong(spec, says):
    found = custom_failures(job_spec=spec)
    assert set(found) == {"job_spec"}
    for part in says:
        assert part in found["job_spec"]


def test_a_job_needs_a_worker_pool():
    assert custom_failures(job_spec=pools()) == {
        "job_spec.worker_pool_specs": "at least one worker pool is required"
    }


def test_check_names_the_missing_image_and_machine_type():
    spec = pools({"replica_count": 1, "container_spec": {}})
    assert custom_failures(job_spec=spec) == {
        "job_spec.worker_pool_specs[0].machine_spec.machine_type": "required",
        "job_spec.worker_pool_specs[0].container_spec.image_uri": "required",
    }


@pytest.mark.parametrize("replicas", [0, -2, None])
def test_a_pool_needs_a_replica(replicas):
    pool = {**GOOD_POOL, "replica_count": replicas}
    if replicas is None:
        del pool["replica_count"]
    found = custom_failures(job_spec=pools(pool))
    assert found == {
        "job_spec.worker_pool_specs[0].replica_count": f"must be at least 1, got {replicas or 0}"
    }


def test_an_empty_pool_after_the_first_means_no_workers_in_that_role():
    assert custom_failures(job_spec=pools(GOOD_POOL, {}, {**GOOD_POOL, "replica_count": 3})) == {}
    assert "job_spec.worker_pool_specs[0].machine_spec.machine_type" in custom_failures(
        job_spec=pools({}, GOOD_POOL)
    )


def test_a_later_pool_is_checked_and_named_by_its_index():
    bad = {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 2}
    found = custom_failures(job_spec=pools(GOOD_POOL, {}, bad))
    assert found == {"job_spec.worker_pool_specs[2].container_spec.image_uri": "required"}


def test_a_python_package_pool_needs_no_container_image():
    pool = {
        "machine_spec": {"machine_type": "n1-standard-4"},
        "replica_count": 1,
        "python_package_spec": {
            "executor_image_uri": "us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-12:latest",
            "package_uris": ["gs://b/trainer.tar.gz"],
            "python_module": "trainer.task",
        },
    }
    assert custom_failures(job_spec=pools(pool)) == {}


# ---- tuning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "prop", "reason"),
    [
        ({"max_trial_count": 0}, "max_trial_count", "must be an int >= 1, got 0"),
        ({"max_trial_count": True}, "max_trial_count", "must be an int >= 1, got True"),
        ({"max_trial_count": "8"}, "max_trial_count", "must be an int >= 1, got '8'"),
        ({"max_trial_count": 2.5}, "max_trial_count", "must be an int >= 1, got 2.5"),
        ({"parallel_trial_count": 0}, "parallel_trial_count", "must be an int >= 1, got 0"),
        ({"max_failed_trial_count": -1}, "max_failed_trial_count", "must be an int >= 0, got -1"),
        (
            {"parallel_trial_count": 9},
            "parallel_trial_count",
            "parallel_trial_count 9 exceeds max_trial_count 8",
        ),
        (
            {"max_failed_trial_count": 9},
            "max_failed_trial_count",
            "max_failed_trial_count 9 exceeds max_trial_count 8",
        ),
    ],
)
def test_trial_counts_say_what_is_allowed(override, prop, reason):
    assert tuning_failures(**override)[prop] == reason


@pytest.mark.parametrize(
    "override",
    [
        {"max_failed_trial_count": 0},
        {"max_trial_count": 1, "parallel_trial_count": 1, "max_failed_trial_count": 1},
        {"max_trial_count": 8.0, "parallel_trial_count": 2.0},  # Pulumi numbers are doubles
        {"parallel_trial_count": 8, "max_failed_trial_count": 8},
    ],
    ids=repr,
)
def test_trial_counts_at_their_bounds_pass(override):
    assert tuning_failures(**override) == {}


def test_counts_are_compared_only_once_each_is_an_int():
    assert tuning_failures(max_trial_count="8", parallel_trial_count=9) == {
        "max_trial_count": "must be an int >= 1, got '8'"
    }


@pytest.mark.parametrize(
    ("study", "prop", "says"),
    [
        ({"metrics": [], "parameters": []}, "study_spec.metrics", "at least one metric"),
        ({"metrics": [{"goal": "MINIMIZE"}]}, "study_spec.metrics[0].metric_id", "required"),
        ({"metrics": [{"metric_id": "a"}]}, "study_spec.metrics[0].goal", "MAXIMIZE or MINIMIZE"),
        ({"metrics": [{"metric_id": "a", "goal": "MAXIMIZE"}]}, "study_spec.parameters", "one"),
    ],
)
def test_study_spec_problems_are_named(study, prop, says):
    found = tuning_failures(study_spec=study)
    assert prop in found, found
    assert says in found[prop]


def test_study_spec_reasons_in_full():
    study = {"metrics": [{"metric_id": "a", "goal": "MAXIMIZE"}, {}], "parameters": []}
    assert tuning_failures(study_spec=study) == {
        "study_spec.metrics[1].metric_id": "required",
        "study_spec.metrics[1].goal": "must be MAXIMIZE or MINIMIZE",
        "study_spec.parameters": "at least one parameter is required",
    }
    no_metric = tuning_failures(study_spec={"metrics": [], "parameters": []})
    assert no_metric["study_spec.metrics"] == "at least one metric {metric_id, goal} is required"


@pytest.mark.parametrize(
    ("study", "says"),
    [
        ({"metrics": [{"metric_id": "a", "goal": "BIGGER"}]}, "BIGGER"),
        ({"metric": [{"metric_id": "a"}]}, "metric"),
        ([{"metric_id": "a"}], "got list"),
    ],
)
def test_an_unparsable_study_spec_says_what_is_wrong(study, says):
    found = tuning_failures(study_spec=study)
    assert set(found) == {"study_spec"}
    assert "not a valid StudySpec (proto3 JSON)" in found["study_spec"]
    assert says in found["study_spec"]


# ---- preview unknowns --------------------------------------------------------------------


@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["marker", "object"])
def test_check_tolerates_preview_unknowns(unknown):
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"]["image_uri"] = unknown
    labels = {"vtrain-stack": unknown}
    inputs = custom_job_inputs(job_spec=spec, project=unknown, labels=labels)
    assert failures(CustomJobProvider(), inputs) == {}


@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["marker", "object"])
@pytest.mark.parametrize(
    "prop",
    ["project", "region", "display_name", "api_endpoint", "encryption_kms_key", "resource_key"],
)
def test_each_unknown_input_is_left_for_up(unknown, prop):
    assert custom_failures(**{prop: unknown}) == {}


@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["marker", "object"])
def test_unknown_tuning_inputs_are_left_for_up(unknown):
    study = tuning_job_inputs()["study_spec"]
    study["metrics"][0]["metric_id"] = unknown
    for override in (
        {"max_trial_count": unknown, "parallel_trial_count": 9},
        {"parallel_trial_count": unknown},
        {"max_failed_trial_count": unknown},
        {"study_spec": unknown},
        {"study_spec": study},
        {"wait": unknown, "labels": unknown, "job_spec": unknown},
    ):
        assert tuning_failures(**override) == {}, override
