# Over 400 lines: a stateful JobService with its LROs, fault injection and pytest fixtures.
"""A fake Vertex AI ``JobService`` (CustomJob + HyperparameterTuningJob) over real gRPC.

The real ``google.cloud.aiplatform_v1.JobServiceClient`` talks to it unchanged: point
``VERTEX_AI_EMULATOR_HOST`` at ``fake.address`` (the ``vertex_fake`` fixture does) and the
provider opens an insecure channel to it. It is served with a generic handler whose
(de)serializers are the proto-plus messages' own ``serialize``/``deserialize``, plus
``google.longrunning.Operations`` for the delete LROs.

Behaviour, close to the real service (each rule cites the Google documentation it follows,
next to its code; nothing here is taken from the provider under test or from ``config``):
* every request's parent/name must be in a Vertex AI region (``VERTEX_AI_REGIONS``), and in
  ``served_region`` when that is set (a regional endpoint serves only its own region).
* create validates the job as the API documents it (``_validate_job``: display name, labels,
  worker pools, machine types, images, replica counts, and for a tuning job the study spec and
  trial counts); a violation is INVALID_ARGUMENT and makes nothing. It stores the job in
  ``JOB_STATE_QUEUED`` with an id, ``create_time`` and ``update_time``. With
  ``iam_denied_creates = N`` the next N creates are PERMISSION_DENIED (a grant not yet
  effective: IAM is eventually consistent) and make nothing.
* list pages (``page_size``) and takes the part of the documented filter grammar it
  implements (``_parse_filter``): ``state``, ``display_name`` and ``labels.<key>``
  compared with ``=``/``!=``, joined by ``AND``/``OR``, in parentheses; anything else,
  e.g. an unquoted hyphenated label key, is INVALID_ARGUMENT, as AIP-160 requires for a
  filter a service does not accept. With ``list_lag_calls = N`` a new job is left out of the
  next N list calls of its kind (list is eventually consistent; get is not affected).
* states follow ``job_state.proto`` (``TERMINAL``, ``advance``): cancel moves a job in any
  non-terminal state (PAUSED, UPDATING and UNSPECIFIED included) to ``JOB_STATE_CANCELLING``
  and, after ``cancel_delay_gets`` more gets (default 0), to ``JOB_STATE_CANCELLED`` with
  error code 1; cancelling a terminal job is FAILED_PRECONDITION.
* delete of a job not in a terminal state is FAILED_PRECONDITION; otherwise the job
  disappears and an Operation is returned, done at once or after ``operation_delay_polls``
  GetOperation calls.

Test control: ``advance(name, state)``, ``finish(name, succeeded=..)``, ``add_trial(...)``,
``inject(method, code, ...)`` for faults (including ``lose_response=True``: the call takes
effect server-side but the client gets the error), ``before(method, fn)`` and
``script_states(method, states)`` to act just before a request is served (e.g. move a job to
the next state on each get), and ``calls``/``call_count(...)`` to assert on every request
received. ``FakeClock`` stands in for ``time`` where a test must not spend wall-clock time on
a provider's waits.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.cloud.aiplatform_v1.types import (
    custom_job,
    hyperparameter_tuning_job,
    job_service,
    job_state,
    study,
)
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2
from google.rpc import status_pb2

JobState = job_state.JobState
SERVICE = "google.cloud.aiplatform.v1.JobService"
OPERATIONS_SERVICE = "google.longrunning.Operations"

# ---- job states ------------------------------------------------------------------------
#
# Written from `google/cloud/aiplatform/v1/job_state.proto` (googleapis/googleapis) and its
# rendering in the client references (e.g. cloud.google.com/ruby/docs/reference/
# google-cloud-ai_platform-v1/latest/Google-Cloud-AIPlatform-V1-JobState). The enum has:
#   UNSPECIFIED "The job state is unspecified." - QUEUED "just created or resumed and
#   processing has not yet begun" - PENDING "The service is preparing to run the job." -
#   RUNNING "in progress" - SUCCEEDED "completed successfully" - FAILED "The job failed." -
#   CANCELLING "From this state the job may only go to either JOB_STATE_SUCCEEDED,
#   JOB_STATE_FAILED or JOB_STATE_CANCELLED." - CANCELLED "has been cancelled" - PAUSED
#   "has been stopped, and can be resumed." - EXPIRED "The job has expired." - UPDATING
#   "Only jobs in the RUNNING state can be updated. After updating, the job goes back to the
#   RUNNING state." - PARTIALLY_SUCCEEDED "some results may be missing due to errors".
# So a job is finished ("terminal") in SUCCEEDED, FAILED, CANCELLED (the states CANCELLING
# ends in), EXPIRED and PARTIALLY_SUCCEEDED; it is NOT finished in PAUSED (it can be resumed,
# to QUEUED), UPDATING (it goes back to RUNNING) or UNSPECIFIED (nothing is known of it), nor
# in QUEUED/PENDING/RUNNING/CANCELLING.
TERMINAL = frozenset(
    {
        JobState.JOB_STATE_SUCCEEDED,
        JobState.JOB_STATE_FAILED,
        JobState.JOB_STATE_CANCELLED,
        JobState.JOB_STATE_EXPIRED,
        JobState.JOB_STATE_PARTIALLY_SUCCEEDED,
    }
)
# CustomJob.end_time / HyperparameterTuningJob.end_time: "Time when the CustomJob entered any
# of the following states: JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, JOB_STATE_CANCELLED."
END_TIME_STATES = frozenset(
    {JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED}
)
# Where a state may be left for (documented constraints only; `advance` enforces them).
_ONLY_TO = {
    JobState.JOB_STATE_CANCELLING: frozenset(
        {JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED}
    ),
    JobState.JOB_STATE_UPDATING: frozenset({JobState.JOB_STATE_RUNNING}),
}
_ONLY_FROM = {JobState.JOB_STATE_UPDATING: frozenset({JobState.JOB_STATE_RUNNING})}

# ---- locations -----------------------------------------------------------------------
#
# "Vertex AI doesn't support a global location." "You specify the location for a Vertex AI
# API request by using the appropriate regional endpoint", e.g. europe-west4-aiplatform.
# googleapis.com (cloud.google.com/vertex-ai/docs/general/locations). The regions below are
# those confirmed under "Vertex AI is available in the following regions" on that page (and,
# for me-central1/me-central2, its Generative AI sibling .../generative-ai/docs/learn/
# locations) in the copies read for this fake. A region missing here is INVALID_ARGUMENT;
# if the page lists it (e.g. Osaka, Jakarta, Melbourne, Turin, Johannesburg were not
# confirmed), add it.
# A request to one regional endpoint naming another region's location is INVALID_ARGUMENT:
# "1.Field: parent; Message: The provided location ID doesn't match the endpoint. The valid
# location ID is `us-central1`." (googleapis/python-aiplatform#1684).
VERTEX_AI_REGIONS = frozenset(
    {
        # United States
        "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
        "us-west1", "us-west2", "us-west3", "us-west4",
        # Canada, South America
        "northamerica-northeast1", "northamerica-northeast2",
        "southamerica-east1", "southamerica-west1",
        # Europe
        "europe-central2", "europe-north1", "europe-southwest1", "europe-west1",
        "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
        "europe-west9",
        # Asia Pacific
        "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast3", "asia-south1",
        "asia-southeast1", "australia-southeast1",
        # Middle East
        "me-central1", "me-central2", "me-west1",
    }
)  # fmt: skip
_PARENT = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)$")
_NAME = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/(?P<collection>[A-Za-z]+)/"
    r"(?P<id>[^/]+)$"
)
_MACHINE_TYPE = re.compile(r"^(n1|n2|n2d|e2|c2|c3|a2|a3|g2|m1|ct5lp|cloud-tpu)-[a-z0-9-]+$")


@dataclass(frozen=True)
class _Kind:
    message: type  # proto-plus message class
    collection: str  # "customJobs"
    rpc: str  # "CustomJob"
    field: str  # request/response field name, e.g. "custom_job"
    list_field: str  # e.g. "custom_jobs"


CUSTOM = _Kind(custom_job.CustomJob, "customJobs", "CustomJob", "custom_job", "custom_jobs")
TUNING = _Kind(
    hyperparameter_tuning_job.HyperparameterTuningJob,
    "hyperparameterTuningJobs",
    "HyperparameterTuningJob",
    "hyperparameter_tuning_job",
    "hyperparameter_tuning_jobs",
)


@dataclass
class Call:
    method: str  # short RPC name, e.g. "CreateCustomJob"
    request: Any


@dataclass
class Fault:
    code: grpc.StatusCode
    message: str
    lose_response: bool = False  # run the method, then fail: the client never sees the result
    side_effect: Callable[[], None] | None = None  # runs (under the lock) when the fault fires


@dataclass
class _Job:
    kind: _Kind
    message: Any  # a proto-plus CustomJob / HyperparameterTuningJob
    cancel_gets_left: int = 0
    unlisted_for: int = 0  # list calls of its kind that still leave it out (list lag)


@dataclass
class _Operation:
    proto: operations_pb2.Operation
    polls_left: int = 0


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _now() -> datetime:
    return datetime.now(UTC)


def _state(value: Any) -> JobState:
    if isinstance(value, JobState):
        return value
    name = str(value).upper()
    return JobState[name if name.startswith("JOB_STATE_") else f"JOB_STATE_{name}"]


@dataclass
class FakeVertexJobService:
    """Stateful in-memory JobService. Thread-safe; start with ``start()``, stop with ``stop()``."""

    cancel_delay_gets: int = 0
    operation_delay_polls: int = 0
    page_size: int = 50
    # The next N creates are PERMISSION_DENIED, as while an IAM grant made just before is not
    # effective yet: "Changes to allow or deny policies typically propagate in 2 minutes,
    # but could potentially take 7 minutes or longer" (cloud.google.com/iam/docs/
    # access-change-propagation). Vertex checks the caller's act-as on the job's service
    # account at create (CustomJobSpec.service_account: "Users submitting jobs must have
    # act-as permission on this run-as account"). Nothing is stored.
    iam_denied_creates: int = 0
    # List is eventually consistent: a job created (or put) is left out of the next N list
    # calls of its kind (0: listed at once, the default for speed). Vertex documents no
    # read-after-write guarantee for ListCustomJobs; the provider's adopt-after-a-lost-create
    # must not depend on one (see `_adopt` and `Tunables.adopt_attempts`).
    list_lag_calls: int = 0
    # The region whose regional endpoint this fake stands for; None serves every Vertex AI
    # region (the emulator host replaces all regional endpoints).
    served_region: str | None = None
    calls: list[Call] = field(default_factory=list)
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _operations: dict[str, _Operation] = field(default_factory=dict)
    _faults: dict[str, deque[Fault]] = field(default_factory=dict)
    _hooks: dict[str, deque[Callable[[Any], None]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_000_000_000_000_000))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: grpc.Server | None = None
    port: int = 0

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeVertexJobService:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers((self._job_handler(), self._operations_handler()))
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeVertexJobService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test control ----------------------------------------------------------------

    def inject(
        self,
        method: str,
        code: grpc.StatusCode,
        message: str | None = None,
        *,
        times: int = 1,
        lose_response: bool = False,
        side_effect: Callable[[], None] | None = None,
    ) -> None:
        """Queue ``times`` faults for RPC ``method`` (e.g. "GetCustomJob"), served in order.

        ``lose_response``: the call takes effect, then the client gets ``code``.
        ``side_effect``: run when the fault fires, e.g. to delete the job out of band so a
        NOT_FOUND is the truth rather than a lie."""
        fault = Fault(
            code, message or f"injected {code.name} on {method}", lose_response, side_effect
        )
        with self._lock:
            self._faults.setdefault(method, deque()).extend([fault] * times)

    def before(self, method: str, action: Callable[[Any], None], *, times: int = 1) -> None:
        """Run ``action(request)`` (under the lock) just before each of the next ``times``
        ``method`` requests is served, e.g. to move the job it names to another state."""
        with self._lock:
            self._hooks.setdefault(method, deque()).extend([action] * times)

    def script_states(self, method: str, states: list[Any]) -> None:
        """Each of the next ``len(states)`` ``method`` requests (a Get, Cancel...) first moves
        the job it names to the next of ``states`` (through ``advance``)."""
        pending = iter(states)
        self.before(
            method, lambda request: self.advance(request.name, next(pending)), times=len(states)
        )

    def reset(self) -> None:
        """Forget jobs, operations, faults, hooks and calls; restore the default knobs."""
        with self._lock:
            self._jobs.clear()
            self._operations.clear()
            self._faults.clear()
            self._hooks.clear()
            self.calls.clear()
            self.cancel_delay_gets = 0
            self.operation_delay_polls = 0
            self.page_size = 50
            self.iam_denied_creates = 0
            self.list_lag_calls = 0
            self.served_region = None

    def remove_job(self, name: str) -> None:
        """Delete a job out of band (as another user or a retention policy would)."""
        with self._lock:
            self._jobs.pop(name, None)

    def pending_faults(self, method: str) -> int:
        with self._lock:
            return len(self._faults.get(method, ()))

    def call_count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for call in self.calls if method is None or call.method == method)

    def methods_called(self) -> list[str]:
        with self._lock:
            return [call.method for call in self.calls]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def job_names(self) -> list[str]:
        with self._lock:
            return sorted(self._jobs)

    def job(self, name: str) -> Any:
        """A copy of the stored job message."""
        with self._lock:
            stored = self._jobs[name]
            return type(stored.message).deserialize(type(stored.message).serialize(stored.message))

    def state(self, name: str) -> str:
        with self._lock:
            return self._jobs[name].message.state.name

    def live_jobs(self) -> list[str]:
        """Jobs that would still be billing: stored and not terminal."""
        with self._lock:
            return sorted(n for n, j in self._jobs.items() if j.message.state not in TERMINAL)

    def advance(self, name: str, state: Any, *, force: bool = False) -> None:
        """Move a job to ``state`` ("RUNNING", "JOB_STATE_SUCCEEDED", a JobState...).

        A move job_state.proto rules out raises ValueError (unless ``force``): out of a
        terminal state; out of CANCELLING except to SUCCEEDED/FAILED/CANCELLED; into UPDATING
        except from RUNNING; out of UPDATING except back to RUNNING. UNSPECIFIED may be
        reported from anywhere not terminal: it stands for a state the client cannot name."""
        with self._lock:
            stored = self._jobs[name]
            target = _state(state)
            problem = _transition_problem(stored.message.state, target)
            if problem and not force:
                raise ValueError(f"{name}: {problem}")
            if target == JobState.JOB_STATE_CANCELLING:  # ends as a cancel RPC's would
                stored.cancel_gets_left = self.cancel_delay_gets
            self._set_state(stored.message, target)

    def finish(self, name: str, *, succeeded: bool = True, message: str = "") -> None:
        """End a job: SUCCEEDED, or FAILED with ``error={code: 13, message}``."""
        with self._lock:
            job = self._jobs[name].message
            if succeeded:
                self._set_state(job, JobState.JOB_STATE_SUCCEEDED)
            else:
                job.error = status_pb2.Status(code=13, message=message or "replica exited 1")
                self._set_state(job, JobState.JOB_STATE_FAILED)

    def add_trial(
        self,
        name: str,
        parameters: dict[str, Any],
        metric_value: float | None,
        state: str = "SUCCEEDED",
        metric_id: str | None = None,
    ) -> str:
        """Append a trial to a tuning job; returns its id. ``metric_id`` defaults to the
        study's first metric; ``metric_value=None`` records no final measurement."""
        with self._lock:
            job = self._jobs[name].message
            trial_id = str(len(job.trials) + 1)
            trial = study.Trial(
                id=trial_id,
                state=study.Trial.State[state],
                parameters=[
                    study.Trial.Parameter(parameter_id=key, value=value)
                    for key, value in parameters.items()
                ],
                start_time=_now(),
            )
            if metric_value is not None:
                metric = metric_id or job.study_spec.metrics[0].metric_id
                trial.final_measurement = study.Measurement(
                    metrics=[study.Measurement.Metric(metric_id=metric, value=metric_value)]
                )
            if state in ("SUCCEEDED", "INFEASIBLE"):
                trial.end_time = _now()
            if state == "INFEASIBLE":
                trial.infeasible_reason = "trial failed"
            job.trials.append(trial)
            return trial_id

    def put_job(self, kind: _Kind, parent: str, job: Any) -> str:
        """Store a job directly (as if made by someone else); returns its name."""
        with self._lock:
            return self._store(kind, parent, job).name

    @staticmethod
    def _set_state(job: Any, state: JobState) -> None:
        job.state = state
        job.update_time = _now()
        if state == JobState.JOB_STATE_RUNNING and "start_time" not in job:
            job.start_time = _now()
        if state in END_TIME_STATES and "end_time" not in job:
            job.end_time = _now()

    # ---- gRPC plumbing ---------------------------------------------------------------

    def _job_handler(self) -> grpc.GenericRpcHandler:
        handlers = {}
        for kind in (CUSTOM, TUNING):
            plural = kind.rpc + "s"
            specs: list[tuple[str, Any, Callable[..., Any], Any]] = [
                (f"Create{kind.rpc}", getattr(job_service, f"Create{kind.rpc}Request"),
                 self._create, kind.message),
                (f"Get{kind.rpc}", getattr(job_service, f"Get{kind.rpc}Request"),
                 self._get, kind.message),
                (f"List{plural}", getattr(job_service, f"List{plural}Request"),
                 self._list, getattr(job_service, f"List{plural}Response")),
                (f"Cancel{kind.rpc}", getattr(job_service, f"Cancel{kind.rpc}Request"),
                 self._cancel, None),
                (f"Delete{kind.rpc}", getattr(job_service, f"Delete{kind.rpc}Request"),
                 self._delete, None),
            ]  # fmt: skip
            for method, request_type, impl, response_type in specs:
                handlers[method] = grpc.unary_unary_rpc_method_handler(
                    self._wrap(method, kind, impl),
                    request_deserializer=request_type.deserialize,
                    response_serializer=self._serializer(response_type),
                )
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _operations_handler(self) -> grpc.GenericRpcHandler:
        handler = grpc.unary_unary_rpc_method_handler(
            self._wrap("GetOperation", None, self._get_operation),
            request_deserializer=operations_pb2.GetOperationRequest.FromString,
            response_serializer=operations_pb2.Operation.SerializeToString,
        )
        return grpc.method_handlers_generic_handler(OPERATIONS_SERVICE, {"GetOperation": handler})

    @staticmethod
    def _serializer(response_type: Any) -> Callable[[Any], bytes]:
        if response_type is None:  # Cancel returns Empty; Delete returns an Operation
            return lambda message: message.SerializeToString()
        return response_type.serialize

    def _wrap(self, method: str, kind: _Kind | None, impl: Callable[..., Any]) -> Callable:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            with self._lock:
                self.calls.append(Call(method, request))
                hooks = self._hooks.get(method)
                if hooks:
                    hooks.popleft()(request)
                queue = self._faults.get(method)
                fault = queue.popleft() if queue else None
                if fault is not None and fault.side_effect is not None:
                    fault.side_effect()
            if fault is not None and not fault.lose_response:
                context.abort(fault.code, fault.message)
            try:
                with self._lock:
                    response = impl(kind, request) if kind is not None else impl(request)
            except _Abort as abort:
                context.abort(abort.code, abort.message)
            if fault is not None:  # the work is done, the answer is lost
                context.abort(fault.code, fault.message)
            return response

        return handle

    # ---- RPC implementations (called with the lock held) -----------------------------

    def _check_location(self, field_name: str, location: str) -> None:
        if location not in VERTEX_AI_REGIONS:
            raise _invalid(
                field_name,
                f"Location `{location}` is not a Vertex AI region (there is no global location).",
            )
        if self.served_region is not None and location != self.served_region:
            raise _invalid(
                field_name,
                "The provided location ID doesn't match the endpoint. The valid location ID is "
                f"`{self.served_region}`.",
            )

    def _check_parent(self, parent: str) -> None:
        match = _PARENT.match(parent)
        if match is None:
            raise _invalid(
                "parent", f"{parent!r} is not projects/{{project}}/locations/{{location}}."
            )
        self._check_location("parent", match["location"])

    def _lookup(self, kind: _Kind, name: str) -> _Job:
        match = _NAME.match(name)
        if match is None or match["collection"] != kind.collection:
            raise _invalid("name", f"{name!r} is not a {kind.rpc} resource name.")
        self._check_location("name", match["location"])
        stored = self._jobs.get(name)
        if stored is None or stored.kind is not kind:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f'{kind.rpc} "{name}" not found.')
        return stored

    def _store(self, kind: _Kind, parent: str, job: Any) -> Any:
        job = type(job).deserialize(type(job).serialize(job))
        job.name = f"{parent}/{kind.collection}/{next(self._ids)}"
        job.state = JobState.JOB_STATE_QUEUED
        job.create_time = job.update_time = _now()
        self._jobs[job.name] = _Job(kind, job, unlisted_for=self.list_lag_calls)
        return job

    def _create(self, kind: _Kind, request: Any) -> Any:
        self._check_parent(request.parent)
        job = getattr(request, kind.field)
        spec = job.job_spec if kind is CUSTOM else job.trial_job_spec
        if self.iam_denied_creates > 0:
            self.iam_denied_creates -= 1
            account = spec.service_account or "the Vertex AI Custom Code Service Agent"
            raise _Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission 'iam.serviceAccounts.actAs' denied on service account {account} "
                "(or it may not exist).",
            )
        _validate_job(kind, job)
        return self._store(kind, request.parent, job)

    def _get(self, kind: _Kind, request: Any) -> Any:
        stored = self._lookup(kind, request.name)
        job = stored.message
        if job.state == JobState.JOB_STATE_CANCELLING:
            if stored.cancel_gets_left <= 0:
                job.error = status_pb2.Status(code=1, message="CANCELLED")
                self._set_state(job, JobState.JOB_STATE_CANCELLED)
            stored.cancel_gets_left -= 1
        return job

    def _list(self, kind: _Kind, request: Any) -> Any:
        self._check_parent(request.parent)
        matches = _parse_filter(request.filter)
        parent = request.parent + "/"
        names = sorted(
            name
            for name, stored in self._jobs.items()
            if stored.kind is kind
            and stored.unlisted_for <= 0
            and name.startswith(parent)
            and matches(stored.message)
        )
        for stored in self._jobs.values():  # this call counts against every job's list lag
            if stored.kind is kind and stored.unlisted_for > 0:
                stored.unlisted_for -= 1
        start = int(request.page_token or 0)
        size = request.page_size or self.page_size
        page = names[start : start + size]
        response_type = getattr(job_service, f"List{kind.rpc}sResponse")
        token = str(start + size) if start + size < len(names) else ""
        return response_type(
            **{kind.list_field: [self._jobs[n].message for n in page], "next_page_token": token}
        )

    def _cancel(self, kind: _Kind, request: Any) -> empty_pb2.Empty:
        # CancelCustomJob / CancelHyperparameterTuningJob (job_service.proto): "Starts
        # asynchronous cancellation on the CustomJob. The server makes a best effort to cancel
        # the job ... On successful cancellation, the CustomJob is not deleted; instead it
        # becomes a job with a CustomJob.error value with a google.rpc.Status.code of 1,
        # corresponding to Code.CANCELLED, and CustomJob.state is set to CANCELLED." Any job
        # not finished (QUEUED, PENDING, RUNNING, PAUSED, UPDATING, UNSPECIFIED) goes to
        # CANCELLING, then CANCELLED (`_get`); a second cancel while CANCELLING changes
        # nothing. A finished job cannot be cancelled: FAILED_PRECONDITION, "the system is not
        # in a state required for the operation's execution" (google/rpc/code.proto).
        stored = self._lookup(kind, request.name)
        job = stored.message
        if job.state in TERMINAL:
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'{kind.rpc} "{request.name}" is in state {job.state.name} and cannot be '
                "cancelled.",
            )
        if job.state != JobState.JOB_STATE_CANCELLING:
            self._set_state(job, JobState.JOB_STATE_CANCELLING)
            stored.cancel_gets_left = self.cancel_delay_gets
        return empty_pb2.Empty()

    def _delete(self, kind: _Kind, request: Any) -> operations_pb2.Operation:
        # Only a finished job can be deleted: job_service.proto says it of the sibling
        # DeleteBatchPredictionJob ("Can only be called on jobs that already finished"), and
        # Vertex answers a delete of a live CustomJob/HyperparameterTuningJob with
        # FAILED_PRECONDITION ("the system is not in a state required for the operation's
        # execution. For example, the directory to be deleted is non-empty",
        # google/rpc/code.proto). PAUSED, UPDATING and UNSPECIFIED are not finished.
        stored = self._lookup(kind, request.name)
        if stored.message.state not in TERMINAL:
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'{kind.rpc} "{request.name}" is in state {stored.message.state.name}; '
                "only jobs in a terminal state can be deleted.",
            )
        del self._jobs[request.name]
        name = f"{request.name}/operations/{next(self._ids)}"
        operation = _Operation(operations_pb2.Operation(name=name), self.operation_delay_polls)
        self._operations[name] = operation
        return self._poll(operation)

    def _poll(self, operation: _Operation) -> operations_pb2.Operation:
        if operation.polls_left <= 0 and not operation.proto.done:
            response = any_pb2.Any()
            response.Pack(empty_pb2.Empty())
            operation.proto.done = True
            operation.proto.response.CopyFrom(response)
        operation.polls_left -= 1
        result = operations_pb2.Operation()
        result.CopyFrom(operation.proto)
        return result

    def _get_operation(self, request: operations_pb2.GetOperationRequest) -> Any:
        operation = self._operations.get(request.name)
        if operation is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f'Operation "{request.name}" not found.')
        return self._poll(operation)


