"""An in-process Pulumi engine for tests: runs the real `__main__.py` for one stack.

No Pulumi CLI runs here, so this module does the CLI's part: it reads `Pulumi.yaml` and
`stacks/Pulumi.<stack>.yaml`, applies the project's config defaults, type-checks declared
keys as the CLI does, and hands the program its config as strings (structured values as
JSON), as the language host would. The program then runs under Pulumi's mock monitor
(`pulumi.runtime.mocks`), and every registration is recorded: type token, name, URN,
inputs (wire names, camelCase), parent, provider, dependencies, and the outputs of every
component and of the stack.

Providers: Google invokes the program makes (`getProject`, `getClientConfig`) are answered
here; each resource gets realistic computed outputs (`MOCK_OUTPUTS`). A test can route
any type token to its own handler (`resource_handlers=`), which is how dynamic resources
are executed for real through Pulumi's dynamic-provider host (see `tests/dynamic_host.py`).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import runpy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import configure, get_project, get_stack
from pulumi.runtime.stack import run_in_stack

PROJECT_DIR = Path(__file__).resolve().parents[2]
STACKS_DIR = PROJECT_DIR / "stacks"
FAKE_PROJECT_NUMBER = "123456789012"
FAKE_ACCESS_TOKEN = "ya29.fake-access-token"

ResourceHandler = Callable[[pulumi_mocks.MockResourceArgs], tuple[str | None, dict]]


class StackConfigError(Exception):
    """The stack file would be rejected by the Pulumi CLI before the program starts."""


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def reveal(value: Any) -> Any:
    """The value with every secret wrapper removed, recursively."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


@dataclass
class RegisteredResource:
    type: str
    name: str
    urn: str
    inputs: dict
    outputs: dict
    parent: str | None
    provider: str | None
    dependencies: list[str]
    custom: bool
    id: str | None = None

    @property
    def plain_inputs(self) -> dict:
        return reveal(self.inputs)


@dataclass
class StackRun:
    stack: str
    resources: list[RegisteredResource]
    outputs: dict
    component_outputs: dict[str, dict]
    invokes: list[tuple[str, dict]]

    def of_type(self, type_token: str) -> list[RegisteredResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, name: str) -> RegisteredResource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> RegisteredResource:
        return next(resource for resource in self.resources if resource.urn == urn)

    @property
    def plain_outputs(self) -> dict:
        return reveal(self.outputs)


# ---- stack config, as the CLI reads it ---------------------------------------------------


def project_file() -> dict:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())


def stack_names() -> list[str]:
    return sorted(path.name.split(".")[1] for path in STACKS_DIR.glob("Pulumi.*.yaml"))


def stack_file(stack: str) -> dict:
    return yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}


_CLI_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def _check_declared_type(stack: str, key: str, value: Any, declaration: dict) -> None:
    expected = _CLI_TYPES[declaration["type"]]
    valid = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if valid and expected is list:
        item_type = _CLI_TYPES[declaration["items"]["type"]]
        valid = all(isinstance(item, item_type) for item in value)
    if not valid:
        raise StackConfigError(
            f"Stack '{stack}' with configuration key '{key}' must be of type "
            f"'{declaration['type']}'"
        )


def _wire_value(value: Any) -> str:
    # The CLI passes every value as a string; objects and lists as JSON, booleans lowercase.
    if isinstance(value, str):
        return value
    return json.dumps(value)


