"""Pulumi dynamic providers for Vertex AI ``CustomJob`` and ``HyperparameterTuningJob``.

Neither Terraform nor pulumi-gcp has a resource for Vertex training jobs, so these providers
drive the Vertex AI v1 ``JobService`` directly through the official GAPIC client.

How the provider travels (serialization)
----------------------------------------
``pulumi.dynamic.Resource`` dill-pickles the provider *instance* into the ``__provider``
property (``pulumi.dynamic.dynamic.serialize_provider``: ``dill.dumps(provider, recurse=True)``)
and the engine stores it, as a secret, in the state file. dill pickles a class that lives in an
importable module **by reference** (module path + class name); only classes defined in
``__main__`` are pickled by value. These classes live in ``components.vertex_jobs_provider``,
so the pickle holds ``components.vertex_jobs_provider.CustomJobProvider`` plus an empty
instance ``__dict__`` and *no code*. Consequences:

* The dynamic-provider host (``python -m pulumi.dynamic``, which the engine starts in the
  project directory, so the project root is on ``sys.path``) imports this module when it
  unpickles the provider. ``components`` must therefore be importable from the project root
  (it is: ``components/__init__.py``). For Automation-API inline programs or any run whose
  working directory is not the project root, put the project root on ``PYTHONPATH``.
* The state holds no copy of this code: ``refresh``/``destroy`` of old resources run the code
  that is checked out *now*. Keep the module path and the class names stable (renaming them
  breaks unpickling of existing state) and keep old props readable.
* The instances carry no attributes at all; every client, channel and setting (including
  ``VERTEX_AI_EMULATOR_HOST`` and the ``VTRAIN_VERTEX_*`` knobs) is built or read inside each
  method, so nothing process-specific is ever pickled.

Importing this module has no side effects and does not import the (slow) aiplatform client;
that happens inside the methods that talk to the API.

Props (all plain JSON data)
---------------------------
Inputs: ``project``, ``region``, ``api_endpoint`` (None = ``<region>-aiplatform.googleapis.com``),
``display_name``, ``labels``, ``job_spec`` (proto3 JSON of ``CustomJobSpec``),
``encryption_kms_key``, ``wait`` ({"until_terminal", "timeout_seconds"} or None); tuning jobs
add ``study_spec`` (proto3 JSON of ``StudySpec``), ``max_trial_count``, ``parallel_trial_count``
and ``max_failed_trial_count``. ``check`` adds ``resource_uid``, also set as the job label
``vtrain-resource-uid``.

Outputs: every input plus ``name``, ``job_id``, ``state``, ``console_url``, ``create_time``,
``start_time``, ``end_time``, ``error``; tuning jobs add ``best_trial`` and ``trials``.

Lifecycle
---------
* ``create`` adopts a job already labelled with this resource's uid, else submits one. It is
  never blindly retried: after an ambiguous failure (the response may have been lost) it lists
  by label again and adopts what the first attempt made. It returns once the job is submitted.
* ``read`` is one ``get``; a job that is gone yields an empty id so the engine drops it.
* ``diff`` makes no API calls. The v1 ``JobService`` has no Update RPC for either job kind
  (only create/get/list/cancel/delete), so every change to the job replaces it, and the
  replacement is delete-before-replace: the old job is cancelled and deleted before the new one
  is submitted, so one resource never has two jobs holding accelerators and quota or writing to
  the same output directory. Only ``api_endpoint`` and ``wait``, which affect how we talk to the
  API and not the job, are updated in place (no API call).
* ``delete`` cancels a live job, waits (bounded, exponential backoff) for a terminal state, then
  deletes it and waits for the delete operation. NotFound at any point counts as deleted.
* A job that ends FAILED or CANCELLED is reported in ``state``/``error``; it does not fail the
  Pulumi operation.

Environment knobs (read at call time): ``VERTEX_AI_EMULATOR_HOST`` (host:port of an emulator;
switches to an insecure channel with anonymous credentials), ``VTRAIN_VERTEX_RETRY_INITIAL_S``,
``VTRAIN_VERTEX_RETRY_MAX_S``, ``VTRAIN_VERTEX_RETRY_DEADLINE_S``, ``VTRAIN_VERTEX_RPC_TIMEOUT_S``,
``VTRAIN_VERTEX_POLL_INITIAL_S``, ``VTRAIN_VERTEX_POLL_MAX_S``, ``VTRAIN_VERTEX_DELETE_TIMEOUT_S``,
``VTRAIN_VERTEX_ADOPT_ATTEMPTS``.
"""

from __future__ import annotations

import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import JobServiceClient

