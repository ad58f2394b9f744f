"""Resource names are a compatibility promise: a URN that moves is a delete and a create.

A URN is made of the stack, the project, the parent chain of type tokens and the resource
name, so renaming a component, its token or a child replaces real buckets, repositories and
jobs on every deployed stack. `resource_urns.json` pins every URN the shipped stacks
register. A stack may add resources (add their URNs here); one that loses or renames a
pinned URN fails until the change carries `aliases` for the old URN and this file says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_STACKS

PINNED = json.loads((Path(__file__).parent / "resource_urns.json").read_text())


def test_every_shipped_stack_is_pinned():
    assert sorted(PINNED) == sorted(SHIPPED_STACKS)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_pinned_urns_are_still_registered(stack, stack_runs):
    registered = {resource.urn for resource in stack_runs[stack].resources}
    moved = sorted(set(PINNED[stack]) - registered)
    assert not moved, "these URNs moved (add aliases, then update resource_urns.json):\n" + (
        "\n".join(moved)
    )


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_new_urns_are_pinned_too(stack, stack_runs):
    registered = {resource.urn for resource in stack_runs[stack].resources}
    assert sorted(registered - set(PINNED[stack])) == [], "pin new URNs in resource_urns.json"
