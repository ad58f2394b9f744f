"""The README's claims that can drift from the code are checked against it."""

from __future__ import annotations

import re

from tests.harness.policy_pack import skip_unless_built
from tests.harness.stack_config import PROJECT_DIR, project_file

README = (PROJECT_DIR / "README.md").read_text()
# What scripts/test.sh builds (`python -m venv <path>`): not in a fresh clone.
BUILT = set(re.findall(r"-m venv (\S+)", (PROJECT_DIR / "scripts" / "test.sh").read_text()))


def _provision_table() -> str:
    """The component table: the lines of one Markdown table, which a blank line would end."""
    start = README.index("| Component (token) |", README.index("## What a stack provisions"))
    lines = README[start:].split("\n")
    return "\n".join(lines[: next(i for i, line in enumerate(lines) if not line.startswith("|"))])


def test_provision_table_lists_exactly_what_the_stacks_register(stack_runs):
    table = _provision_table()
    documented = set(re.findall(r"`((?:vtrain|gcp|docker|pulumi-python):[\w/]+:\w+)`", table))
    registered = {
        resource.type
        for run in stack_runs.values()
        for resource in run.resources
        if resource.type.startswith(("vtrain:", "gcp:", "docker:", "pulumi-python:"))
    }
    assert documented == registered


def test_outputs_listed_in_the_readme_are_exported(stack_runs):
    line = README[README.index("Stack outputs:") :].split("\n\n")[0]
    assert set(re.findall(r"`(\w+)`", line)) == set(stack_runs["dev"].outputs)


def test_config_table_covers_every_declared_key():
    for key in project_file()["config"]:
        assert f"`vertex-training:{key}`" in README, key


def test_the_test_command_in_the_readme_is_what_ci_runs():
    assert "\nscripts/test.sh\n" in README
    assert "scripts/test.sh" in (PROJECT_DIR / ".ci" / "run").read_text()


def _readme_paths() -> set[str]:
    return set(
        re.findall(r"`((?:images|policy|docs|tests|benchmarks|scripts|\.github)/[\w./-]+)`", README)
    )


def _built(path: str) -> bool:
    return any(path == built or path.startswith(f"{built}/") for built in BUILT)


def test_every_path_the_readme_points_to_exists():
    shipped = {path for path in _readme_paths() if not _built(path)}
    assert len(shipped) >= 8
    for path in shipped:
        assert (PROJECT_DIR / path).exists(), path


def test_the_built_paths_the_readme_names_exist_once_scripts_test_sh_ran():
    """A fresh clone has no policy/.venv: skipped there, like the policy tests, and an error
    where the suite requires the policy pack (VTRAIN_REQUIRE_POLICY_PACK=1: scripts/test.sh)."""
    built = {path for path in _readme_paths() if _built(path)}
    assert built == {"policy/.venv"}, "the README names a path scripts/test.sh does not build"
    for path in sorted(built):
        skip_unless_built(PROJECT_DIR / path / "bin" / "python", f"{path} (README)")
