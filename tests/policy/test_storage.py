"""Storage policies (policy/vtrain_policies/storage.py), through the running pack."""

from __future__ import annotations

from tests.harness import policy_fixtures as fx
from tests.harness import policy_pack as pp

pp.skip_unless_available()

(
    test_compliant_resources_pass,
    test_noncompliant_resource_fails_with_a_fix,
    test_an_unknown_value_never_passes_silently,
) = pp.fixture_case_tests("storage")


def test_cmek_is_only_required_where_the_stack_says_so(pack):
    plain_bucket = fx.bucket("data").without("encryption")
    no_cmek = {**fx.CONFIG, "storage-cmek": {"requireCmek": False}}
    assert not pp.from_policy(pack.analyze(plain_bucket, no_cmek), "storage-cmek")
