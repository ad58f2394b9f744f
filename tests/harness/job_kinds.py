"""The two job kinds as the provider tests iterate over them."""

from __future__ import annotations

from tests.harness.fake_job_service import custom_job_inputs, tuning_job_inputs
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider

# Each kind: its provider, type token, sample inputs and aiplatform message name.
KINDS = {
    "custom": (CustomJobProvider, CUSTOM_JOB_TYPE, custom_job_inputs, "CustomJob"),
    "tuning": (
        HyperparameterTuningJobProvider,
        HYPERPARAMETER_TUNING_JOB_TYPE,
        tuning_job_inputs,
        "HyperparameterTuningJob",
    ),
}