def cli_config(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """The config map the CLI would hand the program for `stack`.

    `overrides` replaces stack-file keys (full `namespace:key` names); a value of `None`
    removes the key, as `pulumi config rm` would.
    """
    project = project_file()
    namespace = project["name"]
    values: dict[str, Any] = dict(stack_file(stack).get("config") or {})
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    declared = project.get("config") or {}
    for key, declaration in declared.items():
        full_key = key if ":" in key else f"{namespace}:{key}"
        if not isinstance(declaration, dict):
            values.setdefault(full_key, declaration)  # a plain project-level value
            continue
        if full_key in values:
            _check_declared_type(stack, full_key, values[full_key], declaration)
        elif "default" in declaration:
            values[full_key] = declaration["default"]
        else:
            raise StackConfigError(f"Stack '{stack}' is missing configuration value '{full_key}'")
    for key, value in values.items():
        if ":" not in key:
            raise StackConfigError(f"configuration key '{key}' must be namespaced (ns:key)")
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise StackConfigError(f"'{key}' is encrypted; pass a plain override in tests")
    return {key: _wire_value(value) for key, value in values.items()}


# ---- the mocked providers ----------------------------------------------------------------


def _fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _mock_outputs(args: pulumi_mocks.MockResourceArgs, project: str) -> dict:
    inputs = args.inputs
    name = args.name
    if args.typ == "docker:index/image:Image":
        image = inputs["imageName"]
        return {"repoDigest": f"{image.rsplit(':', 1)[0]}@{_fake_digest(image)}"}
    if args.typ == "gcp:storage/bucket:Bucket":
        bucket = inputs.get("name", name)
        return {
            "url": f"gs://{bucket}",
            "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
        }
    if args.typ == "gcp:serviceaccount/account:Account":
        email = f"{inputs['accountId']}@{inputs.get('project', project)}.iam.gserviceaccount.com"
        return {
            "email": email,
            "member": f"serviceAccount:{email}",
            "name": f"projects/{inputs.get('project', project)}/serviceAccounts/{email}",
            "uniqueId": "100000000000000000001",
        }
    if args.typ == "gcp:artifactregistry/repository:Repository":
        return {
            "name": f"projects/{inputs.get('project', project)}/locations/{inputs['location']}"
            f"/repositories/{inputs['repositoryId']}",
        }
    return {}


class _RecordingMocks(pulumi_mocks.Mocks):
    def __init__(
        self,
        project: str,
        region: str,
        handlers: dict[str, ResourceHandler],
        previous_outputs: dict,
    ):
        self.project = project
        self.region = region
        self.handlers = handlers
        self.previous_outputs = previous_outputs
        self.invokes: list[tuple[str, dict]] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        if args.typ in self.handlers:
            return self.handlers[args.typ](args)
        if args.typ == "pulumi:pulumi:StackReference":
            # Only the program's reference to its own stack is answered: its last outputs.
            expected = f"organization/{get_project()}/{get_stack()}"
            if args.inputs.get("name") != expected:
                raise NotImplementedError(f"no stack {args.inputs.get('name')!r} in the engine")
            outputs = {"outputs": self.previous_outputs, "secretOutputNames": []}
            return args.inputs["name"], {**args.inputs, **outputs}
        resource_id = f"{args.name}-id" if args.custom else None
        return resource_id, {**args.inputs, **_mock_outputs(args, self.project)}

    def call(self, args: pulumi_mocks.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "gcp:organizations/getProject:getProject":
            project = args.args.get("projectId", self.project)
            return {"projectId": project, "number": FAKE_PROJECT_NUMBER, "name": project}
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {
                "accessToken": FAKE_ACCESS_TOKEN,
                "project": self.project,
                "region": self.region,
                "id": "client-config",
            }
        raise NotImplementedError(f"the test engine does not answer invoke {args.token!r}")


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus a record of parents, dependencies and outputs."""

    def __init__(self, mocks: _RecordingMocks):
        super().__init__(mocks)
        self.registered: list[RegisteredResource] = []
        self.outputs_by_urn: dict[str, dict] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.registered.append(
                RegisteredResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=rpc.deserialize_properties(request.object),
                    outputs=dict(registration.state),
                    parent=request.parent or None,
                    provider=request.provider or None,
                    dependencies=list(request.dependencies),
                    custom=bool(request.custom),
                    id=registration.id,
                )
            )
        return response

    def RegisterResourceOutputs(self, request):
        self.outputs_by_urn[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


# ---- running the program -----------------------------------------------------------------


def run_stack(
    stack: str,
    config: dict[str, Any] | None = None,
    *,
    preview: bool = False,
    resource_handlers: dict[str, ResourceHandler] | None = None,
    previous_outputs: dict | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
) -> StackRun:
    """Run the project's program for `stack` and return everything it registered.

    `previous_outputs` are the stack outputs of the last update, as a self stack reference
    reads them (empty: a first update).
    Raises whatever the program raises (e.g. `config.ConfigError`), after the runtime has
    drained, so a test can also assert how many resources were registered before it.
    """
    wire_config = cli_config(stack, config)
    project_name = project_file()["name"]
    mocks = _RecordingMocks(
        project=wire_config.get("gcp:project", "unset-project"),
        region=wire_config.get(f"{project_name}:region", "unset-region"),
        handlers=resource_handlers or {},
        previous_outputs=previous_outputs or {},
    )
    monitor = _RecordingMonitor(mocks)
    failure: list[BaseException] = []

    def run_program() -> None:
        configure(
            pulumi_mocks.MockSettings(
                monitor=monitor,
                monitor_features=set(),
                engine=pulumi_mocks.MockEngine(None),
                project=project_name,
                stack=stack,
                dry_run=preview,
                organization="organization",
                callbacks=None,
                root_directory=str(PROJECT_DIR),
            )
        )
        set_all_config(wire_config, [])
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(
                run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__"))
            )
        except BaseException as error:  # noqa: BLE001 re-raised in the caller's thread
            failure.append(error)
        finally:
            loop.close()

    # A fresh context and thread: Pulumi keeps its settings, config and root stack in
    # context variables, so runs never see each other's state.
    thread = threading.Thread(target=contextvars.Context().run, args=(run_program,))
    thread.start()
    thread.join()
    run = StackRun(
        stack=stack,
        resources=monitor.registered,
        outputs=next(
            (
                outputs
                for urn, outputs in monitor.outputs_by_urn.items()
                if "::pulumi:pulumi:Stack::" in urn
            ),
            {},
        ),
        component_outputs=monitor.outputs_by_urn,
        invokes=mocks.invokes,
    )
    if failure:
        failure[0].stack_run = run  # type: ignore[attr-defined]
        raise failure[0]
    return run
