"""Talking to the Vertex AI JobService: endpoint, client, retry and backoff settings.

Everything is read at call time (never at import, never pickled). Environment knobs:
`VERTEX_AI_EMULATOR_HOST` (host:port of an emulator: an insecure channel with anonymous
credentials, like Google's other emulators) and the `VTRAIN_VERTEX_*` settings of `Tunables`.
The aiplatform client is imported inside the functions that need it: it is slow to import.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from config.catalogue import IAM_PROPAGATION_S, regional_endpoint

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import JobServiceClient

EMULATOR_HOST_ENV = "VERTEX_AI_EMULATOR_HOST"
TUNABLES_ENV_PREFIX = "VTRAIN_VERTEX_"


class VertexJobError(Exception):
    """An error the operator can act on; the message names the job and the API's answer."""


def api_message(exc: Exception) -> str:
    """`CODE: message` of a google.api_core error, else its text."""
    message = getattr(exc, "message", None) or str(exc)
    code = getattr(exc, "grpc_status_code", None)
    return f"{code.name}: {message}" if code is not None else message


@dataclass(frozen=True)
class Tunables:
    """Backoff and timeout settings: production defaults, each overridable by the
    environment variable `VTRAIN_VERTEX_<FIELD IN UPPER CASE>` (the tests make them fast)."""

    retry_initial_s: float = 1.0
    retry_max_s: float = 32.0
    retry_deadline_s: float = 300.0
    rpc_timeout_s: float = 60.0
    poll_initial_s: float = 5.0
    poll_max_s: float = 60.0
    delete_timeout_s: float = 3600.0
    adopt_attempts: int = 3
    # How long create keeps retrying PERMISSION_DENIED (backoff: retry_initial_s..retry_max_s)
    # while IAM grants made in the same `pulumi up` take effect: see
    # config.catalogue.IAM_PROPAGATION_S (typically 2 minutes, potentially 7 or longer).
    iam_propagation_s: float = IAM_PROPAGATION_S

    @classmethod
    def from_env(cls) -> Tunables:
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = os.environ.get(TUNABLES_ENV_PREFIX + field.name.upper())
            if raw:
                as_int = isinstance(field.default, int)
                values[field.name] = int(float(raw)) if as_int else float(raw)
        return cls(**values)


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


def backoff(initial: float, maximum: float) -> Iterator[float]:
    """Poll intervals: exponential with jitter (half fixed, half random)."""
    delay = initial
    while True:
        yield delay / 2 + random.uniform(0, delay / 2)
        delay = min(delay * 2, maximum)


@dataclass(frozen=True)
class Endpoint:
    """Where the JobService lives: a TLS regional/PSC endpoint or an insecure emulator."""

    host: str
    insecure: bool


def resolve_endpoint(
    region: str,
    api_endpoint: str | None,
    environ: dict[str, str] | None = None,
    *,
    emulator: str | None = None,
) -> Endpoint:
    """The resource's own `emulator` (the local stack's `emulator_host`) beats the emulator
    env, which beats `api_endpoint` (Private Service Connect), which beats the regional host.
    A local stack's jobs live in its emulator, so nothing in the environment can send them
    to Google or to another emulator."""
    env = os.environ if environ is None else environ
    emulator = emulator or env.get(EMULATOR_HOST_ENV)
    if emulator:
        return Endpoint(host=emulator, insecure=True)
    if api_endpoint:
        return Endpoint(host=api_endpoint, insecure=False)
    return Endpoint(host=regional_endpoint(region), insecure=False)


# How long a local stack's provider waits for its emulator's port before it says the emulator
# is not running (an unreachable host is UNAVAILABLE, which the client retries for minutes).
EMULATOR_CONNECT_TIMEOUT_S = 5.0


def require_emulator(host: str, timeout_s: float = EMULATOR_CONNECT_TIMEOUT_S) -> None:
    """Raise `VertexJobError` unless a gRPC server answers at `host` (host:port) in time."""
    import grpc

    channel = grpc.insecure_channel(host)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError:
        raise VertexJobError(
            f"no Vertex AI emulator answers at {host} (vertex-training:emulatorHost, the "
            f"local stack's JobService) after {timeout_s:g}s. Start it first: "
            "scripts/local_up.sh starts it and runs `pulumi up -s local`; or run "
            f"`python -m vertex_emulator serve --port {host.rsplit(':', 1)[-1]} --root "
            ".vtrain-local/emulator --storage-port <port of storageEmulatorHost>`."
        ) from None
    finally:
        channel.close()


def make_job_client(endpoint: Endpoint, credentials: Any = None) -> JobServiceClient:
    """Build a JobServiceClient; callers close it (`with make_job_client(...) as client`)."""
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


def operation_not_complete() -> type[Exception]:
    """What google.api_core's operation polling raises while an LRO is still running."""
    from google.api_core.future import polling

    return polling._OperationNotComplete
