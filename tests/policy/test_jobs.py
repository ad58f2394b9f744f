"""Vertex AI job policies (policy/vtrain_policies/jobs.py), through the running pack."""

from __future__ import annotations

from tests.harness import policy_fixtures as fx
from tests.harness import policy_pack as pp

pp.skip_unless_available()

(
    test_compliant_resources_pass,
    test_noncompliant_resource_fails_with_a_fix,
    test_an_unknown_value_never_passes_silently,
) = pp.fixture_case_tests("jobs")


def test_ceilings_follow_the_stack_config(pack):
    big_job = fx.custom_job().with_value((*fx.POOL, "replica_count"), "8")
    assert pp.from_policy(pack.analyze(big_job), "jobs-accelerator-ceiling")
    roomy = {**fx.CONFIG, "jobs-accelerator-ceiling": {"maxAcceleratorCount": 8}}
    assert not pp.from_policy(pack.analyze(big_job, roomy), "jobs-accelerator-ceiling")


def test_job_region_without_config_is_reported_not_skipped(pack):
    found = pp.from_policy(pack.analyze(fx.custom_job(), config={}), "jobs-region")
    assert found and "--policy-pack-config" in found[0].message


def test_non_job_dynamic_resources_are_ignored(pack):
    other = fx.Resource("pulumi-python:dynamic:Resource", "other", {"anything": 1})
    assert not [d for d in pack.analyze(other) if d.policy.startswith("jobs-")]


def test_an_entirely_unknown_job_spec_fails_the_strict_job_checks(pack):
    job = fx.custom_job(job_spec=fx.UNKNOWN)
    found = pack.analyze(job)
    mandatory = {d.policy for d in found if d.level == "mandatory"}
    assert {"jobs-accelerator-ceiling", "jobs-timeout-ceiling"} <= mandatory
    deferred = {d.policy for d in found if d.level == "advisory" and "during preview" in d.message}
    assert {"jobs-image-pinned-by-digest", "jobs-custom-service-account"} <= deferred
