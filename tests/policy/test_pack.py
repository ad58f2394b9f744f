"""The policy pack, driven over gRPC exactly as `pulumi preview --policy-pack policy` drives it.

The CLI starts `<policy venv>/bin/python -u -m pulumi.policy <engine address> .` in policy/,
reads the Analyzer's port from its first line of stdout, then calls GetAnalyzerInfo, Configure,
Analyze (each resource, before it is created or updated) and AnalyzeStack (the whole stack,
afterwards). These tests do the same from the main venv, whose pulumi SDK ships the Analyzer
stubs; the pack itself runs in its own venv (pulumi-policy needs protobuf 5.x).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2

from tests.harness import policy_fixtures as fx

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policy"
POLICY_PYTHON = Path(
    os.environ.get("VTRAIN_POLICY_PYTHON", str(POLICY_DIR / ".venv" / "bin" / "python"))
)
STACKS = sorted(p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))

if not POLICY_PYTHON.exists() and os.environ.get("VTRAIN_REQUIRE_POLICY_PACK") == "1":
    raise RuntimeError(f"policy venv python {POLICY_PYTHON} not found, and the suite requires it")
if not POLICY_PYTHON.exists():
    pytest.skip(
        f"policy venv python {POLICY_PYTHON} not found: create it with `python3 -m venv "
        "policy/.venv && policy/.venv/bin/pip install -r policy/requirements.txt` or set "
        "VTRAIN_POLICY_PYTHON",
        allow_module_level=True,
    )

LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVEL_VALUES = {name: value for value, name in LEVELS.items()}


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str
    message: str
    urn: str


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    # Round-trip through JSON so tuples, ints and odd scalars become what the engine sends.
    struct.update(json.loads(json.dumps(data, default=str)))
    return struct


class PackClient:
    """The CLI's side of the Analyzer protocol, for one running pack process."""

    def __init__(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        self.stub = stub
        self.info = stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, config: dict[str, Any] | None) -> None:
        """Send config the way the CLI does: every policy gets its effective enforcement level
        (config > `all` > the policy's own) and its properties, schema defaults filled in."""
        config = config or {}
        everyone = config.get("all")
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for policy in self.info.policies:
            entry = config.get(policy.name, {})
            if isinstance(entry, str):
                entry = {"enforcementLevel": entry}
            level = entry.get("enforcementLevel")
            if level is None and everyone is not None:
                level = everyone if isinstance(everyone, str) else everyone.get("enforcementLevel")
            properties = {
                key: schema["default"]
                for key, schema in _schema_properties(policy).items()
                if "default" in schema
            }
            properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            request.policyConfig[policy.name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=LEVEL_VALUES[level] if level else policy.enforcementLevel,
                    properties=_struct(properties),
                )
            )
        self.stub.Configure(request)

    def analyze(self, resource: fx.Resource, config: dict[str, Any] | None = None):
        self.configure(fx.CONFIG if config is None else config)
        response = self.stub.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=resource.type,
                name=resource.name,
                urn=resource.urn,
                properties=_struct(resource.props),
            )
        )
        return [_diagnostic(d) for d in response.diagnostics]

    def analyze_stack(self, resources: list[fx.Resource], config: dict[str, Any] | None = None):
        self.configure(fx.CONFIG if config is None else config)
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            item = request.resources.add(
                type=resource.type,
                name=resource.name,
                urn=resource.urn,
                properties=_struct(resource.props),
            )
            for key, urns in resource.property_dependencies.items():
                item.propertyDependencies[key].urns.extend(urns)
        return [_diagnostic(d) for d in self.stub.AnalyzeStack(request).diagnostics]


def _schema_properties(policy: analyzer_pb2.PolicyInfo) -> dict[str, dict[str, Any]]:
    return {key: dict(value) for key, value in policy.configSchema.properties.items()}


def _diagnostic(diagnostic: analyzer_pb2.AnalyzeDiagnostic) -> Diagnostic:
    return Diagnostic(
        diagnostic.policyName,
        LEVELS[diagnostic.enforcementLevel],
        diagnostic.message,
        diagnostic.urn,
    )


