"""Drive Pulumi's own dynamic-provider host (``python -m pulumi.dynamic``) over gRPC.

The Pulumi engine runs every ``pulumi.dynamic.Resource`` by starting the ``pulumi-python``
dynamic-provider plugin (``python -m pulumi.dynamic``), which serves the ResourceProvider
gRPC service on ``127.0.0.1:<port>``, prints the port as the first line of stdout and then
unpickles the ``__provider`` property of each request to find the provider code. This module
plays the engine's part, so tests exercise exactly what ``pulumi up`` would: property
(de)serialization, the pickled provider crossing into a fresh process, and the host's own
handling of results and errors.

Works with any dynamic provider. Typical use::

    from tests.harness.dynamic_host import DynamicProviderHost, make_urn

    with DynamicProviderHost(env={"VERTEX_AI_EMULATOR_HOST": fake.address}) as host:
        provider = host.bind(CustomJobProvider(), type_token=CUSTOM_JOB_TYPE, name="train")
        checked = provider.check({}, inputs)["inputs"]
        created = provider.create(checked)
        refreshed = provider.read(created["id"], created["properties"])
        provider.delete(created["id"], refreshed["properties"])

``bind`` adds the serialized provider (``__provider``, as ``pulumi.dynamic.Resource`` sets it)
to every request and strips it from results. An engine harness that already holds
registered props (with ``__provider``) calls the host's raw methods instead, e.g.
``host.create(urn, props)``. Secret-wrapped values are unwrapped before sending, as the
engine does for this provider (it answers Configure with ``acceptSecrets=False``).
Every method returns plain dicts; a provider exception surfaces as
``DynamicProviderError`` carrying the host's traceback text.

The host is started in ``cwd`` (default: the project root), as the engine starts plugins in
the project directory; ``python -m`` puts that directory on ``sys.path``, which is what lets
it import providers pickled by reference (``vertex_jobs.providers``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc
from pulumi.dynamic.dynamic import PROVIDER_KEY, ResourceProvider, serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2
from pulumi.runtime.proto.provider_pb2_grpc import ResourceProviderStub

PROJECT_DIR = Path(__file__).resolve().parents[2]
UNKNOWN = rpc.UNKNOWN  # what the engine sends for values not known during preview
_DIFF_CHANGES = {
    provider_pb2.DiffResponse.DIFF_UNKNOWN: "DIFF_UNKNOWN",
    provider_pb2.DiffResponse.DIFF_NONE: "DIFF_NONE",
    provider_pb2.DiffResponse.DIFF_SOME: "DIFF_SOME",
}


class DynamicProviderError(Exception):
    """A provider method raised; ``details`` is the host's traceback text."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str):
        super().__init__(f"{method} failed ({code.name}):\n{details}")
        self.method, self.code, self.details = method, code, details


def make_urn(type_token: str, name: str, *, stack: str = "test", project: str = "test") -> str:
    return f"urn:pulumi:{stack}::{project}::{type_token}::{name}"


def serialized_provider(provider: ResourceProvider) -> str:
    """The ``__provider`` value exactly as ``pulumi.dynamic.Resource`` computes it."""
    return serialize_provider(provider)


def _plain(value: Any) -> Any:
    """Remove secret wrappers (the engine strips them for providers that refuse secrets)."""
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _run(coroutine: Any) -> Any:
    """Run a coroutine to completion on a private event loop, never touching the thread's
    current loop (``asyncio.run`` would unset it and break Pulumi's runtime afterwards). From
    code already inside a running loop (an in-process engine), use a helper thread."""

    def run_private() -> Any:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(coroutine)
        finally:
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_private()
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = run_private()
        except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def to_struct(props: Mapping[str, Any]) -> Any:
    """Serialize plain props to a ``google.protobuf.Struct`` the way the SDK does."""
    return _run(rpc.serialize_properties(_plain(dict(props)), {}))


def from_struct(struct: Any) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


