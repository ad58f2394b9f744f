"""Shared fixtures: the project root on sys.path and one engine run per shipped stack, as an
update and as the first preview of a new stack."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from tests.harness.emulator import emulator  # noqa: E402, F401 (the emulator subprocess)
from tests.harness.engine import StackRun, run_stack  # noqa: E402

# The fake Vertex JobService's fixtures (vertex_fake, hosted_vertex, hosted), for every module.
from tests.harness.fake_job_service import hosted, hosted_vertex, vertex_fake  # noqa: E402, F401
from tests.harness.stack_config import cloud_stack_names, stack_names  # noqa: E402

SHIPPED_STACKS = stack_names()
# The stacks on Google Cloud; `stack_run` runs each (the Google resources' tests). The local
# stack has its own tests (tests/project/test_local_stack.py).
CLOUD_STACKS = cloud_stack_names()


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, StackRun]:
    """The real program, run once per stack in stacks/, shared by the read-only tests."""
    return {stack: run_stack(stack) for stack in SHIPPED_STACKS}


@pytest.fixture(params=CLOUD_STACKS)
def stack_run(request, stack_runs) -> StackRun:
    return stack_runs[request.param]


@pytest.fixture(scope="session")
def preview_runs() -> dict[str, StackRun]:
    """The real program, run once per stack as the first preview of a new stack (nothing
    exists yet: what providers compute on create is unknown)."""
    return {stack: run_stack(stack, preview=True) for stack in SHIPPED_STACKS}
