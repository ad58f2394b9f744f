"""Pulumi components of the vertex-training stack, one concern per module."""

from __future__ import annotations

import pulumi


def child_options(
    parent: pulumi.Resource, opts: pulumi.ResourceOptions | None
) -> pulumi.ResourceOptions:
    """Options for a component's children.

    Children inherit the component's providers, but not its `depends_on`; passing it on
    keeps them from being created before what the component waits for (enabled APIs,
    CMEK grants).
    """
    return pulumi.ResourceOptions(parent=parent, depends_on=opts.depends_on if opts else None)
