"""ProjectServices enables what the stack needs and never disables shared APIs."""

from components.services import CMEK_SERVICES, REQUIRED_SERVICES


def _services(run):
    return {s.inputs["service"]: s for s in run.of_type("gcp:projects/service:Service")}


def test_required_apis_are_enabled_and_kept_on_destroy(stack_run):
    services = _services(stack_run)
    assert set(REQUIRED_SERVICES) <= set(services)
    for service in services.values():
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["project"] == stack_run.plain_outputs["project"]


def test_cloud_kms_only_where_cmek_is_used(stack_runs):
    assert set(CMEK_SERVICES) <= set(_services(stack_runs["prod"]))
    assert not set(CMEK_SERVICES) & set(_services(stack_runs["dev"]))
