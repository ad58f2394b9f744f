"""The providers' diff: pure (no API call), replaces on any change to the job, updates
client-side inputs in place, sees equal specs as equal."""

from __future__ import annotations

import pytest
from pulumi.output import Unknown

from tests.harness.fake_job_service import (
    OTHER_IMAGE,
    camel_case_job_spec,
    checked,
    custom_job_inputs,
    job_spec_with,
    tuning_job_inputs,
)
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider


@pytest.fixture
def created_outputs(vertex_fake):
    provider = CustomJobProvider()
    inputs = checked(provider, custom_job_inputs())
    outs = provider.create(inputs).outs
    vertex_fake.reset_calls()
    yield provider, outs
    assert vertex_fake.call_count() == 0, "diff must not call the API"


@pytest.mark.parametrize(
    ("override", "replaces"),
    [
        ({"job_spec": job_spec_with(image_uri=OTHER_IMAGE)}, ["job_spec"]),
        ({"job_spec": job_spec_with(args=["--epochs", "20"])}, ["job_spec"]),
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
    camel = camel_case_job_spec()
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
    news = {**outs, "job_spec": job_spec_with(image_uri=Unknown()), "region": Unknown()}
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