def _transition_problem(current: JobState, target: JobState) -> str | None:
    """Why job_state.proto rules out moving from ``current`` to ``target``, or None."""
    if current == target:
        return None
    if current in TERMINAL:
        return f"{current.name} is terminal: a finished job never goes to {target.name}"
    allowed = _ONLY_TO.get(current)
    if allowed is not None and target not in allowed:
        names = ", ".join(sorted(state.name for state in allowed))
        return f"from {current.name} a job may only go to {names}, not {target.name}"
    sources = _ONLY_FROM.get(target)
    if sources is not None and current not in sources:
        names = ", ".join(sorted(state.name for state in sources))
        return f"only a job in {names} can go to {target.name}, not one in {current.name}"
    return None


# ---- create validation ------------------------------------------------------------------
#
# What CreateCustomJob / CreateHyperparameterTuningJob reject with INVALID_ARGUMENT, from the
# v1 reference (custom_job.proto, hyperparameter_tuning_job.proto, study.proto,
# machine_resources.proto in googleapis/googleapis; the REST pages
# cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec and .../StudySpec) and
# the guides cited at each rule. "Required" fields (google.api.field_behavior = REQUIRED)
# left at their proto3 default are missing. Messages follow Vertex's own shape:
# "List of found errors:\t1.Field: <path>; Message: <what>\t".


