"""Create retries PERMISSION_DENIED while IAM grants propagate, and only that.

A grant made in the same `pulumi up` as the first job (serviceAccountUser on the training
account for the deployer) "typically" takes 2 minutes and "potentially 7 minutes or longer"
to take effect (cloud.google.com/iam/docs/access-change-propagation). Until then Vertex
answers the create with PERMISSION_DENIED and makes nothing; the fake does the same for its
first `iam_denied_creates` creates.
"""

from __future__ import annotations

import time

import grpc
import pytest

from tests.harness.dynamic_host import DynamicProviderError
from tests.harness.fake_job_service import custom_job_inputs, tuning_job_inputs
from vertex_jobs.api import Tunables, VertexJobError
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider

KINDS = {
    "custom": (CustomJobProvider, CUSTOM_JOB_TYPE, custom_job_inputs, "CustomJob"),
    "tuning": (
        HyperparameterTuningJobProvider,
        HYPERPARAMETER_TUNING_JOB_TYPE,
        tuning_job_inputs,
        "HyperparameterTuningJob",
    ),
}
PERMISSIONS = {
    "custom": "aiplatform.customJobs.create",
    "tuning": "aiplatform.hyperparameterTuningJobs.create",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_job_is_created_once_the_grant_takes_effect(hosted, kind):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    fake.iam_denied_creates = 3
    job = host.bind(provider_class(), type_token=type_token)
    inputs = job.check({}, make_inputs())["inputs"]

    created = job.create(inputs)

    assert fake.call_count(f"Create{rpc}") == 4  # three denials, then the job
    assert fake.job_names() == [created["id"]]
    assert created["properties"]["state"] == "JOB_STATE_QUEUED"
    assert fake.call_count(f"List{rpc}s") == 1  # a denial made nothing: no adoption lookups


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_grant_that_never_arrives_fails_after_the_bound_with_a_clear_message(
    vertex_fake, monkeypatch, kind
):
    monkeypatch.setenv("VTRAIN_VERTEX_IAM_PROPAGATION_S", "0.3")
    provider_class, _, make_inputs, rpc = KINDS[kind]
    vertex_fake.iam_denied_creates = 10**6
    provider = provider_class()
    inputs = provider.check({}, make_inputs()).inputs

    started = time.monotonic()
    with pytest.raises(VertexJobError) as raised:
        provider.create(inputs)

    assert 0.3 <= time.monotonic() - started < 5
    message = str(raised.value)
    for expected in (
        f"{rpc} '{inputs['display_name']}'",
        "projects/my-project/locations/us-central1",
        "PERMISSION_DENIED",
        "Nothing was created",
        "iam.serviceAccounts.actAs",
        "trainer@my-project.iam.gserviceaccount.com",
        "roles/iam.serviceAccountUser",
        PERMISSIONS[kind],
        "https://cloud.google.com/iam/docs/access-change-propagation",
        "re-run `pulumi up`",
        "VTRAIN_VERTEX_IAM_PROPAGATION_S",
    ):
        assert expected in message, expected
    assert vertex_fake.call_count(f"Create{rpc}") > 2  # it kept trying, with backoff
    assert vertex_fake.job_names() == []


def test_the_final_message_reaches_the_engine_through_the_host(hosted):
    fake, host = hosted
    fake.iam_denied_creates = 10**6
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    with pytest.raises(DynamicProviderError) as raised:
        job.create(job.check({}, custom_job_inputs())["inputs"])
    assert "VertexJobError: Vertex AI denied creating CustomJob 'train-resnet'" in (
        raised.value.details
    )
    assert fake.job_names() == []


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("CreateCustomJob", grpc.StatusCode.INVALID_ARGUMENT),
        ("CreateCustomJob", grpc.StatusCode.FAILED_PRECONDITION),
        ("CreateCustomJob", grpc.StatusCode.UNAUTHENTICATED),
        ("ListCustomJobs", grpc.StatusCode.PERMISSION_DENIED),  # create only
    ],
)
def test_nothing_else_is_retried(vertex_fake, method, code):
    provider = CustomJobProvider()
    inputs = provider.check({}, custom_job_inputs()).inputs
    vertex_fake.inject(method, code, "no", times=1)
    with pytest.raises(Exception, match="no"):
        provider.create(inputs)
    assert vertex_fake.call_count(method) == 1
    assert vertex_fake.job_names() == []


def test_the_bound_is_a_few_minutes_by_default_and_set_by_the_environment(monkeypatch):
    assert Tunables().iam_propagation_s == 420.0  # the documented "potentially 7 minutes"
    monkeypatch.setenv("VTRAIN_VERTEX_IAM_PROPAGATION_S", "900")
    assert Tunables.from_env().iam_propagation_s == 900.0
