# Over 400 lines: one engine; the CLI's config hand-off, the mocked providers (update and
# first preview), the recording monitor and the runner share its state.
"""An in-process Pulumi engine for tests: runs the real `__main__.py` for one stack.

No Pulumi CLI runs here, so the harness does the CLI's part: `stack_config` reads
`Pulumi.yaml` and `stacks/Pulumi.<stack>.yaml` as the CLI does, and this module hands the
program that config as strings (structured values as JSON), as the language host would.
The program then runs under Pulumi's mock monitor (`pulumi.runtime.mocks`), and every
registration is recorded: type token, name, URN, inputs (wire names, camelCase), parent,
provider, dependencies, the outputs of every component and of the stack, and warnings.

Providers: Google invokes the program makes (`getProject`, `getClientConfig`,
`getProjectServiceAccount`) are answered here; each resource gets realistic computed
outputs. Like a new project, it has no Google service agents until the program creates
them, and refuses a grant to one that does not exist. A test can route any type token to
its own handler (`resource_handlers=`), which is how dynamic resources are executed for
real through Pulumi's dynamic-provider host (see `tests/harness/dynamic_host.py`).

Preview (`run_stack(..., preview=True)`) is the first preview of a new stack: nothing exists
yet, so every resource shows its inputs as given, and every output that is not an input
(what the provider computes on create: e-mails, digests, full names, URLs; `COMPUTED`) and
every ID is unknown, and so is whatever the program derives from them. Invokes still run
(the engine serves them during preview), except one that waits for a resource still to be
created, which the SDK itself answers as unknown. Nothing is created, so no grant is
refused. Unknown values are recorded as `UNKNOWN`, the string the engine sends the policy
pack and providers for them.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import re
import runpy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.runtime import known_types, rpc
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import SETTINGS, configure, get_project, get_stack
from pulumi.runtime.stack import run_in_stack

from tests.harness.stack_config import (
    PROJECT_DIR,
    StackConfigError,
    cli_config,
    project_file,
)

FAKE_PROJECT_NUMBER = "123456789012"
FAKE_ACCESS_TOKEN = "ya29.fake-access-token"
UNKNOWN = rpc.UNKNOWN  # how the engine sends a value that is unknown during preview

ResourceHandler = Callable[[pulumi_mocks.MockResourceArgs], tuple[str | None, dict]]


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def is_unknown(value: Any) -> bool:
    """Whether a recorded value is unknown (only in a preview run), secret or not."""
    return reveal(value) == UNKNOWN


def contains_unknown(value: Any) -> bool:
    """Whether a recorded value is unknown, or holds an unknown anywhere inside it."""
    value = reveal(value)
    if isinstance(value, dict):
        return any(contains_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_unknown(item) for item in value)
    return value == UNKNOWN


def _recorded(value: Any) -> Any:
    """A deserialized value with the SDK's `Unknown` objects replaced by `UNKNOWN`."""
    if known_types.is_unknown(value):
        return UNKNOWN
    if is_secret(value):
        return rpc.wrap_rpc_secret(_recorded(value["value"]))
    if isinstance(value, dict):
        return {key: _recorded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_recorded(item) for item in value]
    return value


def _deserialized(struct: Any) -> dict:
    return _recorded(rpc.deserialize_properties(struct, keep_unknowns=True))


