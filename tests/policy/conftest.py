"""The running policy pack, shared by every test in tests/policy/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The shared case checks live in the driver; rewrite their asserts like a test module's.
pytest.register_assert_rewrite("tests.harness.policy_pack")

from tests.harness import policy_pack as pp  # noqa: E402


@pytest.fixture(scope="session")
def pack() -> Iterator[pp.PackClient]:
    """One pack process for the session: starting it takes a while, and every `analyze` /
    `analyze_stack` call sends Configure first, so no test's config carries over to the next."""
    pp.skip_unless_available()
    with pp.running_pack() as client:
        yield client
