"""Pulumi.yaml is valid for the CLI and agrees with the config model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import NAMESPACE, StackSettings
from tests.harness.stack_config import PROJECT_DIR, project_file

SCHEMA = PROJECT_DIR.parent / "shared" / "pulumi" / "project.schema.json"


def test_project_file_validates_against_pulumis_schema():
    if not SCHEMA.exists():
        pytest.skip(f"Pulumi's project schema is not at {SCHEMA}")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(project_file())


def test_project_layout():
    project = project_file()
    assert project["name"] == NAMESPACE
    assert project["stackConfigDir"] == "stacks"
    assert project["runtime"]["name"] == "python"
    for path in ("__main__.py", "stacks", "images", "components", "tests", "README.md"):
        assert (PROJECT_DIR / path).exists(), path


def _model_fields() -> dict[str, object]:
    return {
        field.alias.split(":", 1)[1]: field
        for field in StackSettings.model_fields.values()
        if field.alias and field.alias.startswith(f"{NAMESPACE}:")
    }


def test_every_declared_key_is_in_the_model_and_defaults_only_in_pulumi_yaml():
    """Pulumi.yaml is the one home of the simple keys' defaults (the CLI applies them); a
    second default in the model could drift from it."""
    fields = _model_fields()
    for key, declaration in project_file()["config"].items():
        assert key in fields, (
            f"Pulumi.yaml declares {key!r} but config/settings.py does not read it"
        )
        assert fields[key].is_required(), f"{key}: its default belongs in Pulumi.yaml only"
        assert "default" in declaration and declaration.get("description"), key


def test_every_simple_model_key_is_declared():
    # objects: the project schema cannot declare them
    structured = {"labels", "buckets", "jobs", "persistentResource"}
    declared = set(project_file()["config"])
    assert set(_model_fields()) - structured == declared


def test_stack_files_live_in_the_stack_config_dir():
    assert sorted(p.name for p in Path(PROJECT_DIR, "stacks").glob("Pulumi.*.yaml")) == [
        "Pulumi.dev.yaml",
        "Pulumi.local.yaml",
        "Pulumi.prod.yaml",
        "Pulumi.staging.yaml",
    ]