def reveal(value: Any) -> Any:
    """The value with every secret wrapper removed, recursively."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def _alias(alias: Any) -> str:
    return alias.urn or alias.spec.name or alias.spec.type


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
    # Input property -> the URNs its value came from, as the engine hands them to analyzers.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # Its aliases (`aliases` option, the provider's own): each an alias URN, or the name, else
    # the type, an alias spec gives.
    aliases: list[str] = field(default_factory=list)

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
    warnings: list[str]
    preview: bool = False

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


# ---- the mocked providers ----------------------------------------------------------------


# Google service agents, by the service whose agent they are (cloud.google.com/iam/docs/
# service-agents). On a new project none exists until something creates it.
SERVICE_AGENT_DOMAINS = {
    "aiplatform.googleapis.com": "gcp-sa-aiplatform.iam.gserviceaccount.com",
    "artifactregistry.googleapis.com": "gcp-sa-artifactregistry.iam.gserviceaccount.com",
    "storage.googleapis.com": "gs-project-accounts.iam.gserviceaccount.com",
}
# Vertex AI's Custom Code Service Agent: created by the project's first custom job only.
CUSTOM_CODE_AGENT_DOMAIN = "gcp-sa-aiplatform-cc.iam.gserviceaccount.com"
_SERVICE_AGENT = re.compile(r"^serviceAccount:(service-[0-9]+@[a-z0-9.-]+)$")


def service_agent_email(service: str, number: str = FAKE_PROJECT_NUMBER) -> str:
    return f"service-{number}@{SERVICE_AGENT_DOMAINS[service]}"


def _fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# The outputs `_mock_outputs` computes, by type: the providers' output-only properties (not
# in the resource's Args, e.g. `gcp.serviceaccount.Account.email`), so unknown in a preview.
COMPUTED = {
    "docker:index/image:Image": {"repoDigest"},
    "gcp:storage/bucket:Bucket": {"url", "selfLink"},
    "gcp:serviceaccount/account:Account": {"email", "member", "name", "uniqueId"},
    "gcp:projects/serviceIdentity:ServiceIdentity": {"email", "member"},
    "gcp:artifactregistry/repository:Repository": {"name"},
}


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
    if args.typ == "gcp:projects/serviceIdentity:ServiceIdentity":
        email = service_agent_email(inputs["service"])
        return {"email": email, "member": f"serviceAccount:{email}"}
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
        existing_service_agents: set[str],
        preview: bool = False,
    ):
        self.preview = preview
        self.project = project
        self.region = region
        self.handlers = handlers
        self.previous_outputs = previous_outputs
        self.invokes: list[tuple[str, dict]] = []
        # Agent e-mails that exist now: those of an old project, then whatever the program
        # creates (ServiceIdentity, by URN; the Storage agent, by asking for it).
        self.service_agents = set(existing_service_agents)
        self.agent_creators: dict[str, str] = {}

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
        if self.preview:
            return self._planned(args)
        resource_id = f"{args.name}-id" if args.custom else None
        outputs = _mock_outputs(args, self.project)
        if args.typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            self.agent_creators[outputs["email"]] = args.name
        return resource_id, {**args.inputs, **outputs}

    def _planned(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        """A create in a first preview: the inputs, as given (unknown ones stay unknown);
        what the provider computes is left out, which the SDK resolves as unknown during a
        dry run. The ID is unknown too: empty, as providers send it in a preview, except a
        provider's, which the engine sets to the unknown marker (`providers.UnknownID`)."""
        if args.typ.startswith("pulumi:providers:"):
            return UNKNOWN, dict(args.inputs)
        return None, dict(args.inputs)

    def call(self, args: pulumi_mocks.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "gcp:organizations/getProject:getProject":
            project = args.args.get("projectId", self.project)
            return {"projectId": project, "number": FAKE_PROJECT_NUMBER, "name": project}
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            # The API call behind it creates the Storage agent if it is missing.
            email = service_agent_email("storage.googleapis.com")
            self.service_agents.add(email)
            member = f"serviceAccount:{email}"
            return {"emailAddress": email, "member": member, "project": self.project, "id": email}
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
        self.mocks = mocks
        self.registered: list[RegisteredResource] = []
        self.outputs_by_urn: dict[str, dict] = {}

    def RegisterResource(self, request):
        if not self.mocks.preview:  # a preview creates nothing, so Google refuses nothing
            self._refuse_grants_to_missing_agents(request)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.registered.append(
                RegisteredResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=_deserialized(request.object),
                    outputs=_recorded(dict(registration.state)),
                    parent=request.parent or None,
                    provider=request.provider or None,
                    dependencies=list(request.dependencies),
                    custom=bool(request.custom),
                    id=registration.id,
                    property_dependencies={
                        key: list(urns.urns) for key, urns in request.propertyDependencies.items()
                    },
                    aliases=[_alias(alias) for alias in request.aliases],
                )
            )
        return response

    def _refuse_grants_to_missing_agents(self, request) -> None:
        """IAM refuses a grant to a service account that does not exist (HTTP 400). A
        service agent exists if the project had it, or if a ServiceIdentity this grant
        depends on (so created first) made it, or the Storage agent was asked for."""
        if not re.search(r"(IAMMember|IamMember)$", request.type):
            return
        member = rpc.deserialize_properties(request.object).get("member")
        match = _SERVICE_AGENT.match(member) if isinstance(member, str) else None
        if not match:
            return
        email = match[1]
        creator = self.mocks.agent_creators.get(email)
        created_first = creator is not None and any(
            dependency.endswith(f"::{creator}") for dependency in request.dependencies
        )
        if email not in self.mocks.service_agents and not created_first:
            raise StackConfigError(
                f"googleapi: Error 400: Service account {email} does not exist., badRequest "
                f"(granting to it in {request.name!r})"
            )

    def RegisterResourceOutputs(self, request):
        self.outputs_by_urn[request.urn] = _deserialized(request.outputs)
        return super().RegisterResourceOutputs(request)


# ---- running the program -----------------------------------------------------------------


class _Recorder(logging.Logger):
    """What the program logs to the engine (`pulumi.log.warn`: the CLI shows it)."""

    def __init__(self) -> None:
        super().__init__("vtrain-engine")
        self.warnings: list[str] = []

    def warning(self, msg, *args, **kwargs) -> None:  # noqa: ANN001 - logging's signature
        self.warnings.append(str(msg))


def run_stack(
    stack: str,
    config: dict[str, Any] | None = None,
    *,
    preview: bool = False,
    resource_handlers: dict[str, ResourceHandler] | None = None,
    previous_outputs: dict | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
    existing_service_agents: set[str] | None = None,
) -> StackRun:
    """Run the project's program for `stack` and return everything it registered.

    `preview`: the first preview of a new stack instead of an update (see the module
    docstring); `resource_handlers` answer in it too (e.g. `engine_handler(preview=True)`).
    `previous_outputs` are the stack outputs of the last update, as a self stack reference
    reads them (empty: a first update). `existing_service_agents`: the e-mails of Google
    service agents the project already has (none: a new project).
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
        existing_service_agents=existing_service_agents or set(),
        preview=preview,
    )
    monitor = _RecordingMonitor(mocks)
    log = _Recorder()
    failure: list[BaseException] = []

    def run_program() -> None:
        configure(
            pulumi_mocks.MockSettings(
                monitor=monitor,
                monitor_features=set(),
                engine=pulumi_mocks.MockEngine(log),
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
            # A failed run leaves output tasks in the SDK's process-wide SETTINGS.outputs;
            # the next run would await them on this closed loop.
            with SETTINGS.lock:
                leftovers = [task for task in SETTINGS.outputs if task.get_loop() is loop]
                SETTINGS.outputs.difference_update(leftovers)
            for task in leftovers:
                task.cancel()
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
        warnings=log.warnings,
        preview=preview,
    )
    if failure:
        failure[0].stack_run = run  # type: ignore[attr-defined]
        raise failure[0]
    return run