def _invalid(field_path: str, message: str) -> _Abort:
    return _Abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"List of found errors:\t1.Field: {field_path}; Message: {message}\t",
    )


# CustomJob.labels / HyperparameterTuningJob.labels: "Label keys and values can be no longer
# than 64 characters (Unicode codepoints), can only contain lowercase letters, numeric
# characters, underscores and dashes. International characters are allowed. See
# https://goo.gl/xmQnxf" - the Resource Manager "Requirements for labels": "up to a maximum
# of 64" labels per resource; "Keys have a minimum length of 1 character and a maximum
# length of 63 characters"; "Values can be empty, and have a maximum length of 63
# characters"; "Keys must start with a lowercase letter or international character"
# (cloud.google.com/resource-manager/docs/labels-overview#requirements). The stricter 63 of
# the two documented lengths applies.
MAX_LABELS = 64
MAX_LABEL_LENGTH = 63


def _label_char(char: str) -> bool:
    # lowercase letters (Ll), international letters without case and their marks (Lo, Lm,
    # Mn, Mc: e.g. CJK, kana, Devanagari), digits (Nd), '_' and '-'; never uppercase (Lu)
    return unicodedata.category(char) in ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd") or char in "_-"


def _label_problem(key: str, value: str) -> str | None:
    if not 1 <= len(key) <= MAX_LABEL_LENGTH:
        return f"label key {key!r} must be 1 to {MAX_LABEL_LENGTH} characters"
    if unicodedata.category(key[0]) not in ("Ll", "Lo"):
        return f"label key {key!r} must start with a lowercase letter"
    if not all(_label_char(char) for char in key):
        return f"label key {key!r} may contain only lowercase letters, digits, '_' and '-'"
    if len(value) > MAX_LABEL_LENGTH:
        return f"label {key!r}: the value must be at most {MAX_LABEL_LENGTH} characters"
    if not all(_label_char(char) for char in value):
        return f"label {key!r}: the value may contain only lowercase letters, digits, '_', '-'"
    return None


