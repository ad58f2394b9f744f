"""The resource uid: derived from the resource and its job, so that a job a crashed `pulumi up`
submitted is found and adopted by the next one; and the filter that finds it.

The engine writes a resource to state only after create returns: if `pulumi up` dies between
Vertex accepting the job and that write, the next run checks the resource with no old state.
"""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1
from pulumi.output import Unknown

from config import catalogue
from tests.harness.dynamic_host import UNKNOWN
from tests.harness.fake_job_service import (
    OTHER_IMAGE,
    camel_case_job_spec,
    custom_job_inputs,
    tuning_job_inputs,
)
from tests.harness.job_kinds import KINDS
from vertex_jobs.api import Tunables
from vertex_jobs.contract import (
    CUSTOM_JOB_TYPE,
    RESOURCE_UID_LABEL,
)
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider


def _uid(inputs, olds=None, provider=None):
    result = (provider or CustomJobProvider()).check(olds or {}, inputs)
    assert [(f.property, f.reason) for f in result.failures] == []
    return result.inputs["resource_uid"]


# ---- crash between create and the state write ----------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_job_whose_state_write_was_lost_is_adopted_by_the_next_up(hosted, kind):
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token, name="train")

    first = job.create(job.check({}, make_inputs())["inputs"])
    # `pulumi up` dies here: Vertex has the job, the state does not. The next `pulumi up`
    # checks the resource again with no old state.
    again = job.check({}, make_inputs())["inputs"]
    created = job.create(again)

    assert created["id"] == first["id"]  # adopted, not submitted again
    assert created["properties"]["resource_uid"] == first["properties"]["resource_uid"]
    assert fake.call_count(f"Create{rpc}") == 1
    assert fake.job_names() == [first["id"]]

    job.delete(created["id"], created["properties"])  # destroy finds it: nothing is left
    assert fake.job_names() == [] and fake.live_jobs() == []


def test_a_changed_spec_gets_a_new_uid():
    base = _uid(custom_job_inputs())
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"]["image_uri"] = OTHER_IMAGE
    assert _uid(custom_job_inputs(job_spec=spec)) != base
    for override in (
        {"display_name": "other"},
        {"labels": {"vtrain-stack": "prod"}},
        {"region": "europe-west4"},
        {"encryption_kms_key": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
    ):
        assert _uid(custom_job_inputs(**override)) != base, override
    tuning = HyperparameterTuningJobProvider()
    assert _uid(tuning_job_inputs(), provider=tuning) != _uid(
        tuning_job_inputs(max_trial_count=9), provider=tuning
    )


def test_inputs_that_do_not_define_the_job_keep_the_uid():
    base = _uid(custom_job_inputs())
    assert _uid(custom_job_inputs(api_endpoint="psc.example:443")) == base
    assert _uid(custom_job_inputs(wait={"until_terminal": True, "timeout_seconds": 60})) == base


def test_the_uid_is_computed_from_the_canonical_job():
    """camelCase or snake_case, and numbers as Pulumi carries them (doubles), are one job."""
    camel = camel_case_job_spec()
    assert _uid(custom_job_inputs(job_spec=camel)) == _uid(custom_job_inputs())
    tuning = HyperparameterTuningJobProvider()
    assert _uid(tuning_job_inputs(max_trial_count=8.0), provider=tuning) == _uid(
        tuning_job_inputs(max_trial_count=8), provider=tuning
    )


def test_each_resource_gets_its_own_uid():
    assert _uid(custom_job_inputs(resource_key="vertex-training/dev/a")) != _uid(
        custom_job_inputs(resource_key="vertex-training/dev/b")
    )
    assert _uid(custom_job_inputs(resource_key="vertex-training/dev/a")) != _uid(
        custom_job_inputs(resource_key="vertex-training/prod/a")
    )


def test_without_a_resource_key_the_uid_is_random():
    assert _uid(custom_job_inputs(resource_key=None)) != _uid(custom_job_inputs(resource_key=None))


# ---- creates while an old state exists --------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_replacement_never_adopts_the_job_it_replaces(hosted, kind):
    """`pulumi up --replace` (or any create while the old state exists) with the old job kept,
    e.g. by retain_on_delete: the new job gets a new uid, so create submits a new job."""
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token, name="train")
    old_inputs = job.check({}, make_inputs())["inputs"]
    old = job.create(old_inputs)

    news = job.check(old_inputs, make_inputs())["inputs"]  # same spec, old state present
    assert news["resource_uid"] != old_inputs["resource_uid"]
    assert len(news["resource_uid"]) == 32
    assert news["labels"][RESOURCE_UID_LABEL] == news["resource_uid"]
    replacement = job.create(news)  # the old job was retained, not deleted

    assert replacement["id"] != old["id"]
    assert fake.call_count(f"Create{rpc}") == 2


