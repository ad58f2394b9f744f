"""Reading resource properties, including values that are unknown during `pulumi preview`.

During preview the engine sends every value it cannot know yet (an output of a resource that
does not exist yet) as a sentinel string. pulumi-policy wraps the properties in a proxy that
raises `UnknownValueError` when a policy touches such a value; if a policy lets that error
escape, the SDK turns it into an ADVISORY "can't run policy ... during preview" note, whatever
the policy's own enforcement level.

So each policy chooses, per value, one of two behaviours:

* **strict** – the value should be known at preview by construction (a literal or stack config:
  `uniformBucketLevelAccess`, a role, a job's machine spec). An unknown value is reported as a
  violation at the policy's own level: `unverifiable(...)` builds the message.
* **deferred** – the value is legitimately unknown at preview (an image digest known only after
  the build, a service account's e-mail known only after it is created). `defer(...)` re-raises
  the SDK's `UnknownValueError`: the preview shows the advisory note, and the same policy runs
  again during `pulumi up`, right before the resource is created, when the value is known.

`plain()` turns the proxy into ordinary dicts/lists with `UNKNOWN` in place of each unknown
value, so policies can look at several fields without tripping over the proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

# Every sentinel the engine may use for an unknown value (pulumi-policy's proxy.py lists them;
# the engine itself sends the string one for any type).
_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        UNKNOWN_STRING_VALUE,  # string: 04da6b54-80e4-46f7-96ec-b56ff0331ba9
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Unknown:
    """The one marker for "not known until the update runs"."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown during preview>"

    def __bool__(self) -> bool:
        raise TypeError("compare with `is UNKNOWN` before using an unknown value")


UNKNOWN = _Unknown()


def plain(value: Any) -> Any:
    """A copy of `value` with the SDK's proxies replaced by dicts/lists and unknowns by UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def dig(data: Any, *path: str | int) -> Any:
    """The value at `path` in plain data: UNKNOWN if it or a container on the way is unknown,
    None if it is absent."""
    node = data
    for key in path:
        if node is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return None
            node = node[key]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
    return node


def has_unknown(value: Any) -> bool:
    """True if `value` is UNKNOWN or holds UNKNOWN anywhere inside it."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return False


def unverifiable(field: str, how_to_fix: str) -> str:
    """The violation message of a strict policy whose checked value is unknown at preview."""
    return (
        f"Could not be verified: `{field}` is not known during preview (it is computed from "
        f"another resource's output). {how_to_fix}"
    )


def defer(field: str) -> NoReturn:
    """Hand an unknown value back to the SDK: advisory note now, enforced during `pulumi up`."""
    raise UnknownValueError(UNKNOWN_STRING_VALUE, field.split("."))