RESOURCE_UID_LABEL = "vtrain-resource-uid"
EMULATOR_HOST_ENV = "VERTEX_AI_EMULATOR_HOST"
CONSOLE = "https://console.cloud.google.com/vertex-ai/locations"

# The Pulumi engine's marker for a value not known during preview (pulumi.runtime.rpc.UNKNOWN).
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

TERMINAL_STATES = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)

COMMON_INPUTS = (
    "project",
    "region",
    "api_endpoint",
    "display_name",
    "labels",
    "job_spec",
    "encryption_kms_key",
    "wait",
)
TUNING_INPUTS = ("study_spec", "max_trial_count", "parallel_trial_count", "max_failed_trial_count")
# Inputs that only change how this program talks to the API, never the job: updated in place.
CLIENT_SIDE_INPUTS = frozenset({"api_endpoint", "wait"})
COMMON_OUTPUTS = (
    "resource_uid",
    "name",
    "job_id",
    "state",
    "console_url",
    "create_time",
    "start_time",
    "end_time",
    "error",
)
TUNING_OUTPUTS = ("best_trial", "trials")

_PROJECT = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)$")
_REGION = re.compile(r"^[a-z]+(-[a-z]+)+[0-9]+$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_KMS_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")
_JOB_NAME = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/[A-Za-z]+/(?P<id>[^/]+)$"
)


class VertexJobError(Exception):
    """An error the operator can act on; the message names the job and the API's answer."""


# --------------------------------------------------------------------------------------------
# Settings read at call time (never at import, never pickled)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass(frozen=True)
class Tunables:
    """Backoff and timeout settings; production defaults, overridable by env for fast tests."""

    retry_initial_s: float = 1.0
    retry_max_s: float = 32.0
    retry_deadline_s: float = 300.0
    rpc_timeout_s: float = 60.0
    poll_initial_s: float = 5.0
    poll_max_s: float = 60.0
    delete_timeout_s: float = 3600.0
    adopt_attempts: int = 3

    @classmethod
    def from_env(cls) -> Tunables:
        d = cls()
        return cls(
            retry_initial_s=_env_float("VTRAIN_VERTEX_RETRY_INITIAL_S", d.retry_initial_s),
            retry_max_s=_env_float("VTRAIN_VERTEX_RETRY_MAX_S", d.retry_max_s),
            retry_deadline_s=_env_float("VTRAIN_VERTEX_RETRY_DEADLINE_S", d.retry_deadline_s),
            rpc_timeout_s=_env_float("VTRAIN_VERTEX_RPC_TIMEOUT_S", d.rpc_timeout_s),
            poll_initial_s=_env_float("VTRAIN_VERTEX_POLL_INITIAL_S", d.poll_initial_s),
            poll_max_s=_env_float("VTRAIN_VERTEX_POLL_MAX_S", d.poll_max_s),
            delete_timeout_s=_env_float("VTRAIN_VERTEX_DELETE_TIMEOUT_S", d.delete_timeout_s),
            adopt_attempts=int(_env_float("VTRAIN_VERTEX_ADOPT_ATTEMPTS", d.adopt_attempts)),
        )


def _retryable_errors() -> tuple[type[Exception], ...]:
    from google.api_core import exceptions

    return (
        exceptions.ServiceUnavailable,
        exceptions.ResourceExhausted,
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
    )


def api_retry(tunables: Tunables) -> Any:
    """Retry for idempotent calls (get/list/cancel/delete): exponential backoff, full jitter."""
    from google.api_core import retry

    return retry.Retry(
        predicate=retry.if_exception_type(*_retryable_errors()),
        initial=tunables.retry_initial_s,
        maximum=tunables.retry_max_s,
        multiplier=2.0,
        timeout=tunables.retry_deadline_s,
    )


def _backoff(initial: float, maximum: float) -> Iterator[float]:
    """Poll intervals: exponential with jitter (half fixed, half random)."""
    delay = initial
    while True:
        yield delay / 2 + random.uniform(0, delay / 2)
        delay = min(delay * 2, maximum)


# --------------------------------------------------------------------------------------------
# Endpoint and client construction


@dataclass(frozen=True)
class Endpoint:
    """Where the JobService lives: a TLS regional/PSC endpoint or an insecure emulator."""

    host: str
    insecure: bool


def resolve_endpoint(
    region: str, api_endpoint: str | None, environ: dict[str, str] | None = None
) -> Endpoint:
    """Emulator env beats ``api_endpoint`` (Private Service Connect) beats the regional host."""
    env = os.environ if environ is None else environ
    emulator = env.get(EMULATOR_HOST_ENV)
    if emulator:
        return Endpoint(host=emulator, insecure=True)
    if api_endpoint:
        return Endpoint(host=api_endpoint, insecure=False)
    return Endpoint(host=f"{region}-aiplatform.googleapis.com", insecure=False)


