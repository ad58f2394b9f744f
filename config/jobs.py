"""The `vertex-training:jobs` part of the stack config: training and tuning jobs.

`settings.StackSettings.jobs` holds a list of `Job`. Every rule here is one Vertex AI would
otherwise reject at submission time (or that would waste accelerators), caught at
`pulumi preview` instead, with the key path named. Google's tables live in `catalogue`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from config import catalogue, trainer
from config.base import ConfigSection, suggest

JOB_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
DURATION_PATTERN = re.compile(r"^(?P<value>[0-9]+)(?P<unit>[smhd])$")
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration_seconds(text: str) -> int:
    match = DURATION_PATTERN.match(text)
    if not match or int(match["value"]) == 0:
        raise ValueError(f"{text!r} is not a duration; use e.g. '90m', '4h', '3600s' or '1d'")
    return int(match["value"]) * SECONDS_PER_UNIT[match["unit"]]


def _checked_duration(text: str) -> str:
    _duration_seconds(text)
    return text


Duration = Annotated[str, AfterValidator(_checked_duration)]


def image_flavour(flavour: str) -> str:
    if flavour not in trainer.IMAGE_FLAVOURS:
        raise ValueError(
            f"{flavour!r} is not an image flavour; allowed: {', '.join(trainer.IMAGE_FLAVOURS)}"
            f"{suggest(flavour, trainer.IMAGE_FLAVOURS)}"
        )
    return flavour


class WorkerPool(ConfigSection):
    """One WorkerPoolSpec: machine, accelerators, replicas, boot disk."""

    machine_type: str = "n1-standard-4"
    accelerator_type: str | None = None
    accelerator_count: Annotated[int, Field(ge=1, le=16)] | None = None
    replica_count: Annotated[int, Field(ge=1, le=256)] = 1
    boot_disk_type: Literal["pd-ssd", "pd-standard"] = "pd-ssd"
    boot_disk_size_gb: Annotated[int, Field(ge=100, le=64000)] = 100

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
            raise ValueError(f"machineType {machine!r} runs on TPUs; this stack attaches only GPUs")
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


class Metric(ConfigSection):
    id: str = trainer.DEFAULT_METRIC_TAG
    goal: Literal["MAXIMIZE", "MINIMIZE"] = "MAXIMIZE"


class Parameter(ConfigSection):
    """One tuned hyperparameter; `id` is the trainer flag Vertex sets for each trial."""

    id: str
    type: Literal["double", "integer", "discrete", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[float | str] | None = None
    scale: Literal["linear", "log", "reverse-log"] | None = None

    # strict=False here: YAML writes 0.001 and 16 alike, and both are numbers.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    @model_validator(mode="after")
    def _range_or_values(self) -> Parameter:
        if self.id not in trainer.HYPERPARAMETERS:
            raise ValueError(
                f"id {self.id!r} is not a trainer hyperparameter flag; allowed: "
                + ", ".join(trainer.HYPERPARAMETERS)
            )
        ranged = self.type in ("double", "integer")
        if ranged:
            if self.min is None or self.max is None or self.values is not None:
                raise ValueError(f"{self.id}: a {self.type} parameter takes min and max")
            if self.min >= self.max:
                raise ValueError(f"{self.id}: min {self.min} must be below max {self.max}")
            if self.type == "integer" and not (self.min.is_integer() and self.max.is_integer()):
                raise ValueError(f"{self.id}: an integer parameter needs whole min and max")
            if self.scale in ("log", "reverse-log") and self.min <= 0:
                raise ValueError(
                    f"{self.id}: scale {self.scale!r} needs a positive range; min is {self.min}"
                )
        else:
            if not self.values or self.min is not None or self.max is not None:
                raise ValueError(f"{self.id}: a {self.type} parameter takes a list of values")
            if len(set(map(str, self.values))) != len(self.values):
                raise ValueError(f"{self.id}: values {self.values} repeat")
            want_numbers = self.type == "discrete"
            if any(isinstance(v, str) == want_numbers for v in self.values):
                kind = "numbers" if want_numbers else "strings"
                raise ValueError(f"{self.id}: {self.type} values must be {kind}")
            if self.type == "categorical" and self.scale is not None:
                raise ValueError(f"{self.id}: categorical parameters take no scale")
        return self


class Study(ConfigSection):
    """The study spec of a hyperparameter tuning job."""

    metric: Metric = Metric()
    parameters: Annotated[list[Parameter], Field(min_length=1)]
    algorithm: Literal["default", "grid", "random"] = "default"
    measurement_selection: Literal["last", "best"] = "best"
    max_trial_count: Annotated[int, Field(ge=1, le=1000)]
    parallel_trial_count: Annotated[int, Field(ge=1, le=100)] = 1
    max_failed_trial_count: Annotated[int, Field(ge=0, le=1000)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> Study:
        counts = self.model_dump(
            include={"max_trial_count", "parallel_trial_count", "max_failed_trial_count"}
        )
        for _field, problem in catalogue.trial_count_problems(counts, spell=to_camel):
            raise ValueError(problem)
        if self.algorithm == "grid":
            doubles = [p.id for p in self.parameters if p.type == "double"]
            if doubles:
                raise ValueError(
                    f"grid search needs discrete, categorical or integer parameters; "
                    f"{', '.join(doubles)} is double"
                )
        ids = [p.id for p in self.parameters]
        if len(set(ids)) != len(ids):
            raise ValueError(f"parameter ids repeat: {ids}")
        return self


class Job(ConfigSection):
    """One Vertex AI job of the stack: a CustomJob, or a tuning job when `study` is set."""

    name: str
    image: Annotated[str, AfterValidator(image_flavour)] = "cpu"
    worker_pools: Annotated[list[WorkerPool], Field(min_length=1, max_length=3)] = [WorkerPool()]
    # Overrides the image's ENTRYPOINT (python -m trainer.task); empty keeps it.
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
        if self.study:
            self._check_study_against_trainer(self.study)
        return self

    def _check_image_matches_accelerators(self) -> None:
        has_gpus = any(pool.accelerator_type for pool in self.worker_pools)
        gpu_image = self.image in trainer.GPU_FLAVOURS
        if has_gpus and not gpu_image:
            raise ValueError(
                f"image {self.image!r} on pools with GPUs leaves them idle; use image: gpu"
            )
        if not has_gpus and gpu_image:
            raise ValueError(
                f"image {self.image!r} needs pools with acceleratorType; use image: cpu"
            )

    def _check_study_against_trainer(self, study: Study) -> None:
        tag = str(self.args.get("metric-tag", trainer.DEFAULT_METRIC_TAG))
        if study.metric.id != tag:
            raise ValueError(
                f"study.metric.id {study.metric.id!r} is not what the trainer reports "
                f"(its --metric-tag is {tag!r})"
            )
        fixed = sorted(set(self.args) & {p.id for p in study.parameters})
        if fixed:
            raise ValueError(f"args {fixed} are tuned by the study; remove them from args")

    @property
    def timeout_seconds(self) -> int:
        return _duration_seconds(self.timeout)

    @property
    def max_wait_seconds(self) -> int | None:
        return _duration_seconds(self.max_wait_duration) if self.max_wait_duration else None


def unique_job_names(jobs: list[Job]) -> list[Job]:
    names = [job.name for job in jobs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"job names repeat: {', '.join(repeated)}")
    return jobs


Jobs = Annotated[list[Job], AfterValidator(unique_job_names)]