def _start_pack() -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PATH"] = f"{POLICY_PYTHON.parent}{os.pathsep}{env.get('PATH', '')}"
    process = subprocess.Popen(
        # The engine address is unused by a pack that does not log through the engine.
        [str(POLICY_PYTHON), "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=POLICY_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line.isdigit():
        process.kill()
        _, stderr = process.communicate(timeout=10)
        pytest.fail(f"policy pack did not print its port (got {line!r}):\n{stderr.decode()}")
    return process, int(line)


@pytest.fixture(scope="module")
def pack():
    process, port = _start_pack()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
        yield PackClient(analyzer_pb2_grpc.AnalyzerStub(channel))
    finally:
        channel.close()
        process.terminate()
        process.wait(timeout=10)


def _from(diagnostics: list[Diagnostic], policy: str) -> list[Diagnostic]:
    return [d for d in diagnostics if d.policy == policy]


# --- GetAnalyzerInfo ---------------------------------------------------------------------------


def test_analyzer_info_lists_every_policy_with_description_level_and_schema(pack):
    info = pack.info
    assert info.name == "vtrain-guardrails"
    assert info.supportsConfig
    policies = {policy.name: policy for policy in info.policies}
    assert set(policies) == set(fx.EXPECTED_ENFORCEMENT)
    for name, policy in policies.items():
        assert policy.description.strip(), name
        assert LEVELS[policy.enforcementLevel] == fx.EXPECTED_ENFORCEMENT[name], name
        assert policy.tags, f"{name} names no anchor check"
        assert policy.remediation_steps, name
        declared = set(policy.configSchema.properties)
        assert declared == fx.EXPECTED_CONFIG.get(name, set()), name
        for key, schema in _schema_properties(policy).items():
            assert schema.get("type") and schema.get("description"), f"{name}.{key}"


def test_every_policy_has_passing_and_failing_fixtures():
    covered = {case.policy for case in fx.CASES}
    stack_policies = {"iam-object-admin-only-on-output-bucket", "stack-single-region"}
    assert covered | stack_policies == set(fx.EXPECTED_ENFORCEMENT)


# --- Resource policies: Checkov-style pass/fail fixtures -----------------------------------------


def _case_id(case: fx.Case) -> str:
    return f"{case.policy}:{case.failing.name}:{case.fix[:24]}"


@pytest.mark.parametrize("case", fx.CASES, ids=_case_id)
def test_compliant_resources_pass(pack, case):
    for resource in case.passing:
        found = _from(pack.analyze(resource), case.policy)
        assert not found, f"{resource.name} should pass {case.policy}: {found}"


@pytest.mark.parametrize("case", fx.CASES, ids=_case_id)
def test_noncompliant_resource_fails_with_a_fix(pack, case):
    found = _from(pack.analyze(case.failing), case.policy)
    assert found, f"{case.failing.name} should violate {case.policy}"
    assert any(case.fix in d.message for d in found), [d.message for d in found]
    assert {d.level for d in found} == {fx.EXPECTED_ENFORCEMENT[case.policy]}


def test_cmek_is_only_required_where_the_stack_says_so(pack):
    plain_bucket = fx.bucket("data").without("encryption")
    plain_repo = fx.repository(kmsKeyName=None)
    no_cmek = {
        **fx.CONFIG,
        "storage-cmek": {"requireCmek": False},
        "registry-cmek": {"requireCmek": False},
    }
    assert not _from(pack.analyze(plain_bucket, no_cmek), "storage-cmek")
    assert not _from(pack.analyze(plain_repo, no_cmek), "registry-cmek")
    assert _from(pack.analyze(plain_repo), "registry-cmek")


def test_ceilings_follow_the_stack_config(pack):
    big_job = fx.custom_job().with_value((*fx.POOL, "replica_count"), "8")
    assert _from(pack.analyze(big_job), "jobs-accelerator-ceiling")
    roomy = {**fx.CONFIG, "jobs-accelerator-ceiling": {"maxAcceleratorCount": 8}}
    assert not _from(pack.analyze(big_job, roomy), "jobs-accelerator-ceiling")


def test_job_region_without_config_is_reported_not_skipped(pack):
    found = _from(pack.analyze(fx.custom_job(), config={}), "jobs-region")
    assert found and "--policy-pack-config" in found[0].message


def test_a_disabled_policy_reports_nothing(pack):
    config = {**fx.CONFIG, "iam-no-service-account-keys": "disabled"}
    assert not _from(pack.analyze(fx.service_account_key(), config), "iam-no-service-account-keys")


def test_non_job_dynamic_resources_are_ignored(pack):
    other = fx.Resource("pulumi-python:dynamic:Resource", "other", {"anything": 1})
    assert not [d for d in pack.analyze(other) if d.policy.startswith("jobs-")]


# --- Unknown values at preview -------------------------------------------------------------------

UNKNOWN_CASES = [case for case in fx.CASES if case.unknown is not None]


@pytest.mark.parametrize("case", UNKNOWN_CASES, ids=_case_id)
def test_an_unknown_value_never_passes_silently(pack, case):
    """The offending value, unknown at preview, is either a violation saying it could not be
    verified (strict), or the SDK's advisory "can't run during preview" note while the same
    mandatory check runs again during `up` (defer), or provably harmless (pass)."""
    resource = case.failing.with_value(case.unknown, fx.UNKNOWN)
    found = _from(pack.analyze(resource), case.policy)
    level = fx.EXPECTED_ENFORCEMENT[case.policy]
    if case.on_unknown == "strict":
        assert found and all(d.level == level for d in found), found
        assert any("Could not be verified" in d.message for d in found), found
    elif case.on_unknown == "defer":
        assert [d.level for d in found] == ["advisory"], found
        assert "during preview" in found[0].message
        assert str(case.unknown[0]) in found[0].message
    else:
        assert not found, found


def test_an_entirely_unknown_job_spec_fails_the_strict_job_checks(pack):
    job = fx.custom_job(job_spec=fx.UNKNOWN)
    found = pack.analyze(job)
    mandatory = {d.policy for d in found if d.level == "mandatory"}
    assert {"jobs-accelerator-ceiling", "jobs-timeout-ceiling"} <= mandatory
    deferred = {d.policy for d in found if d.level == "advisory" and "during preview" in d.message}
    assert {"jobs-image-pinned-by-digest", "jobs-custom-service-account"} <= deferred


def test_a_fresh_stack_preview_defers_only_computed_values(pack):
    """First preview of a new stack: the SA e-mail and image digest are unknown; nothing else.
    That preview must not be blocked (it is also the first phase of the first `up`)."""
    job = fx.custom_job().with_value((*fx.POOL, "container_spec", "image_uri"), fx.UNKNOWN)
    job = job.with_value(("job_spec", "service_account"), fx.UNKNOWN)
    output = fx.bucket("output")
    grant = fx.bucket_member("roles/storage.objectAdmin", fx.UNKNOWN, fx.UNKNOWN)
    grant.property_dependencies = {"bucket": [output.urn]}
    member = fx.project_member("roles/aiplatform.user", fx.UNKNOWN)
    stack = [
        fx.bucket("data"),
        output,
        fx.bucket("access-logs"),
        fx.repository(),
        job,
        grant,
        member,
    ]
    diagnostics = pack.analyze_stack(stack)
    for resource in stack:
        diagnostics += pack.analyze(resource)
    assert not [d for d in diagnostics if d.level == "mandatory"], diagnostics
    deferred = {d.policy for d in diagnostics if "during preview" in d.message}
    assert deferred == {
        "jobs-image-pinned-by-digest",
        "jobs-custom-service-account",
        "storage-no-public-principals",
        "iam-no-default-service-account",
    }


# --- Stack policies ----------------------------------------------------------------------------


def _stack(*extra: fx.Resource) -> list[fx.Resource]:
    return [
        fx.bucket("data"),
        fx.bucket("output"),
        fx.bucket("access-logs"),
        fx.repository(),
        fx.custom_job(),
        fx.tuning_job(),
        *extra,
    ]


def test_object_admin_on_the_output_bucket_passes(pack):
    grant = fx.bucket_member(
        "roles/storage.objectAdmin", f"serviceAccount:{fx.TRAINING_SA}", f"{fx.PROJECT}-output"
    )
    assert not _from(pack.analyze_stack(_stack(grant)), "iam-object-admin-only-on-output-bucket")


def test_object_admin_on_the_data_bucket_fails(pack):
    grant = fx.bucket_member(
        "roles/storage.objectAdmin", f"serviceAccount:{fx.TRAINING_SA}", f"b/{fx.PROJECT}-data"
    )
    found = _from(pack.analyze_stack(_stack(grant)), "iam-object-admin-only-on-output-bucket")
    assert [d.urn for d in found] == [grant.urn]
    assert "grant roles/storage.objectViewer on data buckets" in found[0].message
    assert found[0].level == "mandatory"


def test_object_admin_on_an_unknown_bucket_name_follows_the_dependency(pack):
    data, output = fx.bucket("data"), fx.bucket("output")
    grant = fx.bucket_member(
        "roles/storage.objectAdmin", f"serviceAccount:{fx.TRAINING_SA}", fx.UNKNOWN
    )
    to_output = fx.Resource(grant.type, grant.name, grant.props, {"bucket": [output.urn]})
    to_data = fx.Resource(grant.type, grant.name, grant.props, {"bucket": [data.urn]})
    policy = "iam-object-admin-only-on-output-bucket"
    assert not _from(pack.analyze_stack([data, output, to_output]), policy)
    assert _from(pack.analyze_stack([data, output, to_data]), policy)
    unresolved = _from(pack.analyze_stack([data, output, grant]), policy)
    assert unresolved and "Could not be verified" in unresolved[0].message


def test_one_region_stack_passes_with_gcs_upper_case_locations(pack):
    assert not _from(pack.analyze_stack(_stack()), "stack-single-region")


def test_a_resource_in_another_region_fails_the_stack(pack):
    stray = fx.repository(location="europe-west4")
    found = _from(pack.analyze_stack(_stack()[:3] + [stray]), "stack-single-region")
    assert [d.urn for d in found] == [stray.urn]
    assert "set it to 'us-central1'" in found[0].message


def test_a_cmek_key_in_another_region_fails_the_stack(pack):
    key = fx.KEY.replace(fx.REGION, "europe-west4")
    stray = fx.bucket("data", encryption={"defaultKmsKeyName": key})
    found = _from(pack.analyze_stack([stray, fx.repository()]), "stack-single-region")
    assert found and "encryption.defaultKmsKeyName='europe-west4'" in found[0].message


def test_without_region_config_the_majority_region_wins(pack):
    stray = fx.custom_job(region="europe-west4")
    found = _from(pack.analyze_stack(_stack()[:4] + [stray], config={}), "stack-single-region")
    assert [d.urn for d in found] == [stray.urn]


def test_an_unknown_location_fails_the_stack(pack):
    found = _from(
        pack.analyze_stack([fx.bucket("data", location=fx.UNKNOWN)]), "stack-single-region"
    )
    assert found and found[0].level == "mandatory" and "Could not be verified" in found[0].message


# --- Per-stack policy config -------------------------------------------------------------------


def _stack_config(stack: str) -> dict[str, Any]:
    return json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())


def test_every_stack_has_a_policy_config_that_matches_the_schema(pack):
    import yaml

    schemas = {policy.name: _schema_properties(policy) for policy in pack.info.policies}
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
        resource.type, resource.name, dict(resource.inputs or {}), registered_urn=resource.urn
    )


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_has_no_mandatory_violations(pack, stack, stack_runs):
    """Every resource the real program registers for the stack, through Analyze, then the
    whole graph through AnalyzeStack, with the config CI passes for that stack."""
    run = stack_runs[stack]
    config = _stack_config(stack)
    resources = [_as_fixture(r) for r in run.resources]
    diagnostics = []
    for resource in resources:
        diagnostics += [(resource.urn, d) for d in pack.analyze(resource, config)]
    diagnostics += [(d.urn, d) for d in pack.analyze_stack(resources, config)]
    mandatory = [
        f"{urn}: [{d.policy}] {d.message}" for urn, d in diagnostics if d.level == "mandatory"
    ]
    assert not mandatory, "\n".join(mandatory)
    checked = {r.type for r in run.resources}
    assert {"gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository"} <= checked
    assert any(t.startswith("pulumi-python:dynamic/vtrain/jobs:") for t in checked)


def test_plugin_info_answers(pack):
    info = pack.stub.GetPluginInfo(empty_pb2.Empty())
    assert isinstance(info, plugin_pb2.PluginInfo) and info.version
