"""Bad stack config fails with one clear message, before any resource is registered."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, validate_settings
from tests.config.test_loader import VALID
from tests.harness.engine import run_stack

NS = "vertex-training"
EU_KEY = "projects/acme-ml-dev/locations/europe-west4/keyRings/r/cryptoKeys/k"

# (stack-file overrides, the message the user must see). Each message names the key path,
# the bad value and what is allowed.
BAD_CONFIGS = {
    "region typo": (
        {f"{NS}:region": "us-centrall"},
        f"{NS}:region: 'us-centrall' is not a Vertex AI region; did you mean 'us-central1'?",
    ),
    "region upper case": (
        {f"{NS}:region": "US-EAST4"},
        f"{NS}:region: 'US-EAST4' is not a Vertex AI region; did you mean 'us-east4'?",
    ),
    "region without Vertex AI": (
        {f"{NS}:region": "mars-north1"},
        f"{NS}:region: 'mars-north1' is not a Vertex AI region",
    ),
    "provider region elsewhere": (
        {"gcp:region": "us-east1"},
        f"gcp:region: 'us-east1' differs from {NS}:region 'us-central1'",
    ),
    "project missing": ({"gcp:project": None}, "gcp:project: required but not set"),
    "project malformed": (
        {"gcp:project": "Acme_ML"},
        "gcp:project: 'Acme_ML' is not a Google Cloud project ID",
    ),
    "unknown key": (
        {f"{NS}:regoin": "us-central1"},
        f"{NS}:regoin: unknown key; did you mean 'region'?",
    ),
    "kms key malformed": (
        {f"{NS}:kmsKeyName": "my-key"},
        f"{NS}:kmsKeyName: 'my-key' is not a Cloud KMS key name",
    ),
    "kms key in another region": (
        {f"{NS}:kmsKeyName": EU_KEY},
        f"{NS}:kmsKeyName: key location 'europe-west4' is not the stack's region 'us-central1'",
    ),
    "repository id malformed": (
        {f"{NS}:repositoryId": "Training_Images"},
        f"{NS}:repositoryId: 'Training_Images' is not an Artifact Registry repository ID",
    ),
    "keep zero versions": (
        {f"{NS}:keepRecentVersions": 0},
        f"{NS}:keepRecentVersions: 0 is not allowed: Input should be greater than or equal to 1",
    ),
    "negative untagged age": (
        {f"{NS}:deleteUntaggedAfterDays": -3},
        f"{NS}:deleteUntaggedAfterDays: -3 is not allowed: Input should be greater than or equal",
    ),
    "public deployer": (
        {f"{NS}:deployers": ["allUsers"]},
        f"{NS}:deployers[0]: 'allUsers' is public; deployers must be named principals",
    ),
    "deployer without type": (
        {f"{NS}:deployers": ["group:ml@acme.example", "bob@acme.example"]},
        f"{NS}:deployers[1]: 'bob@acme.example' is not an IAM principal; use one of 'user:...'",
    ),
    "compute default service account deployer": (
        {f"{NS}:deployers": ["serviceAccount:1234-compute@developer.gserviceaccount.com"]},
        "is the Compute Engine default service account; not allowed",
    ),
    "label key upper case": (
        {f"{NS}:labels": {"Team": "ml"}},
        f"{NS}:labels: label key 'Team' is invalid",
    ),
    "label value with spaces": (
        {f"{NS}:labels": {"team": "ML Platform"}},
        f"{NS}:labels: label 'team' has value 'ML Platform'; values are lowercase letters",
    ),
    "reserved label": (
        {f"{NS}:labels": {"vtrain-stack": "other"}},
        f"{NS}:labels: label key 'vtrain-stack' is reserved",
    ),
    "labels not an object": (
        {f"{NS}:labels": "team=ml"},
        f"{NS}:labels: 'team=ml' is not allowed: Input should be a valid dictionary",
    ),
    "unknown bucket": (
        {f"{NS}:buckets": {"dta": {}}},
        f"{NS}:buckets.dta: unknown key; did you mean 'data'? (allowed: accessLogs, data, output)",
    ),
    "unknown lifecycle key": (
        {f"{NS}:buckets": {"data": {"maxAgeDays": 3}}},
        f"{NS}:buckets.data.maxAgeDays: unknown key",
    ),
    "zero noncurrent versions": (
        {f"{NS}:buckets": {"data": {"noncurrentVersionsToKeep": 0}}},
        f"{NS}:buckets.data.noncurrentVersionsToKeep: 0 is not allowed",
    ),
    "lifecycle days as text": (
        {f"{NS}:buckets": {"output": {"deleteAfterDays": "30"}}},
        f"{NS}:buckets.output.deleteAfterDays: '30' is not allowed: Input should be a valid int",
    ),
    "versions rule on unversioned log bucket": (
        {f"{NS}:buckets": {"accessLogs": {"noncurrentVersionsToKeep": 2}}},
        "accessLogs: the access-log bucket is not versioned",
    ),
}


@pytest.mark.parametrize("overrides, message", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_rejected_before_any_resource(overrides, message):
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", overrides)
    assert message in str(raised.value)
    assert raised.value.stack_run.resources == []


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:keepRecentVersions": 0, f"{NS}:deployers": ["bob"]})
    message = str(raised.value)
    assert f"{NS}:keepRecentVersions" in message and f"{NS}:deployers[0]" in message


def test_stack_name_must_fit_resource_names():
    with pytest.raises(ConfigError, match="stack name 'Prod_EU' must be 1-20 lowercase"):
        validate_settings({"pulumi:stack": "Prod_EU", "gcp:project": "acme-ml-prod"})


def test_config_error_is_a_run_error_so_the_cli_prints_no_traceback():
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_good_overrides_are_applied():
    run = run_stack("dev", {f"{NS}:keepRecentVersions": 7})
    (repository,) = run.of_type("gcp:artifactregistry/repository:Repository")
    keep = repository.inputs["cleanupPolicies"][0]["mostRecentVersions"]["keepCount"]
    assert keep == 7


def test_principals_in_the_reserved_example_domain_are_warned_about_at_preview():
    run = run_stack("dev")
    assert [w for w in run.warnings if "reserved .example domain" in w] == [
        f"{NS}:deployers[0]: 'group:ml-engineers@acme.example' is in the reserved .example "
        "domain (RFC 2606) and can never exist, so its IAM grant will fail; point the stack "
        "at your own principals (README: Use your own project)"
    ]
    mine = run_stack("dev", {f"{NS}:deployers": ["group:ml@corp.example.com"]})
    assert not [w for w in mine.warnings if "reserved .example domain" in w]


# ---- rules between keys, and warnings, on the model itself (no engine) ------------------


def _settings(**overrides):
    return validate_settings({**VALID, **{f"{NS}:{k}": v for k, v in overrides.items()}})


def _problem(**overrides) -> str:
    with pytest.raises(ConfigError) as raised:
        _settings(**overrides)
    header, problem = str(raised.value).split("\n  ")
    return problem


JOB = {
    "name": "j",
    "image": "penguins-cpu",
    "args": {"train-data": "gs://d/t.csv", "val-data": "gs://d/v.csv"},
}


def test_jobs_without_sample_data_must_name_their_data():
    assert _problem(uploadSampleData=False, jobs=[JOB, {"name": "k", "image": "penguins-cpu"}]) == (
        f"{NS}:jobs[1].args: set train-data, val-data (gs:// URIs of your data); "
        f"{NS}:uploadSampleData is false, so there is no sample data"
    )
    assert _settings(uploadSampleData=False, jobs=[JOB]).jobs[0].name == "j"
    # The sample data is the penguins app's: an app without data flags needs none.
    linreg = {"name": "k", "image": "linreg-cpu"}
    settings = _settings(uploadSampleData=False, images=["linreg-cpu"], jobs=[linreg])
    assert settings.jobs[0].args == {}


def test_a_reserved_label_on_a_job_is_named_with_the_jobs_path():
    assert _problem(jobs=[JOB, {**JOB, "name": "k", "labels": {"vtrain-stack": "x"}}]) == (
        f"{NS}:jobs[1].labels: label key 'vtrain-stack' is reserved (prefix 'vtrain-')"
    )


@pytest.mark.parametrize(
    "endpoint", ["us-central1-aiplatform.googleapis.com", "vertex.p.example.internal:443"]
)
def test_the_stacks_regional_endpoint_or_a_private_one_is_accepted(endpoint):
    assert _settings(apiEndpoint=endpoint).api_endpoint == endpoint


def test_an_api_endpoint_that_is_not_a_host_is_rejected():
    assert _problem(apiEndpoint="https://vertex.example/v1") == (
        f"{NS}:apiEndpoint: 'https://vertex.example/v1' is not a host name (e.g. "
        "us-central1-aiplatform.googleapis.com or a Private Service Connect endpoint)"
    )


def test_an_image_listed_twice_is_rejected():
    assert _problem(images=["penguins-cpu", "penguins-gpu", "penguins-cpu"]) == (
        f"{NS}:images: ['penguins-cpu', 'penguins-gpu', 'penguins-cpu'] lists an entry twice"
    )


@pytest.mark.parametrize(
    "image, suggestion",
    [
        ("penguins-gpus", "; did you mean 'penguins-gpu'?"),  # unknown flavour
        ("penguin-cpu", "; did you mean 'penguins-cpu'?"),  # unknown app
        ("linreg-gpu", "; did you mean 'linreg-cpu'?"),  # a flavour the app does not ship
        ("gpu", ""),  # the flavour alone, as stacks named images before apps
    ],
)
def test_an_unknown_image_gets_the_allowed_ones_and_a_suggestion(image, suggestion):
    assert _problem(images=["penguins-cpu", image]) == (
        f"{NS}:images[1]: {image!r} is not an image of an app in images/; allowed: linreg-cpu, "
        f"penguins-cpu, penguins-gpu{suggestion}"
    )


def test_the_images_of_several_apps_may_be_built_by_one_stack():
    images = ["penguins-cpu", "linreg-cpu", "penguins-gpu"]
    assert _settings(images=images, registryAuth="docker-config").images == images


def test_an_empty_kms_key_means_google_managed_keys():
    assert _settings(kmsKeyName="").kms_key_name is None
    key = "projects/acme-ml-dev/locations/us-central1/keyRings/r/cryptoKeys/k"
    assert _settings(kmsKeyName=key).kms_key_name == key


def test_the_up_identity_is_a_job_submitter_once():
    ci = "serviceAccount:ci@acme-ml-dev.iam.gserviceaccount.com"
    group = "group:ml@acme.com"
    assert _settings(deployers=[group], upIdentity=ci).job_submitters == [group, ci]
    assert _settings(deployers=[ci, group], upIdentity=ci).job_submitters == [ci, group]
    assert _settings(deployers=[group], upIdentity="").job_submitters == [group]


def test_an_up_identity_in_the_example_domain_is_warned_about():
    warnings = _settings(upIdentity="serviceAccount:ci@acme.example").warnings()
    assert warnings == [
        f"{NS}:upIdentity: 'serviceAccount:ci@acme.example' is in the reserved .example "
        "domain (RFC 2606) and can never exist, so its IAM grant will fail; point the stack "
        "at your own principals (README: Use your own project)"
    ]


def test_token_auth_is_warned_about_only_with_a_gpu_image():
    assert _settings(images=["penguins-cpu", "linreg-cpu"]).warnings() == []
    assert _settings(images=["penguins-cpu", "penguins-gpu"]).warnings() == [
        f"{NS}:registryAuth: 'token' with a GPU image: the access token is read when the "
        "program starts and lasts about an hour, and a GPU build can outlast it, so the push "
        "would fail unauthenticated; set registryAuth: docker-config after "
        "`gcloud auth configure-docker <region>-docker.pkg.dev`"
    ]
    assert _settings(images=["penguins-gpu"], registryAuth="docker-config").warnings() == []


@pytest.mark.parametrize(
    "overrides, problem",
    [
        (
            {"gcp:project": "acme"},
            "gcp:project: 'acme' is not a Google Cloud project ID "
            "(6-30 characters: lowercase letters, digits, hyphens; starts with a letter)",
        ),
        (
            {f"{NS}:repositoryId": "-images"},
            f"{NS}:repositoryId: '-images' is not an Artifact Registry repository ID "
            "(lowercase letters, digits, hyphens; starts with a letter; at most 63)",
        ),
        (
            {"pulumi:stack": "a" * 21},
            f"pulumi:stack: stack name {'a' * 21!r} must be 1-20 lowercase letters, digits or "
            "hyphens, starting with a letter (it names buckets, labels and the service "
            "account; at most 20 keeps every bucket name within 63 characters)",
        ),
        (
            {f"{NS}:deployers": ["user:"]},
            f"{NS}:deployers[0]: 'user:' is not an IAM principal; use one of 'user:...', "
            "'group:...', 'serviceAccount:...', 'principal://...', 'principalSet://...'",
        ),
        (
            {f"{NS}:jobs": [JOB, {**JOB, "name": "k"}, JOB, {**JOB, "name": "k"}]},
            f"{NS}:jobs: job names repeat: j, k",
        ),
    ],
    ids=["project id", "repository id", "stack name", "principal without a name", "job names"],
)
def test_a_malformed_value_is_told_what_is_allowed(overrides, problem):
    with pytest.raises(ConfigError) as raised:
        validate_settings({**VALID, **overrides})
    assert str(raised.value).split("\n  ")[1:] == [problem]


def test_no_analytics_writer_grant_is_warned_about():
    assert _settings(grantStorageAnalyticsWriter=False).warnings() == [
        f"{NS}:grantStorageAnalyticsWriter: false, so Cloud Storage cannot deliver usage logs "
        "to the access-log bucket until group:cloud-storage-analytics@google.com may create "
        "objects there (an organization policy exception); Data Access audit logs record the "
        "same reads and writes meanwhile (README: Organization policies)"
    ]