def _validate_job(kind: _Kind, job: Any) -> None:
    """Raise INVALID_ARGUMENT (``_Abort``) for the first documented rule ``job`` breaks."""
    root = kind.field
    # display_name: "Required. The display name of the CustomJob. The name can be up to 128
    # characters long and can consist of any UTF-8 characters."
    if not job.display_name:
        raise _invalid(f"{root}.display_name", "display_name is required.")
    if len(job.display_name) > 128:
        raise _invalid(f"{root}.display_name", "The name can be up to 128 characters long.")
    if len(job.labels) > MAX_LABELS:
        raise _invalid(f"{root}.labels", f"At most {MAX_LABELS} labels, got {len(job.labels)}.")
    for key, value in job.labels.items():
        problem = _label_problem(key, value)
        if problem:
            raise _invalid(f"{root}.labels", problem)
    if kind is CUSTOM:
        _validate_job_spec(f"{root}.job_spec", job.job_spec)
    else:
        _validate_job_spec(f"{root}.trial_job_spec", job.trial_job_spec)
        _validate_tuning(root, job)


def _validate_job_spec(where: str, spec: Any) -> None:
    pools = list(spec.worker_pool_specs)
    # CustomJobSpec.worker_pool_specs: "Required. The spec of the worker pools including
    # machine type and Docker image. All worker pools except the first one are optional and
    # can be skipped by providing an empty value."
    if not pools or _empty(pools[0]):
        raise _invalid(f"{where}.worker_pool_specs", "The first worker pool is required.")
    for index, pool in enumerate(pools):
        at = f"{where}.worker_pool_specs[{index}]"
        if index and _empty(pool):
            continue
        # MachineSpec.machine_type: "For BatchPredictionJob or as part of WorkerPoolSpec
        # this field is required." (machine_resources.proto); the known families of
        # cloud.google.com/vertex-ai/docs/training/configure-compute#machine-types.
        machine = pool.machine_spec.machine_type
        if not machine:
            raise _invalid(f"{at}.machine_spec.machine_type", "machine_type is required.")
        if not _MACHINE_TYPE.match(machine):
            raise _invalid(
                f"{at}.machine_spec.machine_type", f'Machine type "{machine}" is not supported.'
            )
        # WorkerPoolSpec `task` is a oneof: ContainerSpec.image_uri "Required. The URI of a
        # container image in the Container Registry that is to be run on each worker
        # replica."; PythonPackageSpec.executor_image_uri, package_uris and python_module
        # are each "Required".
        task = type(pool).pb(pool).WhichOneof("task")
        if task == "python_package_spec":
            package = pool.python_package_spec
            for name in ("executor_image_uri", "package_uris", "python_module"):
                if not getattr(package, name):
                    raise _invalid(f"{at}.python_package_spec.{name}", f"{name} is required.")
        elif not pool.container_spec.image_uri:
            raise _invalid(f"{at}.container_spec.image_uri", "image_uri is required.")
        # "Primary replica: Exactly one replica is designated the primary replica."; the
        # first worker pool is the primary's, the others hold "One or more" replicas each
        # (cloud.google.com/vertex-ai/docs/training/distributed-training).
        if index == 0 and pool.replica_count != 1:
            raise _invalid(
                f"{at}.replica_count",
                f"The primary worker pool must have exactly 1 replica, got {pool.replica_count}.",
            )
        if pool.replica_count < 1:
            raise _invalid(f"{at}.replica_count", "replica_count must be at least 1.")


