"""The policy pack as a whole: what it declares, its per-stack config, the shipped stacks.

Each policy module's own tests are in test_<module>.py; the driver is tests/harness/policy_pack.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2

from tests.harness import policy_fixtures as fx
from tests.harness import policy_pack as pp
from tests.harness.stack_config import cloud_stack_names

pp.skip_unless_available()

ROOT = pp.ROOT
POLICY_DIR = pp.POLICY_DIR
# The cloud stacks, which CI previews with the pack; the local stack registers no Google
# resource and never runs under the pack.
STACKS = cloud_stack_names()


# --- GetAnalyzerInfo ---------------------------------------------------------------------------


def test_analyzer_info_lists_every_policy_with_description_level_and_schema(pack):
    info = pack.info
    assert info.name == "vtrain-guardrails"
    assert info.supportsConfig
    policies = {policy.name: policy for policy in info.policies}
    assert set(policies) == set(fx.EXPECTED_ENFORCEMENT)
    for name, policy in policies.items():
        assert policy.description.strip(), name
        assert pp.LEVELS[policy.enforcementLevel] == fx.EXPECTED_ENFORCEMENT[name], name
        assert policy.tags, f"{name} names no anchor check"
        assert policy.remediation_steps, name
        declared = set(policy.configSchema.properties)
        assert declared == fx.EXPECTED_CONFIG.get(name, set()), name
        for key, schema in pp.schema_properties(policy).items():
            assert schema.get("type") and schema.get("description"), f"{name}.{key}"


def test_every_policy_has_passing_and_failing_fixtures():
    covered = {case.policy for case in fx.CASES}
    stack_policies = {
        "iam-object-admin-only-on-output-bucket",
        "stack-single-region",
        "cost-accelerator-hours-ceiling",
    }
    assert covered | stack_policies == set(fx.EXPECTED_ENFORCEMENT)


def test_every_fixture_case_runs_in_exactly_one_module_file():
    """test_<module>.py runs `pp.cases_for(module)`; together they must run every case once."""
    for case in fx.CASES:
        owners = [m for m in pp.POLICY_MODULES if any(c is case for c in pp.cases_for(m))]
        assert len(owners) == 1, f"{case.policy}: run by {owners}"
    for name in fx.EXPECTED_ENFORCEMENT:
        assert sum(name.startswith(f"{m}-") for m in pp.POLICY_MODULES) == 1, name
    for module in pp.POLICY_MODULES:
        assert (POLICY_DIR / "vtrain_policies" / f"{module}.py").is_file(), module
        assert (Path(__file__).parent / f"test_{module}.py").is_file(), module
    # Stack policies only run in AnalyzeStack: test_stack.py and test_cost.py run no
    # per-resource cases.
    assert not pp.cases_for("stack") and not pp.cases_for("cost")


def test_plugin_info_answers(pack):
    info = pack.stub.GetPluginInfo(empty_pb2.Empty())
    assert isinstance(info, plugin_pb2.PluginInfo) and info.version


# --- Config and unknowns, across policies --------------------------------------------------------


def test_a_disabled_policy_reports_nothing(pack):
    config = {**fx.CONFIG, "iam-no-service-account-keys": "disabled"}
    found = pack.analyze(fx.service_account_key(), config)
    assert not pp.from_policy(found, "iam-no-service-account-keys")


# --- Per-stack policy config -------------------------------------------------------------------


def _stack_config(stack: str) -> dict[str, Any]:
    return json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())


def test_every_stack_has_a_policy_config_that_matches_the_schema(pack):
    import yaml

    schemas = {policy.name: pp.schema_properties(policy) for policy in pack.info.policies}
    configs = sorted(p.stem for p in (POLICY_DIR / "config").glob("*.json"))
    assert configs == STACKS
    for stack in STACKS:
        config = _stack_config(stack)
        for policy, entry in config.items():
            assert policy in schemas or policy == "all", f"{stack}: unknown policy {policy}"
            for key, value in entry.items():
                if key == "enforcementLevel":
                    continue
                schema = schemas[policy][key]
                python_type = {"boolean": bool, "integer": int, "string": str}[schema["type"]]
                assert isinstance(value, python_type), f"{stack}: {policy}.{key}={value!r}"
        stack_file = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
        stack_config = stack_file.get("config", {})
        region = stack_config.get("vertex-training:region", "us-central1")
        assert config["jobs-region"]["region"] == region, stack
        assert config["stack-single-region"]["region"] == region, stack
        wants_cmek = bool(stack_config.get("vertex-training:kmsKeyName"))
        assert config["storage-cmek"]["requireCmek"] is wants_cmek, stack
        assert config["registry-cmek"]["requireCmek"] is wants_cmek, stack


# --- Every shipped stack's graph ----------------------------------------------------------------


def _as_fixture(resource: Any) -> fx.Resource:
    return fx.Resource(
        resource.type,
        resource.name,
        dict(resource.inputs or {}),
        property_dependencies=dict(resource.property_dependencies),
        registered_urn=resource.urn,
    )


def _diagnostics(pack: pp.PackClient, run: Any, config: dict[str, Any]) -> list[pp.Diagnostic]:
    """Analyze for every resource the program registered, then AnalyzeStack for the graph;
    each diagnostic with the URN it is about."""
    resources = [_as_fixture(r) for r in run.resources]
    diagnostics = [
        dataclasses.replace(d, urn=resource.urn)
        for resource in resources
        for d in pack.analyze(resource, config)
    ]
    return diagnostics + pack.analyze_stack(resources, config)


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_has_no_mandatory_violations(pack, stack, stack_runs):
    """Every resource the real program registers for the stack, through Analyze, then the
    whole graph through AnalyzeStack, with the config CI passes for that stack."""
    run = stack_runs[stack]
    diagnostics = _diagnostics(pack, run, _stack_config(stack))
    mandatory = [
        f"{d.urn}: [{d.policy}] {d.message}" for d in diagnostics if d.level == "mandatory"
    ]
    assert not mandatory, "\n".join(mandatory)
    checked = {r.type for r in run.resources}
    assert {"gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository"} <= checked
    assert any(t.startswith("pulumi-python:dynamic/vtrain/jobs:") for t in checked)


@pytest.mark.parametrize("stack", STACKS)
def test_a_fresh_stack_preview_defers_only_computed_values(pack, stack, preview_runs):
    """The first preview of a new stack, as the engine runs it (tests/project/test_preview.py):
    the training account's e-mail, the image digests and the service agents are unknown.
    It must not be blocked (it is also the first phase of the first `up`): every policy that
    reads one of those values defers to `up`, and nothing else is reported."""
    diagnostics = _diagnostics(pack, preview_runs[stack], _stack_config(stack))
    assert all(d.level == "advisory" and "during preview" in d.message for d in diagnostics), [
        f"[{d.policy}] {d.level}: {d.message}" for d in diagnostics
    ]
    assert {d.policy for d in diagnostics} == {
        "jobs-image-pinned-by-digest",
        "jobs-custom-service-account",
        "storage-no-public-principals",
        "registry-no-public-principals",
        "iam-no-default-service-account",
    }
    deferred = {d.policy: d.message for d in diagnostics}
    assert "image_uri" in deferred["jobs-image-pinned-by-digest"]
    assert "service_account" in deferred["jobs-custom-service-account"]