class DynamicProviderHost:
    """One ``python -m pulumi.dynamic`` subprocess and a gRPC client to it.

    ``env`` entries are added to (``None`` removes them from) this process's environment for
    the subprocess. Use as a context manager, or call ``start()``/``stop()``.
    """

    def __init__(
        self,
        env: Mapping[str, str | None] | None = None,
        *,
        cwd: str | os.PathLike[str] = PROJECT_DIR,
        python: str = sys.executable,
        config: Mapping[str, Any] | None = None,
        startup_timeout_s: float = 30.0,
        call_timeout_s: float = 120.0,
    ):
        self.env = dict(env or {})
        self.cwd = Path(cwd)
        self.python = python
        self.config = dict(config or {})
        self.startup_timeout_s = startup_timeout_s
        self.call_timeout_s = call_timeout_s
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._channel: grpc.Channel | None = None
        self._stub: ResourceProviderStub | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> DynamicProviderHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> DynamicProviderHost:
        environment = {**os.environ}
        for key, value in self.env.items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.dynamic"],
            cwd=self.cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            self.port = self._read_port()
            self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
            grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout_s)
            self._stub = ResourceProviderStub(self._channel)
            self.configure(self.config)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_port(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        result: dict[str, bytes] = {}
        reader = threading.Thread(
            target=lambda: result.update(line=self._process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(self.startup_timeout_s)
        line = result.get("line", b"").strip()
        if not line.isdigit():
            raise RuntimeError(
                f"dynamic provider host did not print its port (got {line!r}); stderr:\n"
                + self.stderr()
            )
        return int(line)

    def stop(self) -> None:
        """Close the channel and end the subprocess (terminate, then kill after 5 s)."""
        if self._channel is not None:
            self._channel.close()
            self._channel, self._stub = None, None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        # stderr stays readable after stop, for diagnostics; closed when garbage-collected.

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr(self) -> str:
        """What the host process wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    # ---- raw ResourceProvider calls (props must include ``__provider``) ----------------

    def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise RuntimeError("DynamicProviderHost is not started")
        try:
            return getattr(self._stub, method)(request, timeout=self.call_timeout_s)
        except grpc.RpcError as error:
            raise DynamicProviderError(method, error.code(), error.details() or "") from None

    def configure(self, config: Mapping[str, Any]) -> None:
        request = provider_pb2.ConfigureRequest(
            args=to_struct(config), acceptSecrets=True, acceptResources=True
        )
        self._call("Configure", request)

    def check(self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        """-> ``{"inputs": {...}, "failures": [{"property", "reason"}]}``."""
        response = self._call(
            "Check", provider_pb2.CheckRequest(urn=urn, olds=to_struct(olds), news=to_struct(news))
        )
        return {
            "inputs": from_struct(response.inputs),
            "failures": [{"property": f.property, "reason": f.reason} for f in response.failures],
        }

    def diff(
        self, urn: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> dict[str, Any]:
        """-> ``{"changes": "DIFF_SOME"|"DIFF_NONE"|"DIFF_UNKNOWN", "replaces": [...],
        "stables": [...], "delete_before_replace": bool}``."""
        response = self._call(
            "Diff",
            provider_pb2.DiffRequest(id=id_, urn=urn, olds=to_struct(olds), news=to_struct(news)),
        )
        return {
            "changes": _DIFF_CHANGES[response.changes],
            "replaces": list(response.replaces),
            "stables": list(response.stables),
            "delete_before_replace": response.deleteBeforeReplace,
        }

    def create(self, urn: str, properties: Mapping[str, Any], *, preview: bool = False) -> dict:
        """-> ``{"id": str, "properties": {...}}``."""
        request = provider_pb2.CreateRequest(
            urn=urn, properties=to_struct(properties), preview=preview
        )
        response = self._call("Create", request)
        return {"id": response.id, "properties": from_struct(response.properties)}

    def read(
        self,
        urn: str,
        id_: str,
        properties: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """-> ``{"id": str ("" when gone), "properties": {...}, "inputs": {...} | None}``."""
        request = provider_pb2.ReadRequest(id=id_, urn=urn, properties=to_struct(properties))
        if inputs is not None:
            request.inputs.CopyFrom(to_struct(inputs))
        response = self._call("Read", request)
        return {
            "id": response.id,
            "properties": from_struct(response.properties),
            "inputs": from_struct(response.inputs) if response.HasField("inputs") else None,
        }

    def update(
        self, urn: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> dict[str, Any]:
        """-> ``{"properties": {...}}``."""
        request = provider_pb2.UpdateRequest(
            id=id_, urn=urn, olds=to_struct(olds), news=to_struct(news)
        )
        return {"properties": from_struct(self._call("Update", request).properties)}

    def delete(self, urn: str, id_: str, properties: Mapping[str, Any]) -> None:
        request = provider_pb2.DeleteRequest(id=id_, urn=urn, properties=to_struct(properties))
        self._call("Delete", request)

    # ---- convenience -------------------------------------------------------------------

    def engine_handler(self, *, preview: bool = False) -> Callable[[Any], tuple[str, dict]]:
        """A resource handler for an in-process engine built on ``pulumi.runtime.mocks``:
        given the ``MockResourceArgs`` of a registered dynamic resource (its inputs carry
        ``__provider``), run Check then Create, as ``pulumi up`` would, and return
        ``(id, outputs)``. With ``preview=True`` it stops after Check, as a preview does
        (id "", outputs = checked inputs). Check failures raise ``DynamicProviderError``."""

        def handle(args: Any) -> tuple[str, dict]:
            urn = make_urn(args.typ, args.name)
            checked = self.check(urn, {}, args.inputs)
            if checked["failures"]:
                reasons = "; ".join(f"{f['property']}: {f['reason']}" for f in checked["failures"])
                raise DynamicProviderError("Check", grpc.StatusCode.INVALID_ARGUMENT, reasons)
            if preview:
                return "", checked["inputs"]
            created = self.create(urn, checked["inputs"])
            return created["id"], created["properties"]

        return handle

    def bind(
        self,
        provider: ResourceProvider,
        *,
        type_token: str = "pulumi-python:dynamic:Resource",
        name: str = "resource",
    ) -> BoundProvider:
        """Calls for one resource of ``provider``, without ``__provider`` in sight."""
        return BoundProvider(self, serialized_provider(provider), make_urn(type_token, name))


class BoundProvider:
    """The host's methods for one URN: adds ``__provider`` to requests, strips it from
    results. Same return shapes as ``DynamicProviderHost``."""

    def __init__(self, host: DynamicProviderHost, provider_property: str, urn: str):
        self.host, self.provider_property, self.urn = host, provider_property, urn

    def _with(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {**props, PROVIDER_KEY: self.provider_property}

    @staticmethod
    def _without(props: dict[str, Any] | None) -> dict[str, Any] | None:
        if props is None:
            return None
        return {k: v for k, v in props.items() if k != PROVIDER_KEY}

    def check(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        olds = self._with(olds) if olds else {}
        result = self.host.check(self.urn, olds, self._with(news))
        return {**result, "inputs": self._without(result["inputs"])}

    def diff(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        return self.host.diff(self.urn, id_, self._with(olds), self._with(news))

    def create(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        result = self.host.create(self.urn, self._with(properties))
        return {**result, "properties": self._without(result["properties"])}

    def read(self, id_: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        result = self.host.read(self.urn, id_, self._with(properties))
        return {
            **result,
            "properties": self._without(result["properties"]),
            "inputs": self._without(result["inputs"]),
        }

    def update(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict:
        result = self.host.update(self.urn, id_, self._with(olds), self._with(news))
        return {"properties": self._without(result["properties"])}

    def delete(self, id_: str, properties: Mapping[str, Any]) -> None:
        self.host.delete(self.urn, id_, self._with(properties))
