"""The accelerator-hours ceiling (policy/vtrain_policies/cost.py), through AnalyzeStack.

A stack policy sees the whole graph only, so it has no per-resource `fx.CASES`
(test_pack.py checks that none is added where no test would run it). The fixture stack
(`fx.stack_resources`): a custom job on 1 T4 for 3600 s (1 h) and a tuning job of the same
spec with 12 trials (12 h): 13 accelerator hours.
"""

from __future__ import annotations

import json

import pytest

from tests.harness import policy_fixtures as fx
from tests.harness import policy_pack as pp
from tests.harness.stack_config import cloud_stack_names

pp.skip_unless_available()

POLICY = "cost-accelerator-hours-ceiling"
POOL = fx.POOL


def _config(ceiling: int, level: str | None = None) -> dict:
    entry: dict = {"maxAcceleratorHours": ceiling}
    if level:
        entry["enforcementLevel"] = level
    return {**fx.CONFIG, POLICY: entry}


def _found(pack, resources, config):
    return pp.from_policy(pack.analyze_stack(resources, config), POLICY)


def test_a_stack_within_its_ceiling_passes(pack):
    assert not _found(pack, fx.stack_resources(), _config(13))


def test_a_stack_over_its_ceiling_is_reported_with_its_total_and_largest_jobs(pack):
    (found,) = _found(pack, fx.stack_resources(), _config(12))
    assert found.level == "advisory"  # the pack's own level; prod's config raises it
    assert "may use up to 13 accelerator hours" in found.message
    assert "this stack allows 12 (policy config maxAcceleratorHours)" in found.message
    assert "Largest: `tune` 12 h, `train` 1 h." in found.message


def test_the_stack_config_can_make_it_mandatory(pack):
    (found,) = _found(pack, fx.stack_resources(), _config(12, "mandatory"))
    assert found.level == "mandatory"


def test_accelerators_replicas_timeout_and_trials_multiply(pack):
    worker_pool = {
        "machine_spec": {
            "machine_type": "n1-standard-8",
            "accelerator_type": "NVIDIA_TESLA_T4",
            "accelerator_count": 2,
        },
        "replica_count": "3",
        "container_spec": {"image_uri": fx.IMAGE},
    }
    chief = fx.custom_job().props["job_spec"]["worker_pool_specs"][0]
    job = fx.custom_job().with_value(("job_spec", "worker_pool_specs"), [chief, worker_pool])
    job = job.with_value(("job_spec", "scheduling", "timeout"), "5400s")
    # (1 x 1 + 2 x 3) accelerators x 1.5 h = 10.5 h
    (found,) = _found(pack, [job], _config(10))
    assert "up to 10.5 accelerator hours" in found.message
    tuning = fx.tuning_job(job_spec=job.props["job_spec"], max_trial_count=4)
    (found,) = _found(pack, [tuning], _config(10))
    assert "up to 42 accelerator hours" in found.message  # ... for each of 4 trials


def test_tpu_pools_count_the_chips_of_their_topology(pack):
    tpu = fx.custom_job().with_value(
        (*POOL, "machine_spec"), {"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "2x2"}
    )
    (found,) = _found(pack, [tpu], _config(3))
    assert "up to 4 accelerator hours" in found.message  # 4 chips x 1 h


def test_cpu_only_jobs_use_no_accelerator_hours(pack):
    cpu = fx.custom_job().with_value((*POOL, "machine_spec"), {"machine_type": "n1-standard-4"})
    assert not _found(pack, [cpu, cpu], _config(0))


def test_an_unknown_factor_is_unverifiable_not_passed(pack):
    job = fx.custom_job().with_value((*POOL, "machine_spec", "accelerator_count"), fx.UNKNOWN)
    found = _found(pack, [job], _config(1000, "mandatory"))
    assert [d.urn for d in found] == [job.urn]
    assert "Could not be verified" in found[0].message and found[0].level == "mandatory"
    trials = fx.tuning_job(max_trial_count=fx.UNKNOWN)
    (found,) = _found(pack, [trials], _config(1000))
    assert "`max_trial_count`" in found.message


# ---- the shipped stacks: the pack's total is the program's `acceleratorHours` -----------


@pytest.mark.parametrize("stack", cloud_stack_names())
def test_the_pack_totals_what_the_program_exports(pack, stack, stack_runs):
    """Ceiling 0 makes the policy print its total for any stack that uses accelerators; it
    must be the `acceleratorHours.total` the program exports (config/cost.py)."""
    run = stack_runs[stack]
    expected = run.plain_outputs["acceleratorHours"]["total"]
    resources = [
        fx.Resource(r.type, r.name, dict(r.inputs or {}), registered_urn=r.urn)
        for r in run.resources
    ]
    found = _found(pack, resources, _config(0))
    if expected == 0:
        assert not found
    else:
        (diagnostic,) = found
        assert f"may use up to {expected:g} accelerator hours" in diagnostic.message


def test_prod_makes_the_ceiling_mandatory_and_every_stack_sets_one(stack_runs):
    for stack in cloud_stack_names():  # the local stack has no Google jobs to bill
        config = json.loads((pp.POLICY_DIR / "config" / f"{stack}.json").read_text())
        entry = config[POLICY]
        total = stack_runs[stack].plain_outputs["acceleratorHours"]["total"]
        assert entry["maxAcceleratorHours"] >= total, stack  # the shipped jobs fit
        assert entry.get("enforcementLevel") == ("mandatory" if stack == "prod" else None), stack
