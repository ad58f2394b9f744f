"""The base model of every structured config section, and the "did you mean" helper."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigSection(BaseModel):
    """A structured stack setting: camelCase keys in YAML, unknown keys rejected, no coercion."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=True
    )


def suggest(value: str, allowed: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest allowed value, or nothing."""
    match = difflib.get_close_matches(value.lower(), sorted(allowed), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""
