"""The base model of every structured config section, the `Duration` type of its time
settings ('90m', '4h'), and the "did you mean" helper."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
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


DURATION_PATTERN = re.compile(r"^(?P<value>[0-9]+)(?P<unit>[smhd])$")
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    match = DURATION_PATTERN.match(text)
    if not match or int(match["value"]) == 0:
        raise ValueError(f"{text!r} is not a duration; use e.g. '90m', '4h', '3600s' or '1d'")
    return int(match["value"]) * SECONDS_PER_UNIT[match["unit"]]


def _checked_duration(text: str) -> str:
    duration_seconds(text)
    return text


Duration = Annotated[str, AfterValidator(_checked_duration)]
