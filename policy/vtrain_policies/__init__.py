"""The vertex-training policy pack's policies, one module per concern."""

from . import iam, jobs, registry, stack, storage

POLICIES = [
    *storage.POLICIES,
    *registry.POLICIES,
    *iam.POLICIES,
    *jobs.POLICIES,
    *stack.POLICIES,
]

__all__ = ["POLICIES"]
