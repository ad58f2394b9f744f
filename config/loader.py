"""Reads the stack's config from Pulumi and validates it: the only code that touches
`pulumi.Config`. Every problem is reported at once, in one `ConfigError`, naming each bad
key path, its value and what is allowed, before any resource is registered.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from config.apps import ManifestError, installed
from config.base import suggest
from config.settings import NAMESPACE, StackSettings


class ConfigError(pulumi.RunError):
    """A stack config problem; the CLI prints it without a stack trace."""


# Keys whose value is text. Every other key arrives from the CLI as JSON text (numbers,
# booleans, lists, objects) and is decoded before validation.
_TEXT_KEYS = {"region", "kmsKeyName", "repositoryId", "apiEndpoint", "registryAuth", "upIdentity"}
_TEXT_KEYS |= {"target", "emulatorHost", "storageEmulatorHost"}


def _known_keys() -> set[str]:
    return {
        field.alias.split(":", 1)[1]
        for field in StackSettings.model_fields.values()
        if field.alias and field.alias.startswith(f"{NAMESPACE}:")
    }


def _raw_namespace_keys() -> set[str]:
    """Every `vertex-training:*` key the CLI passed, to catch typos in key names."""
    from pulumi.runtime import config as runtime_config

    passed = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    return {key.split(":", 1)[1] for key in passed if key.startswith(f"{NAMESPACE}:")}


def _read_raw() -> dict[str, Any]:
    project_config = pulumi.Config(NAMESPACE)
    gcp_config = pulumi.Config("gcp")
    raw: dict[str, Any] = {"pulumi:stack": pulumi.get_stack()}
    for key in ("project", "region"):
        value = gcp_config.get(key)
        if value is not None:
            raw[f"gcp:{key}"] = value
    for key in _known_keys():
        value = project_config.get(key)
        if value is None:
            continue
        if key not in _TEXT_KEYS:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # left as a string: the model reports the wrong type with the key.
        raw[f"{NAMESPACE}:{key}"] = value
    return raw


def _describe(error: dict[str, Any]) -> str:
    location = [str(part) for part in error["loc"]]
    path = location[0] if location else "<stack config>"
    for part in location[1:]:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path}: required but not set"
    if error["type"] == "extra_forbidden":
        allowed = sorted(_section_keys(error["loc"]))
        suggestion = suggest(location[-1], set(allowed))
        return f"{path}: unknown key{suggestion} (allowed: {', '.join(allowed)})"
    if error["type"] == "value_error":
        # Our own validators already quote the value and may name a different key.
        return message if message.startswith(("gcp:", f"{NAMESPACE}:")) else f"{path}: {message}"
    return f"{path}: {error.get('input')!r} is not allowed: {message}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `list[Job]` or `Study | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        model = _model_in(argument)
        if model is not None:
            return model
    return None


def _section_keys(loc: tuple) -> set[str]:
    """The allowed keys of the section an `extra_forbidden` error points into."""
    model: type[BaseModel] | None = StackSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # a list index: same model
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        model = _model_in(field.annotation) if field else None
        if model is None:
            return set()
    return {field.alias or name for name, field in model.model_fields.items()}


def validate_settings(raw: dict[str, Any]) -> StackSettings:
    """Validate raw stack config (full keys → parsed values); raise ConfigError on any problem."""
    problems: list[str] = []
    try:
        installed()  # the apps' manifests, which image names and job checks rely on
    except ManifestError as error:
        lines = str(error).splitlines()
        raise ConfigError("invalid training app:\n  " + "\n  ".join(lines)) from None
    known = _known_keys()
    for key in sorted(k for k in raw if k.startswith(f"{NAMESPACE}:")):
        name = key.split(":", 1)[1]
        if name not in known:
            problems.append(f"{key}: unknown key{suggest(name, known)}")
    if not problems:
        try:
            return StackSettings.model_validate(raw)
        except ValidationError as error:
            problems = [_describe(detail) for detail in error.errors()]
    raise ConfigError("invalid stack config:\n  " + "\n  ".join(problems))


def load_settings() -> StackSettings:
    """Read and validate the current stack's config. Call before registering any resource."""
    raw = _read_raw()
    for name in _raw_namespace_keys() - _known_keys():
        raw[f"{NAMESPACE}:{name}"] = None  # reported as unknown by validate_settings
    settings = validate_settings(raw)
    for warning in settings.warnings():
        pulumi.log.warn(warning)
    return settings