def _empty(pool: Any) -> bool:
    return type(pool).pb(pool).ByteSize() == 0


def _validate_tuning(root: str, job: Any) -> None:
    # HyperparameterTuningJob: max_trial_count "Required. The desired total number of
    # Trials."; parallel_trial_count "Required. The desired number of Trials to run in
    # parallel."; max_failed_trial_count "If set to 0, Vertex AI decides how many Trials must
    # fail". No documented relation between the counts: none is checked.
    if job.max_trial_count < 1:
        raise _invalid(f"{root}.max_trial_count", "max_trial_count is required (at least 1).")
    if job.parallel_trial_count < 1:
        raise _invalid(
            f"{root}.parallel_trial_count", "parallel_trial_count is required (at least 1)."
        )
    if job.max_failed_trial_count < 0:
        raise _invalid(f"{root}.max_failed_trial_count", "must not be negative.")
    where = f"{root}.study_spec"
    study_spec = job.study_spec
    # StudySpec.metrics "Required. Metric specs for the Study."; MetricSpec.metric_id
    # "Required. ... Must not contain whitespaces and must be unique amongst all
    # MetricSpecs."; MetricSpec.goal "Required. The optimization goal of the metric."
    if not study_spec.metrics:
        raise _invalid(f"{where}.metrics", "At least one metric is required.")
    _check_ids(f"{where}.metrics", [metric.metric_id for metric in study_spec.metrics])
    for index, metric in enumerate(study_spec.metrics):
        if metric.goal == study.StudySpec.MetricSpec.GoalType.GOAL_TYPE_UNSPECIFIED:
            raise _invalid(f"{where}.metrics[{index}].goal", "goal is required.")
    # StudySpec.parameters "Required. The set of parameters to tune."; ParameterSpec.
    # parameter_id as metric_id above; one of the value specs.
    if not study_spec.parameters:
        raise _invalid(f"{where}.parameters", "At least one parameter is required.")
    _check_ids(f"{where}.parameters", [param.parameter_id for param in study_spec.parameters])
    grid = study_spec.algorithm == study.StudySpec.Algorithm.GRID_SEARCH
    for index, param in enumerate(study_spec.parameters):
        _check_parameter(f"{where}.parameters[{index}]", param, grid)