def make_job_client(endpoint: Endpoint, credentials: Any = None) -> JobServiceClient:
    """Build a JobServiceClient; callers close it (``with make_job_client(...) as client``)."""
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform_v1 import JobServiceClient
    from google.cloud.aiplatform_v1.services.job_service.transports import (
        JobServiceGrpcTransport,
    )

    if endpoint.insecure:
        # Like the other Google emulators: plaintext gRPC, anonymous credentials. With an
        # explicit channel the transport never looks up Application Default Credentials.
        transport = JobServiceGrpcTransport(
            host=endpoint.host,
            credentials=AnonymousCredentials(),
            channel=grpc.insecure_channel(endpoint.host),
        )
        return JobServiceClient(transport=transport)
    return JobServiceClient(credentials=credentials, client_options={"api_endpoint": endpoint.host})


def _client_for(props: dict[str, Any], job_name: str | None = None) -> JobServiceClient:
    region = props.get("region") or _parse_job_name(job_name or "").get("region", "")
    return make_job_client(resolve_endpoint(region, props.get("api_endpoint")))


def _parse_job_name(name: str) -> dict[str, str]:
    match = _JOB_NAME.match(name or "")
    return match.groupdict() if match else {}


# --------------------------------------------------------------------------------------------
# Helpers on plain data


def contains_unknown(value: Any) -> bool:
    """True if a preview-time unknown hides anywhere inside ``value``. The host hands
    ``check``/``diff`` unknowns as ``pulumi.output.Unknown`` (``keep_unknowns=True``); the
    raw wire marker is accepted too."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return value == _UNKNOWN
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


def _is_int(value: Any) -> bool:
    """An integer; integral floats count, since Pulumi carries every number as a double."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _proto_class(message: str) -> Any:
    from google.cloud import aiplatform_v1

    cls: Any = aiplatform_v1
    for part in message.split("."):
        cls = getattr(cls, part)
    return cls.pb()


def parse_proto_json(message: str, data: Any) -> Any:
    """Parse proto3 JSON (snake_case or lowerCamel keys) into the raw protobuf message."""
    from google.protobuf import json_format

    if not isinstance(data, dict):
        raise ValueError(
            f"expected an object (proto3 JSON of {message}), got {type(data).__name__}"
        )
    return json_format.ParseDict(data, _proto_class(message)())


def canonical_proto_json(message: str, data: Any) -> Any:
    """A canonical form of proto3 JSON for comparison; falls back to the raw value."""
    from google.protobuf import json_format

    try:
        parsed = parse_proto_json(message, data)
    except Exception:  # noqa: BLE001 - unparsable (e.g. unknowns): compare as written
        return data
    return json_format.MessageToDict(parsed, preserving_proto_field_name=True)


def _timestamp(pb: Any, field: str) -> str | None:
    return getattr(pb, field).ToJsonString() if pb.HasField(field) else None


def _error(pb: Any) -> dict[str, Any] | None:
    if not pb.HasField("error") or (pb.error.code == 0 and not pb.error.message):
        return None
    return {"code": pb.error.code, "message": pb.error.message}


