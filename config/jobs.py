# Over 400 lines: one pydantic model per Vertex message of a job (pool, study, parameter).
"""The `vertex-training:jobs` part of the stack config: training and tuning jobs.

`settings.StackSettings.jobs` holds a list of `Job`. Every rule here is one Vertex AI would
otherwise reject at submission time (or that would waste accelerators), caught at
`pulumi preview` instead, with the key path named. Google's tables live in `catalogue`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from config import apps, catalogue
from config.base import ConfigSection, suggest
from config.job_features import PscInterfaceConfig, ReservationAffinity

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


class Metric(ConfigSection):
    # Unset: the first metric the job's app reports (Job fills it in from the manifest).
    id: str | None = None
    goal: Literal["MAXIMIZE", "MINIMIZE"] = "MAXIMIZE"


class EarlyStopping(ConfigSection):
    """Automated early stopping of unpromising trials: StudySpec's decay_curve_stopping_spec
    or median_automated_stopping_spec (one of the `automated_stopping_spec` oneof)."""

    rule: Literal["decay-curve", "median"]
    # x-axis of the rule: Measurement.elapsed_duration instead of step_count.
    use_elapsed_duration: bool = False


class StudyStopping(ConfigSection):
    """StudySpec.study_stopping_config (aiplatform v1 StudyStoppingConfig): when the whole
    study stops. Each key is one of its rules; at least one must be set."""

    should_stop_asap: bool = False
    min_runtime: Duration | None = None  # minimum_runtime_constraint.max_duration
    max_runtime: Duration | None = None  # maximum_runtime_constraint.max_duration
    min_trials: Annotated[int, Field(ge=1)] | None = None  # min_num_trials
    max_trials: Annotated[int, Field(ge=1)] | None = None  # max_num_trials
    max_trials_no_progress: Annotated[int, Field(ge=1)] | None = None
    max_duration_no_progress: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StudyStopping:
        rules = self.model_dump(exclude={"should_stop_asap"}, exclude_none=True)
        if not rules:
            raise ValueError(
                "set at least one stopping rule: minRuntime, maxRuntime, minTrials, maxTrials, "
                "maxTrialsNoProgress or maxDurationNoProgress"
            )
        if self.min_runtime and self.max_runtime:
            if _duration_seconds(self.min_runtime) > _duration_seconds(self.max_runtime):
                raise ValueError(
                    f"minRuntime {self.min_runtime} is longer than maxRuntime {self.max_runtime}"
                )
        if self.min_trials and self.max_trials and self.min_trials > self.max_trials:
            raise ValueError(f"minTrials {self.min_trials} is above maxTrials {self.max_trials}")
        return self

    def seconds(self, key: str) -> int | None:
        value = getattr(self, key)
        return _duration_seconds(value) if value else None


class Parameter(ConfigSection):
    """One tuned hyperparameter; `id` is the app's flag Vertex sets for each trial (which
    flags and types fit is the app manifest's business, checked by `Job`)."""

    id: str
    type: Literal["double", "integer", "discrete", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[float | str] | None = None
    scale: Literal["linear", "log", "reverse-log"] | None = None
    # ParameterSpec.conditional_parameter_specs: parameters tuned only for some of this one's
    # values (a discrete, integer or categorical parent).
    conditional: list[ConditionalParameter] = []

    # strict=False here: YAML writes 0.001 and 16 alike, and both are numbers.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    @model_validator(mode="after")
    def _range_or_values(self) -> Parameter:
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
        self._check_conditional()
        return self

    def _check_conditional(self) -> None:
        """ConditionalParameterSpec (aiplatform v1 study.proto): the parent value condition is
        one of parent_discrete_values / parent_int_values / parent_categorical_values, whose
        values "must exist in" (discrete, categorical) or "lie in" (integer) the parent's own
        spec; "If two items in conditional_parameter_specs have the same name, they must have
        disjoint parent_value_condition"."""
        if not self.conditional:
            return
        if self.type == "double":
            raise ValueError(
                f"{self.id}: conditional parameters need a discrete, integer or categorical "
                "parent; a double parameter has no parent value condition"
            )
        seen: dict[str, set[str]] = {}
        for index, child in enumerate(self.conditional):
            where = f"{self.id}.conditional[{index}]"
            for value in child.parent_values:
                problem = self._parent_value_problem(value)
                if problem:
                    shown = int(value) if isinstance(value, float) and value.is_integer() else value
                    raise ValueError(f"{where}.parentValues: {shown!r} {problem}")
            keys = {str(self._as_parent_value(value)) for value in child.parent_values}
            overlap = seen.get(child.parameter.id, set()) & keys
            if overlap:
                raise ValueError(
                    f"{where}: {child.parameter.id!r} appears twice for parent value(s) "
                    f"{sorted(overlap)}; the conditions of one parameter must be disjoint"
                )
            seen.setdefault(child.parameter.id, set()).update(keys)
            if child.parameter.id == self.id:
                raise ValueError(f"{where}: a parameter cannot be its own condition")

    def _parent_value_problem(self, value: float | str) -> str | None:
        if self.type == "categorical":
            return None if value in (self.values or []) else f"is not one of {self.values}"
        if isinstance(value, str):
            return f"must be a number ({self.id} is {self.type})"
        if self.type == "discrete":
            return None if value in (self.values or []) else f"is not one of {self.values}"
        # integer parent
        low, high = self.min or 0, self.max or 0
        if not float(value).is_integer() or not low <= value <= high:
            return f"must be a whole number from {int(low)} to {int(high)}"
        return None

    def _as_parent_value(self, value: float | str) -> float | int | str:
        if self.type == "integer":
            return int(value)
        return float(value) if self.type == "discrete" else value

    def flattened(self) -> list[Parameter]:
        """This parameter and every conditional one under it, depth first."""
        found = [self]
        for child in self.conditional:
            found += child.parameter.flattened()
        return found


class ConditionalParameter(ConfigSection):
    """One ConditionalParameterSpec: `parameter` is tuned when the parent takes one of
    `parentValues`."""

    parent_values: Annotated[list[float | str], Field(min_length=1)]
    parameter: Parameter

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


Parameter.model_rebuild()


class Study(ConfigSection):
    """The study spec of a hyperparameter tuning job."""

    metric: Metric = Metric()
    # Several objectives (multi-objective tuning): instead of `metric`, never with it.
    metrics: Annotated[list[Metric], Field(min_length=2)] | None = None
    parameters: Annotated[list[Parameter], Field(min_length=1)]
    early_stopping: EarlyStopping | None = None
    stopping: StudyStopping | None = None
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
            doubles = [p.id for p in self.all_parameters() if p.type == "double"]
            if doubles:
                raise ValueError(
                    f"grid search needs discrete, categorical or integer parameters; "
                    f"{', '.join(doubles)} is double"
                )
        ids = [p.id for p in self.parameters]
        if len(set(ids)) != len(ids):
            raise ValueError(f"parameter ids repeat: {ids}")
        self._check_objectives()
        self._check_conditional_ids(ids)
        if self.stopping:
            self._check_stopping(self.stopping)
        return self

    def _check_objectives(self) -> None:
        if self.metrics is None:
            return
        if "metric" in self.model_fields_set:
            raise ValueError("set metric (one objective) or metrics (several), not both")
        metric_ids = [metric.id for metric in self.metrics]
        if None in metric_ids:
            index = metric_ids.index(None)
            raise ValueError(f"metrics[{index}] needs an id: each of several metrics is named")
        if len(set(metric_ids)) != len(metric_ids):
            raise ValueError(f"metric ids repeat: {metric_ids}")

    def _check_conditional_ids(self, top_level: list[str]) -> None:
        for parameter in self.parameters:
            for child in parameter.flattened()[1:]:
                if child.id in top_level:
                    raise ValueError(
                        f"conditional parameter {child.id!r} (under {parameter.id!r}) is also "
                        "a top-level parameter; a trial gets one value per flag"
                    )

    def _check_stopping(self, stopping: StudyStopping) -> None:
        # StudyStoppingConfig: max_num_trials_no_progress and max_duration_no_progress are
        # "Effective only for single-objective studies" (aiplatform v1 study.proto).
        if len(self.objectives) > 1:
            single_only = [
                to_camel(key)
                for key in ("max_trials_no_progress", "max_duration_no_progress")
                if getattr(stopping, key) is not None
            ]
            if single_only:
                raise ValueError(
                    f"stopping.{single_only[0]} works only for one metric; this study has "
                    f"{len(self.objectives)}"
                )
        for key in ("min_trials", "max_trials", "max_trials_no_progress"):
            value = getattr(stopping, key)
            if value is not None and value > self.max_trial_count:
                raise ValueError(
                    f"stopping.{to_camel(key)} {value} is above maxTrialCount "
                    f"{self.max_trial_count}; the study ends at maxTrialCount anyway"
                )

    @property
    def objectives(self) -> list[Metric]:
        """The study's metrics: `metrics`, or the one `metric`."""
        return list(self.metrics) if self.metrics is not None else [self.metric]

    def all_parameters(self) -> list[Parameter]:
        """Every tuned parameter, conditional ones included (each a flag of the app)."""
        return [found for parameter in self.parameters for found in parameter.flattened()]


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
        return _duration_seconds(self.timeout)

    @property
    def max_wait_seconds(self) -> int | None:
        return _duration_seconds(self.max_wait_duration) if self.max_wait_duration else None


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
