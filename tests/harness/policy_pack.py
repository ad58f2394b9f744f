"""Driver of the policy pack over gRPC, exactly as `pulumi preview --policy-pack policy` drives it.

The CLI starts `<policy venv>/bin/python -u -m pulumi.policy <engine address> .` in policy/,
reads the Analyzer's port from its first line of stdout, then calls GetAnalyzerInfo, Configure,
Analyze (each resource, before it is created or updated) and AnalyzeStack (the whole stack,
afterwards). `running_pack()` does the same from the main venv, whose pulumi SDK ships the
Analyzer stubs; the pack itself runs in its own venv (pulumi-policy needs protobuf 5.x).

Also here: the checks every policy module's tests run on its `policy_fixtures.CASES`
(`cases_for(module)`), so each test file in tests/policy/ runs the cases of its own policies.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.harness import policy_fixtures as fx

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policy"
POLICY_PYTHON = Path(
    os.environ.get("VTRAIN_POLICY_PYTHON", str(POLICY_DIR / ".venv" / "bin" / "python"))
)

# The pack's policy modules (policy/vtrain_policies/<module>.py); each policy's name starts
# with its module's name, and tests/policy/test_<module>.py tests it.
POLICY_MODULES = ("storage", "registry", "iam", "jobs", "stack", "cost")

LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVEL_VALUES = {name: value for value, name in LEVELS.items()}


def skip_unless_available() -> None:
    """Skip the calling test module when the policy venv is missing, unless the suite requires
    it (VTRAIN_REQUIRE_POLICY_PACK=1, as scripts/test.sh and CI set): then fail loudly."""
    skip_unless_built(POLICY_PYTHON, "policy venv python", " or set VTRAIN_POLICY_PYTHON")


def skip_unless_built(path: Path, what: str, hint: str = "") -> None:
    """Skip the calling test (or module) when `path`, which scripts/test.sh builds and a fresh
    clone lacks, is missing, unless the suite requires the policy pack
    (VTRAIN_REQUIRE_POLICY_PACK=1): then fail loudly."""
    if path.exists():
        return
    if os.environ.get("VTRAIN_REQUIRE_POLICY_PACK") == "1":
        raise RuntimeError(f"{what} {path} not found, and the suite requires it")
    pytest.skip(
        f"{what} {path} not found: create it with `python3 -m venv policy/.venv && "
        f"policy/.venv/bin/pip install -r policy/requirements.txt` (or scripts/test.sh){hint}",
        allow_module_level=True,
    )


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
                for key, schema in schema_properties(policy).items()
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


def schema_properties(policy: analyzer_pb2.PolicyInfo) -> dict[str, dict[str, Any]]:
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


@contextmanager
def running_pack() -> Iterator[PackClient]:
    """Start the pack in its venv, connect, and stop it afterwards."""
    process, port = _start_pack()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
        yield PackClient(analyzer_pb2_grpc.AnalyzerStub(channel))
    finally:
        channel.close()
        process.terminate()
        process.wait(timeout=10)


def from_policy(diagnostics: list[Diagnostic], policy: str) -> list[Diagnostic]:
    return [d for d in diagnostics if d.policy == policy]


# --- Checkov-style pass/fail fixtures, per policy module --------------------------------------


def cases_for(module: str) -> list[fx.Case]:
    """The fixture cases of one policy module's policies (by the policy name's prefix)."""
    return [case for case in fx.CASES if case.policy.startswith(f"{module}-")]


def with_unknown(cases: list[fx.Case]) -> list[fx.Case]:
    return [case for case in cases if case.unknown is not None]


def case_id(case: fx.Case) -> str:
    return f"{case.policy}:{case.failing.name}:{case.fix[:24]}"


def check_compliant_resources_pass(pack: PackClient, case: fx.Case) -> None:
    for resource in case.passing:
        found = from_policy(pack.analyze(resource), case.policy)
        assert not found, f"{resource.name} should pass {case.policy}: {found}"


def check_noncompliant_resource_fails_with_a_fix(pack: PackClient, case: fx.Case) -> None:
    found = from_policy(pack.analyze(case.failing), case.policy)
    assert found, f"{case.failing.name} should violate {case.policy}"
    assert any(case.fix in d.message for d in found), [d.message for d in found]
    assert {d.level for d in found} == {fx.EXPECTED_ENFORCEMENT[case.policy]}


def check_unknown_value_never_passes_silently(pack: PackClient, case: fx.Case) -> None:
    """The offending value, unknown at preview, is either a violation saying it could not be
    verified (strict), or the SDK's advisory "can't run during preview" note while the same
    mandatory check runs again during `up` (defer), or provably harmless (pass)."""
    resource = case.failing.with_value(case.unknown, fx.UNKNOWN)
    found = from_policy(pack.analyze(resource), case.policy)
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


def fixture_case_tests(module: str) -> tuple[Any, Any, Any]:
    """The three fixture-case tests of one policy module, for its test file to bind:
    compliant resources pass, a noncompliant one fails with its fix, an unknown value
    never passes silently."""
    cases = cases_for(module)

    @pytest.mark.parametrize("case", cases, ids=case_id)
    def test_compliant_resources_pass(pack, case):
        check_compliant_resources_pass(pack, case)

    @pytest.mark.parametrize("case", cases, ids=case_id)
    def test_noncompliant_resource_fails_with_a_fix(pack, case):
        check_noncompliant_resource_fails_with_a_fix(pack, case)

    @pytest.mark.parametrize("case", with_unknown(cases), ids=case_id)
    def test_an_unknown_value_never_passes_silently(pack, case):
        check_unknown_value_never_passes_silently(pack, case)

    return (
        test_compliant_resources_pass,
        test_noncompliant_resource_fails_with_a_fix,
        test_an_unknown_value_never_passes_silently,
    )
