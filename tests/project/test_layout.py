"""The layout the README promises: one component per file, named after its token, and
source files short enough to read, or saying why not."""

from __future__ import annotations

import ast
import subprocess

from tests.harness.python_source import parse_module
from tests.harness.stack_config import PROJECT_DIR

LONG_FILE_LINES = 400
LONG_FILE_MARK = "# Over 400 lines:"


def _tracked_python_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    return [path for path in listed.stdout.split() if (PROJECT_DIR / path).exists()]


def test_long_source_files_say_why_in_their_first_line():
    unexplained = []
    for path in _tracked_python_files():
        lines = (PROJECT_DIR / path).read_text().splitlines()
        if len(lines) > LONG_FILE_LINES and not lines[0].startswith(LONG_FILE_MARK):
            unexplained.append(f"{path} ({len(lines)} lines)")
    assert unexplained == [], f"split these or start them with '{LONG_FILE_MARK} <reason>'"


def _component_classes(path) -> list[tuple[str, str]]:
    """(class name, type token) of each ComponentResource subclass in a module."""
    found = []
    for node in parse_module(path).body:
        if isinstance(node, ast.ClassDef) and any(
            ast.unparse(base) == "pulumi.ComponentResource" for base in node.bases
        ):
            calls = [
                call
                for call in ast.walk(node)
                if isinstance(call, ast.Call) and ast.unparse(call.func) == "super().__init__"
            ]
            found.append((node.name, ast.literal_eval(calls[0].args[0])))
    return found


def test_one_component_per_file_with_a_token_named_after_it():
    files = sorted((PROJECT_DIR / "components").glob("*.py"))
    assert len(files) > 5
    for path in files:
        if path.name == "__init__.py":
            continue
        ((class_name, token),) = _component_classes(path)
        assert token == f"vtrain:{path.stem}:{class_name}", path.name
