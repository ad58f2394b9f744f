"""Whole-stack policies (policy/vtrain_policies/stack.py), through AnalyzeStack.

Stack policies see the whole graph only, so they have no per-resource `fx.CASES`
(test_pack.py checks that none is added where no test would run it).
"""

from __future__ import annotations

from tests.harness import policy_fixtures as fx
from tests.harness import policy_pack as pp

pp.skip_unless_available()


def test_one_region_stack_passes_with_gcs_upper_case_locations(pack):
    assert not pp.from_policy(pack.analyze_stack(fx.stack_resources()), "stack-single-region")


def test_a_resource_in_another_region_fails_the_stack(pack):
    stray = fx.repository(location="europe-west4")
    found = pp.from_policy(
        pack.analyze_stack(fx.stack_resources()[:3] + [stray]), "stack-single-region"
    )
    assert [d.urn for d in found] == [stray.urn]
    assert "set it to 'us-central1'" in found[0].message


def test_a_cmek_key_in_another_region_fails_the_stack(pack):
    key = fx.KEY.replace(fx.REGION, "europe-west4")
    stray = fx.bucket("data", encryption={"defaultKmsKeyName": key})
    found = pp.from_policy(pack.analyze_stack([stray, fx.repository()]), "stack-single-region")
    assert found and "encryption.defaultKmsKeyName='europe-west4'" in found[0].message


def test_without_region_config_the_majority_region_wins(pack):
    stray = fx.custom_job(region="europe-west4")
    found = pp.from_policy(
        pack.analyze_stack(fx.stack_resources()[:4] + [stray], config={}), "stack-single-region"
    )
    assert [d.urn for d in found] == [stray.urn]


def test_a_persistent_resource_or_its_key_in_another_region_fails_the_stack(pack):
    key = fx.KEY.replace(fx.REGION, "europe-west4")
    stray = fx.Resource(
        "gcp:vertex/aiPersistentResource:AiPersistentResource",
        "persistent-resource",
        {"location": "europe-west4", "encryptionSpec": {"kmsKeyName": key}},
    )
    found = pp.from_policy(pack.analyze_stack([fx.repository(), stray]), "stack-single-region")
    assert {d.urn for d in found} == {stray.urn}
    messages = " ".join(d.message for d in found)
    assert "location='europe-west4'" in messages
    assert "encryptionSpec.kmsKeyName='europe-west4'" in messages
    same = stray.with_value(("location",), fx.REGION).with_value(
        ("encryptionSpec", "kmsKeyName"), fx.KEY
    )
    assert not pp.from_policy(pack.analyze_stack([fx.repository(), same]), "stack-single-region")


def test_an_unknown_location_fails_the_stack(pack):
    found = pp.from_policy(
        pack.analyze_stack([fx.bucket("data", location=fx.UNKNOWN)]), "stack-single-region"
    )
    assert found and found[0].level == "mandatory" and "Could not be verified" in found[0].message
