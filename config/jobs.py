"""The `vertex-training:jobs` part of the stack config: training and tuning jobs.

`settings.StackSettings.jobs` holds a list of `Job`. Every rule here is one Vertex AI would
otherwise reject at submission time (or that would waste accelerators), caught at
`pulumi preview` instead, with the key path named. Google's tables live in `catalogue`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from config import apps, catalogue
from config.base import ConfigSection, Duration, duration_seconds, suggest
from config.job_features import PscInterfaceConfig, ReservationAffinity
from config.study import Parameter, Study

JOB_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class WorkerPool(ConfigSection):
    """One WorkerPoolSpec: machine, accelerators or TPU topology, replicas, boot disk."""

    machine_type: str = "n1-standard-4"
    accelerator_type: str | None = None
    accelerator_count: Annotated[int, Field(ge=1, le=16)] | None = None
    replica_count: Annotated[int, Field(ge=1, le=256)] = 1
    boot_disk_type: Literal["pd-ssd", "pd-standard"] = "pd-ssd"
    boot_disk_size_gb: Annotated[int, Field(ge=100, le=64000)] = 100
    tpu_topology: str | None = None
    reservation_affinity: ReservationAffinity | None = None

    @model_validator(mode="after")
    def _accelerator_fits_machine(self) -> WorkerPool:
        machine = self.machine_type
        if machine not in catalogue.TRAINING_MACHINE_TYPES:
            raise ValueError(
                f"machineType {machine!r} is not a Vertex AI training machine type"
                + (
                    suggest(machine, catalogue.TRAINING_MACHINE_TYPES)
                    or "; series: " + ", ".join(catalogue.TRAINING_MACHINE_SERIES)
                )
            )
        if machine.startswith(catalogue.TPU_MACHINE_PREFIXES):
            self._check_tpu()
            return self
        if self.tpu_topology is not None:
            raise ValueError(
                f"tpuTopology applies to TPU machine types only "
                f"({', '.join(catalogue.TPU_SINGLE_HOST_TOPOLOGY)}), not {machine!r}"
            )
        if (self.accelerator_type is None) != (self.accelerator_count is None):
            raise ValueError(
                "set both acceleratorType and acceleratorCount, or neither "
                f"(got acceleratorType={self.accelerator_type!r}, "
                f"acceleratorCount={self.accelerator_count!r})"
            )
        if self.accelerator_type is None:
            if machine.startswith(catalogue.GPU_MACHINE_PREFIXES):
                raise ValueError(
                    f"machineType {machine!r} comes with GPUs; "
                    "set acceleratorType and acceleratorCount"
                )
            return self
        self._check_pairing()
        return self

    def _check_tpu(self) -> None:
        machine, topology = self.machine_type, self.tpu_topology
        expected = catalogue.TPU_SINGLE_HOST_TOPOLOGY.get(machine)
        if expected is None:
            raise ValueError(
                f"machineType {machine!r} (TPU v2/v3) is not supported; TPU machine types: "
                + ", ".join(catalogue.TPU_SINGLE_HOST_TOPOLOGY)
            )
        if self.accelerator_type is not None or self.accelerator_count is not None:
            raise ValueError(
                f"machineType {machine!r} comes with its TPU chips; remove acceleratorType "
                "and acceleratorCount"
            )
        if topology is None:
            raise ValueError(f"machineType {machine!r} runs on TPUs; set tpuTopology {expected!r}")
        if topology == expected:
            return
        if topology in catalogue.TPU_V5E_MULTI_HOST_TOPOLOGIES:
            raise ValueError(
                f"tpuTopology {topology!r} is a multi-host TPU slice, not supported yet; "
                f"{machine!r} takes {expected!r}"
            )
        raise ValueError(
            f"tpuTopology {topology!r} does not fit {machine!r}; it takes {expected!r}"
        )

    def _check_pairing(self) -> None:
        machine, accelerator, count = (
            self.machine_type,
            self.accelerator_type or "",
            self.accelerator_count,
        )
        prefixes = catalogue.ACCELERATOR_MACHINE_PREFIXES.get(accelerator)
        if prefixes is None:
            raise ValueError(
                f"acceleratorType {accelerator!r} is not supported; allowed: "
                + ", ".join(catalogue.ACCELERATOR_MACHINE_PREFIXES)
            )
        if not machine.startswith(prefixes):
            raise ValueError(
                f"acceleratorType {accelerator!r} needs a machineType starting with "
                f"{' or '.join(repr(p) for p in prefixes)}, not {machine!r}"
            )
        expected = catalogue.fixed_accelerator_count(machine)
        if expected is not None and count != expected:
            raise ValueError(
                f"machineType {machine!r} has exactly {expected} GPU(s); "
                f"acceleratorCount is {count}"
            )
        n1_counts = catalogue.N1_ACCELERATOR_COUNTS.get(machine)
        if n1_counts is None:
            return
        if accelerator not in n1_counts:
            raise ValueError(
                f"acceleratorType {accelerator!r} is not available on {machine!r}; "
                f"it takes {', '.join(n1_counts)}"
            )
        if count not in n1_counts[accelerator]:
            raise ValueError(
                f"acceleratorCount {count} is not available for {accelerator} on {machine}; "
                f"allowed: {', '.join(map(str, n1_counts[accelerator]))}"
            )


class WaitSettings(ConfigSection):
    until_terminal: bool = True
    timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = 600


class Job(ConfigSection):
    """One Vertex AI job of the stack: a CustomJob, or a tuning job when `study` is set."""

    name: str
    # `<app>-<flavour>`: an image of an app in images/ (config/apps.py), built by the stack.
    image: Annotated[str, AfterValidator(apps.known_image)]
    worker_pools: Annotated[list[WorkerPool], Field(min_length=1, max_length=3)] = [WorkerPool()]
    # Overrides the image's ENTRYPOINT (the app's command); empty keeps it. With a command of
    # its own, `args` are not checked against the app's flags.
    command: list[str] = []
    args: dict[str, str | int | float | bool] = {}
    env: dict[str, str] = {}
    timeout: Duration = "4h"
    restart_job_on_worker_restart: bool = False
    strategy: Literal["STANDARD", "SPOT", "FLEX_START"] = "STANDARD"
    max_wait_duration: Duration | None = None
    network: str | None = None
    enable_web_access: bool = False
    tensorboard: str | None = None
    labels: dict[str, str] = {}
    wait: WaitSettings | None = None
    study: Study | None = None
    # Job features of issue 12 (README: Vertex job features).
    persistent_resource: bool = False  # run on the stack's persistentResource
    psc_interface_config: PscInterfaceConfig | None = None
    disable_retries: bool = False
    enable_dashboard_access: bool = False
    experiment: str | None = None
    experiment_run: str | None = None
    # Raw CustomJobSpec fields (proto3 JSON), merged last; checked against the proto.
    spec_overrides: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _metric_defaults_to_the_apps(cls, data: Any) -> Any:
        """An unset study.metric.id is the first metric the job's app reports."""
        study = data.get("study") if isinstance(data, dict) else None
        if not isinstance(study, dict) or "metrics" in study:
            return data
        metric = study.get("metric", {})
        image, args = data.get("image"), data.get("args", {})
        if not isinstance(metric, dict) or "id" in metric or not isinstance(args, dict):
            return data
        if image not in apps.image_names():
            return data  # the image's own error says what is wrong
        app, _ = apps.image_app(image)
        metric = {**metric, "id": app.reported_metrics(args)[0]}
        return {**data, "study": {**study, "metric": metric}}

    @model_validator(mode="after")
    def _consistent(self) -> Job:
        if not JOB_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"name {self.name!r}: 1-40 lowercase letters, digits or hyphens, "
                "starting with a letter"
            )
        if self.worker_pools[0].replica_count != 1:
            raise ValueError(
                f"workerPools[0] is the chief and runs exactly 1 replica, "
                f"not {self.worker_pools[0].replica_count}"
            )
        self._check_image_matches_accelerators()
        for flag in self.args:
            if flag.startswith("-"):
                raise ValueError(f"args key {flag!r}: write flags without dashes")
        if self.max_wait_duration and self.strategy != "FLEX_START":
            raise ValueError("maxWaitDuration applies only to strategy FLEX_START")
        if self.network and not catalogue.NETWORK_PATTERN.match(self.network):
            raise ValueError(
                f"network {self.network!r} must be projects/<project number>/global/networks/<n>"
            )
        if self.tensorboard and not catalogue.TENSORBOARD_PATTERN.match(self.tensorboard):
            raise ValueError(
                f"tensorboard {self.tensorboard!r} must be "
                "projects/<p>/locations/<region>/tensorboards/<id>"
            )
        self._check_job_features()
        self._check_against_app()
        return self

    def _check_job_features(self) -> None:
        if self.network and self.psc_interface_config:
            raise ValueError(
                "set network (VPC Network Peering) or pscInterfaceConfig (a Private Service "
                "Connect interface), not both"
            )
        # Scheduling.disable_retries: "If true, overrides restart_job_on_worker_restart to false".
        if self.disable_retries and self.restart_job_on_worker_restart:
            raise ValueError(
                "disableRetries: true turns restartJobOnWorkerRestart off; set only one of them"
            )
        self._check_experiment()
        if self.spec_overrides:
            from vertex_jobs.overrides import checked_overrides

            try:
                checked_overrides(self.spec_overrides)
            except ValueError as error:
                raise ValueError(f"job {self.name!r}: {error}") from None

    def _check_experiment(self) -> None:
        if self.experiment_run and not self.experiment:
            raise ValueError("experimentRun needs experiment (the run belongs to it)")
        if not self.experiment:
            return
        form = "projects/<p>/locations/<region>/metadataStores/<store>/contexts/<experiment>"
        experiment = catalogue.EXPERIMENT_CONTEXT_PATTERN.match(self.experiment)
        if not experiment:
            raise ValueError(f"experiment {self.experiment!r} must be {form}")
        if not self.experiment_run:
            return
        run = catalogue.EXPERIMENT_CONTEXT_PATTERN.match(self.experiment_run)
        # CustomJobSpec.experiment_run: .../contexts/{experiment-name}-{experiment-run-name}
        prefix = f"{self.experiment}-"
        if not run or not self.experiment_run.startswith(prefix):
            raise ValueError(
                f"experimentRun {self.experiment_run!r} must be {prefix}<run name> "
                "(CustomJobSpec.experiment_run: the experiment's context name, '-', the run)"
            )

    def _check_image_matches_accelerators(self) -> None:
        has_gpus = any(pool.accelerator_type for pool in self.worker_pools)
        app, flavour = apps.image_app(self.image)
        gpu_image = flavour in apps.GPU_FLAVOURS
        if has_gpus == gpu_image:
            return
        others = [
            apps.image_name(app.name, other)
            for other in app.flavours
            if (other in apps.GPU_FLAVOURS) == has_gpus
        ]
        if has_gpus:
            raise ValueError(
                f"image {self.image!r} on pools with GPUs leaves them idle; "
                + (f"use image: {others[0]}" if others else f"app {app.name!r} has no GPU image")
            )
        raise ValueError(
            f"image {self.image!r} needs pools with acceleratorType; "
            + (f"use image: {others[0]}" if others else f"app {app.name!r} has only GPU images")
        )

    def _check_against_app(self) -> None:
        """The job's args and study against the manifest of its image's app."""
        app, _ = apps.image_app(self.image)
        job = f"job {self.name!r} (image {self.image!r})"
        problem = None if self.command else app.unknown_flag_problem(self.args)
        if problem:
            raise ValueError(f"{job}: args: {problem}")
        if self.study is None:
            return
        study = self.study
        reported = app.reported_metrics(self.args)
        key = "metric" if study.metrics is None else "metrics"
        for index, metric in enumerate(study.objectives):
            where = f"study.{key}" + ("" if study.metrics is None else f"[{index}]")
            if metric.id not in reported:
                renamed = app.metric_flag in self.args
                raise ValueError(
                    f"{job}: {where}.id {metric.id!r} is not a metric app {app.name!r} "
                    f"reports; it reports {', '.join(reported)}"
                    + (f" (args {app.metric_flag})" if renamed else "")
                )
        for where, parameter in _parameters_by_key(study.parameters, "study.parameters"):
            problem = app.parameter_problem(parameter.id, parameter.type, parameter.values)
            if problem:
                raise ValueError(f"{job}: {where}: {problem}")
        fixed = sorted(set(self.args) & {p.id for p in study.all_parameters()})
        if fixed:
            raise ValueError(f"args {fixed} are tuned by the study; remove them from args")

    @property
    def timeout_seconds(self) -> int:
        return duration_seconds(self.timeout)

    @property
    def max_wait_seconds(self) -> int | None:
        return duration_seconds(self.max_wait_duration) if self.max_wait_duration else None


def _parameters_by_key(parameters: list[Parameter], key: str) -> Iterator[tuple[str, Parameter]]:
    """(key path, parameter) of each parameter, conditional ones included."""

    def walk(parameter: Parameter, where: str) -> Iterator[tuple[str, Parameter]]:
        yield where, parameter
        for index, child in enumerate(parameter.conditional):
            yield from walk(child.parameter, f"{where}.conditional[{index}].parameter")

    for index, parameter in enumerate(parameters):
        yield from walk(parameter, f"{key}[{index}]")


def unique_job_names(jobs: list[Job]) -> list[Job]:
    names = [job.name for job in jobs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"job names repeat: {', '.join(repeated)}")
    return jobs


Jobs = Annotated[list[Job], AfterValidator(unique_job_names)]
