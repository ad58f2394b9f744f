# Over 400 lines: a stateful JobService with its LROs, fault injection and pytest fixtures.
"""A fake Vertex AI ``JobService`` (CustomJob + HyperparameterTuningJob) over real gRPC.

The real ``google.cloud.aiplatform_v1.JobServiceClient`` talks to it unchanged: point
``VERTEX_AI_EMULATOR_HOST`` at ``fake.address`` (the ``vertex_fake`` fixture does) and the
provider opens an insecure channel to it. It is served with a generic handler whose
(de)serializers are the proto-plus messages' own ``serialize``/``deserialize``, plus
``google.longrunning.Operations`` for the delete LROs.

Behaviour, close to the real service:
* create stores the job in ``JOB_STATE_QUEUED`` with an id, ``create_time`` and
  ``update_time``; a worker pool with an unsupported machine type is INVALID_ARGUMENT.
  With ``iam_denied_creates = N`` the next N creates are PERMISSION_DENIED (a grant not yet
  effective: IAM is eventually consistent) and make nothing.
* list pages (``page_size``) and takes the part of the documented filter grammar it
  implements (``_parse_filter``): ``state``, ``display_name`` and ``labels.<key>``
  compared with ``=``/``!=``, joined by ``AND``/``OR``, in parentheses; anything else,
  e.g. an unquoted hyphenated label key, is INVALID_ARGUMENT, as AIP-160 requires for a
  filter a service does not accept.
* cancel moves a live job to ``JOB_STATE_CANCELLING`` and, after ``cancel_delay_gets`` more
  gets (default 0), to ``JOB_STATE_CANCELLED`` with error code 1; cancelling a terminal job
  is FAILED_PRECONDITION.
* delete of a non-terminal job is FAILED_PRECONDITION; otherwise the job disappears and an
  Operation is returned, done at once or after ``operation_delay_polls`` GetOperation calls.

Test control: ``advance(name, state)``, ``finish(name, succeeded=..)``, ``add_trial(...)``,
``inject(method, code, ...)`` for faults (including ``lose_response=True``: the call takes
effect server-side but the client gets the error), and ``calls``/``call_count(...)`` to
assert on every request received.
"""

from __future__ import annotations

import itertools
import re
import threading
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
TERMINAL = {
    JobState.JOB_STATE_SUCCEEDED,
    JobState.JOB_STATE_FAILED,
    JobState.JOB_STATE_CANCELLED,
    JobState.JOB_STATE_EXPIRED,
    JobState.JOB_STATE_PARTIALLY_SUCCEEDED,
}
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
    calls: list[Call] = field(default_factory=list)
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _operations: dict[str, _Operation] = field(default_factory=dict)
    _faults: dict[str, deque[Fault]] = field(default_factory=dict)
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

    def reset(self) -> None:
        """Forget jobs, operations, faults and calls; restore the default delays."""
        with self._lock:
            self._jobs.clear()
            self._operations.clear()
            self._faults.clear()
            self.calls.clear()
            self.cancel_delay_gets = 0
            self.operation_delay_polls = 0
            self.page_size = 50
            self.iam_denied_creates = 0

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

    def advance(self, name: str, state: Any) -> None:
        """Move a job to ``state`` ("RUNNING", "JOB_STATE_SUCCEEDED", a JobState...)."""
        with self._lock:
            self._set_state(self._jobs[name].message, _state(state))

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
        if state in TERMINAL and "end_time" not in job:
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

    def _lookup(self, kind: _Kind, name: str) -> _Job:
        stored = self._jobs.get(name)
        if stored is None or stored.kind is not kind:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f'{kind.rpc} "{name}" not found.')
        return stored

    def _store(self, kind: _Kind, parent: str, job: Any) -> Any:
        job = type(job).deserialize(type(job).serialize(job))
        job.name = f"{parent}/{kind.collection}/{next(self._ids)}"
        job.state = JobState.JOB_STATE_QUEUED
        job.create_time = job.update_time = _now()
        self._jobs[job.name] = _Job(kind, job)
        return job

    def _create(self, kind: _Kind, request: Any) -> Any:
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
        for index, pool in enumerate(spec.worker_pool_specs):
            machine = pool.machine_spec.machine_type
            if machine and not _MACHINE_TYPE.match(machine):
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f'Machine type "{machine}" is not supported '
                    f"(worker_pool_specs[{index}].machine_spec.machine_type).",
                )
        if not job.display_name:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "display_name is required.")
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
        matches = _parse_filter(request.filter)
        parent = request.parent + "/"
        names = sorted(
            name
            for name, stored in self._jobs.items()
            if stored.kind is kind and name.startswith(parent) and matches(stored.message)
        )
        start = int(request.page_token or 0)
        size = request.page_size or self.page_size
        page = names[start : start + size]
        response_type = getattr(job_service, f"List{kind.rpc}sResponse")
        token = str(start + size) if start + size < len(names) else ""
        return response_type(
            **{kind.list_field: [self._jobs[n].message for n in page], "next_page_token": token}
        )

    def _cancel(self, kind: _Kind, request: Any) -> empty_pb2.Empty:
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
