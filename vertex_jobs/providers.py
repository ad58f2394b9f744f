# Over 400 lines: one class holds the whole check/diff/create/read/delete lifecycle of a job.
"""Pulumi dynamic providers for Vertex AI `CustomJob` and `HyperparameterTuningJob`.

How the provider travels: `pulumi.dynamic.Resource` dill-pickles the provider instance into
the `__provider` property (`pulumi.dynamic.dynamic.serialize_provider`, `dill.dumps(provider,
recurse=True)`) and the engine keeps it, as a secret, in the state file. dill pickles a class
of an importable module by reference (module path + class name): the state holds
`vertex_jobs.providers.CustomJobProvider` and an empty instance, no code. So:

- The dynamic-provider host (`python -m pulumi.dynamic`, started in the project directory,
  so the project root is on `sys.path`) imports this module to unpickle the provider; for
  Automation-API inline programs, put the project root on `PYTHONPATH`.
- refresh/destroy of old resources run the code checked out now: the module path and the
  class names are a compatibility promise (tests/vertex_jobs/test_compatibility.py), and old
  props must stay readable.
- Instances carry no attributes; every client, channel and setting is built or read inside
  each method, so nothing process-specific is pickled. Importing this module has no side
  effects and does not import the (slow) aiplatform client.

Inputs and outputs: `vertex_jobs.contract`. Lifecycle:

- `check` stamps the resource uid (`resource_uid`, also the job's `vtrain_resource_uid`
  label); see "The resource uid" below.
- `create` adopts a job already labelled with this resource's uid, else submits one. It is
  never blindly retried: after an ambiguous failure (the response may have been lost) it
  lists by label again and adopts what the first attempt made. PERMISSION_DENIED is the one
  answer it retries, for `Tunables.iam_propagation_s` with backoff: it means nothing was
  made, and a grant made in the same `pulumi up` (serviceAccountUser on the training
  account) can take minutes to take effect. It returns once the job is submitted (or, with
  `wait`, terminal or timed out).
- `read` is one `get`; a job that is gone yields an empty id so the engine drops it.
- `diff` makes no API calls. The v1 JobService has no Update RPC for either kind, so every
  change to the job replaces it, delete-before-replace: the old job is cancelled and deleted
  before the new one is submitted, so one resource never holds two jobs' accelerators or
  writes twice to one output directory. Only the client-side inputs are updated in place.
- `delete` cancels a live job, waits (bounded, exponential backoff) for a terminal state,
  then deletes it and waits for the operation. NotFound at any point counts as deleted.
- A job that ends FAILED or CANCELLED is reported in `state`/`error`; it does not fail the
  Pulumi operation.

The resource uid. The engine writes a resource to state only after `create` returns, so a
`pulumi up` that dies after Vertex accepted a job leaves a job the state does not know. The uid
is derived, not random, so that the next run finds it: `sha256(resource_key, the canonical
job-defining inputs, the old uid or "")`, 32 hex characters (`_resource_uid`). `resource_key`
(`<project>/<stack>/<resource name>`, set by the resource classes) says which resource; the
job-defining inputs are those whose change replaces the job (all but `CLIENT_SIDE_INPUTS`, the
uid label left out, specs in canonical proto3 JSON). `check` gets the old *inputs* as `olds`
when the resource is in state, and nothing when it is not. What follows:

- First create, no old state: the same resource with the same spec always gets the same uid.
  If `pulumi up` dies after the create reached Vertex, the next `pulumi up` (still no old
  state) computes the same uid and `create` adopts the job: one job, and destroy removes it.
  If the spec changed in between, the uid differs and a second job is submitted; the first
  is orphaned (Pulumi reports the interrupted create as a pending operation; find the job by
  its display name and `vtrain-job` label, cancel and delete it).
- Any create while the resource is in state (a replacement, `pulumi up --replace`) gets a
  new uid, because the old uid is hashed in: it can never adopt the job it replaces, even one
  kept by `retain_on_delete`. `check` cannot tell a create from a no-op (it runs before
  `diff`), so it mints the new uid whenever there is an old state; for an unchanged job `diff`
  ignores the uid (and `update` keeps the old outputs), so the live job and its outputs keep
  their uid, and only the recorded inputs move on.
- A crash during a replacement's create is recovered only while the old resource is still in
  state: the next run gets the same olds, computes the same uid and adopts. Replacements here
  are delete-before-replace, so the engine removes the old resource from state before it
  calls `create`; a crash after Vertex accepted the new job but before its state was written
  leaves no old state, the next run hashes "" instead of the old uid, cannot find the job and
  submits another: that orphan is NOT recovered (Pulumi's pending-operation warning is the
  sign; find it as above). Recovering it would need the old uid after the old resource left
  state, which nothing keeps.
- Without `resource_key` (a provider driven directly, not by the resource classes) the uid is
  random, as before: no crash recovery, and never a wrong adoption.
- A job already labelled with a recomputed uid is adopted whatever its state, e.g. one kept
  by `retain_on_delete` and recreated from no state with the same spec: the resource takes
  that job back rather than running it again. Change the spec (or a label) for a new run.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any

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

from config.catalogue import (
    ACT_AS_PERMISSION,
    TERMINAL_JOB_STATES,
    VERTEX_JOB_CREATE_PERMISSIONS,
)
from vertex_jobs.api import (
    Tunables,
    VertexJobError,
    api_message,
    api_retry,
    backoff,
    make_job_client,
    operation_not_complete,
    require_emulator,
    resolve_endpoint,
)
from vertex_jobs.contract import (
    CLIENT_SIDE_INPUTS,
    COMMON_INPUTS,
    COMMON_OUTPUTS,
    RESOURCE_UID_LABEL,
    TUNING_INPUTS,
    TUNING_OUTPUTS,
)
from vertex_jobs.links import job_links
from vertex_jobs.proto import (
    as_json,
    canonical_proto_json,
    contains_unknown,
    job_error,
    parse_proto_json,
    proto_class,
    state_name,
    timestamp,
)
from vertex_jobs.trials import trial_outputs
from vertex_jobs.validation import check_common, check_tuning

_JOB_NAME = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/[A-Za-z]+/(?P<id>[^/]+)$"
)


def _parse_job_name(name: str) -> dict[str, str]:
    match = _JOB_NAME.match(name or "")
    return match.groupdict() if match else {}


# Versions the uid derivation: a new scheme must not re-derive the uids of old jobs.
UID_SCHEME = "vtrain-resource-uid/1"


def _canonical(value: Any) -> Any:
    """Plain data in one form for hashing: Pulumi carries every number as a double, so an
    integral float is an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _service_account(job_spec: Any) -> str:
    """The job's run-as service account ("" for Vertex's Custom Code Service Agent)."""
    try:
        return parse_proto_json("CustomJobSpec", job_spec).service_account
    except Exception:  # noqa: BLE001 - only used in a message
        return ""


