"""A tuning job's `study:` in the stack config: metrics, parameters (conditional ones
included), early and study-level stopping, trial counts. `jobs.Job` checks a study against the
manifest of the job's app; Google's rules on trial counts live in `catalogue`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from config import catalogue
from config.base import ConfigSection, Duration, duration_seconds


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
            if duration_seconds(self.min_runtime) > duration_seconds(self.max_runtime):
                raise ValueError(
                    f"minRuntime {self.min_runtime} is longer than maxRuntime {self.max_runtime}"
                )
        if self.min_trials and self.max_trials and self.min_trials > self.max_trials:
            raise ValueError(f"minTrials {self.min_trials} is above maxTrials {self.max_trials}")
        return self

    def seconds(self, key: str) -> int | None:
        value = getattr(self, key)
        return duration_seconds(value) if value else None


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
