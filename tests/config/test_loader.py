"""How a config problem reads: one line per problem, each naming the key path, the value
and what is allowed. `validate_settings` is the loader's pure half; the CLI hand-off
(`load_settings`) runs through the engine."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, validate_settings
from tests.harness.engine import run_stack

NS = "vertex-training"
# A stack config as the CLI hands it over once Pulumi.yaml's defaults are applied.
VALID = {
    "pulumi:stack": "dev",
    "gcp:project": "acme-ml-dev",
    f"{NS}:region": "us-central1",
    f"{NS}:forceDestroy": False,
    f"{NS}:kmsKeyName": "",
    f"{NS}:repositoryId": "training-images",
    f"{NS}:immutableTags": False,
    f"{NS}:keepRecentVersions": 10,
    f"{NS}:deleteUntaggedAfterDays": 14,
    f"{NS}:grantServiceAgentRegistryRead": False,
    f"{NS}:deployers": [],
    f"{NS}:images": ["penguins-cpu"],
    f"{NS}:registryAuth": "token",
    f"{NS}:upIdentity": "serviceAccount:ci@acme-ml-dev.iam.gserviceaccount.com",
    f"{NS}:grantStorageAnalyticsWriter": True,
    f"{NS}:uploadSampleData": True,
    f"{NS}:apiEndpoint": "",
    f"{NS}:target": "gcp",
    f"{NS}:emulatorHost": "",
    f"{NS}:storageEmulatorHost": "",
}
EPOCHS = {"id": "epochs", "type": "integer", "min": 1, "max": 5}


def _problems(overrides: dict) -> list[str]:
    """The problem lines the user sees for VALID with `overrides` (full keys; None unsets)."""
    raw = {key: value for key, value in {**VALID, **overrides}.items() if value is not None}
    with pytest.raises(ConfigError) as raised:
        validate_settings(raw)
    header, *lines = str(raised.value).split("\n")
    assert header == "invalid stack config:"
    assert lines and all(line.startswith("  ") for line in lines)
    return [line[2:] for line in lines]


def _job_problems(**job) -> list[str]:
    return _problems({f"{NS}:jobs": [{"name": "j", "image": "penguins-cpu", **job}]})


def test_the_valid_config_is_accepted():
    settings = validate_settings(VALID)
    assert (settings.stack, settings.project, settings.region) == (
        "dev",
        "acme-ml-dev",
        "us-central1",
    )


# ---- our own rules: the message already names its key --------------------------------


def test_a_rule_about_a_gcp_key_names_that_key_alone():
    assert _problems({"gcp:region": "us-east1"}) == [
        f"gcp:region: 'us-east1' differs from {NS}:region 'us-central1'; every regional "
        "resource must be in 'us-central1' (remove gcp:region or set it to the same region)"
    ]


def test_a_rule_about_a_project_key_names_that_key_alone():
    assert _problems({f"{NS}:kmsKeyName": "my-key"}) == [
        f"{NS}:kmsKeyName: 'my-key' is not a Cloud KMS key name "
        "(projects/P/locations/L/keyRings/R/cryptoKeys/K)"
    ]


def test_a_rule_of_a_section_is_prefixed_with_the_sections_path():
    assert _problems({f"{NS}:buckets": {"accessLogs": {"noncurrentVersionsToKeep": 2}}}) == [
        f"{NS}:buckets: accessLogs: the access-log bucket is not versioned, so "
        "noncurrent-version rules do not apply; allowed key is deleteAfterDays"
    ]


def test_a_field_rule_names_the_fields_path_with_list_indexes_in_brackets():
    assert _problems({f"{NS}:deployers": ["user:a@acme.com", "allUsers"]}) == [
        f"{NS}:deployers[1]: 'allUsers' is public; deployers must be named principals"
    ]


# ---- pydantic's own errors: path, value, what is allowed --------------------------------


def test_a_missing_key_is_reported_as_required():
    assert _problems({"gcp:project": None}) == ["gcp:project: required but not set"]


def test_a_value_of_the_wrong_type_quotes_the_value_and_the_rule():
    assert _problems({f"{NS}:registryAuth": "oauth"}) == [
        f"{NS}:registryAuth: 'oauth' is not allowed: Input should be 'token' or 'docker-config'"
    ]


def test_every_problem_gets_its_own_line():
    problems = _problems({f"{NS}:keepRecentVersions": 0, f"{NS}:deployers": ["bob"]})
    assert [line.split(": ", 1)[0] for line in problems] == [
        f"{NS}:keepRecentVersions",
        f"{NS}:deployers[0]",
    ]


# ---- unknown keys ---------------------------------------------------------------------


def test_unknown_project_keys_are_all_reported_with_the_closest_known_key():
    assert _problems({f"{NS}:regoin": "us-central1", f"{NS}:zzz": 1}) == [
        f"{NS}:regoin: unknown key; did you mean 'region'?",
        f"{NS}:zzz: unknown key",
    ]


def test_an_unknown_key_of_another_namespace_lists_the_stack_keys():
    (problem,) = _problems({"gcp:zone": "us-central1-a"})
    assert problem.startswith(
        "gcp:zone: unknown key; did you mean 'gcp:region'? (allowed: gcp:project, gcp:region, "
        f"pulumi:stack, {NS}:apiEndpoint, "
    )


@pytest.mark.parametrize(
    "job, problem",
    [
        (
            {"workerPools": [{}, {"machineTyp": "n1-standard-4"}]},
            "jobs[0].workerPools[1].machineTyp: unknown key; did you mean 'machineType'? "
            "(allowed: acceleratorCount, acceleratorType, bootDiskSizeGb, bootDiskType, "
            "machineType, replicaCount, reservationAffinity, tpuTopology)",
        ),
        (  # inside an optional section
            {"wait": {"timeout": 60}},
            "jobs[0].wait.timeout: unknown key; did you mean 'timeoutSeconds'? "
            "(allowed: timeoutSeconds, untilTerminal)",
        ),
        (  # two optional sections deep
            {"study": {"maxTrialCount": 2, "parameters": [EPOCHS], "metric": {"goall": "x"}}},
            "jobs[0].study.metric.goall: unknown key; did you mean 'goal'? (allowed: goal, id)",
        ),
        (
            {"study": {"maxTrialCount": 2, "parameters": [{**EPOCHS, "scal": "log"}]}},
            "jobs[0].study.parameters[0].scal: unknown key; did you mean 'scale'? "
            "(allowed: conditional, id, max, min, scale, type, values)",
        ),
    ],
    ids=["list of sections", "optional section", "nested optional", "parameter"],
)
def test_an_unknown_key_in_a_job_lists_the_keys_of_its_section(job, problem):
    assert _job_problems(**job) == [f"{NS}:{problem}"]


def test_an_unknown_key_with_nothing_close_lists_the_allowed_keys_only():
    assert _problems({f"{NS}:buckets": {"logs": {}}}) == [
        f"{NS}:buckets.logs: unknown key (allowed: accessLogs, data, output)"
    ]


# ---- the CLI hand-off -------------------------------------------------------------------


def test_values_the_cli_passes_as_json_text_are_decoded_and_text_keys_are_not():
    run = run_stack("dev", {f"{NS}:keepRecentVersions": 7, f"{NS}:repositoryId": "images-2024"})
    (repository,) = run.of_type("gcp:artifactregistry/repository:Repository")
    assert repository.inputs["repositoryId"] == "images-2024"
    assert repository.inputs["cleanupPolicies"][0]["mostRecentVersions"]["keepCount"] == 7


def test_a_text_key_that_looks_like_json_stays_text():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:repositoryId": "2024"})
    assert f"{NS}:repositoryId: '2024' is not an Artifact Registry repository ID" in str(
        raised.value
    )
    assert raised.value.stack_run.resources == []


def test_warnings_are_logged_at_preview():
    run = run_stack("dev", {f"{NS}:grantStorageAnalyticsWriter": False})
    assert any(w.startswith(f"{NS}:grantStorageAnalyticsWriter: false") for w in run.warnings)
