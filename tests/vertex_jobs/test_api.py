"""Talking to the JobService (`vertex_jobs.api`): endpoint selection (emulator, API endpoint
override, regional default) and the client built for it. No network."""

from __future__ import annotations

from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1.services.job_service.transports import JobServiceGrpcTransport

from vertex_jobs.api import Endpoint, make_job_client, resolve_endpoint


def test_emulator_env_selects_an_insecure_channel():
    endpoint = resolve_endpoint(
        "us-central1", "psc.example:443", {"VERTEX_AI_EMULATOR_HOST": "h:1"}
    )
    assert endpoint == Endpoint("h:1", insecure=True)
    with make_job_client(endpoint) as client:
        assert isinstance(client.transport, JobServiceGrpcTransport)
        assert client.transport._host == "h:1"
        assert client.transport._ignore_credentials  # anonymous: no ADC lookup


def test_api_endpoint_overrides_the_regional_host():
    endpoint = resolve_endpoint("us-central1", "us-central1-aiplatform-psc.p.googleapis.com", {})
    assert endpoint == Endpoint("us-central1-aiplatform-psc.p.googleapis.com", insecure=False)
    with make_job_client(endpoint, credentials=AnonymousCredentials()) as client:
        assert client.api_endpoint == "us-central1-aiplatform-psc.p.googleapis.com"


def test_default_endpoint_is_regional():
    endpoint = resolve_endpoint("europe-west4", None, {})
    assert endpoint == Endpoint("europe-west4-aiplatform.googleapis.com", insecure=False)
    with make_job_client(endpoint, credentials=AnonymousCredentials()) as client:
        assert client.api_endpoint == "europe-west4-aiplatform.googleapis.com"
        assert client.transport._host == "europe-west4-aiplatform.googleapis.com:443"
