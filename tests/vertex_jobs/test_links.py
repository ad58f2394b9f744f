"""Where to look at a job (`vertex_jobs.links`): the console page and the Logs Explorer link,
in the forms Google's own tools build (cited in the module)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from vertex_jobs.links import console_url, links_of, logs_filter, logs_url


def test_console_url_is_the_sdks_training_page_for_both_kinds():
    # google-cloud-aiplatform 2.7.0, utils/console_utils.custom_job_console_uri and
    # jobs._Job._dashboard_uri (_job_type "training" for CustomJob and tuning jobs).
    assert console_url("acme-ml-prod", "europe-west4", "1234567890") == (
        "https://console.cloud.google.com/agent-platform/locations/europe-west4/training/"
        "1234567890?project=acme-ml-prod"
    )


def test_logs_url_carries_the_ml_job_query_url_encoded():
    url = logs_url("acme-ml-prod", "1234567890")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "console.cloud.google.com")
    path, query = parts.path.split(";query=")
    assert path == "/logs/query"
    # The query is one matrix parameter: nothing in it may end it early.
    assert not set(query) & set(';?&/"= ')
    assert unquote(query) == 'resource.type="ml_job" AND resource.labels.job_id="1234567890"'
    assert parts.query == "project=acme-ml-prod"


def test_the_filter_is_the_one_gcloud_streams_a_jobs_logs_with():
    # googlecloudsdk/command_lib/ai/log_util.py _LogFilters: the same two terms, ANDed.
    assert logs_filter("42") == 'resource.type="ml_job" AND resource.labels.job_id="42"'


def test_links_of_a_job_name():
    links = links_of("projects/123/locations/us-central1/customJobs/77")
    assert links == {
        "console_url": console_url("123", "us-central1", "77"),
        "logs_url": logs_url("123", "77"),
    }


@pytest.mark.parametrize("name", ["", "customJobs/77", "projects/p/locations/r/customJobs/"])
def test_no_links_without_a_job_name(name):
    assert links_of(name) == {"console_url": None, "logs_url": None}


def test_the_stacks_project_id_replaces_the_project_number_of_a_name():
    """Vertex names jobs by project number; the links use the ID the stack knows."""
    links = links_of("projects/123/locations/us-central1/customJobs/77", "acme-ml-prod")
    assert links["console_url"].endswith("/training/77?project=acme-ml-prod")
    assert links["logs_url"].endswith("?project=acme-ml-prod")