def test_an_unchanged_job_keeps_its_live_uid_though_check_mints_one_with_old_state(
    vertex_fake,
):
    """With old state, check cannot tell a no-op from a forced replacement (it runs before
    diff), so it mints a uid; diff ignores it and the outputs keep the live job's uid."""
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs()).inputs).outs
    news = provider.check(outs, custom_job_inputs()).inputs
    assert news["resource_uid"] != outs["resource_uid"]
    result = provider.diff(outs["name"], outs, news)
    assert result.changes is False and result.replaces == []
    moved = provider.check(outs, custom_job_inputs(api_endpoint="psc.example:443")).inputs
    assert provider.diff(outs["name"], outs, moved).replaces == []
    updated = provider.update(outs["name"], outs, moved).outs
    assert updated["resource_uid"] == outs["resource_uid"]
    assert updated["labels"][RESOURCE_UID_LABEL] == outs["resource_uid"]


def test_a_resource_key_added_to_an_old_state_is_an_in_place_update(vertex_fake):
    """State written before `resource_key` existed: the new key changes no job."""
    provider = CustomJobProvider()
    outs = provider.create(provider.check({}, custom_job_inputs(resource_key=None)).inputs).outs
    news = provider.check(outs, custom_job_inputs()).inputs
    result = provider.diff(outs["name"], outs, news)
    assert result.changes is True and result.replaces == []
    vertex_fake.reset_calls()
    updated = provider.update(outs["name"], outs, news).outs
    assert updated["resource_key"] == "vertex-training/dev/train-resnet"
    assert updated["resource_uid"] == outs["resource_uid"]
    assert vertex_fake.call_count() == 0


def test_a_replacement_interrupted_before_its_state_write_is_adopted_while_olds_remain():
    """The next run sees the same old state, so it derives the same uid (see the providers
    docstring for the case it cannot recover: the old resource already gone from state)."""
    provider = CustomJobProvider()
    olds = provider.check({}, custom_job_inputs()).inputs
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"]["image_uri"] = OTHER_IMAGE
    assert _uid(custom_job_inputs(job_spec=spec), olds) == _uid(
        custom_job_inputs(job_spec=spec), olds
    )
    assert _uid(custom_job_inputs(job_spec=spec), olds) != _uid(custom_job_inputs(job_spec=spec))


def test_the_uid_is_unknown_at_preview_while_the_job_is(hosted):
    _, host = hosted
    job = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE)
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"]["image_uri"] = UNKNOWN
    previewed = job.check({}, custom_job_inputs(job_spec=spec))
    assert previewed["failures"] == []
    assert isinstance(previewed["inputs"]["resource_uid"], Unknown)


def test_the_resource_registers_its_key_and_callers_cannot():
    from vertex_jobs.resources import _resource_key

    with pytest.raises(TypeError, match="set by the resource"):
        _resource_key("train", {"resource_key": "x/y/z"})


# ---- the adopt lookup's filter -------------------------------------------------------


def test_the_uid_label_key_can_be_named_in_a_list_filter():
    assert catalogue.LABEL_KEY_PATTERN.match(RESOURCE_UID_LABEL)
    assert catalogue.FILTERABLE_LABEL_KEY_PATTERN.match(RESOURCE_UID_LABEL)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_create_finds_jobs_with_the_documented_label_filter(hosted, kind):
    """The fake, like Vertex, refuses filters outside the documented grammar (an unquoted
    hyphenated key among them): create's lookup must be one it accepts."""
    fake, host = hosted
    provider_class, type_token, make_inputs, rpc = KINDS[kind]
    job = host.bind(provider_class(), type_token=type_token)
    inputs = job.check({}, make_inputs())["inputs"]
    job.create(inputs)
    (lookup,) = [call.request for call in fake.calls if call.method == f"List{rpc}s"]
    assert lookup.filter == f'labels.vtrain_resource_uid="{inputs["resource_uid"]}"'


def test_matches_are_checked_again_client_side():
    """Whatever the service returns, only a job carrying this uid is adopted."""
    uid = "0" * 32
    others = [
        aiplatform_v1.CustomJob(name="projects/p/locations/l/customJobs/1", labels={}),
        aiplatform_v1.CustomJob(
            name="projects/p/locations/l/customJobs/2", labels={RESOURCE_UID_LABEL: "1" * 32}
        ),
    ]

    class Client:
        def list_custom_jobs(self, request, **options):
            return iter(others)

    props = {"project": "p", "region": "l", "resource_uid": uid}
    assert CustomJobProvider()._find_by_uid(Client(), props, Tunables()) is None