def _check_ids(where: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if not value or any(char.isspace() for char in value):
            raise _invalid(f"{where}[{index}]", f"The ID {value!r} is empty or has whitespace.")
        if value in seen:
            raise _invalid(f"{where}[{index}]", f"The ID {value!r} is not unique.")
        seen.add(value)


def _check_parameter(where: str, param: Any, grid: bool) -> None:
    spec_type = study.StudySpec.ParameterSpec
    which = spec_type.pb(param).WhichOneof("parameter_value_spec")
    if which is None:
        raise _invalid(where, "A value spec (double, integer, categorical, discrete) is required.")
    # Algorithm.GRID_SEARCH: "To use grid search, all parameters must be INTEGER,
    # CATEGORICAL, or DISCRETE."
    if grid and which == "double_value_spec":
        raise _invalid(
            where, "To use grid search, all parameters must be INTEGER, CATEGORICAL, or DISCRETE."
        )
    # UNIT_LOG_SCALE / UNIT_REVERSE_LOG_SCALE: "The entire feasible space must be strictly
    # positive."
    log_scale = param.scale_type in (
        spec_type.ScaleType.UNIT_LOG_SCALE,
        spec_type.ScaleType.UNIT_REVERSE_LOG_SCALE,
    )
    low = high = None
    if which in ("double_value_spec", "integer_value_spec"):
        # min_value / max_value: "Required. Inclusive minimum (maximum) value of the parameter."
        value_spec = getattr(param, which)
        low, high = value_spec.min_value, value_spec.max_value
        if low > high:
            raise _invalid(f"{where}.{which}", f"min_value {low} exceeds max_value {high}.")
    elif which == "categorical_value_spec":
        # CategoricalValueSpec.values: "Required. The list of possible categories."
        if not param.categorical_value_spec.values:
            raise _invalid(f"{where}.categorical_value_spec.values", "values are required.")
    else:
        # DiscreteValueSpec.values: "Required. A list of possible values. The list should be
        # in increasing order and at least 1e-10 apart. ... should not contain more than
        # 1,000 values."
        values = list(param.discrete_value_spec.values)
        if not values or len(values) > 1000:
            raise _invalid(f"{where}.discrete_value_spec.values", "1 to 1000 values are required.")
        if any(later - earlier < 1e-10 for earlier, later in itertools.pairwise(values)):
            raise _invalid(
                f"{where}.discrete_value_spec.values",
                "The values must be increasing and at least 1e-10 apart.",
            )
        low = values[0]
    if log_scale and low is not None and low <= 0:
        raise _invalid(
            f"{where}.scale_type", "A log scale needs a strictly positive feasible space."
        )


# ---- a clock for a provider's waits ----------------------------------------------------------


class FakeClock:
    """Stands in for the ``time`` module where a test must not spend wall-clock time:
    ``monotonic()`` moves only when ``sleep(seconds)`` is called, by exactly ``seconds``.

    Patch it over the ``time`` attribute of the modules whose waits are under test, e.g.
    ``vertex_jobs.providers`` (delete's wait, create's wait and IAM retry) and
    ``google.api_core.retry.retry_unary``/``retry_base`` (the client's retry deadline):
    ``FakeClock().install(monkeypatch, providers, retry_unary, retry_base)``. The gRPC
    channel keeps the real clock, so an RPC's own timeout is still real."""

    def __init__(self, start: float = 1_000.0, *, limit_s: float | None = None) -> None:
        self.start = self.now = start
        self.limit_s = limit_s  # a wait past this fails the test rather than spinning on
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        if self.limit_s is not None and self.elapsed > self.limit_s:
            raise AssertionError(
                f"the code under test waited {self.elapsed:.0f}s (fake clock), past the "
                f"test's limit of {self.limit_s:.0f}s: is a bound missing?"
            )

    @property
    def elapsed(self) -> float:
        return self.now - self.start

    def install(self, monkeypatch: pytest.MonkeyPatch, *modules: Any) -> FakeClock:
        for module in modules:
            monkeypatch.setattr(module, "time", self)
        return self


# ---- list filters ---------------------------------------------------------------------
#
# Vertex documents ListCustomJobs/ListHyperparameterTuningJobs `filter` as "the standard list
# filter" (AIP-160, google.aip.dev/160) with these fields: display_name (=, !=, : wildcard),
# state (=, !=), create_time (=, !=, <, <=, >, >=) and "labels supports general map functions
# that is: labels.key=value - key:value equality, labels.key:* - key existence"; examples
# `state!="JOB_STATE_FAILED" OR display_name="my_job"`, `labels.keyA=valueA`
# (cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs/list).
# AIP-160: `OR` binds tighter than `AND`; `-` is the negation operator (like `NOT`) and `.`
# the traversal operator, so neither can be part of a bare name: `labels.my-key` is not the
# key "my-key" (Google's reference lexer, the one in einride/aip-go filtering, splits it into
# `my`, `-`, `key`); and "a non-compliant filter query must error with INVALID_ARGUMENT".
#
# The fake implements: `state`, `display_name` and `labels.<key>` (key: a bare name of
# letters, digits and `_`) compared with `=` or `!=` to a quoted string (or a bare name),
# joined by `AND`/`OR`, grouped by parentheses. Everything else is INVALID_ARGUMENT: the
# undocumented forms because the real service can refuse them, and the documented ones the
# fake does not implement (NOT, `:`, wildcards, create_time) so that a test relying on them
# fails loudly rather than passing on a fake that ignores them.

_FILTER_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|[=<>:().,*-])
      | (?P<name>[A-Za-z0-9_]+)
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
_FILTER_FIELDS = ("state", "display_name", "labels")
_FILTER_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def _filter_error(filter_text: str, problem: str) -> _Abort:
    return _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter {filter_text!r}: {problem}")


