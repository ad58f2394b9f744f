"""The policy pack's copies of the program's facts stay in step with the program.

The pack runs in its own venv (pulumi-policy pins protobuf 5) and cannot import the
program, so it states some facts again. Each copy is read here from the pack's source (no
import: this venv has no pulumi-policy) and compared with its one home in the program.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from components.storage import BUCKET_ROLE_LABEL
from config import catalogue
from config.settings import NAMESPACE
from tests.harness.python_source import parse_module
from tests.harness.stack_config import PROJECT_DIR, cli_config, cloud_stack_names
from vertex_jobs import contract

POLICIES = PROJECT_DIR / "policy" / "vtrain_policies"
POLICY_CONFIG = PROJECT_DIR / "policy" / "config"


def _constant(module: str, name: str):
    """The literal value of `name = ...` in a policy module (strings, tuples, frozensets,
    and the pattern of `re.compile(...)`)."""
    tree = parse_module(POLICIES / f"{module}.py")
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name | ast.Attribute):
                called = ast.unparse(value.func)
                if called == "re.compile":
                    return re.compile(ast.literal_eval(value.args[0]))
                if called == "frozenset":
                    return frozenset(ast.literal_eval(value.args[0]))
            return ast.literal_eval(value)
    raise AssertionError(f"policy/vtrain_policies/{module}.py has no {name}")


def test_the_pack_recognises_both_job_type_tokens():
    job_type = _constant("resources", "JOB_TYPE")
    for token in (contract.CUSTOM_JOB_TYPE, contract.HYPERPARAMETER_TUNING_JOB_TYPE):
        assert job_type.match(token), token


def test_the_pack_reads_the_bucket_role_label_the_program_sets():
    assert _constant("resources", "BUCKET_ROLE_LABEL") == BUCKET_ROLE_LABEL


def test_the_pack_knows_the_same_public_principals():
    assert _constant("resources", "PUBLIC_PRINCIPALS") == frozenset(catalogue.PUBLIC_MEMBERS)


def test_labels_the_pack_requires_are_the_ones_every_job_carries(stack_runs):
    required = set(_constant("jobs", "REQUIRED_LABELS"))
    for run in stack_runs.values():
        for job in run.resources:
            if job.type in (contract.CUSTOM_JOB_TYPE, contract.HYPERPARAMETER_TUNING_JOB_TYPE):
                assert required <= set(job.plain_inputs["labels"]), job.name


def test_the_pack_documents_every_job_input_key():
    docstring = ast.get_docstring(parse_module(POLICIES / "jobs.py")) or ""
    for key in {**contract.COMMON_INPUTS, **contract.TUNING_INPUTS}:
        assert f"`{key}`" in docstring, key


def test_there_is_a_policy_config_for_each_cloud_stack_and_no_other():
    assert sorted(path.stem for path in POLICY_CONFIG.glob("*.json")) == cloud_stack_names()


@pytest.mark.parametrize("stack", cloud_stack_names())
def test_policy_config_region_is_the_stacks_region(stack):
    """Copied into the pack's config because a resource policy cannot see the stack config."""
    region = cli_config(stack)[f"{NAMESPACE}:region"]  # the stack file, or Pulumi.yaml's default
    config = json.loads(Path(POLICY_CONFIG / f"{stack}.json").read_text())
    regions = {
        name: settings["region"] for name, settings in config.items() if "region" in settings
    }
    assert regions == {"jobs-region": region, "stack-single-region": region}
