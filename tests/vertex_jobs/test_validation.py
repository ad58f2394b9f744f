"""The providers' `check`: each bad input is reported as a failure naming its property
(`vertex_jobs.validation` and the provider's required/unknown/reserved checks), and preview
unknowns are tolerated."""

from __future__ import annotations

import pytest
from pulumi.output import Unknown

from tests.harness.dynamic_host import UNKNOWN
from tests.harness.fake_job_service import custom_job_inputs, tuning_job_inputs
from vertex_jobs.contract import RESOURCE_UID_LABEL
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider


def failures(provider, inputs, olds=None) -> dict[str, str]:
    return {f.property: f.reason for f in provider.check(olds or {}, inputs).failures}


def test_check_requires_the_core_fields():
    found = failures(CustomJobProvider(), {"labels": {}})
    assert {"project", "region", "display_name", "job_spec"} <= set(found)


@pytest.mark.parametrize(
    ("override", "prop"),
    [
        ({"project": "X"}, "project"),
        ({"region": "us central"}, "region"),
        ({"display_name": "x" * 129}, "display_name"),
        ({"labels": {"Team": "ml"}}, "labels.Team"),
        ({"labels": {"team": "ML Ops"}}, "labels.team"),
        ({"labels": {RESOURCE_UID_LABEL: "mine"}}, f"labels.{RESOURCE_UID_LABEL}"),
        ({"encryption_kms_key": "my-key"}, "encryption_kms_key"),
        ({"api_endpoint": "https://x"}, "api_endpoint"),
        ({"wait": {"until_terminal": "yes"}}, "wait.until_terminal"),
        ({"wait": {"until_terminal": True, "timeout_seconds": 0}}, "wait.timeout_seconds"),
        ({"job_spec": {"worker_pool_specs": [], "bogus": 1}}, "job_spec"),
        ({"job_spec": {"worker_pool_specs": []}}, "job_spec.worker_pool_specs"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_check_names_the_bad_property(override, prop):
    found = failures(CustomJobProvider(), custom_job_inputs(**override))
    assert prop in found, found


def test_check_names_the_missing_image_and_machine_type():
    spec = {"worker_pool_specs": [{"replica_count": 1, "container_spec": {}}]}
    found = failures(CustomJobProvider(), custom_job_inputs(job_spec=spec))
    assert set(found) == {
        "job_spec.worker_pool_specs[0].machine_spec.machine_type",
        "job_spec.worker_pool_specs[0].container_spec.image_uri",
    }


@pytest.mark.parametrize(
    ("override", "prop"),
    [
        ({"max_trial_count": 0}, "max_trial_count"),
        ({"parallel_trial_count": 9}, "parallel_trial_count"),
        ({"max_failed_trial_count": -1}, "max_failed_trial_count"),
        ({"max_trial_count": True}, "max_trial_count"),
        ({"study_spec": {"metrics": [], "parameters": []}}, "study_spec.metrics"),
        ({"study_spec": {"metrics": [{"metric_id": "a"}]}}, "study_spec.metrics[0].goal"),
        ({"study_spec": {"metrics": [{"metric_id": "a", "goal": "BIGGER"}]}}, "study_spec"),
    ],
)
def test_tuning_check_names_the_bad_property(override, prop):
    found = failures(HyperparameterTuningJobProvider(), tuning_job_inputs(**override))
    assert prop in found, found


def test_check_accepts_integral_floats_as_pulumi_sends_numbers():
    inputs = tuning_job_inputs(max_trial_count=8.0, parallel_trial_count=2.0)
    assert failures(HyperparameterTuningJobProvider(), inputs) == {}


@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["marker", "object"])
def test_check_tolerates_preview_unknowns(unknown):
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"]["image_uri"] = unknown
    labels = {"vtrain-stack": unknown}
    inputs = custom_job_inputs(job_spec=spec, project=unknown, labels=labels)
    assert failures(CustomJobProvider(), inputs) == {}
