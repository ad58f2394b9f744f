# Over 400 lines: the servicer of every JobService and Operations RPC, with faults and fixtures.
"""A fake Vertex AI ``JobService`` (CustomJob + HyperparameterTuningJob) over real gRPC.

Why this fake stays beside the emulator (``vertex_emulator/``, which really runs jobs): the
provider tests need what a faithful service cannot give on demand. Faults injected at any
RPC (including a lost response after the work is done), states scripted to the exact get,
list lag, IAM denials, trials added by hand, a record of every call, and no processes, no
SQLite, no storage emulator: hundreds of tests run in milliseconds each. Both enforce the
same documented rules, from one home: ``vertex_emulator/rules.py``.

The real ``google.cloud.aiplatform_v1.JobServiceClient`` talks to it unchanged: point
``VERTEX_AI_EMULATOR_HOST`` at ``fake.address`` (the ``vertex_fake`` fixture does) and the
provider opens an insecure channel to it. It is served with a generic handler whose
(de)serializers are the proto-plus messages' own ``serialize``/``deserialize``, plus
``google.longrunning.Operations`` for the delete LROs.

Behaviour, close to the real service (each rule cites the Google documentation it follows,
next to its code; nothing here is taken from the provider under test or from ``config``):
* every request's parent/name must be in a Vertex AI region (``VERTEX_AI_REGIONS``), and in
  ``served_region`` when that is set (a regional endpoint serves only its own region).
* create validates the job as the API documents it (``validate_job``: display name, labels,
  worker pools, machine types, images, replica counts, and for a tuning job the study spec and
  trial counts); a violation is INVALID_ARGUMENT and makes nothing. It stores the job in
  ``JOB_STATE_QUEUED`` with an id, ``create_time`` and ``update_time``. With
  ``iam_denied_creates = N`` the next N creates are PERMISSION_DENIED (a grant not yet
  effective: IAM is eventually consistent) and make nothing.
* list pages (``page_size``) and takes the part of the documented filter grammar it
  implements (``parse_filter``): ``state``, ``display_name`` and ``labels.<key>``
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
the next state on each get), ``after(method, fn)`` to hold an answer back once the call took
effect (outside the lock, so other calls go on), and ``calls``/``call_count(...)`` to
assert on every request received. ``FakeClock`` stands in for ``time`` where a test must
not spend wall-clock time on a provider's waits.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.cloud.aiplatform_v1.types import (
    job_service,
    study,
)
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2
from google.rpc import status_pb2

from vertex_emulator.rules import (
    CUSTOM,
    END_TIME_STATES,
    TERMINAL,
    TUNING,
    Abort,
    JobState,
    Kind,
    as_state,
    check_cancellable,
    check_deletable,
    check_job_name,
    check_parent,
    parse_filter,
    transition_problem,
    utc_now,
    validate_job,
)

SERVICE = "google.cloud.aiplatform.v1.JobService"
OPERATIONS_SERVICE = "google.longrunning.Operations"


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
    kind: Kind
    message: Any  # a proto-plus CustomJob / HyperparameterTuningJob
    cancel_gets_left: int = 0
    unlisted_for: int = 0  # list calls of its kind that still leave it out (list lag)


@dataclass
class _Operation:
    proto: operations_pb2.Operation
    polls_left: int = 0


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
    _after_hooks: dict[str, deque[Callable[[Any], None]]] = field(default_factory=dict)
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

    def after(self, method: str, action: Callable[[Any], None], *, times: int = 1) -> None:
        """Run ``action(request)`` once each of the next ``times`` ``method`` requests has
        taken effect, before its answer is sent, outside the lock: e.g. a slow answer to a
        create that other calls (a list) can already see, as on a busy service."""
        with self._lock:
            self._after_hooks.setdefault(method, deque()).extend([action] * times)

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
            self._after_hooks.clear()
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
            target = as_state(state)
            problem = transition_problem(stored.message.state, target)
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
        metrics: dict[str, float] | None = None,
    ) -> str:
        """Append a trial to a tuning job; returns its id. ``metric_id`` defaults to the
        study's first metric; ``metric_value=None`` records no final measurement;
        ``metrics`` (metric id -> value) records several. Like Vertex ("The CustomJob name
        linked to the Trial. It's set for a HyperparameterTuningJob's Trial", study.proto),
        the trial names a CustomJob of its own: ``<location>/customJobs/<job id><trial id>``
        (a name only; the fake runs nothing)."""
        with self._lock:
            job = self._jobs[name].message
            trial_id = str(len(job.trials) + 1)
            parent, job_id = name.split("/hyperparameterTuningJobs/")
            trial = study.Trial(
                id=trial_id,
                state=study.Trial.State[state],
                parameters=[
                    study.Trial.Parameter(parameter_id=key, value=value)
                    for key, value in parameters.items()
                ],
                start_time=utc_now(),
                custom_job=f"{parent}/customJobs/{job_id}{trial_id}",
            )
            values = dict(metrics or {})
            if metric_value is not None:
                values[metric_id or job.study_spec.metrics[0].metric_id] = metric_value
            if values:
                trial.final_measurement = study.Measurement(
                    metrics=[
                        study.Measurement.Metric(metric_id=key, value=value)
                        for key, value in values.items()
                    ]
                )
            if state in ("SUCCEEDED", "INFEASIBLE"):
                trial.end_time = utc_now()
            if state == "INFEASIBLE":
                trial.infeasible_reason = "trial failed"
            job.trials.append(trial)
            return trial_id

    def put_job(self, kind: Kind, parent: str, job: Any) -> str:
        """Store a job directly (as if made by someone else); returns its name."""
        with self._lock:
            return self._store(kind, parent, job).name

    @staticmethod
    def _set_state(job: Any, state: JobState) -> None:
        job.state = state
        job.update_time = utc_now()
        if state == JobState.JOB_STATE_RUNNING and "start_time" not in job:
            job.start_time = utc_now()
        if state in END_TIME_STATES and "end_time" not in job:
            job.end_time = utc_now()

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

    def _wrap(self, method: str, kind: Kind | None, impl: Callable[..., Any]) -> Callable:
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
                    queued = self._after_hooks.get(method)
                    after = queued.popleft() if queued else None
            except Abort as abort:
                context.abort(abort.code, abort.message)
            if after is not None:
                after(request)
            if fault is not None:  # the work is done, the answer is lost
                context.abort(fault.code, fault.message)
            return response

        return handle

    # ---- RPC implementations (called with the lock held) -----------------------------

    def _check_parent(self, parent: str) -> None:
        check_parent(parent, self.served_region)

    def _lookup(self, kind: Kind, name: str) -> _Job:
        check_job_name(kind, name, self.served_region)
        stored = self._jobs.get(name)
        if stored is None or stored.kind is not kind:
            raise Abort(grpc.StatusCode.NOT_FOUND, f'{kind.rpc} "{name}" not found.')
        return stored

    def _store(self, kind: Kind, parent: str, job: Any) -> Any:
        job = type(job).deserialize(type(job).serialize(job))
        job.name = f"{parent}/{kind.collection}/{next(self._ids)}"
        job.state = JobState.JOB_STATE_QUEUED
        job.create_time = job.update_time = utc_now()
        self._jobs[job.name] = _Job(kind, job, unlisted_for=self.list_lag_calls)
        return job

    def _create(self, kind: Kind, request: Any) -> Any:
        self._check_parent(request.parent)
        job = getattr(request, kind.field)
        spec = job.job_spec if kind is CUSTOM else job.trial_job_spec
        if self.iam_denied_creates > 0:
            self.iam_denied_creates -= 1
            account = spec.service_account or "the Vertex AI Custom Code Service Agent"
            raise Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission 'iam.serviceAccounts.actAs' denied on service account {account} "
                "(or it may not exist).",
            )
        validate_job(kind, job)
        return self._store(kind, request.parent, job)

    def _get(self, kind: Kind, request: Any) -> Any:
        stored = self._lookup(kind, request.name)
        job = stored.message
        if job.state == JobState.JOB_STATE_CANCELLING:
            if stored.cancel_gets_left <= 0:
                job.error = status_pb2.Status(code=1, message="CANCELLED")
                self._set_state(job, JobState.JOB_STATE_CANCELLED)
            stored.cancel_gets_left -= 1
        return job

    def _list(self, kind: Kind, request: Any) -> Any:
        self._check_parent(request.parent)
        matches = parse_filter(request.filter)
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

    def _cancel(self, kind: Kind, request: Any) -> empty_pb2.Empty:
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
        check_cancellable(kind, request.name, job.state)
        if job.state != JobState.JOB_STATE_CANCELLING:
            self._set_state(job, JobState.JOB_STATE_CANCELLING)
            stored.cancel_gets_left = self.cancel_delay_gets
        return empty_pb2.Empty()

    def _delete(self, kind: Kind, request: Any) -> operations_pb2.Operation:
        # Only a finished job can be deleted: job_service.proto says it of the sibling
        # DeleteBatchPredictionJob ("Can only be called on jobs that already finished"), and
        # Vertex answers a delete of a live CustomJob/HyperparameterTuningJob with
        # FAILED_PRECONDITION ("the system is not in a state required for the operation's
        # execution. For example, the directory to be deleted is non-empty",
        # google/rpc/code.proto). PAUSED, UPDATING and UNSPECIFIED are not finished.
        stored = self._lookup(kind, request.name)
        check_deletable(kind, request.name, stored.message.state)
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
            raise Abort(grpc.StatusCode.NOT_FOUND, f'Operation "{request.name}" not found.')
        return self._poll(operation)


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


def camel_case_job_spec() -> dict:
    """The sample job spec written with lowerCamel keys, as proto3 JSON also allows."""
    spec = custom_job_inputs()["job_spec"]
    return {
        "workerPoolSpecs": spec["worker_pool_specs"],
        "scheduling": {"timeout": "3600s", "restartJobOnWorkerRestart": False},
        "serviceAccount": spec["service_account"],
        "baseOutputDirectory": {
            "outputUriPrefix": spec["base_output_directory"]["output_uri_prefix"]
        },
    }