def _parse_filter(filter_text: str) -> Callable[[Any], bool]:
    """Parse a list filter into a predicate on a job message (see above); an empty filter
    matches everything."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = filter_text.rstrip()
    while position < len(text):
        match = _FILTER_TOKEN.match(text, position)
        assert match is not None  # `other` matches any non-space character
        kind = match.lastgroup or "other"
        value = match.group(kind)
        if kind == "other":
            raise _filter_error(filter_text, f"unexpected {value!r}")
        if kind == "name" and value in ("AND", "OR", "NOT"):
            kind = value
        tokens.append((kind, value))
        position = match.end()
    if not tokens:
        return lambda job: True
    index = 0

    def peek() -> tuple[str, str]:
        return tokens[index] if index < len(tokens) else ("end", "")

    def take(*kinds: str, what: str) -> str:
        nonlocal index
        kind, value = peek()
        if kind not in kinds:
            found = "the end" if kind == "end" else repr(value)
            raise _filter_error(filter_text, f"expected {what}, found {found}")
        index += 1
        return value

    def expression() -> Callable[[Any], bool]:  # factor {AND factor}
        parts = [factor()]
        while peek()[0] == "AND":
            take("AND", what="AND")
            parts.append(factor())
        return lambda job: all(part(job) for part in parts)

    def factor() -> Callable[[Any], bool]:  # term {OR term}: OR binds tighter than AND
        parts = [term()]
        while peek()[0] == "OR":
            take("OR", what="OR")
            parts.append(term())
        return lambda job: any(part(job) for part in parts)

    def term() -> Callable[[Any], bool]:  # ( expression ) | restriction
        if peek() != ("op", "("):
            return restriction()
        take("op", what="'('")
        inner = expression()
        if peek() != ("op", ")"):
            take(what="')'")  # raises
        take("op", what="')'")
        return inner

    def restriction() -> Callable[[Any], bool]:
        field_name = take("name", what=f"one of {', '.join(_FILTER_FIELDS)}")
        if field_name not in _FILTER_FIELDS:
            raise _filter_error(filter_text, f"unsupported field {field_name!r}")
        key = None
        if field_name == "labels":
            if peek() != ("op", "."):
                raise _filter_error(filter_text, "expected labels.<key>")
            take("op", what="'.'")
            key = take("name", what="a label key")
            if not _FILTER_LABEL_KEY.match(key) or peek() == ("op", "-"):
                raise _filter_error(
                    filter_text,
                    f"invalid label key after {key!r}: a key is a name of lowercase letters, "
                    "digits and '_' ('-' is the negation operator)",
                )
        operator = take("op", what="'=' or '!='")
        if operator not in ("=", "!="):
            raise _filter_error(filter_text, f"unsupported operator {operator!r}")
        raw = take("string", "name", what="a value")
        wanted = _unquote(raw) if raw.startswith('"') else raw
        if "*" in wanted:
            raise _filter_error(filter_text, "wildcards are not implemented by this fake")
        if field_name == "state" and wanted not in JobState.__members__:
            raise _filter_error(filter_text, f"unknown state {wanted!r}")

        def actual(job: Any) -> str:
            if field_name == "state":
                return job.state.name
            if field_name == "display_name":
                return job.display_name
            return job.labels.get(key, "")

        if operator == "=":
            return lambda job: actual(job) == wanted
        return lambda job: actual(job) != wanted

    predicate = expression()
    if index != len(tokens):
        raise _filter_error(filter_text, f"unexpected {tokens[index][1]!r}")
    return predicate


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


@pytest.fixture
def vertex_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertexJobService]:
    """A started fake on a free localhost port, with ``VERTEX_AI_EMULATOR_HOST`` pointing at
    it and the provider's backoff knobs shrunk so retries and polls take milliseconds."""
    with FakeVertexJobService() as fake:
        monkeypatch.setenv("VERTEX_AI_EMULATOR_HOST", fake.address)
        for key, value in FAST_PROVIDER_ENV.items():
            monkeypatch.setenv(key, value)
        yield fake


