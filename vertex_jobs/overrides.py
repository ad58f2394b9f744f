"""`specOverrides`: raw CustomJobSpec fields in proto3 JSON, checked against the proto, merged
last into the spec the stack config produces (`vertex_jobs.specs.job_spec`).

proto3 JSON lets a field be spelt as its proto name (`enable_web_access`) or its lowerCamel JSON
name (`enableWebAccess`), and a JSON parser ignores nothing: an unknown name is an error
(developers.google.com/protocol-buffers/docs/proto3#json). So the overrides are rewritten to the
proto's own field names, which the generated spec uses too, before they are merged; an unknown
field, a field given twice, or a value the field cannot hold fails with its key path.
"""

from __future__ import annotations

import difflib
from typing import Any

ROOT = "specOverrides"
# Fields with a config key of their own (validated there, and part of the program's security
# and region rules): an override would bypass that key's checks.
MANAGED_FIELDS = {
    "service_account": "jobs always run as the stack's training service account",
    "base_output_directory": "outputs go under the stack's output bucket",
    "persistent_resource_id": "use persistentResource: true",
    "network": "use the job key network",
    "psc_interface_config": "use the job key pscInterfaceConfig",
    "tensorboard": "use the job key tensorboard",
    "enable_web_access": "use the job key enableWebAccess",
    "enable_dashboard_access": "use the job key enableDashboardAccess",
    "experiment": "use the job key experiment",
    "experiment_run": "use the job key experimentRun",
}
# Inside a worker pool's container: the image is the stack's, by digest.
MANAGED_CONTAINER_FIELDS = {"image_uri": "the stack's image runs, by digest: use the job key image"}


def checked_overrides(overrides: Any) -> dict[str, Any]:
    """`overrides` with every key spelt as the proto field name; ValueError naming the key path
    (`specOverrides.<key>...`) for anything CustomJobSpec would not take or the stack manages."""
    from google.cloud import aiplatform_v1
    from google.protobuf import json_format

    message = aiplatform_v1.CustomJobSpec.pb()
    canonical = _canonical(message.DESCRIPTOR, overrides, ROOT)
    for name, reason in MANAGED_FIELDS.items():
        if name in canonical:
            raise ValueError(f"{ROOT}.{_spelt(overrides, name)}: not overridable ({reason})")
    pools_key = _spelt(overrides, "worker_pool_specs")
    for index, pool in enumerate(canonical.get("worker_pool_specs", [])):
        for name, reason in MANAGED_CONTAINER_FIELDS.items():
            if name in pool.get("container_spec", {}):
                written = overrides[pools_key][index]
                container_key = _spelt(written, "container_spec")
                where = (
                    f"{ROOT}.{pools_key}[{index}].{container_key}."
                    f"{_spelt(written[container_key], name)}"
                )
                raise ValueError(f"{where}: not overridable ({reason})")
    try:
        json_format.ParseDict(canonical, message())
    except json_format.ParseError as error:
        raise ValueError(f"{ROOT}: not valid CustomJobSpec proto3 JSON: {error}") from None
    return canonical


def _spelt(written: dict[str, Any], name: str) -> str:
    """The key `written` uses for the field `name`: as is, or lowerCamel."""
    if name in written:
        return name
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _canonical(descriptor: Any, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(
            f"{path}: expected an object of {descriptor.name} fields, got {type(value).__name__}"
        )
    fields = {field.name: field for field in descriptor.fields}
    fields.update({field.json_name: field for field in descriptor.fields})
    result: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}"
        field = fields.get(key)
        if field is None:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: unknown field of {descriptor.full_name}{hint}")
        if field.name in result:
            raise ValueError(f"{where}: {field.name!r} is set twice ({field.json_name!r} too)")
        result[field.name] = _canonical_value(field, item, where)
    return result


def _canonical_value(field: Any, item: Any, where: str) -> Any:
    message = field.message_type
    # Scalars, enums, maps and well-known types (Duration as "3600s", ...) keep their JSON
    # form; json_format checks them after the rewrite.
    if message is None or message.GetOptions().map_entry:
        return item
    if message.full_name.startswith("google.protobuf."):
        return item
    if field.is_repeated:
        if not isinstance(item, list):
            raise ValueError(f"{where}: expected a list of {message.name}")
        return [_canonical(message, element, f"{where}[{i}]") for i, element in enumerate(item)]
    return _canonical(message, item, where)


def merged(spec: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`spec` with `overrides` merged in: objects key by key, lists of objects element by element
    (worker pool 1 of the overrides into worker pool 1 of the spec; extra ones appended), any
    other value replaced."""
    result = dict(spec)
    for key, value in overrides.items():
        current = result.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            result[key] = merged(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            result[key] = _merged_list(current, value)
        else:
            result[key] = value
    return result


def _merged_list(current: list[Any], overrides: list[Any]) -> list[Any]:
    if not all(isinstance(item, dict) for item in [*current, *overrides]):
        return list(overrides)
    result = [merged(old, new) for old, new in zip(current, overrides, strict=False)]
    return result + current[len(overrides) :] + overrides[len(current) :]
