"""Where to look at a job: its Cloud console page and its logs in Logs Explorer.

Both are built from the job's resource name only (no API call), so `create`, `read` and the
trial summaries can all report them.

Console page. Google's own SDK, google-cloud-aiplatform 2.7.0 (the version
requirements.txt pins), links a CustomJob as
`https://console.cloud.google.com/agent-platform/locations/{location}/training/{job}?project={project}`
(`google/cloud/aiplatform/utils/console_utils.py`, `custom_job_console_uri`), and every
job class through `_Job._dashboard_uri` with the same path, `_job_type = "training"` for
`CustomJob` and `HyperparameterTuningJob` alike (`google/cloud/aiplatform/jobs.py`). The
`/vertex-ai/` prefix and the `/cpu` tab of older links are gone from the SDK since Vertex AI
became Agent Platform; this follows the SDK.

Logs. Vertex AI training writes a job's logs under the monitored resource `ml_job`, labelled
with the job's numeric id: gcloud's `ai custom-jobs stream-logs` / `ai hp-tuning-jobs
stream-logs` read them with exactly `resource.type="ml_job"` and
`resource.labels.job_id="<id>"` (googlecloudsdk/command_lib/ai/log_util.py, `_LogFilters`).
A Logs Explorer link carries the query URL-encoded as the `query` matrix parameter of
`https://console.cloud.google.com/logs/query`, with the project as `?project=` (the form
Google's Cloud Logging Grafana plugin builds for its "open in console" link,
GoogleCloudPlatform/cloud-logging-data-source-plugin `src/QueryEditor.tsx`, and Google's XPK
prints for a workload's logs). Reference of the query language:
https://cloud.google.com/logging/docs/view/logging-query-language.

A tuning job's trial runs as a CustomJob of its own: `Trial.custom_job` is "The CustomJob name
linked to the Trial. It's set for a HyperparameterTuningJob's Trial" (aiplatform v1
study.proto), so a trial's page and logs are that CustomJob's.
"""

from __future__ import annotations

import re
from urllib.parse import quote

CONSOLE = "https://console.cloud.google.com/agent-platform/locations"
LOGS_EXPLORER = "https://console.cloud.google.com/logs/query"
# The monitored resource type of Vertex AI training jobs' logs.
LOG_RESOURCE_TYPE = "ml_job"

_JOB_NAME = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/[A-Za-z]+/(?P<id>[^/]+)$"
)


def console_url(project: str, region: str, job_id: str) -> str:
    """The job's page in the Cloud console (custom and tuning jobs alike)."""
    return f"{CONSOLE}/{region}/training/{job_id}?project={quote(project, safe='')}"


def logs_filter(job_id: str) -> str:
    """The Logging query for every log line of the job (all its replicas)."""
    return f'resource.type="{LOG_RESOURCE_TYPE}" AND resource.labels.job_id="{job_id}"'


def logs_url(project: str, job_id: str) -> str:
    """The job's logs in Logs Explorer."""
    return (
        f"{LOGS_EXPLORER};query={quote(logs_filter(job_id), safe='')}"
        f"?project={quote(project, safe='')}"
    )


def job_links(project: str, region: str, job_id: str) -> dict[str, str]:
    return {
        "console_url": console_url(project, region, job_id),
        "logs_url": logs_url(project, job_id),
    }


def links_of(job_name: str, project: str | None = None) -> dict[str, str | None]:
    """`console_url` and `logs_url` of a job given by its full resource name (a trial's
    `custom_job`); both None when the name is empty or not a job name. `project` replaces
    the name's own: Vertex returns names with the project *number*, and the links read
    better with the ID the stack uses."""
    match = _JOB_NAME.match(job_name or "")
    if not match:
        return {"console_url": None, "logs_url": None}
    return dict(job_links(project or match["project"], match["region"], match["id"]))
