"""IAM policies (policy/vtrain_policies/iam.py), through the running pack."""

from __future__ import annotations

from tests.harness import policy_fixtures as fx
from tests.harness import policy_pack as pp

pp.skip_unless_available()

(
    test_compliant_resources_pass,
    test_noncompliant_resource_fails_with_a_fix,
    test_an_unknown_value_never_passes_silently,
) = pp.fixture_case_tests("iam")


# --- iam-object-admin-only-on-output-bucket: a stack policy (AnalyzeStack) ---------------------


def test_object_admin_on_the_output_bucket_passes(pack):
    grant = fx.bucket_member(
        "roles/storage.objectAdmin", f"serviceAccount:{fx.TRAINING_SA}", f"{fx.PROJECT}-output"
    )
    found = pack.analyze_stack(fx.stack_resources(grant))
    assert not pp.from_policy(found, "iam-object-admin-only-on-output-bucket")


def test_object_admin_on_the_data_bucket_fails(pack):
    grant = fx.bucket_member(
        "roles/storage.objectAdmin", f"serviceAccount:{fx.TRAINING_SA}", f"b/{fx.PROJECT}-data"
    )
    found = pp.from_policy(
        pack.analyze_stack(fx.stack_resources(grant)), "iam-object-admin-only-on-output-bucket"
    )
    assert [d.urn for d in found] == [grant.urn]
    assert "grant roles/storage.objectViewer on data buckets" in found[0].message
    assert found[0].level == "mandatory"


def test_object_admin_on_an_unknown_bucket_name_follows_the_dependency(pack):
    data, output = fx.bucket("data"), fx.bucket("output")
    grant = fx.bucket_member(
        "roles/storage.objectAdmin", f"serviceAccount:{fx.TRAINING_SA}", fx.UNKNOWN
    )
    to_output = fx.Resource(grant.type, grant.name, grant.props, {"bucket": [output.urn]})
    to_data = fx.Resource(grant.type, grant.name, grant.props, {"bucket": [data.urn]})
    policy = "iam-object-admin-only-on-output-bucket"
    assert not pp.from_policy(pack.analyze_stack([data, output, to_output]), policy)
    assert pp.from_policy(pack.analyze_stack([data, output, to_data]), policy)
    unresolved = pp.from_policy(pack.analyze_stack([data, output, grant]), policy)
    assert unresolved and "Could not be verified" in unresolved[0].message