FAST_PROVIDER_ENV = {
    "VTRAIN_VERTEX_RETRY_INITIAL_S": "0.01",
    "VTRAIN_VERTEX_RETRY_MAX_S": "0.05",
    "VTRAIN_VERTEX_RETRY_DEADLINE_S": "10",
    "VTRAIN_VERTEX_RPC_TIMEOUT_S": "10",
    "VTRAIN_VERTEX_POLL_INITIAL_S": "0.01",
    "VTRAIN_VERTEX_POLL_MAX_S": "0.05",
    "VTRAIN_VERTEX_DELETE_TIMEOUT_S": "10",
    "VTRAIN_VERTEX_ADOPT_ATTEMPTS": "3",
    "VTRAIN_VERTEX_IAM_PROPAGATION_S": "2",
}


@pytest.fixture(scope="session")
def hosted_vertex() -> Iterator[tuple[FakeVertexJobService, Any]]:
    """One fake and one Pulumi dynamic-provider host subprocess pointed at it, shared by the
    session (starting a host and importing aiplatform in it costs ~2 s). Reset the fake in
    each test (``hosted`` below does)."""
    from tests.harness.dynamic_host import DynamicProviderHost

    with FakeVertexJobService() as fake:
        env = {"VERTEX_AI_EMULATOR_HOST": fake.address, **FAST_PROVIDER_ENV}
        with DynamicProviderHost(env=env) as host:
            yield fake, host


@pytest.fixture
def hosted(hosted_vertex: tuple[FakeVertexJobService, Any]) -> tuple[FakeVertexJobService, Any]:
    """``hosted_vertex`` with the fake reset to empty."""
    fake, host = hosted_vertex
    fake.reset()
    return fake, host


# ---- sample props, shaped like what the config layer produces ---------------------------

IMAGE = "us-central1-docker.pkg.dev/my-project/training/trainer@sha256:" + "a" * 64
OTHER_IMAGE = "us-central1-docker.pkg.dev/my-project/training/trainer@sha256:" + "b" * 64


def custom_job_inputs(**overrides: Any) -> dict[str, Any]:
    """CustomJob inputs as the config layer produces them and the resource registers them,
    ``resource_key`` included (before ``check``)."""
    props: dict[str, Any] = {
        "resource_key": "vertex-training/dev/train-resnet",
        "project": "my-project",
        "region": "us-central1",
        "api_endpoint": None,
        "display_name": "train-resnet",
        "labels": {"vtrain-stack": "dev", "vtrain-project": "vertex-training"},
        "job_spec": {
            "worker_pool_specs": [
                {
                    "machine_spec": {
                        "machine_type": "a2-highgpu-1g",
                        "accelerator_type": "NVIDIA_TESLA_A100",
                        "accelerator_count": 1,
                    },
                    "replica_count": 1,
                    "disk_spec": {"boot_disk_type": "pd-ssd", "boot_disk_size_gb": 100},
                    "container_spec": {
                        "image_uri": IMAGE,
                        "command": ["python", "-m", "trainer"],
                        "args": ["--epochs", "10"],
                        "env": [{"name": "MODE", "value": "train"}],
                    },
                }
            ],
            "scheduling": {"timeout": "3600s", "restart_job_on_worker_restart": False},
            "service_account": "trainer@my-project.iam.gserviceaccount.com",
            "base_output_directory": {"output_uri_prefix": "gs://my-project-output/runs"},
        },
        "encryption_kms_key": None,
        "wait": None,
    }
    props.update(overrides)
    return props


def tuning_job_inputs(goal: str = "MAXIMIZE", **overrides: Any) -> dict[str, Any]:
    props = custom_job_inputs(
        display_name="tune-resnet", resource_key="vertex-training/dev/tune-resnet"
    )
    props.update(
        {
            "study_spec": {
                "metrics": [{"metric_id": "accuracy", "goal": goal}],
                "parameters": [
                    {
                        "parameter_id": "learning_rate",
                        "double_value_spec": {"min_value": 1e-4, "max_value": 1e-1},
                        "scale_type": "UNIT_LOG_SCALE",
                    },
                    {
                        "parameter_id": "batch_size",
                        "integer_value_spec": {"min_value": 16, "max_value": 128},
                    },
                ],
                "algorithm": "RANDOM_SEARCH",
                "measurement_selection_type": "BEST_MEASUREMENT",
            },
            "max_trial_count": 8,
            "parallel_trial_count": 2,
            "max_failed_trial_count": 2,
        }
    )
    props.update(overrides)
    return props


def checked(provider: Any, inputs: dict[str, Any], olds: dict[str, Any] | None = None) -> dict:
    """A provider's `check` of `inputs`, asserting it found nothing wrong."""
    result = provider.check(olds or {}, inputs)
    assert [(f.property, f.reason) for f in result.failures] == []
    return result.inputs


def job_spec_with(**container: Any) -> dict:
    """The sample job spec with its container fields replaced."""
    spec = custom_job_inputs()["job_spec"]
    spec["worker_pool_specs"][0]["container_spec"].update(container)
    return spec