def _api_message(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    code = getattr(exc, "grpc_status_code", None)
    return f"{code.name}: {message}" if code is not None else message


# --------------------------------------------------------------------------------------------
# Validation


def _check_common(props: dict[str, Any], failures: list[CheckFailure]) -> None:
    def fail(prop: str, reason: str) -> None:
        failures.append(CheckFailure(prop, reason))

    def known(key: str) -> bool:
        return not contains_unknown(props.get(key))

    project = props.get("project")
    if known("project") and not (isinstance(project, str) and _PROJECT.match(project)):
        fail("project", f"must be a GCP project id like 'my-project-123', got {project!r}")
    region = props.get("region")
    if known("region") and not (isinstance(region, str) and _REGION.match(region)):
        fail("region", f"must be a Vertex AI region like 'us-central1', got {region!r}")
    endpoint = props.get("api_endpoint")
    if known("api_endpoint") and endpoint is not None:
        if not (isinstance(endpoint, str) and _ENDPOINT.match(endpoint)):
            fail("api_endpoint", f"must be None or a host[:port], got {endpoint!r}")
    name = props.get("display_name")
    if known("display_name") and not (isinstance(name, str) and 1 <= len(name) <= 128):
        fail("display_name", f"must be a string of 1 to 128 characters, got {name!r}")
    kms = props.get("encryption_kms_key")
    if known("encryption_kms_key") and kms is not None:
        if not (isinstance(kms, str) and _KMS_KEY.match(kms)):
            fail(
                "encryption_kms_key",
                "must be None or projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>, "
                f"got {kms!r}",
            )
    if known("labels"):
        _check_labels(props.get("labels"), fail)
    if known("wait"):
        _check_wait(props.get("wait"), fail)
    if known("job_spec"):
        _check_job_spec(props.get("job_spec"), "job_spec", fail)


def _check_labels(labels: Any, fail: Callable[[str, str], None]) -> None:
    if not isinstance(labels, dict):
        fail("labels", f"must be a map of string to string, got {type(labels).__name__}")
        return
    if len(labels) > 63:  # 64 per job, one is ours
        fail("labels", f"at most 63 labels allowed (one is reserved), got {len(labels)}")
    for key, value in labels.items():
        if key == RESOURCE_UID_LABEL:
            continue  # stamped by check; its value is validated where it is set
        if not (isinstance(key, str) and _LABEL_KEY.match(key)):
            fail(
                f"labels.{key}",
                "label keys are 1-63 chars of lowercase letters, digits, '_' or '-', "
                "starting with a letter",
            )
        if contains_unknown(value):
            continue
        if not (isinstance(value, str) and _LABEL_VALUE.match(value)):
            fail(
                f"labels.{key}",
                f"label values are 0-63 chars of lowercase letters, digits, '_' or '-', "
                f"got {value!r}",
            )


def _check_wait(wait: Any, fail: Callable[[str, str], None]) -> None:
    if wait is None:
        return
    if not isinstance(wait, dict) or set(wait) - {"until_terminal", "timeout_seconds"}:
        fail("wait", "must be None or {'until_terminal': bool, 'timeout_seconds': int}")
        return
    if not isinstance(wait.get("until_terminal", False), bool):
        fail("wait.until_terminal", f"must be a bool, got {wait.get('until_terminal')!r}")
    timeout = wait.get("timeout_seconds", 600)
    if not (_is_int(timeout) and 1 <= timeout <= 86400):
        fail("wait.timeout_seconds", f"must be an int from 1 to 86400, got {timeout!r}")


def _check_job_spec(spec: Any, prop: str, fail: Callable[[str, str], None]) -> None:
    try:
        parsed = parse_proto_json("CustomJobSpec", spec)
    except Exception as exc:  # noqa: BLE001 - json_format raises ParseError/ValueError/TypeError
        fail(prop, f"not a valid CustomJobSpec (proto3 JSON): {exc}")
        return
    if not parsed.worker_pool_specs:
        fail(f"{prop}.worker_pool_specs", "at least one worker pool is required")
    for index, pool in enumerate(parsed.worker_pool_specs):
        where = f"{prop}.worker_pool_specs[{index}]"
        if index > 0 and pool.ByteSize() == 0:
            continue  # an empty pool is how Vertex spells "no workers in this role"
        if not pool.machine_spec.machine_type:
            fail(f"{where}.machine_spec.machine_type", "required")
        if not (pool.container_spec.image_uri or pool.python_package_spec.executor_image_uri):
            fail(f"{where}.container_spec.image_uri", "required")
        if pool.replica_count < 1:
            fail(f"{where}.replica_count", f"must be at least 1, got {pool.replica_count}")


def _check_tuning(props: dict[str, Any], failures: list[CheckFailure]) -> None:
    def fail(prop: str, reason: str) -> None:
        failures.append(CheckFailure(prop, reason))

    counts = {key: props.get(key) for key in TUNING_INPUTS[1:]}
    for key, value in counts.items():
        minimum = 0 if key == "max_failed_trial_count" else 1
        if not contains_unknown(value) and not (_is_int(value) and value >= minimum):
            fail(key, f"must be an int >= {minimum}, got {value!r}")
    trials, parallel = counts["max_trial_count"], counts["parallel_trial_count"]
    if _is_int(trials) and _is_int(parallel) and parallel > trials:
        fail("parallel_trial_count", f"must be <= max_trial_count ({trials}), got {parallel}")
    spec = props.get("study_spec")
    if contains_unknown(spec):
        return
    try:
        study = parse_proto_json("StudySpec", spec)
    except Exception as exc:  # noqa: BLE001
        fail("study_spec", f"not a valid StudySpec (proto3 JSON): {exc}")
        return
    if not study.metrics:
        fail("study_spec.metrics", "at least one metric {metric_id, goal} is required")
    for index, metric in enumerate(study.metrics):
        if not metric.metric_id:
            fail(f"study_spec.metrics[{index}].metric_id", "required")
        if metric.goal == 0:
            fail(f"study_spec.metrics[{index}].goal", "must be MAXIMIZE or MINIMIZE")
    if not study.parameters:
        fail("study_spec.parameters", "at least one parameter is required")


# --------------------------------------------------------------------------------------------
# Job kinds


@dataclass(frozen=True)
class JobKind:
    """What differs between the two job kinds: message, RPC names, console path."""

    message: str  # aiplatform_v1 message name
    rpc: str  # suffix of the client methods, e.g. "custom_job"
    console_suffix: str  # path after the job id in the console URL

    def method(self, verb: str, client: Any) -> Callable[..., Any]:
        suffix = self.rpc + "s" if verb == "list" else self.rpc
        return getattr(client, f"{verb}_{suffix}")


CUSTOM_JOB = JobKind("CustomJob", "custom_job", "/cpu")
# The console opens tuning jobs at .../training/<id> (the aiplatform SDK's _dashboard_uri uses
# the same "training" job type for both kinds); the "/cpu" tab exists only for custom jobs.
TUNING_JOB = JobKind("HyperparameterTuningJob", "hyperparameter_tuning_job", "")


class _VertexJobProvider(ResourceProvider):
    """Shared CRUD for Vertex jobs. Stateless: subclasses only set class attributes."""

    kind: JobKind = CUSTOM_JOB
    input_keys: tuple[str, ...] = COMMON_INPUTS
    output_keys: tuple[str, ...] = COMMON_OUTPUTS

    # ---- check / diff (pure) -----------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        # The Resource passes output keys as None placeholders (so the Python object gets
        # those attributes); they are not inputs.
        inputs = {k: v for k, v in news.items() if k not in self.output_keys}
        inputs.setdefault("api_endpoint", None)
        inputs.setdefault("encryption_kms_key", None)
        inputs.setdefault("wait", None)
        if inputs.get("labels") is None:
            inputs["labels"] = {}
        allowed = set(self.input_keys) | {"resource_uid", "__provider"}
        for key in sorted(set(inputs) - allowed):
            failures.append(
                CheckFailure(key, f"unknown property; allowed: {', '.join(self.input_keys)}")
            )
        for key in ("project", "region", "display_name", "job_spec", *self._required_extra()):
            if inputs.get(key) is None:
                failures.append(CheckFailure(key, "required"))
        _check_common(inputs, failures)
        self._check_extra(inputs, failures)
        labels = inputs["labels"]
        if isinstance(labels, dict) and RESOURCE_UID_LABEL in labels:
            if labels[RESOURCE_UID_LABEL] != (olds or {}).get("resource_uid"):
                failures.append(
                    CheckFailure(f"labels.{RESOURCE_UID_LABEL}", "reserved; set by the provider")
                )
        uid = self._resource_uid(olds or {}, inputs)
        inputs["resource_uid"] = uid
        if isinstance(labels, dict):
            inputs["labels"] = {**labels, RESOURCE_UID_LABEL: uid}
        return CheckResult(inputs, failures)

    def _required_extra(self) -> tuple[str, ...]:
        return ()

    def _check_extra(self, inputs: dict[str, Any], failures: list[CheckFailure]) -> None:
        pass

    def _resource_uid(self, olds: dict[str, Any], news: dict[str, Any]) -> str:
        """Keep the uid while the job stays the same; mint one for each new job.

        A replacement is a new job, so it gets a new uid: then the adopt-by-label lookup in
        ``create`` can never mistake the outgoing job for the new one (even with
        ``retain_on_delete`` or create-before-delete forced by the user).
        """
        old_uid = olds.get("resource_uid")
        if isinstance(old_uid, str) and old_uid and not self._replace_keys(olds, news):
            return old_uid
        return uuid.uuid4().hex

    def _comparable(self, key: str, value: Any) -> Any:
        if key == "labels" and isinstance(value, dict):
            return {k: v for k, v in value.items() if k != RESOURCE_UID_LABEL}
        if key == "job_spec":
            return canonical_proto_json("CustomJobSpec", value)
        if key == "study_spec":
            return canonical_proto_json("StudySpec", value)
        return value

    def _changed_keys(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        changed = []
        for key in self.input_keys:
            old, new = olds.get(key), news.get(key)
            if contains_unknown(new) or self._comparable(key, old) != self._comparable(key, new):
                changed.append(key)
        return changed

    def _replace_keys(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return [k for k in self._changed_keys(olds, news) if k not in CLIENT_SIDE_INPUTS]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self._changed_keys(olds, news)
        replaces = [k for k in changed if k not in CLIENT_SIDE_INPUTS]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only client-side inputs (``api_endpoint``, ``wait``) reach here; no API call."""
        return UpdateResult({**olds, **{k: news.get(k) for k in CLIENT_SIDE_INPUTS}})

    # ---- create ------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        tunables = Tunables.from_env()
        with _client_for(props) as client:
            job = self._find_by_uid(client, props, tunables)
            if job is None:
                job = self._submit(client, props, tunables)
            job = self._maybe_wait(client, job, props, tunables)
            return CreateResult(job.name, self._outputs(props, job))

    def _parent(self, props: dict[str, Any]) -> str:
        return f"projects/{props['project']}/locations/{props['region']}"

    def _find_by_uid(self, client: Any, props: dict[str, Any], tunables: Tunables) -> Any:
        request = {
            "parent": self._parent(props),
            "filter": f'labels.{RESOURCE_UID_LABEL}="{props["resource_uid"]}"',
        }
        pager = self.kind.method("list", client)(
            request=request, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
        )
        jobs = [job for job in pager if job.labels.get(RESOURCE_UID_LABEL) == props["resource_uid"]]
        if not jobs:
            return None
        return max(jobs, key=lambda job: type(job).pb(job).create_time.ToNanoseconds())

    def _job_message(self, props: dict[str, Any]) -> Any:
        from google.protobuf import json_format

        body: dict[str, Any] = {
            "display_name": props["display_name"],
            "labels": props["labels"],
            **self._spec_fields(props),
        }
        if props.get("encryption_kms_key"):
            body["encryption_spec"] = {"kms_key_name": props["encryption_kms_key"]}
        pb = json_format.ParseDict(body, _proto_class(self.kind.message)())
        from google.cloud import aiplatform_v1

        return getattr(aiplatform_v1, self.kind.message).wrap(pb)

    def _spec_fields(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"job_spec": props["job_spec"]}

    def _submit(self, client: Any, props: dict[str, Any], tunables: Tunables) -> Any:
        from google.api_core import exceptions

        create = self.kind.method("create", client)
        try:
            # Never retried: a create whose response is lost may still have made the job.
            return create(
                parent=self._parent(props),
                **{self.kind.rpc: self._job_message(props)},
                retry=None,
                timeout=tunables.rpc_timeout_s,
            )
        except exceptions.GoogleAPICallError as exc:
            # The request may have reached the server (lost response, timeout, crash): look
            # for the job it made, a few times in case listing lags behind.
            ambiguous = (
                exceptions.ServiceUnavailable,
                exceptions.DeadlineExceeded,
                exceptions.InternalServerError,
                exceptions.Unknown,
            )
            if isinstance(exc, ambiguous):
                adopted = self._adopt(client, props, tunables, tunables.adopt_attempts)
                if adopted is None:
                    raise VertexJobError(self._ambiguous(props, exc)) from None
                return adopted
            # RESOURCE_EXHAUSTED (quota, rate limit) is retryable but almost surely rejected
            # before anything was made: one look, then report the API's message.
            if isinstance(exc, exceptions.ResourceExhausted):
                adopted = self._adopt(client, props, tunables, 1)
                if adopted is not None:
                    return adopted
            raise VertexJobError(self._rejected(props, exc)) from None

    def _adopt(self, client: Any, props: dict[str, Any], tunables: Tunables, attempts: int) -> Any:
        delays = _backoff(tunables.poll_initial_s, tunables.poll_max_s)
        for attempt in range(max(1, attempts)):
            if attempt:
                time.sleep(next(delays))
            job = self._find_by_uid(client, props, tunables)
            if job is not None:
                return job
        return None

    def _rejected(self, props: dict[str, Any], exc: Exception) -> str:
        return (
            f"Vertex AI rejected {self.kind.message} '{props['display_name']}' in "
            f"{self._parent(props)}: {_api_message(exc)}"
        )

    def _ambiguous(self, props: dict[str, Any], exc: Exception) -> str:
        return (
            f"creating {self.kind.message} '{props['display_name']}' in {self._parent(props)} "
            f"failed ({_api_message(exc)}) and no job labelled "
            f"{RESOURCE_UID_LABEL}={props['resource_uid']} was found afterwards. If one appears "
            f"later, cancel it (filter labels.{RESOURCE_UID_LABEL}={props['resource_uid']}) "
            "before re-running `pulumi up`."
        )

    def _maybe_wait(self, client: Any, job: Any, props: dict[str, Any], tunables: Tunables) -> Any:
        """Optional bounded wait for short jobs. Never raises: the job exists now, and a failed
        create would make Pulumi forget it."""
        wait = props.get("wait") or {}
        if not wait.get("until_terminal"):
            return job
        deadline = time.monotonic() + wait.get("timeout_seconds", 600)
        delays = _backoff(tunables.poll_initial_s, tunables.poll_max_s)
        while _state_name(job) not in TERMINAL_STATES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(next(delays), remaining))
            try:
                job = self._get(client, job.name, tunables)
            except Exception:  # noqa: BLE001 - report what we know rather than orphan the job
                break
        return job

    # ---- read ------------------------------------------------------------------------

    def _get(self, client: Any, name: str, tunables: Tunables) -> Any:
        return self.kind.method("get", client)(
            name=name, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from google.api_core import exceptions

        tunables = Tunables.from_env()
        with _client_for(props, id_) as client:
            try:
                job = self._get(client, id_, tunables)
            except exceptions.NotFound:
                return ReadResult("", {})  # empty id: the engine drops the resource
        return ReadResult(job.name, self._outputs(self._inputs_from_job(props, job), job))

    def _inputs_from_job(self, props: dict[str, Any], job: Any) -> dict[str, Any]:
        """Fill inputs missing from ``props`` (``Resource.get``/import) from the live job."""
        from google.protobuf import json_format

        pb = type(job).pb(job)
        parsed = _parse_job_name(job.name)
        live = {
            "project": parsed.get("project"),
            "region": parsed.get("region"),
            "api_endpoint": None,
            "display_name": pb.display_name,
            "labels": dict(pb.labels),
            "encryption_kms_key": pb.encryption_spec.kms_key_name or None,
            "wait": None,
            "resource_uid": pb.labels.get(RESOURCE_UID_LABEL),
            **self._live_spec_fields(pb, json_format),
        }
        return {**live, **{k: v for k, v in props.items() if k != "__provider"}}

    def _live_spec_fields(self, pb: Any, json_format: Any) -> dict[str, Any]:
        return {
            "job_spec": json_format.MessageToDict(pb.job_spec, preserving_proto_field_name=True)
        }

    def _outputs(self, props: dict[str, Any], job: Any) -> dict[str, Any]:
        pb = type(job).pb(job)
        parsed = _parse_job_name(pb.name)
        region = props.get("region") or parsed.get("region")
        project = props.get("project") or parsed.get("project")
        job_id = parsed.get("id") or pb.name.rsplit("/", 1)[-1]
        return {
            **{k: v for k, v in props.items() if k != "__provider"},
            "name": pb.name,
            "job_id": job_id,
            "state": _state_name(job),
            "console_url": f"{CONSOLE}/{region}/training/{job_id}{self.kind.console_suffix}"
            f"?project={project}",
            "create_time": _timestamp(pb, "create_time"),
            "start_time": _timestamp(pb, "start_time"),
            "end_time": _timestamp(pb, "end_time"),
            "error": _error(pb),
            **self._extra_outputs(props, pb),
        }

    def _extra_outputs(self, props: dict[str, Any], pb: Any) -> dict[str, Any]:
        return {}

    # ---- delete ------------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from google.api_core import exceptions

        tunables = Tunables.from_env()
        deadline = time.monotonic() + tunables.delete_timeout_s
        with _client_for(props, id_) as client:
            try:
                self._stop(client, id_, tunables, deadline)
                self._delete(client, id_, tunables, deadline)
            except exceptions.NotFound:
                return  # already gone: nothing bills

    def _stop(self, client: Any, name: str, tunables: Tunables, deadline: float) -> None:
        """Cancel unless terminal, then wait (bounded, exponential backoff) for terminal."""
        from google.api_core import exceptions

        job = self._get(client, name, tunables)
        if _state_name(job) in TERMINAL_STATES:
            return
        if _state_name(job) != "JOB_STATE_CANCELLING":
            try:
                self.kind.method("cancel", client)(
                    name=name, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
                )
            except exceptions.FailedPrecondition:
                pass  # it reached a terminal state between our get and the cancel
        delays = _backoff(tunables.poll_initial_s, tunables.poll_max_s)
        while True:
            job = self._get(client, name, tunables)
            state = _state_name(job)
            if state in TERMINAL_STATES:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise VertexJobError(
                    f"{name} is still {state} {tunables.delete_timeout_s:.0f}s after it was "
                    "asked to cancel; it is not deleted yet. Re-run destroy to keep waiting."
                )
            time.sleep(min(next(delays), remaining))

    def _delete(self, client: Any, name: str, tunables: Tunables, deadline: float) -> None:
        from google.api_core import retry

        operation = self.kind.method("delete", client)(
            name=name, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
        )
        polling = retry.Retry(
            predicate=retry.if_exception_type(_operation_not_complete()),
            initial=tunables.poll_initial_s,
            maximum=tunables.poll_max_s,
            multiplier=2.0,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        operation.result(retry=api_retry(tunables), polling=polling)


def _operation_not_complete() -> type[Exception]:
    from google.api_core.future import polling

    return polling._OperationNotComplete


def _state_name(job: Any) -> str:
    """The job state's enum name, e.g. ``JOB_STATE_RUNNING`` (proto-plus enums are IntEnums)."""
    state = job.state
    return getattr(state, "name", f"JOB_STATE_{int(state)}")


class CustomJobProvider(_VertexJobProvider):
    """Dynamic provider for ``google.cloud.aiplatform.v1.CustomJob``."""

    kind = CUSTOM_JOB


class HyperparameterTuningJobProvider(_VertexJobProvider):
    """Dynamic provider for ``google.cloud.aiplatform.v1.HyperparameterTuningJob``.

    ``job_spec`` is the ``trial_job_spec``. Outputs add ``trials`` (one summary per trial) and
    ``best_trial``: the SUCCEEDED trial with the best final value of the study's first metric
    under its goal (ties go to the earliest trial); None while no trial has succeeded.
    """

    kind = TUNING_JOB
    input_keys = COMMON_INPUTS + TUNING_INPUTS
    output_keys = COMMON_OUTPUTS + TUNING_OUTPUTS

    def _required_extra(self) -> tuple[str, ...]:
        return TUNING_INPUTS

    def _check_extra(self, inputs: dict[str, Any], failures: list[CheckFailure]) -> None:
        _check_tuning(inputs, failures)

    def _spec_fields(self, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "trial_job_spec": props["job_spec"],
            "study_spec": props["study_spec"],
            "max_trial_count": props["max_trial_count"],
            "parallel_trial_count": props["parallel_trial_count"],
            "max_failed_trial_count": props["max_failed_trial_count"],
        }

    def _live_spec_fields(self, pb: Any, json_format: Any) -> dict[str, Any]:
        def as_json(message: Any) -> Any:
            return json_format.MessageToDict(message, preserving_proto_field_name=True)

        return {
            "job_spec": as_json(pb.trial_job_spec),
            "study_spec": as_json(pb.study_spec),
            "max_trial_count": pb.max_trial_count,
            "parallel_trial_count": pb.parallel_trial_count,
            "max_failed_trial_count": pb.max_failed_trial_count,
        }

    def _extra_outputs(self, props: dict[str, Any], pb: Any) -> dict[str, Any]:
        study = pb.study_spec if pb.HasField("study_spec") else None
        if study is None or not study.metrics:
            try:
                study = parse_proto_json("StudySpec", props.get("study_spec"))
            except Exception:  # noqa: BLE001
                study = None
        metric_id, goal = "", ""
        integer_params: set[str] = set()
        if study is not None and study.metrics:
            metric = study.metrics[0]
            metric_id = metric.metric_id
            goal = type(metric).GoalType.Name(metric.goal)
            integer_params = {
                p.parameter_id for p in study.parameters if p.HasField("integer_value_spec")
            }
        trials = [_trial_summary(t, metric_id, integer_params) for t in pb.trials]
        return {"trials": trials, "best_trial": best_trial(trials, metric_id, goal)}


def _trial_summary(trial: Any, metric_id: str, integer_params: set[str]) -> dict[str, Any]:
    from google.protobuf import json_format

    parameters = {}
    for param in trial.parameters:
        value = json_format.MessageToDict(param.value)
        if param.parameter_id in integer_params and isinstance(value, float) and value.is_integer():
            value = int(value)
        parameters[param.parameter_id] = value
    final = None
    if trial.HasField("final_measurement"):
        for metric in trial.final_measurement.metrics:
            if metric.metric_id == metric_id:
                final = metric.value
    return {
        "id": trial.id,
        "state": type(trial).State.Name(trial.state),
        "parameters": parameters,
        "final_metric_value": final,
    }


def best_trial(trials: list[dict[str, Any]], metric_id: str, goal: str) -> dict[str, Any] | None:
    """The SUCCEEDED trial with the best final metric for ``goal`` (MAXIMIZE or MINIMIZE)."""
    if goal not in ("MAXIMIZE", "MINIMIZE"):
        return None
    candidates = [
        t for t in trials if t["state"] == "SUCCEEDED" and t["final_metric_value"] is not None
    ]
    if not candidates:
        return None
    sign = 1.0 if goal == "MAXIMIZE" else -1.0
    best = candidates[0]
    for trial in candidates[1:]:  # strict comparison: ties keep the earliest trial
        if sign * trial["final_metric_value"] > sign * best["final_metric_value"]:
            best = trial
    return {
        "id": best["id"],
        "parameters": best["parameters"],
        "metric_id": metric_id,
        "metric_value": best["final_metric_value"],
    }
