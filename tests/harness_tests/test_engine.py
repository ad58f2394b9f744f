"""The test engine hands the program its config as the Pulumi CLI would."""

from __future__ import annotations

import inspect
import json
import re

import pulumi_docker as docker
import pulumi_gcp as gcp
import pytest

from tests.harness.engine import COMPUTED, UNKNOWN, run_stack
from tests.harness.stack_config import StackConfigError, cli_config

NS = "vertex-training"


def test_values_are_strings_and_objects_are_json():
    values = cli_config("dev")
    assert values[f"{NS}:forceDestroy"] == "true"
    assert values[f"{NS}:keepRecentVersions"] == "3"
    assert json.loads(values[f"{NS}:buckets"])["output"]["deleteAfterDays"] == 30
    assert values["gcp:project"] == "acme-ml-dev"


def test_project_defaults_fill_unset_keys():
    values = cli_config("dev", {f"{NS}:keepRecentVersions": None})
    assert values[f"{NS}:keepRecentVersions"] == "10"  # Pulumi.yaml's default
    assert values[f"{NS}:kmsKeyName"] == ""


@pytest.mark.parametrize(
    "key, value, type_name",
    [
        (f"{NS}:forceDestroy", "yes", "boolean"),
        (f"{NS}:keepRecentVersions", "3", "integer"),
        (f"{NS}:keepRecentVersions", True, "integer"),
        (f"{NS}:deployers", "group:ml@acme.example", "array"),
        (f"{NS}:deployers", [1, 2], "array"),
        (f"{NS}:region", 5, "string"),
    ],
)
def test_declared_types_are_enforced_like_the_cli(key, value, type_name):
    with pytest.raises(StackConfigError, match=f"'{key}' must be of type '{type_name}'"):
        run_stack("dev", {key: value})


def test_secure_values_need_an_override():
    with pytest.raises(StackConfigError, match="encrypted"):
        cli_config("dev", {"gcp:project": {"secure": "v1:abc"}})


@pytest.mark.parametrize("preview", [True, False])
def test_preview_mode_reaches_the_program(tmp_path, preview):
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi\npulumi.export('dry', pulumi.runtime.is_dry_run())\n")
    assert run_stack("dev", preview=preview, program=program).outputs == {"dry": preview}


def test_unanswered_invokes_fail_loudly(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi_gcp as gcp\ngcp.compute.get_zones(region='us-central1')\n")
    with pytest.raises(Exception, match="does not answer invoke 'gcp:compute/getZones"):
        run_stack("dev", program=program)


# ---- preview: the first preview of a new stack -------------------------------------------

_ACCOUNT_PROGRAM = """
import pulumi
import pulumi_gcp as gcp

account = gcp.serviceaccount.Account("sa", account_id="trainer", project="acme-ml-dev")
pulumi.export("accountId", account.account_id)
pulumi.export("email", account.email)
pulumi.export("id", account.id)
pulumi.export("derived", pulumi.Output.concat(account.account_id, "/", account.email))
pulumi.export("spec", {"sa": account.email, "machine": "n1-standard-4"})
"""


@pytest.mark.parametrize("preview", [True, False])
def test_a_preview_knows_the_inputs_and_not_what_the_provider_computes(tmp_path, preview):
    """In a first preview the Account's e-mail and ID do not exist yet; its account ID, an
    input, is shown. The program sees the unknowns and so does what it derives from them."""
    program = tmp_path / "__main__.py"
    program.write_text(_ACCOUNT_PROGRAM)
    run = run_stack("dev", preview=preview, program=program)
    email = "trainer@acme-ml-dev.iam.gserviceaccount.com"
    assert run.outputs == (
        {
            "accountId": "trainer",
            "email": UNKNOWN,
            "id": UNKNOWN,
            "derived": UNKNOWN,
            "spec": {"sa": UNKNOWN, "machine": "n1-standard-4"},
        }
        if preview
        else {
            "accountId": "trainer",
            "email": email,
            "id": "sa-id",
            "derived": f"trainer/{email}",
            "spec": {"sa": email, "machine": "n1-standard-4"},
        }
    )
    (account,) = run.of_type("gcp:serviceaccount/account:Account")
    assert account.inputs == {"accountId": "trainer", "project": "acme-ml-dev"}
    assert (account.id is None) is preview


def test_the_computed_outputs_are_the_providers_output_only_properties():
    """`COMPUTED` (what the mocks compute, hence unknown in a preview) names properties the
    provider SDKs declare on the resource but not in its Args: never an input echoed back."""
    classes = {
        "docker:index/image:Image": (docker.Image, docker.ImageArgs),
        "gcp:storage/bucket:Bucket": (gcp.storage.Bucket, gcp.storage.BucketArgs),
        "gcp:serviceaccount/account:Account": (
            gcp.serviceaccount.Account,
            gcp.serviceaccount.AccountArgs,
        ),
        "gcp:projects/serviceIdentity:ServiceIdentity": (
            gcp.projects.ServiceIdentity,
            gcp.projects.ServiceIdentityArgs,
        ),
        "gcp:artifactregistry/repository:Repository": (
            gcp.artifactregistry.Repository,
            gcp.artifactregistry.RepositoryArgs,
        ),
    }
    assert set(COMPUTED) == set(classes)
    for type_token, names in COMPUTED.items():
        resource_class, args_class = classes[type_token]
        arguments = inspect.signature(args_class.__init__).parameters
        for name in names:
            python_name = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            assert isinstance(getattr(resource_class, python_name, None), property), name
            assert python_name not in arguments, f"{type_token}.{name} is an input"


def test_an_update_returns_exactly_the_computed_outputs_and_a_preview_none(stack_run):
    """The mocks compute `COMPUTED` on update, and nothing else; a preview of the same stack
    registers the same resources, with none of them and no ID (a provider's: the marker)."""
    previews = {r.urn: r for r in run_stack(stack_run.stack, preview=True).resources}
    assert set(previews) == {r.urn for r in stack_run.resources}
    for updated in stack_run.resources:
        previewed = previews[updated.urn]
        if not updated.custom or updated.type.startswith("pulumi-python:dynamic"):
            continue
        computed = COMPUTED.get(updated.type, set())
        assert set(updated.outputs) - set(updated.inputs) == computed, updated.name
        assert not computed & set(previewed.outputs), previewed.name
        if updated.type.startswith("pulumi:providers:"):
            assert previewed.id == UNKNOWN  # the engine's providers.UnknownID
        else:
            assert previewed.id is None and updated.id, previewed.name


def test_a_preview_refuses_no_grant_a_new_project_would_refuse_at_update():
    """Nothing is created during a preview, so IAM has nothing to refuse yet."""
    no_jobs = {f"{NS}:grantServiceAgentRegistryRead": True, f"{NS}:jobs": []}
    with pytest.raises(StackConfigError, match="does not exist"):
        run_stack("dev", no_jobs)
    run = run_stack("dev", no_jobs, preview=True)
    assert (
        run.named("training-agent-registry-reader")
        .inputs["member"]
        .startswith("serviceAccount:service-")
    )