def _client_for(props: dict[str, Any], job_name: str | None = None) -> Any:
    region = props.get("region") or _parse_job_name(job_name or "").get("region", "")
    emulator = props.get("emulator_host")
    if emulator:
        require_emulator(emulator)  # a clear error now, not minutes of retried UNAVAILABLE
    return make_job_client(resolve_endpoint(region, props.get("api_endpoint"), emulator=emulator))


class _VertexJobProvider(ResourceProvider):
    """Shared CRUD for Vertex jobs. Stateless: subclasses only set class attributes."""

    message: str  # the aiplatform v1 message
    input_keys: tuple[str, ...] = tuple(COMMON_INPUTS)
    output_keys: tuple[str, ...] = tuple(COMMON_OUTPUTS)

    # ---- the RPCs of this kind (explicit, so a search for the client method finds them)

    def _create_rpc(self, client: Any, parent: str, job: Any, **options: Any) -> Any:
        raise NotImplementedError

    def _get_rpc(self, client: Any, name: str, **options: Any) -> Any:
        raise NotImplementedError

    def _list_rpc(self, client: Any, request: dict[str, Any], **options: Any) -> Any:
        raise NotImplementedError

    def _cancel_rpc(self, client: Any, name: str, **options: Any) -> Any:
        raise NotImplementedError

    def _delete_rpc(self, client: Any, name: str, **options: Any) -> Any:
        raise NotImplementedError

    # ---- check / diff (pure) -----------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        # The Resource passes output keys as None placeholders (so the Python object gets
        # those attributes); they are not inputs.
        inputs = {k: v for k, v in news.items() if k not in self.output_keys}
        inputs.setdefault("api_endpoint", None)
        inputs.setdefault("emulator_host", None)
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
        check_common(inputs, failures)
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

    def _resource_uid(self, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        """The uid of the job these inputs would create (see "The resource uid" above):
        ``sha256(resource_key, canonical job-defining inputs, old uid or "")`` as 32 hex
        characters; random without a ``resource_key``; unknown at preview while a
        job-defining input is."""
        key = news.get("resource_key")
        if contains_unknown(key):
            return Unknown()
        if not isinstance(key, str) or not key:
            return uuid.uuid4().hex  # no identity to derive from: no crash recovery
        defining = self._defining_inputs(news)
        if contains_unknown(defining):
            return Unknown()  # preview: `up` computes it from the known values
        old_uid = olds.get("resource_uid") if olds else None
        material = [
            UID_SCHEME,
            key,
            defining,
            old_uid if isinstance(old_uid, str) else "",
        ]
        text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _defining_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The inputs whose change replaces the job, in a canonical form."""
        return {
            key: _canonical(self._comparable(key, inputs.get(key)))
            for key in self.input_keys
            if key not in CLIENT_SIDE_INPUTS
        }

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
            old, new = self._comparable(key, olds.get(key)), self._comparable(key, news.get(key))
            if contains_unknown(new) or old != new:  # the uid label (unknown at preview) aside
                changed.append(key)
        return changed

    def _replace_keys(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return [k for k in self._changed_keys(olds, news) if k not in CLIENT_SIDE_INPUTS]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self._changed_keys(olds, news)
        replaces = [k for k in changed if k not in CLIENT_SIDE_INPUTS]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only client-side inputs (``api_endpoint``, ``emulator_host``, ``wait``) reach here;
        no API call."""
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
        # The documented list filter for a label: `labels.key=value` (AIP-160 grammar; the
        # key is `[a-z0-9_]`, the value quoted). Matches are checked again below.
        # https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs/list
        request = {
            "parent": self._parent(props),
            "filter": f'labels.{RESOURCE_UID_LABEL}="{props["resource_uid"]}"',
        }
        pager = self._list_rpc(
            client, request, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
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
        pb = json_format.ParseDict(body, proto_class(self.message)())
        from google.cloud import aiplatform_v1

        return getattr(aiplatform_v1, self.message).wrap(pb)

    def _spec_fields(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"job_spec": props["job_spec"]}

    def _submit(self, client: Any, props: dict[str, Any], tunables: Tunables) -> Any:
        from google.api_core import exceptions

        started = time.monotonic()
        delays = backoff(tunables.retry_initial_s, tunables.retry_max_s)
        attempts = 0
        while True:
            attempts += 1
            try:
                # Not retried by the client: a create whose response is lost may still have
                # made the job (see below). PERMISSION_DENIED is retried here, bounded.
                return self._create_rpc(
                    client,
                    self._parent(props),
                    self._job_message(props),
                    retry=None,
                    timeout=tunables.rpc_timeout_s,
                )
            except exceptions.PermissionDenied as exc:
                # Nothing was made. IAM is eventually consistent ("Access change
                # propagation": typically 2 minutes, potentially 7 or longer,
                # cloud.google.com/iam/docs/access-change-propagation): a grant made
                # earlier in this `pulumi up` may not be effective yet. Try again until
                # `iam_propagation_s` has passed since the first attempt.
                remaining = started + tunables.iam_propagation_s - time.monotonic()
                if remaining <= 0:
                    elapsed = time.monotonic() - started
                    raise VertexJobError(
                        self._denied(props, exc, attempts, elapsed, tunables)
                    ) from None
                time.sleep(min(next(delays), remaining))
            except exceptions.GoogleAPICallError as exc:
                return self._after_failed_create(client, props, tunables, exc)

    def _after_failed_create(
        self, client: Any, props: dict[str, Any], tunables: Tunables, exc: Exception
    ) -> Any:
        """Adopt what a failed create may have made, or raise the API's answer."""
        from google.api_core import exceptions

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
        delays = backoff(tunables.poll_initial_s, tunables.poll_max_s)
        for attempt in range(max(1, attempts)):
            if attempt:
                time.sleep(next(delays))
            job = self._find_by_uid(client, props, tunables)
            if job is not None:
                return job
        return None

    def _rejected(self, props: dict[str, Any], exc: Exception) -> str:
        return (
            f"Vertex AI rejected {self.message} '{props['display_name']}' in "
            f"{self._parent(props)}: {api_message(exc)}"
        )

    def _denied(
        self,
        props: dict[str, Any],
        exc: Exception,
        attempts: int,
        elapsed: float,
        tunables: Tunables,
    ) -> str:
        account = _service_account(props.get("job_spec"))
        on_account = (
            f"on the job's service account {account} (roles/iam.serviceAccountUser on that account)"
            if account
            else "on the job's service account"
        )
        return (
            f"Vertex AI denied creating {self.message} '{props['display_name']}' in "
            f"{self._parent(props)} for {elapsed:.0f}s ({attempts} attempts): "
            f"{api_message(exc)}. Nothing was created. The credentials `pulumi up` runs with "
            f"may lack {ACT_AS_PERMISSION} {on_account}, or "
            f"{VERTEX_JOB_CREATE_PERMISSIONS[self.message]} on project {props['project']} "
            "(roles/aiplatform.user). IAM grants take effect after typically 2 and "
            "potentially 7 or more minutes "
            "(https://cloud.google.com/iam/docs/access-change-propagation): if the grant was "
            "made just now, re-run `pulumi up` (or raise VTRAIN_VERTEX_IAM_PROPAGATION_S, "
            f"now {tunables.iam_propagation_s:g}s, to wait longer); otherwise grant the "
            "missing role to the identity that runs `pulumi up`."
        )

    def _ambiguous(self, props: dict[str, Any], exc: Exception) -> str:
        return (
            f"creating {self.message} '{props['display_name']}' in {self._parent(props)} "
            f"failed ({api_message(exc)}) and no job labelled "
            f"{RESOURCE_UID_LABEL}={props['resource_uid']} was found afterwards. If one appears "
            f'later, cancel it (filter labels.{RESOURCE_UID_LABEL}="{props["resource_uid"]}") '
            "before re-running `pulumi up`."
        )

    def _maybe_wait(self, client: Any, job: Any, props: dict[str, Any], tunables: Tunables) -> Any:
        """Optional bounded wait for short jobs. Never raises: the job exists now, and a failed
        create would make Pulumi forget it."""
        wait = props.get("wait") or {}
        if not wait.get("until_terminal"):
            return job
        deadline = time.monotonic() + wait.get("timeout_seconds", 600)
        delays = backoff(tunables.poll_initial_s, tunables.poll_max_s)
        while state_name(job) not in TERMINAL_JOB_STATES:
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
        return self._get_rpc(
            client, name, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
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
        pb = type(job).pb(job)
        parsed = _parse_job_name(job.name)
        live = {
            "project": parsed.get("project"),
            "region": parsed.get("region"),
            "api_endpoint": None,
            "emulator_host": None,
            "display_name": pb.display_name,
            "labels": dict(pb.labels),
            "encryption_kms_key": pb.encryption_spec.kms_key_name or None,
            "wait": None,
            "resource_uid": pb.labels.get(RESOURCE_UID_LABEL),
            **self._live_spec_fields(pb),
        }
        return {**live, **{k: v for k, v in props.items() if k != "__provider"}}

    def _live_spec_fields(self, pb: Any) -> dict[str, Any]:
        return {"job_spec": as_json(pb.job_spec)}

    def _outputs(self, props: dict[str, Any], job: Any) -> dict[str, Any]:
        # create's props passed check (project and region required); read's come from
        # _inputs_from_job, which takes them from the job name where state has none.
        pb = type(job).pb(job)
        region, project = props["region"], props["project"]
        job_id = pb.name.rsplit("/", 1)[-1]
        return {
            **{k: v for k, v in props.items() if k != "__provider"},
            "name": pb.name,
            "job_id": job_id,
            "state": state_name(job),
            # console_url, logs_url: Google's console knows nothing of an emulator's jobs
            # (scripts/local_models.py prints where the emulator keeps their logs).
            **(
                {"console_url": None, "logs_url": None}
                if props.get("emulator_host")
                else job_links(project, region, job_id)
            ),
            "create_time": timestamp(pb, "create_time"),
            "start_time": timestamp(pb, "start_time"),
            "end_time": timestamp(pb, "end_time"),
            "error": job_error(pb),
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
        if state_name(job) in TERMINAL_JOB_STATES:
            return
        if state_name(job) != "JOB_STATE_CANCELLING":
            try:
                self._cancel_rpc(
                    client, name, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
                )
            except exceptions.FailedPrecondition:
                pass  # it reached a terminal state between our get and the cancel
        delays = backoff(tunables.poll_initial_s, tunables.poll_max_s)
        while True:
            job = self._get(client, name, tunables)
            state = state_name(job)
            if state in TERMINAL_JOB_STATES:
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

        operation = self._delete_rpc(
            client, name, retry=api_retry(tunables), timeout=tunables.rpc_timeout_s
        )
        polling = retry.Retry(
            predicate=retry.if_exception_type(operation_not_complete()),
            initial=tunables.poll_initial_s,
            maximum=tunables.poll_max_s,
            multiplier=2.0,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        operation.result(retry=api_retry(tunables), polling=polling)


class CustomJobProvider(_VertexJobProvider):
    """Dynamic provider for `google.cloud.aiplatform.v1.CustomJob`."""

    message = "CustomJob"

    def _create_rpc(self, client: Any, parent: str, job: Any, **options: Any) -> Any:
        return client.create_custom_job(parent=parent, custom_job=job, **options)

    def _get_rpc(self, client: Any, name: str, **options: Any) -> Any:
        return client.get_custom_job(name=name, **options)

    def _list_rpc(self, client: Any, request: dict[str, Any], **options: Any) -> Any:
        return client.list_custom_jobs(request=request, **options)

    def _cancel_rpc(self, client: Any, name: str, **options: Any) -> Any:
        return client.cancel_custom_job(name=name, **options)

    def _delete_rpc(self, client: Any, name: str, **options: Any) -> Any:
        return client.delete_custom_job(name=name, **options)


class HyperparameterTuningJobProvider(_VertexJobProvider):
    """Dynamic provider for `google.cloud.aiplatform.v1.HyperparameterTuningJob`.

    `job_spec` is the `trial_job_spec`. Outputs add `trials`, `best_trial` and
    `pareto_trials` (`vertex_jobs.trials`).
    """

    message = "HyperparameterTuningJob"
    input_keys = (*COMMON_INPUTS, *TUNING_INPUTS)
    output_keys = (*COMMON_OUTPUTS, *TUNING_OUTPUTS)

    def _create_rpc(self, client: Any, parent: str, job: Any, **options: Any) -> Any:
        return client.create_hyperparameter_tuning_job(
            parent=parent, hyperparameter_tuning_job=job, **options
        )

    def _get_rpc(self, client: Any, name: str, **options: Any) -> Any:
        return client.get_hyperparameter_tuning_job(name=name, **options)

    def _list_rpc(self, client: Any, request: dict[str, Any], **options: Any) -> Any:
        return client.list_hyperparameter_tuning_jobs(request=request, **options)

    def _cancel_rpc(self, client: Any, name: str, **options: Any) -> Any:
        return client.cancel_hyperparameter_tuning_job(name=name, **options)

    def _delete_rpc(self, client: Any, name: str, **options: Any) -> Any:
        return client.delete_hyperparameter_tuning_job(name=name, **options)

    def _required_extra(self) -> tuple[str, ...]:
        return tuple(TUNING_INPUTS)

    def _check_extra(self, inputs: dict[str, Any], failures: list[CheckFailure]) -> None:
        check_tuning(inputs, failures)

    def _spec_fields(self, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "trial_job_spec": props["job_spec"],
            "study_spec": props["study_spec"],
            "max_trial_count": props["max_trial_count"],
            "parallel_trial_count": props["parallel_trial_count"],
            "max_failed_trial_count": props["max_failed_trial_count"],
        }

    def _live_spec_fields(self, pb: Any) -> dict[str, Any]:
        return {
            "job_spec": as_json(pb.trial_job_spec),
            "study_spec": as_json(pb.study_spec),
            "max_trial_count": pb.max_trial_count,
            "parallel_trial_count": pb.parallel_trial_count,
            "max_failed_trial_count": pb.max_failed_trial_count,
        }

    def _extra_outputs(self, props: dict[str, Any], pb: Any) -> dict[str, Any]:
        return trial_outputs(pb, props.get("study_spec"), props.get("project"))
