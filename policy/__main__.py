"""vertex-training guardrails (Pulumi CrossGuard pack); see README.md for every policy.

Constructing PolicyPack starts the gRPC Analyzer server, prints its port and serves until the
CLI stops it. Run with `pulumi preview --policy-pack policy --policy-pack-config
policy/config/<stack>.json`.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from vtrain_policies import POLICIES

PolicyPack(
    name="vtrain-guardrails",
    description="vertex-training guardrails: storage, registry, IAM, Vertex AI jobs, one region.",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=POLICIES,
)
