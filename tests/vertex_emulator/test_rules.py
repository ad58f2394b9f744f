"""The documented JobService rules the emulator and the test fake share, tested on their own:
the list filter grammar, job_state.proto's moves and create validation. (Through the real
client, the fake's are in tests/harness_tests/ and the emulator's in test_server.py.)"""

from __future__ import annotations

import grpc
import pytest
from google.cloud.aiplatform_v1.types import custom_job, hyperparameter_tuning_job

from vertex_emulator.rules import (
    CUSTOM,
    TERMINAL,
    TUNING,
    Abort,
    JobState,
    as_state,
    parse_filter,
    transition_problem,
    validate_job,
)


def _job(name: str, state: str, **labels: str) -> custom_job.CustomJob:
    return custom_job.CustomJob(display_name=name, state=as_state(state), labels=labels)


JOBS = [_job("a", "RUNNING", team="x"), _job("b", "FAILED", team="y"), _job("c", "QUEUED")]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("", ["a", "b", "c"]),
        ('state="JOB_STATE_RUNNING"', ["a"]),
        ('state!="JOB_STATE_FAILED"', ["a", "c"]),
        ("labels.team=x", ["a"]),
        ('labels.team!="x"', ["b", "c"]),
        ('display_name="a" OR display_name="c"', ["a", "c"]),
        # OR binds tighter than AND (AIP-160)
        ('labels.team="y" AND display_name="a" OR display_name="b"', ["b"]),
        ('(labels.team="x" OR labels.team="y") AND state!="JOB_STATE_RUNNING"', ["b"]),
    ],
)
def test_filters_select_the_documented_way(filter_text, expected):
    matches = parse_filter(filter_text)
    assert [job.display_name for job in JOBS if matches(job)] == expected


@pytest.mark.parametrize(
    "filter_text", ["labels.my-key=x", 'state="RUNNING"', "name=x", '(state="JOB_STATE_FAILED"']
)
def test_filters_outside_the_grammar_are_invalid_argument(filter_text):
    with pytest.raises(Abort) as raised:
        parse_filter(filter_text)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_terminal_states_are_final_and_cancelling_ends_only_in_an_outcome():
    for state in TERMINAL:
        assert transition_problem(state, JobState.JOB_STATE_RUNNING)
    cancelling = JobState.JOB_STATE_CANCELLING
    assert transition_problem(cancelling, JobState.JOB_STATE_RUNNING)
    assert transition_problem(cancelling, JobState.JOB_STATE_CANCELLED) is None
    assert transition_problem(JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_PENDING) is None
    assert transition_problem(JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_UPDATING)


def _valid_custom() -> custom_job.CustomJob:
    return custom_job.CustomJob(
        display_name="ok",
        job_spec={
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": "n1-standard-4"},
                    "replica_count": 1,
                    "container_spec": {"image_uri": "local.vtrain/a/cpu:ctx-0123456789abcdef"},
                }
            ]
        },
    )


def test_a_valid_custom_job_passes_and_a_two_replica_chief_does_not():
    validate_job(CUSTOM, _valid_custom())
    job = _valid_custom()
    job.job_spec.worker_pool_specs[0].replica_count = 2
    with pytest.raises(Abort, match="exactly 1 replica"):
        validate_job(CUSTOM, job)


def test_grid_search_refuses_double_parameters():
    job = hyperparameter_tuning_job.HyperparameterTuningJob(
        display_name="t",
        max_trial_count=2,
        parallel_trial_count=1,
        trial_job_spec=_valid_custom().job_spec,
        study_spec={
            "metrics": [{"metric_id": "m", "goal": "MAXIMIZE"}],
            "parameters": [
                {"parameter_id": "lr", "double_value_spec": {"min_value": 0.1, "max_value": 1}}
            ],
            "algorithm": "GRID_SEARCH",
        },
    )
    with pytest.raises(Abort, match="grid search"):
        validate_job(TUNING, job)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('NOT state="JOB_STATE_RUNNING"', ["b", "c"]),
        ('-labels.team="x"', ["b", "c"]),
        ('display_name:"a*"', ["a"]),
        ('display_name="*"', ["a", "b", "c"]),
        ('display_name!="b*"', ["a", "c"]),
        ("labels.team:*", ["a", "b"]),
        ("NOT labels.team:*", ["c"]),
        ("labels.team:y", ["b"]),
        ('create_time>"2021-05-18T00:00:00Z"', ["a", "b"]),
        ('create_time<="2021-05-18T00:00:00+00:00"', ["c"]),
        ('create_time!="2020-01-01T00:00:00Z" AND NOT display_name="a"', ["b"]),
    ],
)
def test_the_emulator_takes_the_whole_documented_grammar(filter_text, expected):
    created = ["2022-01-01T00:00:00Z", "2021-06-01T00:00:00Z", "2020-01-01T00:00:00Z"]
    jobs = [
        custom_job.CustomJob(
            display_name=job.display_name, state=job.state, labels=job.labels, create_time=time
        )
        for job, time in zip(JOBS, created, strict=True)
    ]
    matches = parse_filter(filter_text, full_grammar=True)
    assert [job.display_name for job in jobs if matches(job)] == expected
    if filter_text.startswith(("NOT", "-", "create_time")) or ":" in filter_text:
        with pytest.raises(Abort):  # the fake's subset refuses them
            parse_filter(filter_text)


@pytest.mark.parametrize(
    "filter_text",
    ['state:"JOB_STATE_FAILED"', 'labels.team="x*"', 'create_time>"yesterday"', "create_time:*"],
)
def test_the_full_grammar_still_refuses_what_is_not_documented(filter_text):
    with pytest.raises(Abort):
        parse_filter(filter_text, full_grammar=True)
