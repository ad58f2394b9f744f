"""Plain data <-> aiplatform v1 messages (`vertex_jobs.proto`): preview unknowns anywhere in
an input, Pulumi's numbers as ints, proto3 JSON in either key spelling, and the job fields
the providers report (timestamps, error, state)."""

from __future__ import annotations

import warnings

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format
from pulumi.output import Unknown

from vertex_jobs.proto import (
    UNKNOWN_MARKER,
    as_json,
    canonical_proto_json,
    contains_unknown,
    is_int,
    job_error,
    parse_proto_json,
    proto_class,
    state_name,
    timestamp,
)

# ---- preview unknowns --------------------------------------------------------------------


def test_the_marker_is_the_engines_unknown():
    from pulumi.runtime import rpc

    assert UNKNOWN_MARKER == rpc.UNKNOWN


@pytest.mark.parametrize("unknown", [Unknown(), UNKNOWN_MARKER], ids=["object", "marker"])
@pytest.mark.parametrize(
    "wrap",
    [
        lambda u: u,
        lambda u: {"a": 1, "b": u},
        lambda u: [1, "x", u],
        lambda u: ("x", u),
        lambda u: {"pools": [{"spec": {"image": u}}]},
        lambda u: [[{"deep": (0, [u])}]],
    ],
    ids=["bare", "dict", "list", "tuple", "nested", "deeper"],
)
def test_an_unknown_is_found_at_any_depth(unknown, wrap):
    assert contains_unknown(wrap(unknown))


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        1.5,
        True,
        "",
        "us-central1",
        UNKNOWN_MARKER + "x",
        {},
        [],
        {"a": [1, {"b": "c"}], "d": ("e",)},
        {UNKNOWN_MARKER: "a key is not a value"},
    ],
)
def test_known_values_hold_no_unknown(value):
    assert not contains_unknown(value)


# ---- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 8, -3, 8.0, -1.0, 1e6])
def test_ints_and_integral_floats_are_ints(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, False, 8.5, -0.1, float("nan"), "8", None, [8]])
def test_bools_fractions_and_non_numbers_are_not_ints(value):
    assert not is_int(value)


# ---- proto3 JSON -------------------------------------------------------------------------


def test_proto_class_is_the_raw_protobuf_class_nested_names_included():
    assert proto_class("StudySpec") is aiplatform_v1.StudySpec.pb()
    assert proto_class("StudySpec.MetricSpec") is aiplatform_v1.StudySpec.MetricSpec.pb()


SNAKE = {
    "worker_pool_specs": [
        {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": "1"}
    ],
    "base_output_directory": {"output_uri_prefix": "gs://b/runs"},
}
CAMEL = {
    "workerPoolSpecs": [{"machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": 1}],
    "baseOutputDirectory": {"outputUriPrefix": "gs://b/runs"},
}


@pytest.mark.parametrize("data", [SNAKE, CAMEL], ids=["snake_case", "lowerCamel"])
def test_parse_accepts_either_key_spelling(data):
    parsed = parse_proto_json("CustomJobSpec", data)
    assert isinstance(parsed, proto_class("CustomJobSpec"))
    assert parsed.worker_pool_specs[0].machine_spec.machine_type == "n1-standard-4"
    assert parsed.worker_pool_specs[0].replica_count == 1
    assert parsed.base_output_directory.output_uri_prefix == "gs://b/runs"


@pytest.mark.parametrize("data", [None, [], "spec", 3])
def test_parse_names_the_message_and_what_it_got_instead_of_an_object(data):
    with pytest.raises(ValueError, match="expected an object") as raised:
        parse_proto_json("StudySpec", data)
    assert f"proto3 JSON of StudySpec), got {type(data).__name__}" in str(raised.value)


def test_parse_rejects_unknown_fields():
    with pytest.raises(json_format.ParseError, match="colour"):
        parse_proto_json("CustomJobSpec", {"colour": "blue"})


def test_canonical_form_is_the_same_for_both_spellings_with_snake_case_keys():
    expected = {
        "worker_pool_specs": [
            {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": "1"}
        ],
        "base_output_directory": {"output_uri_prefix": "gs://b/runs"},
    }
    assert canonical_proto_json("CustomJobSpec", SNAKE) == expected
    assert canonical_proto_json("CustomJobSpec", CAMEL) == expected


def test_canonical_form_drops_defaults_and_normalises_enums():
    data = {
        "metrics": [{"metricId": "loss", "goal": 2}],
        "parameters": [],
        "algorithm": "ALGORITHM_UNSPECIFIED",
    }
    assert canonical_proto_json("StudySpec", data) == {
        "metrics": [{"metric_id": "loss", "goal": "MINIMIZE"}]
    }


@pytest.mark.parametrize(
    "data",
    [
        {"worker_pool_specs": [{"container_spec": {"image_uri": Unknown()}}]},
        {"worker_pool_specs": UNKNOWN_MARKER},
        {"colour": "blue"},
        "not an object",
    ],
    ids=["unknown-object", "unknown-marker", "unknown-field", "not-an-object"],
)
def test_unparsable_values_are_compared_as_written(data):
    assert canonical_proto_json("CustomJobSpec", data) is data


def test_as_json_uses_the_protos_field_names():
    pb = proto_class("StudySpec.MetricSpec")(metric_id="auc", goal=1)
    assert as_json(pb) == {"metric_id": "auc", "goal": "MAXIMIZE"}


# ---- job fields --------------------------------------------------------------------------


def _job(**fields) -> object:
    return aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob(display_name="j", **fields))


def test_timestamp_is_rfc3339_or_none_when_unset():
    job = _job(create_time={"seconds": 1_700_000_000, "nanos": 500_000_000})
    assert timestamp(job, "create_time") == "2023-11-14T22:13:20.500Z"
    assert timestamp(job, "end_time") is None


def test_no_error_unless_the_job_has_one():
    assert job_error(_job()) is None
    empty = _job()
    empty.error.SetInParent()  # an error message that says nothing: OK status
    assert empty.HasField("error")
    assert job_error(empty) is None


@pytest.mark.parametrize(
    ("code", "message"),
    [(3, "image not found"), (13, ""), (0, "cancelled by the operator")],
)
def test_error_with_a_code_or_a_message_is_reported(code, message):
    job = _job(error={"code": code, "message": message})
    assert job_error(job) == {"code": code, "message": message}


def test_state_name_of_a_known_state():
    running = aiplatform_v1.CustomJob(state=aiplatform_v1.JobState.JOB_STATE_RUNNING)
    assert state_name(running) == "JOB_STATE_RUNNING"
    assert state_name(aiplatform_v1.CustomJob()) == "JOB_STATE_UNSPECIFIED"


def test_state_name_of_a_state_newer_than_the_client():
    pb = _job()
    pb.state = 99
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # proto-plus: unrecognised enum value
        job = aiplatform_v1.CustomJob.wrap(pb)
        assert state_name(job) == "JOB_STATE_99"
