"""ProjectServices enables what the README says the stack needs, and never disables shared APIs.

The APIs are written out here as the README's component table lists them, not taken from
components/services.py: a change to the code or to the README alone fails.
"""

import re

from tests.harness.stack_config import PROJECT_DIR, cli_config

NS = "vertex-training"
# The README's row for vtrain:services:ProjectServices: "Enables aiplatform, artifactregistry,
# cloudresourcemanager, containerscanning, iam, storage (and cloudkms with CMEK)."
README_APIS = {
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "containerscanning.googleapis.com",
    "iam.googleapis.com",
    "storage.googleapis.com",
}
README_CMEK_APIS = {"cloudkms.googleapis.com"}


def _services(run):
    return {s.inputs["service"]: s for s in run.of_type("gcp:projects/service:Service")}


def test_the_readme_lists_these_apis():
    readme = (PROJECT_DIR / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| `vtrain:services:")]
    listed = re.search(r"Enables ([a-z, ]+) \(and ([a-z, ]+) with CMEK\)", row)
    assert listed, row

    def apis(names: str) -> set[str]:
        return {f"{name.strip()}.googleapis.com" for name in names.split(",")}

    assert (apis(listed[1]), apis(listed[2])) == (README_APIS, README_CMEK_APIS)


def test_exactly_the_readmes_apis_are_enabled_and_kept_on_destroy(stack_run):
    config = cli_config(stack_run.stack)
    services = _services(stack_run)
    cmek = README_CMEK_APIS if config[f"{NS}:kmsKeyName"] else set()
    assert set(services) == README_APIS | cmek
    for service in services.values():
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["project"] == config["gcp:project"]


def test_cloud_kms_only_where_cmek_is_used(stack_runs):
    assert README_CMEK_APIS <= set(_services(stack_runs["prod"]))
    assert not README_CMEK_APIS & set(_services(stack_runs["dev"]))
