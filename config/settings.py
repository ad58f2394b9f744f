"""Every stack setting, read from Pulumi config and validated in one place.

`load_settings()` is the only code that touches `pulumi.Config`. It reads the whole stack
config, validates it with one pydantic model and raises `ConfigError` naming each bad key
path, its value and what is allowed, before `__main__` registers a single resource.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Annotated, Any

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from config import catalogue, trainer
from config.base import ConfigSection, suggest
from config.jobs import Jobs, image_flavour

NAMESPACE = "vertex-training"
STACK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# Labels the program sets itself; a stack may not override them.
RESERVED_LABEL_PREFIX = "vtrain-"


class ConfigError(pulumi.RunError):
    """A stack config problem; the CLI prints it without a stack trace."""


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
    images: Annotated[list[Annotated[str, AfterValidator(image_flavour)]], AfterValidator(_unique)]
    cache_from_previous_images: bool
    upload_sample_data: bool
    api_endpoint: Annotated[str | None, BeforeValidator(lambda host: host or None)]
    # Structured keys: objects in the stack file, which Pulumi.yaml cannot declare.
    labels: Annotated[dict[str, str], AfterValidator(_labels)] = {}
    jobs: Jobs = []
    buckets: BucketsSettings = BucketsSettings()

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
            missing = [flag for flag in trainer.DATA_FLAGS if flag not in job.args]
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


# Keys whose value is text. Every other key arrives from the CLI as JSON text (numbers,
# booleans, lists, objects) and is decoded before validation.
_TEXT_KEYS = {"region", "kmsKeyName", "repositoryId", "apiEndpoint"}


def _known_keys() -> set[str]:
    return {
        field.alias.split(":", 1)[1]
        for field in StackSettings.model_fields.values()
        if field.alias and field.alias.startswith(f"{NAMESPACE}:")
    }


def _raw_namespace_keys() -> set[str]:
    """Every `vertex-training:*` key the CLI passed, to catch typos in key names."""
    from pulumi.runtime import config as runtime_config

    passed = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    return {key.split(":", 1)[1] for key in passed if key.startswith(f"{NAMESPACE}:")}


def _read_raw() -> dict[str, Any]:
    project_config = pulumi.Config(NAMESPACE)
    gcp_config = pulumi.Config("gcp")
    raw: dict[str, Any] = {"pulumi:stack": pulumi.get_stack()}
    for key in ("project", "region"):
        value = gcp_config.get(key)
        if value is not None:
            raw[f"gcp:{key}"] = value
    for key in _known_keys():
        value = project_config.get(key)
        if value is None:
            continue
        if key not in _TEXT_KEYS:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # left as a string: the model reports the wrong type with the key.
        raw[f"{NAMESPACE}:{key}"] = value
    return raw


def _describe(error: dict[str, Any]) -> str:
    location = [str(part) for part in error["loc"]]
    path = location[0] if location else "<stack config>"
    for part in location[1:]:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path}: required but not set"
    if error["type"] == "extra_forbidden":
        allowed = sorted(_section_keys(error["loc"]))
        suggestion = suggest(location[-1], set(allowed))
        return f"{path}: unknown key{suggestion} (allowed: {', '.join(allowed)})"
    if error["type"] == "value_error":
        # Our own validators already quote the value and may name a different key.
        return message if message.startswith(("gcp:", f"{NAMESPACE}:")) else f"{path}: {message}"
    return f"{path}: {error.get('input')!r} is not allowed: {message}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `list[Job]` or `Study | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        model = _model_in(argument)
        if model is not None:
            return model
    return None


def _section_keys(loc: tuple) -> set[str]:
    """The allowed keys of the section an `extra_forbidden` error points into."""
    model: type[BaseModel] | None = StackSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # a list index: same model
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        model = _model_in(field.annotation) if field else None
        if model is None:
            return set()
    return {field.alias or name for name, field in model.model_fields.items()}


def validate_settings(raw: dict[str, Any]) -> StackSettings:
    """Validate raw stack config (full keys → parsed values); raise ConfigError on any problem."""
    problems: list[str] = []
    known = _known_keys()
    for key in sorted(k for k in raw if k.startswith(f"{NAMESPACE}:")):
        name = key.split(":", 1)[1]
        if name not in known:
            problems.append(f"{key}: unknown key{suggest(name, known)}")
    if not problems:
        try:
            return StackSettings.model_validate(raw)
        except ValidationError as error:
            problems = [_describe(detail) for detail in error.errors()]
    raise ConfigError("invalid stack config:\n  " + "\n  ".join(problems))


def load_settings() -> StackSettings:
    """Read and validate the current stack's config. Call before registering any resource."""
    raw = _read_raw()
    for name in _raw_namespace_keys() - _known_keys():
        raw[f"{NAMESPACE}:{name}"] = None  # reported as unknown by validate_settings
    return validate_settings(raw)
