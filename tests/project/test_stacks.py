"""Every shipped stack evaluates, stays in one region, and exports what users need."""

from __future__ import annotations

from tests.harness.stack_config import stack_file

NS = "vertex-training"
EXPECTED_OUTPUTS = {
    "project",
    "region",
    "repositoryUrl",
    "dataBucket",
    "dataBucketUri",
    "outputBucket",
    "outputBucketUri",
    "accessLogBucket",
    "trainingServiceAccount",
}


def test_there_are_dev_staging_and_prod_stacks(stack_runs):
    assert {"dev", "staging", "prod"} <= set(stack_runs)


def test_stack_registers_the_platform(stack_run):
    types = {resource.type for resource in stack_run.resources}
    assert {
        "gcp:artifactregistry/repository:Repository",
        "gcp:storage/bucket:Bucket",
        "gcp:serviceaccount/account:Account",
        "gcp:projects/service:Service",
    } <= types


def test_stack_exports_every_output(stack_run):
    outputs = stack_run.plain_outputs
    assert EXPECTED_OUTPUTS <= set(outputs)
    assert outputs["dataBucketUri"] == f"gs://{outputs['dataBucket']}"
    assert outputs["outputBucketUri"] == f"gs://{outputs['outputBucket']}"
    region, project = outputs["region"], outputs["project"]
    assert outputs["repositoryUrl"] == f"{region}-docker.pkg.dev/{project}/training-images"
    assert outputs["trainingServiceAccount"].endswith(f"@{project}.iam.gserviceaccount.com")


def _locations(resource) -> list[str]:
    inputs = resource.plain_inputs
    found = [inputs[key] for key in ("location", "region") if key in inputs]
    if "cryptoKeyId" in inputs:
        found.append(inputs["cryptoKeyId"].split("/locations/")[1].split("/")[0])
    return found


def test_every_regional_resource_is_in_the_stack_region(stack_run):
    region = stack_run.plain_outputs["region"]
    regional = [resource for resource in stack_run.resources if _locations(resource)]
    # The provider, the repository and its grants, the buckets: all carry a location.
    assert len(regional) >= 5
    for resource in regional:
        assert {location.lower() for location in _locations(resource)} == {region}, resource.name


def test_every_resource_uses_the_stack_provider(stack_run):
    (provider,) = stack_run.of_type("pulumi:providers:gcp")
    assert provider.inputs["project"] == stack_run.plain_outputs["project"]
    for resource in stack_run.resources:
        if resource.custom and resource.type.startswith("gcp:"):
            assert resource.provider and resource.provider.startswith(provider.urn), resource.name


def test_every_google_resource_waits_for_the_apis(stack_run):
    service_urns = {service.urn for service in stack_run.of_type("gcp:projects/service:Service")}
    for resource in stack_run.resources:
        if resource.custom and resource.type.startswith("gcp:") and resource.parent:
            parent_type = resource.parent.split("::")[2]
            if parent_type.endswith("vtrain:services:ProjectServices"):
                continue
            assert service_urns & set(resource.dependencies), resource.name


def test_components_follow_the_token_convention(stack_run):
    components = [r for r in stack_run.resources if not r.custom and r.type.startswith("vtrain:")]
    assert len(components) >= 4
    for component in components:
        package, module, type_name = component.type.split(":")
        assert package == "vtrain" and module.islower() and type_name[0].isupper()
        assert component.urn in stack_run.component_outputs, "register_outputs not called"


def test_environments_differ_where_they_should(stack_runs):
    def buckets(stack):
        return stack_runs[stack].of_type("gcp:storage/bucket:Bucket")

    assert all(bucket.inputs["forceDestroy"] for bucket in buckets("dev"))
    assert not any(bucket.inputs["forceDestroy"] for bucket in buckets("prod"))
    assert all("encryption" in bucket.inputs for bucket in buckets("prod"))
    assert not any("encryption" in bucket.inputs for bucket in buckets("dev"))
    (prod_repository,) = stack_runs["prod"].of_type("gcp:artifactregistry/repository:Repository")
    assert prod_repository.inputs["dockerConfig"]["immutableTags"] is True


def test_stack_files_only_use_known_namespaces(stack_runs):
    for stack in stack_runs:
        keys = stack_file(stack)["config"]
        assert all(key.split(":")[0] in {NS, "gcp"} for key in keys), stack
