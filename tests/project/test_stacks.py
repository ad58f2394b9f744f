"""Every shipped stack evaluates, stays in one region, and exports what users need."""

from __future__ import annotations

from tests.harness.stack_config import cli_config, project_file, stack_file

NS = "vertex-training"
JOB_TYPES = (
    "pulumi-python:dynamic/vtrain/jobs:CustomJob",
    "pulumi-python:dynamic/vtrain/jobs:HyperparameterTuningJob",
)
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
    """Each output against the stack's config and the resource it names, not against
    another output the program computes from the same setting."""
    outputs = stack_run.plain_outputs
    assert EXPECTED_OUTPUTS <= set(outputs)
    config = cli_config(stack_run.stack)
    region, project = config[f"{NS}:region"], config["gcp:project"]
    assert (outputs["region"], outputs["project"]) == (region, project)
    buckets = {
        bucket.plain_inputs["labels"]["vtrain-bucket-role"]: bucket.plain_inputs["name"]
        for bucket in stack_run.of_type("gcp:storage/bucket:Bucket")
    }
    assert outputs["dataBucket"] == buckets["data"] == f"{project}-{stack_run.stack}-data"
    assert outputs["outputBucket"] == buckets["output"] == f"{project}-{stack_run.stack}-output"
    assert outputs["accessLogBucket"] == buckets["access-logs"]
    assert outputs["dataBucketUri"] == f"gs://{buckets['data']}"
    assert outputs["outputBucketUri"] == f"gs://{buckets['output']}"
    repository_id = config[f"{NS}:repositoryId"]
    assert outputs["repositoryUrl"] == f"{region}-docker.pkg.dev/{project}/{repository_id}"
    (account,) = stack_run.of_type("gcp:serviceaccount/account:Account")
    assert outputs["trainingServiceAccount"] == account.outputs["email"]


def _locations(resource) -> list[str]:
    inputs = resource.plain_inputs
    found = [inputs[key] for key in ("location", "region") if key in inputs]
    if "cryptoKeyId" in inputs:
        found.append(inputs["cryptoKeyId"].split("/locations/")[1].split("/")[0])
    return found


def test_every_regional_resource_is_in_the_stack_region(stack_run):
    region = cli_config(stack_run.stack)[f"{NS}:region"]
    regional = [resource for resource in stack_run.resources if _locations(resource)]
    # The provider, the repository and its grants, the buckets: all carry a location.
    assert len(regional) >= 5
    for resource in regional:
        assert {location.lower() for location in _locations(resource)} == {region}, resource.name


def test_every_resource_uses_the_stack_provider(stack_run):
    (provider,) = stack_run.of_type("pulumi:providers:gcp")
    config = cli_config(stack_run.stack)
    assert provider.inputs["project"] == config["gcp:project"]
    assert provider.inputs["region"] == config[f"{NS}:region"]
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

    assert [bucket.inputs["forceDestroy"] for bucket in buckets("dev")] == [True] * 3
    assert [bucket.inputs["forceDestroy"] for bucket in buckets("prod")] == [False] * 3
    assert ["encryption" in bucket.inputs for bucket in buckets("prod")] == [True] * 3
    assert ["encryption" in bucket.inputs for bucket in buckets("dev")] == [False] * 3
    (prod_repository,) = stack_runs["prod"].of_type("gcp:artifactregistry/repository:Repository")
    assert prod_repository.inputs["dockerConfig"]["immutableTags"] is True


def test_stack_files_only_use_known_namespaces(stack_runs):
    for stack in stack_runs:
        keys = stack_file(stack)["config"]
        assert all(key.split(":")[0] in {NS, "gcp"} for key in keys), stack


def _stack_labels(stack: str) -> dict[str, str]:
    """The labels README promises on every labelled resource: the stack's own, plus the
    three that identify it."""
    return {
        **stack_file(stack)["config"].get(f"{NS}:labels", {}),
        "managed-by": "pulumi",
        "vtrain-project": project_file()["name"],
        "vtrain-stack": stack,
    }


def test_every_labelled_resource_carries_the_stack_labels(stack_run):
    """Each bucket, the repository and each job, with nothing dropped or overridden."""
    expected = _stack_labels(stack_run.stack)
    buckets = {
        bucket.name.removeprefix("buckets-"): bucket.plain_inputs["labels"]
        for bucket in stack_run.of_type("gcp:storage/bucket:Bucket")
    }
    assert buckets == {
        role: {**expected, "vtrain-bucket-role": role} for role in ("data", "output", "access-logs")
    }
    (repository,) = stack_run.of_type("gcp:artifactregistry/repository:Repository")
    assert repository.plain_inputs["labels"] == expected
    configured = stack_file(stack_run.stack)["config"].get(f"{NS}:jobs", [])
    jobs = {job.name: job for job in stack_run.resources if job.type in JOB_TYPES}
    assert sorted(jobs) == sorted(job["name"] for job in configured)
    for job in configured:
        labels = {**expected, **job.get("labels", {}), "vtrain-job": job["name"]}
        assert jobs[job["name"]].plain_inputs["labels"] == labels
    for resource in stack_run.resources:  # and any resource labelled later
        labels = resource.plain_inputs.get("labels")
        if labels is not None:
            assert expected.items() <= labels.items(), resource.name
