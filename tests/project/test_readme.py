"""The README's claims that can drift from the code are checked against it."""

from __future__ import annotations

import re

from tests.harness.stack_config import PROJECT_DIR, project_file

README = (PROJECT_DIR / "README.md").read_text()


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


def test_every_path_the_readme_points_to_exists():
    paths = set(
        re.findall(r"`((?:images|policy|docs|tests|benchmarks|scripts|\.github)/[\w./-]+)`", README)
    )
    assert len(paths) >= 8
    for path in paths:
        assert (PROJECT_DIR / path).exists(), path
