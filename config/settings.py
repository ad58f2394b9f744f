# Over 400 lines: the one model of the whole stack config, with its cross-key rules.
"""The whole stack config as one typed, validated model: `StackSettings`.

`config.loader.load_settings()` reads the stack's config and validates it against this
model before `__main__` registers a single resource; each rule here names the key path,
the value and what is allowed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.alias_generators import to_camel

from config import apps, catalogue
from config.base import ConfigSection, suggest
from config.job_features import placement_problems
from config.jobs import Jobs
from config.persistent_resource import PersistentResourceSettings

NAMESPACE = "vertex-training"
STACK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# RFC 2606's reserved documentation domain: the shipped stacks' principals live there.
RESERVED_EXAMPLE_DOMAIN = ".example"
# Labels the program sets itself; a stack may not override them.
RESERVED_LABEL_PREFIX = "vtrain-"


def _vertex_region(region: str) -> str:
    if region not in catalogue.VERTEX_AI_REGIONS:
        raise ValueError(
            f"{region!r} is not a Vertex AI region{suggest(region, catalogue.VERTEX_AI_REGIONS)}"
        )
    return region


def _project_id(project: str) -> str:
    if not catalogue.PROJECT_ID_PATTERN.match(project):
        raise ValueError(
            f"{project!r} is not a Google Cloud project ID "
            "(6-30 characters: lowercase letters, digits, hyphens; starts with a letter)"
        )
    return project


def _repository_id(repository_id: str) -> str:
    if not catalogue.REPOSITORY_ID_PATTERN.match(repository_id):
        raise ValueError(
            f"{repository_id!r} is not an Artifact Registry repository ID "
            "(lowercase letters, digits, hyphens; starts with a letter; at most 63)"
        )
    return repository_id


def _member(member: str) -> str:
    if member in catalogue.PUBLIC_MEMBERS:
        raise ValueError(f"{member!r} is public; deployers must be named principals")
    if not member.startswith(catalogue.MEMBER_PREFIXES) or member.endswith(":"):
        raise ValueError(
            f"{member!r} is not an IAM principal; use one of "
            + ", ".join(f"'{prefix}...'" for prefix in catalogue.MEMBER_PREFIXES)
        )
    if member.endswith(catalogue.COMPUTE_DEFAULT_SERVICE_ACCOUNT_SUFFIX):
        raise ValueError(f"{member!r} is the Compute Engine default service account; not allowed")
    return member


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError(f"{values!r} lists an entry twice")
    return values


def _stack_name(stack: str) -> str:
    if not STACK_NAME_PATTERN.match(stack):
        raise ValueError(
            f"stack name {stack!r} must be 1-20 lowercase letters, digits or hyphens, "
            "starting with a letter (it names buckets, labels and the service account; "
            "at most 20 keeps every bucket name within 63 characters)"
        )
    return stack


def _labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if key.startswith(RESERVED_LABEL_PREFIX):
            raise ValueError(f"label key {key!r} is reserved (prefix {RESERVED_LABEL_PREFIX!r})")
        problem = catalogue.label_problem(key, value)
        if problem:
            raise ValueError(problem)
    return labels


# Keys a local stack refuses: each asks for something only Google Cloud does (encryption
# keys, IAM grants, a private endpoint, a persistent resource), and a stack that silently
# ran without it would mislead. The keys that only tune cloud resources a local stack does
# not create (repositoryId, immutableTags, cleanup, registryAuth, grantStorageAnalyticsWriter,
# buckets) are ignored: the CLI passes their Pulumi.yaml defaults to every stack, so the
# program cannot tell them from values a stack file sets.
LOCAL_REFUSED_KEYS = {
    "kmsKeyName": "customer-managed encryption keys are Cloud KMS keys",
    "deployers": "there is no IAM to grant anything to",
    "upIdentity": "there is no IAM: the emulator runs jobs as the user who started it",
    "grantServiceAgentRegistryRead": "there is no registry and no service agent",
    "apiEndpoint": "jobs go to emulatorHost",
    "persistentResource": "there are no Vertex AI machines to reserve",
}
EMULATOR_HOST_PATTERN = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):[0-9]{1,5}$")
STORAGE_EMULATOR_URL_PATTERN = re.compile(
    r"^https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):[0-9]{1,5}/?$"
)


def _local_target_problems(settings: StackSettings) -> list[str]:
    """What a `target: local` stack sets that cannot work on one machine."""
    problems = []
    refused = {
        "kmsKeyName": settings.kms_key_name,
        "deployers": settings.deployers,
        "upIdentity": settings.up_identity,
        "grantServiceAgentRegistryRead": settings.grant_service_agent_registry_read,
        "apiEndpoint": settings.api_endpoint,
        "persistentResource": settings.persistent_resource,
    }
    for key, value in refused.items():
        if value:
            shown = "a section" if isinstance(value, BaseModel) else repr(value)
            problems.append(
                f"{NAMESPACE}:{key}: {shown} cannot apply to {NAMESPACE}:target 'local' "
                f"({LOCAL_REFUSED_KEYS[key]}); remove it from the local stack"
            )
    addresses = (
        ("emulatorHost", settings.emulator_host, EMULATOR_HOST_PATTERN, "127.0.0.1:8470"),
        (
            "storageEmulatorHost",
            settings.storage_emulator_host,
            STORAGE_EMULATOR_URL_PATTERN,
            "http://127.0.0.1:8471",
        ),
    )
    for key, value, pattern, example in addresses:
        if not value:
            problems.append(
                f"{NAMESPACE}:{key}: required with {NAMESPACE}:target 'local' (e.g. "
                f"{example!r}, where scripts/local_up.sh starts the emulator)"
            )
        elif not pattern.match(value):
            problems.append(f"{NAMESPACE}:{key}: {value!r} is not like {example!r}")
    return problems


VertexRegion = Annotated[str, AfterValidator(_vertex_region)]
ProjectId = Annotated[str, AfterValidator(_project_id)]
Member = Annotated[str, AfterValidator(_member)]
Days = Annotated[int, Field(ge=1, le=36500)]


class BucketLifecycle(ConfigSection):
    """Lifecycle rules of one bucket; unset means no rule of that kind."""

    noncurrent_versions_to_keep: Annotated[int, Field(ge=1, le=1000)] | None = None
    noncurrent_version_age_days: Days | None = None
    delete_after_days: Days | None = None


class BucketsSettings(ConfigSection):
    data: BucketLifecycle = BucketLifecycle(noncurrent_versions_to_keep=3)
    output: BucketLifecycle = BucketLifecycle(noncurrent_versions_to_keep=3)
    access_logs: BucketLifecycle = BucketLifecycle(delete_after_days=90)

    @model_validator(mode="after")
    def _access_logs_are_not_versioned(self) -> BucketsSettings:
        logs = self.access_logs
        if logs.noncurrent_versions_to_keep or logs.noncurrent_version_age_days:
            raise ValueError(
                "accessLogs: the access-log bucket is not versioned, so noncurrent-version "
                "rules do not apply; allowed key is deleteAfterDays"
            )
        return self


def _config_key(name: str) -> str:
    return f"{NAMESPACE}:{to_camel(name)}"


class StackSettings(BaseModel):
    """The whole validated stack config. Field aliases are the full config keys."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=_config_key, populate_by_name=True
    )

    stack: Annotated[str, AfterValidator(_stack_name)] = Field(alias="pulumi:stack")
    project: ProjectId = Field(alias="gcp:project")
    provider_region: str | None = Field(default=None, alias="gcp:region")
    # The simple keys below are declared in Pulumi.yaml with their defaults, which the CLI
    # applies before the program starts: Pulumi.yaml is the one home of those defaults.
    region: VertexRegion
    force_destroy: bool
    # Pulumi.yaml's default is "" (its schema has no null): empty means Google-managed keys.
    kms_key_name: Annotated[str | None, BeforeValidator(lambda key: key or None)]
    repository_id: Annotated[str, AfterValidator(_repository_id)]
    immutable_tags: bool
    keep_recent_versions: Annotated[int, Field(ge=1, le=1000)]
    delete_untagged_after_days: Days
    grant_service_agent_registry_read: bool
    deployers: list[Member]
    # `<app>-<flavour>` names (config/apps.py): the images the stack builds and pushes.
    images: Annotated[
        list[Annotated[str, AfterValidator(apps.known_image)]], AfterValidator(_unique)
    ]
    registry_auth: Literal["token", "docker-config"]
    up_identity: Annotated[Member | None, BeforeValidator(lambda member: member or None)]
    grant_storage_analytics_writer: bool
    upload_sample_data: bool
    api_endpoint: Annotated[str | None, BeforeValidator(lambda host: host or None)]
    # `local`: no Google resources; buckets, sample data and jobs go to the local emulator
    # (README: Train on this machine) at these two addresses ("" on a gcp stack).
    target: Literal["gcp", "local"]
    emulator_host: Annotated[str | None, BeforeValidator(lambda host: host or None)]
    storage_emulator_host: Annotated[str | None, BeforeValidator(lambda url: url or None)]
    # Structured keys: objects in the stack file, which Pulumi.yaml cannot declare.
    labels: Annotated[dict[str, str], AfterValidator(_labels)] = {}
    jobs: Jobs = []
    buckets: BucketsSettings = BucketsSettings()
    persistent_resource: PersistentResourceSettings | None = None

    @model_validator(mode="after")
    def _target_fits_the_stack(self) -> StackSettings:
        """A local stack names its emulator and asks for nothing only Google can do; a cloud
        stack names no emulator."""
        emulator_keys = {"emulatorHost": self.emulator_host}
        emulator_keys["storageEmulatorHost"] = self.storage_emulator_host
        if self.target == "gcp":
            for key, value in emulator_keys.items():
                if value:
                    raise ValueError(
                        f"{NAMESPACE}:{key}: {value!r} is only for {NAMESPACE}:target 'local'; "
                        "a gcp stack sends its jobs and data to Google (remove the key)"
                    )
            return self
        problems = _local_target_problems(self)
        if problems:
            raise ValueError("\n  ".join(problems))  # the loader lists each on its own line
        return self

    @model_validator(mode="after")
    def _one_region(self) -> StackSettings:
        # Region invariant: nothing regional may land outside the stack's region.
        if self.provider_region and self.provider_region != self.region:
            raise ValueError(
                f"gcp:region: {self.provider_region!r} differs from {NAMESPACE}:region "
                f"{self.region!r}; every regional resource must be in {self.region!r} "
                "(remove gcp:region or set it to the same region)"
            )
        if self.kms_key_name:
            match = catalogue.KMS_KEY_PATTERN.match(self.kms_key_name)
            if not match:
                raise ValueError(
                    f"{NAMESPACE}:kmsKeyName: {self.kms_key_name!r} is not a Cloud KMS key name "
                    "(projects/P/locations/L/keyRings/R/cryptoKeys/K)"
                )
            if match["location"] != self.region:
                raise ValueError(
                    f"{NAMESPACE}:kmsKeyName: key location {match['location']!r} is not the "
                    f"stack's region {self.region!r}; CMEK keys for regional buckets and "
                    "repositories must be in the same region"
                )
        return self

    @model_validator(mode="after")
    def _jobs_can_be_submitted(self) -> StackSettings:
        if not self.jobs or self.target == "local":  # local: no IAM, the emulator runs them
            return self
        if self.up_identity is None:
            raise ValueError(
                f"{NAMESPACE}:upIdentity: not set, but the stack declares jobs; name the "
                "principal that runs `pulumi up` (e.g. 'serviceAccount:ci-deployer@<project>"
                ".iam.gserviceaccount.com'): it submits the jobs, which run as the training "
                "service account, so it needs iam.serviceAccounts.actAs on that account"
            )
        if self.grant_service_agent_registry_read:
            raise ValueError(
                f"{NAMESPACE}:grantServiceAgentRegistryRead: true cannot work in a stack that "
                "declares jobs: the Vertex AI Custom Code Service Agent exists only after the "
                "project's first custom job, so on a new project the grant fails and the jobs "
                "behind it never start. The repository is in this project, which the agent "
                "already reads; set it to false"
            )
        return self

    @model_validator(mode="after")
    def _jobs_fit_the_stack(self) -> StackSettings:
        for index, job in enumerate(self.jobs):
            key = f"{NAMESPACE}:jobs[{index}]"
            if job.image not in self.images:
                raise ValueError(
                    f"{key}.image: {job.image!r} is not built by this stack "
                    f"({NAMESPACE}:images is {self.images}); add it there or pick another"
                )
            if job.tensorboard:
                location = catalogue.TENSORBOARD_PATTERN.match(job.tensorboard)["location"]
                if location != self.region:
                    raise ValueError(
                        f"{key}.tensorboard: location {location!r} is not the stack's region "
                        f"{self.region!r}"
                    )
            app, _ = apps.image_app(job.image)
            missing = [flag for flag in apps.sample_data_flags(app) if flag not in job.args]
            if missing and not self.upload_sample_data:
                raise ValueError(
                    f"{key}.args: set {', '.join(missing)} (gs:// URIs of your data); "
                    f"{NAMESPACE}:uploadSampleData is false, so there is no sample data"
                )
            try:
                _labels(job.labels)
            except ValueError as error:
                raise ValueError(f"{key}.labels: {error}") from None
        if self.api_endpoint:
            match = catalogue.API_ENDPOINT_PATTERN.match(self.api_endpoint)
            if not match:
                raise ValueError(
                    f"{NAMESPACE}:apiEndpoint: {self.api_endpoint!r} is not a host name "
                    "(e.g. us-central1-aiplatform.googleapis.com or a Private Service Connect "
                    "endpoint)"
                )
            regional = catalogue.REGIONAL_ENDPOINT_PATTERN.match(match["host"])
            if regional and regional["region"] != self.region:
                raise ValueError(
                    f"{NAMESPACE}:apiEndpoint: {self.api_endpoint!r} serves "
                    f"{regional['region']!r}, not the stack's region {self.region!r}"
                )
        return self

    @model_validator(mode="after")
    def _job_features_fit_the_stack(self) -> StackSettings:
        # Persistent resource, reservations, PSC interface, experiments: where the stack is.
        for key, problem in placement_problems(self.jobs, self.region, self.persistent_resource):
            raise ValueError(f"{NAMESPACE}:{key}: {problem}")
        return self

    @property
    def job_submitters(self) -> list[str]:
        """Who may submit jobs as the training account: the deployers and the up identity."""
        extra = [self.up_identity] if self.up_identity not in (None, *self.deployers) else []
        return [*self.deployers, *extra]

    def warnings(self) -> list[str]:
        """What is valid but will not work as shipped; printed at preview, never fatal."""
        found = []
        principals = [(f"{NAMESPACE}:deployers[{i}]", m) for i, m in enumerate(self.deployers)]
        if self.up_identity:
            principals.append((f"{NAMESPACE}:upIdentity", self.up_identity))
        for key, member in principals:
            if member.endswith(RESERVED_EXAMPLE_DOMAIN):
                found.append(
                    f"{key}: {member!r} is in the reserved {RESERVED_EXAMPLE_DOMAIN} domain "
                    "(RFC 2606) and can never exist, so its IAM grant will fail; point the "
                    "stack at your own principals (README: Use your own project)"
                )
        if self.target == "local":
            return found  # the rest are about Google resources a local stack does not make
        if self.registry_auth == "token" and any(
            apps.image_app(image)[1] in apps.GPU_FLAVOURS for image in self.images
        ):
            found.append(
                f"{NAMESPACE}:registryAuth: 'token' with a GPU image: the access token is read "
                "when the program starts and lasts about an hour, and a GPU build can outlast "
                "it, so the push would fail unauthenticated; set registryAuth: docker-config "
                "after `gcloud auth configure-docker <region>-docker.pkg.dev`"
            )
        if not self.grant_storage_analytics_writer:
            found.append(
                f"{NAMESPACE}:grantStorageAnalyticsWriter: false, so Cloud Storage cannot "
                "deliver usage logs to the access-log bucket until "
                "group:cloud-storage-analytics@google.com may create objects there (an "
                "organization policy exception); Data Access audit logs record the same reads "
                "and writes meanwhile (README: Organization policies)"
            )
        return found

    @property
    def common_labels(self) -> dict[str, str]:
        """Labels on every labelled resource: the stack's own, plus what identifies it."""
        return {
            **self.labels,
            "managed-by": "pulumi",
            "vtrain-project": pulumi.get_project(),
            "vtrain-stack": self.stack,
        }

    @property
    def training_account_id(self) -> str:
        # Service account IDs are 6-30 characters; the stack name keeps stacks apart.
        return f"vtrain-{self.stack}"[:30].rstrip("-")

    def bucket_name(self, role: str) -> str:
        # Bucket names are global: project ID and stack make them unique and recognisable.
        return f"{self.project}-{self.stack}-{role}"
