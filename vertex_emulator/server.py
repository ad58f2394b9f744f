"""The JobService (CustomJob, HyperparameterTuningJob) and Operations services over gRPC.

The real ``google.cloud.aiplatform_v1.JobServiceClient`` reaches it through
``VERTEX_AI_EMULATOR_HOST`` (plain gRPC, anonymous credentials). Served with generic
handlers whose (de)serializers are the proto-plus messages' own, like the test fake.

RPCs: Create/Get/List/Cancel/Delete for both kinds, and google.longrunning.Operations
Get/Delete/Cancel/Wait for the delete LROs. Requests are checked as Vertex documents them
(``vertex_emulator.rules``: names, regions, labels, worker pools, study specs, the list
filter grammar, job_state.proto's rules), answered with the gRPC codes the client maps:
INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION (cancel of a finished job, delete of an
unfinished one).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.cloud.aiplatform_v1.types import job_service, operation
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

from vertex_emulator.rules import (
    CUSTOM,
    TUNING,
    Abort,
    JobState,
    Kind,
    check_cancellable,
    check_deletable,
    check_job_name,
    check_parent,
    invalid,
    parse_filter,
    utc_now,
    validate_job,
)
from vertex_emulator.runner import RunnerConfig
from vertex_emulator.scheduler import Scheduler, set_state
from vertex_emulator.storage import StorageEmulator
from vertex_emulator.store import JobGone, Store

SERVICE = "google.cloud.aiplatform.v1.JobService"
OPERATIONS_SERVICE = "google.longrunning.Operations"
DATABASE = "emulator.sqlite3"
LOCK = "emulator.lock"
DEFAULT_PAGE_SIZE = 100
LOG = logging.getLogger("vertex_emulator")
# Output-only fields a create request may carry; the service sets them, never the caller.
_OUTPUT_ONLY = ("name", "state", "error", "create_time", "start_time", "end_time",
                "update_time", "trials", "web_access_uris")  # fmt: skip


class JobService:
    """The RPC implementations, over the store and the scheduler."""

    def __init__(self, store: Store, scheduler: Scheduler):
        self.store, self.scheduler = store, scheduler

    # ---- checks ------------------------------------------------------------------------

    def _lookup(self, kind: Kind, name: str) -> Any:
        check_job_name(kind, name)  # every Vertex AI region: the emulator stands for them all
        found = self.store.get_job(name)
        if found is None or found[0] is not kind:
            raise Abort(grpc.StatusCode.NOT_FOUND, f'{kind.rpc} "{name}" not found.')
        return found[1]

    # ---- JobService --------------------------------------------------------------------

    def create(self, kind: Kind, request: Any) -> Any:
        check_parent(request.parent)
        job = kind.message.deserialize(kind.message.serialize(getattr(request, kind.field)))
        validate_job(kind, job)
        for field_name in _OUTPUT_ONLY:
            if field_name in kind.message.meta.fields and field_name in job:
                delattr(job, field_name)
        seq = self.store.next_id()
        job.name = f"{request.parent}/{kind.collection}/{seq}"
        job.state = JobState.JOB_STATE_QUEUED
        job.create_time = job.update_time = utc_now()
        self.store.insert_job(kind, request.parent, job, seq)
        LOG.info("%s created; replica logs under %s", job.name, self._run_dir(job.name))
        self.scheduler.start_job(job.name)
        return job

    def _run_dir(self, name: str) -> Path:
        return self.scheduler.config.root / "jobs" / name.rsplit("/", 1)[-1]

    def get(self, kind: Kind, request: Any) -> Any:
        return self._lookup(kind, request.name)

    def list(self, kind: Kind, request: Any) -> Any:
        check_parent(request.parent)
        matches = parse_filter(request.filter, full_grammar=True)
        jobs = [job for job in self.store.list_jobs(kind, request.parent) if matches(job)]
        try:
            start = int(request.page_token or 0)
        except ValueError:
            raise invalid("page_token", f"{request.page_token!r} is not a page token.") from None
        size = request.page_size or DEFAULT_PAGE_SIZE
        token = str(start + size) if start + size < len(jobs) else ""
        response_type = getattr(job_service, f"List{kind.rpc}sResponse")
        return response_type(
            **{kind.list_field: jobs[start : start + size], "next_page_token": token}
        )

    def cancel(self, kind: Kind, request: Any) -> empty_pb2.Empty:
        # CancelCustomJob: "Starts asynchronous cancellation ... On successful cancellation,
        # the CustomJob is not deleted; instead it becomes a job with a CustomJob.error value
        # with a google.rpc.Status.code of 1, corresponding to Code.CANCELLED, and
        # CustomJob.state is set to CANCELLED." A finished job: FAILED_PRECONDITION.
        self._lookup(kind, request.name)

        def change(job: Any) -> None:
            check_cancellable(kind, request.name, job.state)
            if job.state != JobState.JOB_STATE_CANCELLING:
                set_state(job, JobState.JOB_STATE_CANCELLING, utc_now())

        self.store.update(request.name, change)
        self.scheduler.cancel(request.name)
        return empty_pb2.Empty()

    def delete(self, kind: Kind, request: Any) -> operations_pb2.Operation:
        # Only a finished job can be deleted: job_service.proto says it of the sibling
        # DeleteBatchPredictionJob ("Can only be called on jobs that already finished"), and
        # Vertex answers a delete of a live job with FAILED_PRECONDITION. The job's files
        # under --root stay, as Vertex keeps a deleted job's outputs in Cloud Storage and its
        # logs in Cloud Logging.
        job = self._lookup(kind, request.name)
        check_deletable(kind, request.name, job.state)
        self.store.delete_job(request.name)
        now = utc_now()
        metadata = operation.DeleteOperationMetadata(
            generic_metadata=operation.GenericOperationMetadata(create_time=now, update_time=now)
        )
        done = operations_pb2.Operation(
            name=f"{request.name}/operations/{self.store.next_id()}", done=True
        )
        done.metadata.Pack(operation.DeleteOperationMetadata.pb(metadata))
        response = any_pb2.Any()
        response.Pack(empty_pb2.Empty())
        done.response.CopyFrom(response)
        self.store.put_operation(done)
        return done

    # ---- Operations --------------------------------------------------------------------

    def get_operation(self, request: Any) -> operations_pb2.Operation:
        found = self.store.get_operation(request.name)
        if found is None:
            raise Abort(grpc.StatusCode.NOT_FOUND, f'Operation "{request.name}" not found.')
        return found

    def delete_operation(self, request: Any) -> empty_pb2.Empty:
        if not self.store.delete_operation(request.name):
            raise Abort(grpc.StatusCode.NOT_FOUND, f'Operation "{request.name}" not found.')
        return empty_pb2.Empty()

    def cancel_operation(self, request: Any) -> empty_pb2.Empty:
        self.get_operation(request)  # every operation here is done: nothing to cancel
        return empty_pb2.Empty()

    # ---- gRPC plumbing -----------------------------------------------------------------

    def handlers(self) -> tuple[grpc.GenericRpcHandler, grpc.GenericRpcHandler]:
        methods = {}
        for kind in (CUSTOM, TUNING):
            plural = kind.rpc + "s"
            list_response = getattr(job_service, f"List{plural}Response")
            specs: list[tuple[str, Callable[..., Any], Any]] = [
                (f"Create{kind.rpc}", self.create, kind.message.serialize),
                (f"Get{kind.rpc}", self.get, kind.message.serialize),
                (f"List{plural}", self.list, list_response.serialize),
                (f"Cancel{kind.rpc}", self.cancel, empty_pb2.Empty.SerializeToString),
                (f"Delete{kind.rpc}", self.delete, operations_pb2.Operation.SerializeToString),
            ]  # fmt: skip
            for method, impl, serialize in specs:
                request_type = getattr(job_service, f"{method}Request")
                methods[method] = grpc.unary_unary_rpc_method_handler(
                    _wrap(lambda request, impl=impl, kind=kind: impl(kind, request)),
                    request_deserializer=request_type.deserialize,
                    response_serializer=serialize,
                )
        operations = {
            name: grpc.unary_unary_rpc_method_handler(
                _wrap(impl),
                request_deserializer=request_type.FromString,
                response_serializer=response_type.SerializeToString,
            )
            for name, impl, request_type, response_type in [
                ("GetOperation", self.get_operation, operations_pb2.GetOperationRequest,
                 operations_pb2.Operation),
                ("WaitOperation", self.get_operation, operations_pb2.WaitOperationRequest,
                 operations_pb2.Operation),
                ("DeleteOperation", self.delete_operation,
                 operations_pb2.DeleteOperationRequest, empty_pb2.Empty),
                ("CancelOperation", self.cancel_operation,
                 operations_pb2.CancelOperationRequest, empty_pb2.Empty),
            ]
        }  # fmt: skip
        return (
            grpc.method_handlers_generic_handler(SERVICE, methods),
            grpc.method_handlers_generic_handler(OPERATIONS_SERVICE, operations),
        )


def _wrap(impl: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return impl(request)
        except Abort as abort:
            context.abort(abort.code, abort.message)
        except JobGone as missing:  # the job went away between two steps of the call
            context.abort(grpc.StatusCode.NOT_FOUND, f"{missing.args[0]} not found.")

    return handle


@dataclass
class EmulatorOptions:
    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    storage_port: int = 0
    apps_dir: Path = Path(__file__).resolve().parent.parent / "images"
    docker: bool = False
    grace_s: float = 10.0


class RootInUse(Exception):
    """Another emulator holds the root."""


class Emulator:
    """Storage emulator, store, scheduler (with restart recovery) and the gRPC server."""

    def __init__(self, options: EmulatorOptions):
        self.options = options
        self.port = 0
        self.recovered_failed: list[str] = []
        self._server: grpc.Server | None = None

    def start(self) -> Emulator:
        options = self.options
        options.root.mkdir(parents=True, exist_ok=True)
        self._lock_root()
        self.store = Store(options.root / DATABASE)
        self.storage = StorageEmulator(options.root, options.host, options.storage_port)
        try:
            self.storage.start()
            config = RunnerConfig(
                root=options.root.resolve(),
                apps_dir=options.apps_dir.resolve(),
                storage_url=self.storage.url,
                docker=options.docker,
                gcs_dir=self.storage.objects_dir.resolve(),
                grace_s=options.grace_s,
            )
            self.scheduler = Scheduler(self.store, config)
            # No SO_REUSEPORT (gRPC's default): a second emulator on a busy port must fail,
            # not share the port and answer half the calls with another root's jobs.
            server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)]
            )
            server.add_generic_rpc_handlers(JobService(self.store, self.scheduler).handlers())
            self.port = server.add_insecure_port(f"{options.host}:{options.port}")
            if not self.port:  # older grpcio answers a busy port with 0 rather than raising
                raise RuntimeError(f"cannot listen on {options.host}:{options.port}")
        except BaseException:
            self.storage.stop()  # its thread would keep this process alive
            self.store.close()
            self._lock_file.close()
            raise
        # Before serving: no client ever sees a job the last emulator left RUNNING.
        self.recovered_failed = self.scheduler.recover()
        server.start()
        self._server = server
        return self

    def _lock_root(self) -> None:
        """One emulator per root: a second one's restart recovery would fail the first's
        running jobs and kill their processes."""
        path = self.options.root / LOCK
        self._lock_file = path.open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "?"
            self._lock_file.close()
            raise RootInUse(
                f"another emulator (pid {holder}) is serving {self.options.root}"
            ) from None
        self._lock_file.truncate(0)
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    @property
    def address(self) -> str:
        return f"{self.options.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving, stop every job's processes (their jobs end FAILED), stop storage."""
        if self._server is not None:
            self._server.stop(grace=1).wait()
            self._server = None
        self.scheduler.shutdown()
        self.storage.stop()
        self.store.close()
        self._lock_file.close()
