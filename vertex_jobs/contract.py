"""The job resources' contract: type tokens, input and output keys, the uid label.

One home for what the resources register, the providers read and return, the stack output
`jobs` summarises and the policy pack checks (its own venv holds a copy; a test keeps the
copy in step). Input values are plain JSON data; specs are proto3 JSON of aiplatform v1.
"""

from __future__ import annotations

# `pulumi.dynamic.Resource` always prefixes `pulumi-python:dynamic` (how the engine routes
# to the Python dynamic-provider plugin); the class keywords `module`/`name` add the rest.
TYPE_MODULE = "vtrain/jobs"
CUSTOM_JOB_TYPE = f"pulumi-python:dynamic/{TYPE_MODULE}:CustomJob"
HYPERPARAMETER_TUNING_JOB_TYPE = f"pulumi-python:dynamic/{TYPE_MODULE}:HyperparameterTuningJob"

# The label that ties a Vertex job to its Pulumi resource; set by the provider's `check`.
# `create` finds a job by it with the list filter `labels.<key>="<uid>"`. Vertex documents
# label filters only as `labels.key=value` (AIP-160 grammar, where `-` is the negation
# operator), so the key is `[a-z0-9_]` only: a hyphenated key is not a documented filter.
# https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs/list
RESOURCE_UID_LABEL = "vtrain_resource_uid"

COMMON_INPUTS = {
    "project": "project ID the job runs in",
    "region": "Vertex AI region the job runs in",
    "api_endpoint": "None for <region>-aiplatform.googleapis.com, else e.g. a PSC endpoint",
    "emulator_host": "None, or host:port of a Vertex AI JobService emulator (plain gRPC): "
    "the local stack's jobs go there, never to Google",
    "display_name": "the job's display name (1-128 characters)",
    "labels": "str -> str; the provider adds the resource-uid label",
    "job_spec": "proto3 JSON of CustomJobSpec (a tuning job's trial_job_spec)",
    "encryption_kms_key": "None or a Cloud KMS key name (encryption_spec.kms_key_name)",
    "wait": "None or {until_terminal, timeout_seconds}: block create (bounded) for short jobs",
    # Set by the resource classes, never by callers: the dynamic provider never sees the URN.
    "resource_key": "<pulumi project>/<pulumi stack>/<resource name>: which resource this is; "
    "the resource uid is derived from it (None: a random uid, no crash recovery)",
}
TUNING_INPUTS = {
    "study_spec": "proto3 JSON of StudySpec",
    "max_trial_count": "trials in all",
    "parallel_trial_count": "trials at once (<= max_trial_count)",
    "max_failed_trial_count": "failed trials before the job fails (0: Vertex decides)",
}
# Inputs that never change the job (how the program talks to the API, which resource it is):
# updated in place with no API call, never a replacement. Every other input defines the job.
CLIENT_SIDE_INPUTS = frozenset({"api_endpoint", "emulator_host", "wait", "resource_key"})

COMMON_OUTPUTS = {
    "resource_uid": "the value of the resource-uid label (32 hex characters)",
    "name": "full resource name projects/<p>/locations/<region>/<kind>/<id> (also the id)",
    "job_id": "the last part of name",
    "state": "JobState name, e.g. JOB_STATE_QUEUED at create; refresh to see later states",
    "console_url": "the job's page in the Cloud console (vertex_jobs/links.py)",
    "logs_url": "the job's logs in Logs Explorer (resource.type=ml_job, its job_id)",
    "create_time": "RFC 3339",
    "start_time": "RFC 3339, or None",
    "end_time": "RFC 3339, or None",
    "error": "{code, message} of a FAILED or CANCELLED job, else None",
}
TUNING_OUTPUTS = {
    "best_trial": "{id, parameters, metric_id, metric_value} of the best SUCCEEDED trial; "
    "None for several metrics (see pareto_trials)",
    "trials": "[{id, state, parameters, final_metric_value, console_url, logs_url}] (the "
    "urls of the trial's own CustomJob); with several metrics also final_metrics {id: value}",
    "pareto_trials": "several metrics: [{id, parameters, metrics}] of the Pareto-optimal "
    "SUCCEEDED trials; None for one metric",
}

# What the stack output `jobs` shows per job (a tuning job adds TUNING_OUTPUTS).
SUMMARY_OUTPUTS = ("name", "state", "console_url", "logs_url", "error")
