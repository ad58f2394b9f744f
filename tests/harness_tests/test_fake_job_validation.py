"""The fake rejects what the v1 API documents as invalid, with INVALID_ARGUMENT, and makes
nothing; the list is eventually consistent when asked. Rules and citations: the
"create validation" and "locations" sections of vertex_emulator/rules.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions

from tests.harness.fake_job_service import CUSTOM, FakeVertexJobService
from vertex_jobs.api import Endpoint, make_job_client

PARENT = "projects/my-project/locations/us-central1"
IMAGE = "gcr.io/p/i@sha256:" + "0" * 64


def _pool(**overrides: Any) -> dict:
    pool = {
        "machine_spec": {"machine_type": "n1-standard-4"},
        "replica_count": 1,
        "container_spec": {"image_uri": IMAGE},
    }
    pool.update(overrides)
    return pool


def _custom() -> dict:
    return {
        "display_name": "job",
        "labels": {"team": "ml", "vtrain-resource-uid": "0123abcd"},
        "job_spec": {"worker_pool_specs": [_pool()]},
    }


def _tuning() -> dict:
    return {
        "display_name": "tune",
        "trial_job_spec": {"worker_pool_specs": [_pool()]},
        "study_spec": {
            "metrics": [{"metric_id": "accuracy", "goal": "MAXIMIZE"}],
            "parameters": [
                {
                    "parameter_id": "learning_rate",
                    "double_value_spec": {"min_value": 1e-4, "max_value": 1e-1},
                    "scale_type": "UNIT_LOG_SCALE",
                },
                {"parameter_id": "layers", "integer_value_spec": {"min_value": 1, "max_value": 4}},
            ],
        },
        "max_trial_count": 4,
        "parallel_trial_count": 2,
    }


@pytest.fixture
def client(vertex_fake: FakeVertexJobService):
    with make_job_client(Endpoint(vertex_fake.address, insecure=True)) as job_client:
        yield job_client


def _create(client, kind: str, job: dict, parent: str = PARENT) -> Any:
    if kind == "custom":
        return client.create_custom_job(parent=parent, custom_job=job)
    return client.create_hyperparameter_tuning_job(parent=parent, hyperparameter_tuning_job=job)


def _spec(job: dict) -> dict:
    return job.get("job_spec") or job["trial_job_spec"]


Edit = Callable[[dict], None]


def _set(path: str, value: Any) -> Edit:
    def edit(job: dict) -> None:
        *parents, last = path.split(".")
        target = job
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return edit


def _pools(*pools: dict) -> Edit:
    return lambda job: _spec(job).__setitem__("worker_pool_specs", list(pools))


COMMON: list[tuple[str, Edit, str]] = [
    ("no-display-name", _set("display_name", ""), "display_name is required"),
    ("display-name-too-long", _set("display_name", "x" * 129), "up to 128 characters"),
    (
        "65-labels",
        _set("labels", {f"k{i}": "v" for i in range(65)}),
        "At most 64 labels, got 65",
    ),
    ("label-key-uppercase", _set("labels", {"Team": "ml"}), "must start with a lowercase"),
    ("label-key-digit-first", _set("labels", {"1team": "ml"}), "must start with a lowercase"),
    ("label-key-dot", _set("labels", {"team.name": "ml"}), "may contain only lowercase"),
    ("label-key-too-long", _set("labels", {"k" * 64: "v"}), "1 to 63 characters"),
    ("label-value-uppercase", _set("labels", {"team": "ML"}), "the value may contain only"),
    ("label-value-too-long", _set("labels", {"team": "v" * 64}), "at most 63 characters"),
    ("no-worker-pools", _pools(), "The first worker pool is required"),
    ("empty-first-pool", _pools({}, _pool()), "The first worker pool is required"),
    ("unsupported-machine", _pools(_pool(machine_spec={"machine_type": "x9-huge"})), "x9-huge"),
    ("no-machine-type", _pools(_pool(machine_spec={})), "machine_type is required"),
    ("no-image", _pools(_pool(container_spec={"command": ["python"]})), "image_uri is required"),
    (
        "worker-pool-without-image",
        _pools(_pool(), _pool(replica_count=2, container_spec={"args": ["x"]})),
        "worker_pool_specs[1].container_spec.image_uri",
    ),
    (
        "python-package-without-module",
        _pools(
            _pool(
                container_spec=None,
                python_package_spec={
                    "executor_image_uri": IMAGE,
                    "package_uris": ["gs://b/trainer.tar.gz"],
                },
            )
        ),
        "python_module is required",
    ),
    ("chief-with-two-replicas", _pools(_pool(replica_count=2)), "exactly 1 replica, got 2"),
    ("chief-with-no-replica", _pools(_pool(replica_count=0)), "exactly 1 replica, got 0"),
    (
        "worker-pool-with-no-replica",
        _pools(_pool(), _pool(replica_count=0)),
        "worker_pool_specs[1].replica_count",
    ),
]

TUNING_ONLY: list[tuple[str, Edit, str]] = [
    ("no-max-trial-count", _set("max_trial_count", 0), "max_trial_count is required"),
    ("no-parallel-trial-count", _set("parallel_trial_count", 0), "parallel_trial_count is"),
    ("negative-max-failed", _set("max_failed_trial_count", -1), "must not be negative"),
    ("no-metrics", _set("study_spec.metrics", []), "At least one metric"),
    ("metric-without-goal", _set("study_spec.metrics.0.goal", 0), "goal is required"),
    ("metric-id-with-space", _set("study_spec.metrics.0.metric_id", "a b"), "whitespace"),
    ("no-parameters", _set("study_spec.parameters", []), "At least one parameter"),
    (
        "duplicate-parameter",
        _set("study_spec.parameters.1.parameter_id", "learning_rate"),
        "unique",
    ),
    (
        "parameter-without-value-spec",
        _set("study_spec.parameters.1", {"parameter_id": "layers"}),
        "A value spec",
    ),
    (
        "min-above-max",
        _set("study_spec.parameters.1.integer_value_spec", {"min_value": 5, "max_value": 4}),
        "min_value 5 exceeds max_value 4",
    ),
    (
        "log-scale-from-zero",
        _set("study_spec.parameters.0.double_value_spec", {"min_value": 0, "max_value": 1}),
        "strictly positive",
    ),
    (
        "empty-categories",
        _set("study_spec.parameters.1", {"parameter_id": "opt", "categorical_value_spec": {}}),
        "values are required",
    ),
    (
        "discrete-not-increasing",
        _set(
            "study_spec.parameters.1",
            {"parameter_id": "b", "discrete_value_spec": {"values": [2, 1]}},
        ),
        "increasing",
    ),
    (
        "grid-search-with-a-double",
        _set("study_spec.algorithm", "GRID_SEARCH"),
        "all parameters must be INTEGER, CATEGORICAL, or DISCRETE",
    ),
]

CASES = [("custom", *case) for case in COMMON] + [
    ("tuning", *case) for case in COMMON + TUNING_ONLY
]


@pytest.mark.parametrize("kind", ["custom", "tuning"])
def test_the_valid_baseline_is_accepted(client, vertex_fake, kind):
    job = _custom() if kind == "custom" else _tuning()
    assert _create(client, kind, job).state.name == "JOB_STATE_QUEUED"
    assert len(vertex_fake.job_names()) == 1


@pytest.mark.parametrize(
    ("kind", "case", "edit", "message"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_create_rejects_what_the_api_documents_as_invalid(
    client, vertex_fake, kind, case, edit, message
):
    job = copy.deepcopy(_custom() if kind == "custom" else _tuning())
    edit(job)
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _create(client, kind, job)
    assert message in raised.value.message
    assert vertex_fake.job_names() == []


def test_grid_search_takes_integer_categorical_and_discrete_parameters(client):
    job = _tuning()
    job["study_spec"]["algorithm"] = "GRID_SEARCH"
    job["study_spec"]["parameters"][0] = {
        "parameter_id": "learning_rate",
        "discrete_value_spec": {"values": [0.001, 0.01, 0.1]},
        "scale_type": "UNIT_LOG_SCALE",
    }
    job["study_spec"]["parameters"].append(
        {"parameter_id": "optimizer", "categorical_value_spec": {"values": ["adam", "sgd"]}}
    )
    assert _create(client, "tuning", job).name


def test_international_lowercase_labels_and_empty_pools_after_the_first_are_accepted(client):
    job = _custom()
    job["labels"] = {"équipe": "données", "チーム": "", "a_b-c": "1_2-3"}
    job["job_spec"]["worker_pool_specs"] = [_pool(), {}, _pool(replica_count=3)]
    assert _create(client, "custom", job).name


# ---- locations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parent",
    [
        "projects/my-project/locations/global",  # "Vertex AI doesn't support a global location"
        "projects/my-project/locations/us",  # a multi-region, not a Vertex AI region
        "projects/my-project/locations/mars-central1",
        "projects/my-project",
        "my-project/us-central1",
    ],
)
def test_create_and_list_need_a_vertex_ai_region_in_the_parent(client, vertex_fake, parent):
    with pytest.raises(exceptions.InvalidArgument, match="parent"):
        _create(client, "custom", _custom(), parent=parent)
    with pytest.raises(exceptions.InvalidArgument, match="parent"):
        list(client.list_custom_jobs(parent=parent))
    assert vertex_fake.job_names() == []


def test_a_regional_endpoint_serves_only_its_own_region(client, vertex_fake):
    name = _create(client, "custom", _custom()).name  # us-central1
    vertex_fake.served_region = "europe-west4"
    message = "doesn't match the endpoint. The valid location ID is `europe-west4`"
    with pytest.raises(exceptions.InvalidArgument, match=message):
        _create(client, "custom", _custom())
    with pytest.raises(exceptions.InvalidArgument, match=message):
        client.get_custom_job(name=name)
    with pytest.raises(exceptions.InvalidArgument, match=message):
        list(client.list_custom_jobs(parent=PARENT))
    europe = "projects/my-project/locations/europe-west4"
    assert _create(client, "custom", _custom(), parent=europe).name.startswith(europe)


def test_a_name_of_the_other_kind_is_invalid(client, vertex_fake):
    name = _create(client, "custom", _custom()).name
    with pytest.raises(exceptions.InvalidArgument, match="not a HyperparameterTuningJob"):
        client.get_hyperparameter_tuning_job(name=name)


# ---- eventually consistent list -------------------------------------------------------------


def _listed(client) -> list[str]:
    return [job.name for job in client.list_custom_jobs(parent=PARENT)]


def test_list_is_consistent_at_once_by_default(client):
    name = _create(client, "custom", _custom()).name
    assert _listed(client) == [name]


def test_a_new_job_is_listed_only_after_the_configured_list_calls(client, vertex_fake):
    vertex_fake.list_lag_calls = 2
    name = _create(client, "custom", _custom()).name
    assert client.get_custom_job(name=name).name == name  # get is not affected
    assert _listed(client) == []
    assert _listed(client) == []
    assert _listed(client) == [name]
    # only list calls of the job's own kind count against its lag
    vertex_fake.list_lag_calls = 1
    other = _create(client, "custom", _custom()).name
    list(client.list_hyperparameter_tuning_jobs(parent=PARENT))
    assert _listed(client) == [name]
    assert sorted(_listed(client)) == sorted([name, other])


def test_an_out_of_band_job_lags_too(client, vertex_fake):
    from google.cloud import aiplatform_v1

    vertex_fake.list_lag_calls = 1
    name = vertex_fake.put_job(CUSTOM, PARENT, aiplatform_v1.CustomJob(display_name="other"))
    assert _listed(client) == []
    assert _listed(client) == [name]
