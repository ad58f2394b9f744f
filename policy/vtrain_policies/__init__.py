"""The vertex-training policy pack's policies, one module per concern."""

from . import cost, iam, jobs, registry, stack, storage

POLICIES = [
    *storage.POLICIES,
    *registry.POLICIES,
    *iam.POLICIES,
    *jobs.POLICIES,
    *stack.POLICIES,
    *cost.POLICIES,
]

__all__ = ["POLICIES"]
