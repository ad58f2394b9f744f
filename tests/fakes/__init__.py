"""Test doubles for the Google APIs this project calls."""

from tests.fakes.vertex_job_service import (
    CUSTOM,
    FAST_PROVIDER_ENV,
    IMAGE,
    OTHER_IMAGE,
    TUNING,
    FakeVertexJobService,
    custom_job_inputs,
    hosted,
    hosted_vertex,
    tuning_job_inputs,
    vertex_fake,
)

__all__ = [
    "CUSTOM",
    "FAST_PROVIDER_ENV",
    "TUNING",
    "FakeVertexJobService",
    "IMAGE",
    "OTHER_IMAGE",
    "custom_job_inputs",
    "tuning_job_inputs",
    "hosted",
    "hosted_vertex",
    "vertex_fake",
]
