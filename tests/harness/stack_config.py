"""The stack config as the Pulumi CLI hands it to the program.

The CLI reads `Pulumi.yaml` and `stacks/Pulumi.<stack>.yaml`, applies the project's config
defaults, type-checks declared keys, rejects what it would reject, and passes every value as
a string (structured values as JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
STACKS_DIR = PROJECT_DIR / "stacks"


class StackConfigError(Exception):
    """The stack file would be rejected by the Pulumi CLI before the program starts."""


def project_file() -> dict:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())


def stack_names() -> list[str]:
    return sorted(path.name.split(".")[1] for path in STACKS_DIR.glob("Pulumi.*.yaml"))


def stack_target(stack: str) -> str:
    """`gcp` or `local`: the stack file's `target`, else Pulumi.yaml's default."""
    project = project_file()
    key = f"{project['name']}:target"
    return (stack_file(stack).get("config") or {}).get(key, project["config"]["target"]["default"])


def cloud_stack_names() -> list[str]:
    """The stacks that deploy to Google Cloud (CI previews, updates and refreshes them; the
    policy pack has a config for each). The `local` target runs on one machine only."""
    return [stack for stack in stack_names() if stack_target(stack) == "gcp"]


def stack_file(stack: str) -> dict:
    return yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}


_CLI_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def _check_declared_type(stack: str, key: str, value: Any, declaration: dict) -> None:
    expected = _CLI_TYPES[declaration["type"]]
    valid = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if valid and expected is list:
        item_type = _CLI_TYPES[declaration["items"]["type"]]
        valid = all(isinstance(item, item_type) for item in value)
    if not valid:
        raise StackConfigError(
            f"Stack '{stack}' with configuration key '{key}' must be of type "
            f"'{declaration['type']}'"
        )


def _wire_value(value: Any) -> str:
    # The CLI passes every value as a string; objects and lists as JSON, booleans lowercase.
    if isinstance(value, str):
        return value
    return json.dumps(value)


def cli_config(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """The config map the CLI would hand the program for `stack`.

    `overrides` replaces stack-file keys (full `namespace:key` names); a value of `None`
    removes the key, as `pulumi config rm` would.
    """
    project = project_file()
    namespace = project["name"]
    values: dict[str, Any] = dict(stack_file(stack).get("config") or {})
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    declared = project.get("config") or {}
    for key, declaration in declared.items():
        full_key = key if ":" in key else f"{namespace}:{key}"
        if not isinstance(declaration, dict):
            values.setdefault(full_key, declaration)  # a plain project-level value
            continue
        if full_key in values:
            _check_declared_type(stack, full_key, values[full_key], declaration)
        elif "default" in declaration:
            values[full_key] = declaration["default"]
        else:
            raise StackConfigError(f"Stack '{stack}' is missing configuration value '{full_key}'")
    for key, value in values.items():
        if ":" not in key:
            raise StackConfigError(f"configuration key '{key}' must be namespaced (ns:key)")
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise StackConfigError(f"'{key}' is encrypted; pass a plain override in tests")
    return {key: _wire_value(value) for key, value in values.items()}
