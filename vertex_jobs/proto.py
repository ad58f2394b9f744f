"""Plain data <-> aiplatform v1 protobuf messages, and preview-time unknowns."""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown

# The Pulumi engine's marker for a value not known during preview (pulumi.runtime.rpc.UNKNOWN).
UNKNOWN_MARKER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def contains_unknown(value: Any) -> bool:
    """True if a preview-time unknown hides anywhere inside `value`. The host hands
    `check`/`diff` unknowns as `pulumi.output.Unknown` (`keep_unknowns=True`); the raw wire
    marker is accepted too."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return value == UNKNOWN_MARKER
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


def is_int(value: Any) -> bool:
    """An integer; integral floats count, since Pulumi carries every number as a double."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def proto_class(message: str) -> Any:
    """The raw protobuf class of an aiplatform v1 message, e.g. `StudySpec`."""
    from google.cloud import aiplatform_v1

    cls: Any = aiplatform_v1
    for part in message.split("."):
        cls = getattr(cls, part)
    return cls.pb()


def parse_proto_json(message: str, data: Any) -> Any:
    """Parse proto3 JSON (snake_case or lowerCamel keys) into the raw protobuf message."""
    from google.protobuf import json_format

    if not isinstance(data, dict):
        raise ValueError(
            f"expected an object (proto3 JSON of {message}), got {type(data).__name__}"
        )
    return json_format.ParseDict(data, proto_class(message)())


def canonical_proto_json(message: str, data: Any) -> Any:
    """A canonical form of proto3 JSON for comparison; falls back to the raw value."""

    try:
        parsed = parse_proto_json(message, data)
    except Exception:  # noqa: BLE001 - unparsable (e.g. unknowns): compare as written
        return data
    return as_json(parsed)


def as_json(pb: Any) -> Any:
    """proto3 JSON of a raw message, with the proto's snake_case field names."""
    from google.protobuf import json_format

    return json_format.MessageToDict(pb, preserving_proto_field_name=True)


def timestamp(pb: Any, field: str) -> str | None:
    return getattr(pb, field).ToJsonString() if pb.HasField(field) else None


def job_error(pb: Any) -> dict[str, Any] | None:
    if not pb.HasField("error") or (pb.error.code == 0 and not pb.error.message):
        return None
    return {"code": pb.error.code, "message": pb.error.message}


def state_name(job: Any) -> str:
    """The job state's enum name, e.g. `JOB_STATE_RUNNING` (proto-plus enums are IntEnums)."""
    state = job.state
    return getattr(state, "name", f"JOB_STATE_{int(state)}")
