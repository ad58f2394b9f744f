"""The test engine hands the program its config as the Pulumi CLI would."""

from __future__ import annotations

import json

import pytest

from tests.harness.engine import run_stack
from tests.harness.stack_config import StackConfigError, cli_config

NS = "vertex-training"


def test_values_are_strings_and_objects_are_json():
    values = cli_config("dev")
    assert values[f"{NS}:forceDestroy"] == "true"
    assert values[f"{NS}:keepRecentVersions"] == "3"
    assert json.loads(values[f"{NS}:buckets"])["output"]["deleteAfterDays"] == 30
    assert values["gcp:project"] == "acme-ml-dev"


def test_project_defaults_fill_unset_keys():
    values = cli_config("dev", {f"{NS}:keepRecentVersions": None})
    assert values[f"{NS}:keepRecentVersions"] == "10"  # Pulumi.yaml's default
    assert values[f"{NS}:kmsKeyName"] == ""


@pytest.mark.parametrize(
    "key, value, type_name",
    [
        (f"{NS}:forceDestroy", "yes", "boolean"),
        (f"{NS}:keepRecentVersions", "3", "integer"),
        (f"{NS}:keepRecentVersions", True, "integer"),
        (f"{NS}:deployers", "group:ml@acme.example", "array"),
        (f"{NS}:deployers", [1, 2], "array"),
        (f"{NS}:region", 5, "string"),
    ],
)
def test_declared_types_are_enforced_like_the_cli(key, value, type_name):
    with pytest.raises(StackConfigError, match=f"'{key}' must be of type '{type_name}'"):
        run_stack("dev", {key: value})


def test_secure_values_need_an_override():
    with pytest.raises(StackConfigError, match="encrypted"):
        cli_config("dev", {"gcp:project": {"secure": "v1:abc"}})


@pytest.mark.parametrize("preview", [True, False])
def test_preview_mode_reaches_the_program(tmp_path, preview):
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi\npulumi.export('dry', pulumi.runtime.is_dry_run())\n")
    assert run_stack("dev", preview=preview, program=program).outputs == {"dry": preview}


def test_unanswered_invokes_fail_loudly(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi_gcp as gcp\ngcp.compute.get_zones(region='us-central1')\n")
    with pytest.raises(Exception, match="does not answer invoke 'gcp:compute/getZones"):
        run_stack("dev", program=program)
