"""The base of every config section, and the "did you mean" every unknown value gets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config import catalogue
from config.base import ConfigSection, suggest


class _Section(ConfigSection):
    machine_type: str
    replica_count: int = 1


def test_suggest_names_the_closest_allowed_value():
    assert suggest("us-centrall", catalogue.VERTEX_AI_REGIONS) == "; did you mean 'us-central1'?"


def test_suggest_ignores_case():
    assert suggest("N1-STANDRD-4", catalogue.TRAINING_MACHINE_TYPES) == (
        "; did you mean 'n1-standard-4'?"
    )


def test_suggest_says_nothing_when_nothing_is_close():
    assert suggest("large", catalogue.TRAINING_MACHINE_TYPES) == ""
    assert suggest("cpu", []) == ""


def test_suggest_takes_any_iterable():
    assert suggest("gpx", (flavour for flavour in ("cpu", "gpu"))) == "; did you mean 'gpu'?"


def test_a_section_reads_camel_case_keys_and_python_names():
    assert _Section.model_validate({"machineType": "n1-standard-4", "replicaCount": 2}) == (
        _Section(machine_type="n1-standard-4", replica_count=2)
    )


def test_a_section_rejects_unknown_keys_and_does_not_coerce():
    with pytest.raises(ValidationError) as raised:
        _Section.model_validate({"machineType": "n1-standard-4", "replicas": 2})
    assert [error["type"] for error in raised.value.errors()] == ["extra_forbidden"]
    with pytest.raises(ValidationError) as raised:
        _Section.model_validate({"machineType": "n1-standard-4", "replicaCount": "2"})
    assert [error["type"] for error in raised.value.errors()] == ["int_type"]


def test_a_section_is_frozen():
    section = _Section(machine_type="n1-standard-4")
    with pytest.raises(ValidationError):
        section.replica_count = 3
