"""Parsing this repo's Python source in tests, safe from a CPython 3.11 bug.

CPython 3.11 keeps the AST constructor's recursion counter in per-interpreter state
(python/cpython#106905). When another thread, or a finalizer run by the garbage collector
mid-parse, also builds an AST (3.11's traceback formatting parses source lines to place its
`^^^` carets), the counter is left off and `ast.parse` raises a spurious
`SystemError: AST constructor recursion depth mismatch`. Deep in a run of this suite, with
gRPC and dynamic-host threads alive, that happened in CI. The error says nothing about the
source, so parsing again is the honest answer.
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

_ATTEMPTS = 5
_parse = ast.parse  # a module attribute, so a test can stand in for it alone


def parse_module(path: Path) -> ast.Module:
    source = path.read_text()
    for attempt in range(_ATTEMPTS):
        gc.collect()  # run pending finalizers now, not in the middle of the parse
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return _parse(source, filename=str(path))
        except SystemError:
            if attempt == _ATTEMPTS - 1:
                raise
        finally:
            if was_enabled:
                gc.enable()
    raise AssertionError("unreachable")
