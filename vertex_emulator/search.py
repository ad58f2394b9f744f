# Over 400 lines: the whole of a StudySpec's semantics (search, measurements, stopping), cited.
"""What a HyperparameterTuningJob's `studySpec` means, for the emulator's tuning loop.

Public API:
- `TrialSuggester(study_spec, seed=None)`: `suggest()` -> {parameter_id: value} or None when
  the space is exhausted (grid); `tell(parameters, final_metrics)` (None = failed/infeasible).
- `Measurement(step_count, metrics, timestamp=None)`, `read_hypertune_measurements(path)`,
  `final_measurement(study_spec, measurements)`, `best_trials(study_spec, trials)`.
- `should_stop_early(study_spec, trial_measurements, completed)`: automated trial stopping.
- `should_stop_study(study_spec, trials, study_start, now)`: v1 `study_stopping_config`.

Algorithms (`StudySpec.Algorithm`, cloud.google.com/vertex-ai/docs/reference/rest/v1/StudySpec):
- GRID_SEARCH: "all parameters must be INTEGER, CATEGORICAL, or DISCRETE". Vertex does not
  document the order; here it is the spec's order with the first parameter varying slowest
  (row-major, like `itertools.product`), each parameter's values in their listed order
  (integers ascending), conditional children expanded under each matching parent value. Every
  combination is suggested once, then `suggest()` returns None.
- RANDOM_SEARCH: Optuna's RandomSampler (seeded), uniform in the scaled space.
- ALGORITHM_UNSPECIFIED (the default): Optuna's TPESampler, a Bayesian method, where Vertex
  uses Vizier's default, "Bayesian optimization" (cloud.google.com/vertex-ai/docs/vizier/
  overview). Differences: Vizier's default is a Gaussian-process bandit ("The Vizier
  Gaussian Process Bandit Algorithm", arXiv:2408.11527): it models the objective itself with
  a GP and suggests where an upper confidence bound on it is best. TPE
  (optuna.readthedocs.io/en/stable/reference/samplers/generated/
  optuna.samplers.TPESampler.html; Bergstra et al., NeurIPS 2011) models instead the
  densities of good and of bad parameters and samples where their ratio is high: cheaper,
  no uncertainty estimate of the objective. Its first 10 trials (`n_startup_trials`) are
  random, so a study of 10 trials or fewer is random search here. Several metrics:
  multi-objective TPE where Vizier uses a multi-objective GP bandit. Running trials are
  penalised (Optuna's `constant_liar`) so that parallel trials spread out. The
  same seed and the same tells give the same suggestions. `observation_noise` is not used
  ("Not supported by HyperparameterTuningJob").

Scales (`ParameterSpec.ScaleType`): linear is uniform in [min, max]; UNIT_LOG_SCALE is uniform
in log; UNIT_REVERSE_LOG_SCALE is the mirror of log, so values are dense near max: value =
min + max - y with y log-uniform in [min, max], the inverse of OSS Vizier's converter
(`raw_sum - exp(...)` in vizier/pyvizier/converters/core.py). Discrete values are chosen by
index (ordered, uniform over the list under random search); their scale_type is not used.
Integers come back as int, discrete values as float, categorical values as str.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from google.cloud.aiplatform_v1.types import Measurement as MeasurementProto
from google.cloud.aiplatform_v1.types import StudySpec, Trial

ParameterValue = float | int | str
ParameterSpec = StudySpec.ParameterSpec
ScaleType = ParameterSpec.ScaleType
GoalType = StudySpec.MetricSpec.GoalType
Selection = StudySpec.MeasurementSelectionType

# "MEASUREMENT_SELECTION_TYPE_UNSPECIFIED: Will be treated as LAST_MEASUREMENT."
# (StudySpec.MeasurementSelectionType, cloud.google.com/vertex-ai/docs/reference/rest/v1/
# StudySpec#measurementselectiontype).
DEFAULT_MEASUREMENT_SELECTION = Selection.LAST_MEASUREMENT

# cloudml-hypertune 0.1.0.dev6 (hypertune/hypertune.py) writes, per report, one line
# `json.dumps({"timestamp": time.time(), "trial": str(id), <tag>: str(value),
# "global_step": str(int(step or 0)), "checkpoint_path": path}, sort_keys=True)`, rewriting
# the whole file each time with the last 100 reports only (a deque of maxlen 100).
_HYPERTUNE_NON_METRIC_KEYS = frozenset({"timestamp", "trial", "global_step", "checkpoint_path"})

# Decay-curve stopping approximation: completed trials needed before it may stop a trial.
DECAY_CURVE_MIN_COMPLETED = 3

# Discrete values match a parent condition within this epsilon ("The Epsilon of the value
# matching is 1e-10", ConditionalParameterSpec.DiscreteValueCondition).
_DISCRETE_EPSILON = 1e-10


@dataclasses.dataclass
class Measurement:
    """One report of a trial: its step and metric values (`timestamp`: seconds since epoch)."""

    step_count: int
    metrics: dict[str, float]
    timestamp: float | None = None

    def to_proto(self, trial_start: float | None = None) -> MeasurementProto:
        """The Vertex `Measurement`; `elapsed_duration` when both times are known."""
        proto = MeasurementProto(
            step_count=self.step_count,
            metrics=[{"metric_id": key, "value": value} for key, value in self.metrics.items()],
        )
        if trial_start is not None and self.timestamp is not None:
            elapsed = max(0.0, self.timestamp - trial_start)
            proto.elapsed_duration = {
                "seconds": int(elapsed),
                "nanos": int((elapsed % 1) * 1e9),
            }
        return proto


# ---- the parameter tree ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Param:
    parameter_id: str
    key: str  # unique name in the Optuna study: the path from the root
    kind: str  # which `parameter_value_spec`
    scale: ScaleType
    low: float = 0.0
    high: float = 0.0
    values: tuple[Any, ...] = ()
    children: tuple[tuple[tuple[Any, ...], _Param], ...] = ()  # (parent values, child)


def _spec_error(where: str, message: str) -> ValueError:
    return ValueError(f"study_spec.{where}: {message}")


def _parse_param(spec: ParameterSpec, where: str, key: str) -> _Param:
    which = ParameterSpec.pb(spec).WhichOneof("parameter_value_spec")
    if which is None:
        raise _spec_error(
            where,
            f"parameter {spec.parameter_id!r} has no value spec; allowed: double_value_spec, "
            "integer_value_spec, categorical_value_spec, discrete_value_spec.",
        )
    kind = which.removesuffix("_value_spec")
    value_spec = getattr(spec, which)
    param = _Param(spec.parameter_id, key, kind, spec.scale_type)
    if kind in ("double", "integer"):
        param = dataclasses.replace(param, low=value_spec.min_value, high=value_spec.max_value)
        if param.low > param.high:
            raise _spec_error(where, f"min_value {param.low} exceeds max_value {param.high}.")
    else:
        values = tuple(value_spec.values)
        if not values:
            raise _spec_error(where, f"{which}.values is empty; at least one value is required.")
        pairs = itertools.pairwise(values) if kind == "discrete" else ()
        if any(later - earlier < _DISCRETE_EPSILON for earlier, later in pairs):
            raise _spec_error(where, f"discrete values {list(values)} are not increasing.")
        param = dataclasses.replace(param, values=values)
    # UNIT_LOG_SCALE / UNIT_REVERSE_LOG_SCALE: "The entire feasible space must be strictly
    # positive."
    if kind in ("double", "integer") and _is_log(param.scale) and param.low <= 0:
        raise _spec_error(
            where,
            f"{ScaleType(param.scale).name} needs min_value > 0, got {param.low} "
            f"for parameter {spec.parameter_id!r}.",
        )
    children = []
    for index, conditional in enumerate(spec.conditional_parameter_specs):
        child_where = f"{where}.conditional_parameter_specs[{index}]"
        parent_values = _parent_values(param, conditional, child_where)
        child_key = f"{key}/{index}.{conditional.parameter_spec.parameter_id}"
        child = _parse_param(conditional.parameter_spec, f"{child_where}.parameter_spec", child_key)
        children.append((parent_values, child))
    return dataclasses.replace(param, children=tuple(children))


def _is_log(scale: ScaleType) -> bool:
    return scale in (ScaleType.UNIT_LOG_SCALE, ScaleType.UNIT_REVERSE_LOG_SCALE)


_CONDITION_FOR_KIND = {
    "discrete": "parent_discrete_values",
    "integer": "parent_int_values",
    "categorical": "parent_categorical_values",
}


def _parent_values(parent: _Param, conditional: Any, where: str) -> tuple[Any, ...]:
    which = ParameterSpec.ConditionalParameterSpec.pb(conditional).WhichOneof(
        "parent_value_condition"
    )
    expected = _CONDITION_FOR_KIND.get(parent.kind)
    if expected is None:
        raise _spec_error(where, f"a {parent.kind} parameter cannot have conditional children.")
    if which != expected:
        raise _spec_error(
            where,
            f"parent {parent.parameter_id!r} is {parent.kind}, so the condition must be "
            f"{expected}, got {which}.",
        )
    values = tuple(getattr(conditional, which).values)
    if not values:
        raise _spec_error(where, f"{which}.values is empty.")
    for value in values:
        if not _in_space(parent, value):
            raise _spec_error(
                where, f"{which} value {value!r} is not a value of parent {parent.parameter_id!r}."
            )
    return values


def _in_space(param: _Param, value: Any) -> bool:
    if param.kind == "categorical":
        return value in param.values
    if param.kind == "discrete":
        return any(abs(value - known) <= _DISCRETE_EPSILON for known in param.values)
    if param.kind == "integer" and float(value) != int(value):
        return False
    return param.low <= value <= param.high


def _matches(parent_values: tuple[Any, ...], parent: _Param, value: Any) -> bool:
    if parent.kind == "discrete":
        return any(abs(value - wanted) <= _DISCRETE_EPSILON for wanted in parent_values)
    return value in parent_values


def _parse_parameters(study_spec: StudySpec) -> list[_Param]:
    if not study_spec.parameters:
        raise _spec_error("parameters", "at least one parameter is required.")
    params = [
        _parse_param(spec, f"parameters[{index}]", spec.parameter_id)
        for index, spec in enumerate(study_spec.parameters)
    ]
    top_ids = [param.parameter_id for param in params]
    for param in _walk(params):
        for _, child in param.children:
            if child.parameter_id in top_ids:
                raise _spec_error(
                    "parameters",
                    f"conditional parameter {child.parameter_id!r} reuses a top-level id.",
                )
    if len(set(top_ids)) != len(top_ids):
        raise _spec_error("parameters", f"parameter ids {top_ids} are not unique.")
    return params


def _walk(params: Sequence[_Param]) -> Iterator[_Param]:
    for param in params:
        yield param
        yield from _walk([child for _, child in param.children])


def _objectives(study_spec: StudySpec) -> list[tuple[str, bool]]:
    """(metric_id, maximize) per metric; "GOAL_TYPE_UNSPECIFIED: ... default to maximize"."""
    if not study_spec.metrics:
        raise _spec_error("metrics", "at least one metric is required.")
    objectives = []
    for index, metric in enumerate(study_spec.metrics):
        if "safety_config" in metric:
            raise _spec_error(
                f"metrics[{index}].safety_config",
                "safe search (safety metrics) is not supported by the emulator.",
            )
        objectives.append((metric.metric_id, metric.goal != GoalType.MINIMIZE))
    return objectives


# ---- suggesting trials ----------------------------------------------------------------------


class TrialSuggester:
    """Suggests each trial's parameters for one study and learns from the finished trials."""

    def __init__(self, study_spec: StudySpec, seed: int | None = None) -> None:
        self._params = _parse_parameters(study_spec)
        self._objectives = _objectives(study_spec)
        self._pending: dict[tuple[Any, ...], list[optuna.trial.Trial]] = {}
        self._told: set[tuple[Any, ...]] = set()
        self._grid: Iterator[dict[str, ParameterValue]] | None = None
        self._study: optuna.Study | None = None
        algorithm = study_spec.algorithm
        if algorithm == StudySpec.Algorithm.GRID_SEARCH:
            for param in _walk(self._params):
                if param.kind == "double":
                    raise _spec_error(
                        "algorithm",
                        f"GRID_SEARCH needs INTEGER, CATEGORICAL or DISCRETE parameters; "
                        f"{param.parameter_id!r} is DOUBLE.",
                    )
            self._grid = _assignments(self._params)
            return
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if algorithm == StudySpec.Algorithm.RANDOM_SEARCH:
            sampler: optuna.samplers.BaseSampler = optuna.samplers.RandomSampler(seed=seed)
        else:
            sampler = optuna.samplers.TPESampler(seed=seed)
        directions = ["maximize" if maximize else "minimize" for _, maximize in self._objectives]
        self._study = optuna.create_study(directions=directions, sampler=sampler)

    def suggest(self) -> dict[str, ParameterValue] | None:
        """The next trial's parameters, or None when the space is exhausted (grid only)."""
        if self._grid is not None:
            for parameters in self._grid:
                if _key(parameters) not in self._told:
                    return parameters
            return None
        assert self._study is not None
        trial = self._study.ask()
        parameters = _sample(trial, self._params)
        self._pending.setdefault(_key(parameters), []).append(trial)
        return parameters

    def tell(
        self, parameters: Mapping[str, ParameterValue], final_metrics: Mapping[str, float] | None
    ) -> None:
        """Records a finished trial; `final_metrics` None (or missing a metric) = infeasible.

        Parameters never suggested by this instance (a study resumed after a restart) are
        recorded too, so the search goes on from what was already run.
        """
        key = _key(parameters)
        self._told.add(key)
        if self._study is None:
            return
        values = None
        if final_metrics is not None:
            values = [final_metrics.get(metric_id) for metric_id, _ in self._objectives]
            if any(value is None or not math.isfinite(value) for value in values):
                values = None
        pending = self._pending.get(key)
        if pending:
            trial = pending.pop(0)
            if values is None:
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self._study.tell(trial, values)
            return
        params, distributions = _optuna_params(self._params, parameters)
        self._study.add_trial(
            optuna.trial.create_trial(
                state=(
                    optuna.trial.TrialState.FAIL
                    if values is None
                    else optuna.trial.TrialState.COMPLETE
                ),
                values=values,
                params=params,
                distributions=distributions,
            )
        )


def _key(parameters: Mapping[str, ParameterValue]) -> tuple[Any, ...]:
    # Numbers may come back as floats (protobuf Value): 64 and 64.0 are the same trial.
    return tuple(
        sorted(
            (name, value if isinstance(value, str) else float(value))
            for name, value in parameters.items()
        )
    )


def _grid_values(param: _Param) -> Sequence[Any]:
    if param.kind == "integer":
        return range(int(param.low), int(param.high) + 1)
    return param.values


def _assignments(params: Sequence[_Param]) -> Iterator[dict[str, ParameterValue]]:
    """Every combination, first parameter slowest; children only under matching parents."""
    if not params:
        yield {}
        return
    for head in _param_assignments(params[0]):
        for tail in _assignments(params[1:]):
            yield {**head, **tail}


def _param_assignments(param: _Param) -> Iterator[dict[str, ParameterValue]]:
    for value in _grid_values(param):
        active = [child for values, child in param.children if _matches(values, param, value)]
        for below in _assignments(active):
            yield {param.parameter_id: _vertex_value(param, value), **below}


def _vertex_value(param: _Param, value: Any) -> ParameterValue:
    if param.kind == "integer":
        return int(value)
    if param.kind == "discrete":
        return float(value)
    return value


def _distribution(param: _Param) -> optuna.distributions.BaseDistribution:
    log = _is_log(param.scale)
    if param.kind == "double":
        return optuna.distributions.FloatDistribution(param.low, param.high, log=log)
    if param.kind == "integer":
        return optuna.distributions.IntDistribution(int(param.low), int(param.high), log=log)
    if param.kind == "discrete":
        # By index, so that TPE sees the values' order.
        return optuna.distributions.IntDistribution(0, len(param.values) - 1)
    return optuna.distributions.CategoricalDistribution(param.values)


def _from_internal(param: _Param, internal: Any) -> ParameterValue:
    if param.kind == "discrete":
        return float(param.values[internal])
    if param.kind in ("double", "integer") and param.scale == ScaleType.UNIT_REVERSE_LOG_SCALE:
        internal = param.low + param.high - internal
    return _vertex_value(param, internal)


def _to_internal(param: _Param, value: ParameterValue) -> Any:
    if not _in_space(param, value):
        raise ValueError(f"parameter {param.parameter_id!r}: {value!r} is outside its spec.")
    if param.kind == "discrete":
        return min(range(len(param.values)), key=lambda index: abs(param.values[index] - value))
    if param.kind in ("double", "integer") and param.scale == ScaleType.UNIT_REVERSE_LOG_SCALE:
        value = param.low + param.high - value
    return int(value) if param.kind == "integer" else value


def _suggest_internal(trial: optuna.trial.Trial, param: _Param) -> Any:
    distribution = _distribution(param)
    if isinstance(distribution, optuna.distributions.FloatDistribution):
        return trial.suggest_float(param.key, param.low, param.high, log=distribution.log)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return trial.suggest_int(
            param.key, distribution.low, distribution.high, log=distribution.log
        )
    return trial.suggest_categorical(param.key, param.values)


def _sample(trial: optuna.trial.Trial, params: Sequence[_Param]) -> dict[str, ParameterValue]:
    parameters: dict[str, ParameterValue] = {}
    for param in params:
        internal = _suggest_internal(trial, param)
        value = _from_internal(param, internal)
        parameters[param.parameter_id] = value
        active = [child for values, child in param.children if _matches(values, param, value)]
        parameters.update(_sample(trial, active))
    return parameters


def _optuna_params(
    params: Sequence[_Param], parameters: Mapping[str, ParameterValue]
) -> tuple[dict[str, Any], dict[str, optuna.distributions.BaseDistribution]]:
    internal: dict[str, Any] = {}
    distributions: dict[str, optuna.distributions.BaseDistribution] = {}
    for param in params:
        if param.parameter_id not in parameters:
            raise ValueError(f"parameter {param.parameter_id!r} is missing from {parameters}.")
        value = parameters[param.parameter_id]
        internal[param.key] = _to_internal(param, value)
        distributions[param.key] = _distribution(param)
        active = [child for values, child in param.children if _matches(values, param, value)]
        below = _optuna_params(active, parameters)
        internal.update(below[0])
        distributions.update(below[1])
    return internal, distributions


# ---- measurements ---------------------------------------------------------------------------


def read_hypertune_measurements(path: str | Path) -> list[Measurement]:
    """The measurements in a CLOUD_ML_HP_METRIC_FILE; none when the file does not exist.

    Reports with the same global_step on consecutive lines (one per metric tag) form one
    measurement. A last line cut short (the library rewrites the file while we read) is
    skipped; any other line that is not a report is an error naming the file and line.
    """
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    measurements: list[Measurement] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step = int(record.get("global_step", 0))
            metrics = {
                tag: float(value)
                for tag, value in record.items()
                if tag not in _HYPERTUNE_NON_METRIC_KEYS
            }
            timestamp = float(record["timestamp"]) if "timestamp" in record else None
        except (ValueError, TypeError, AttributeError) as error:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a cloudml-hypertune report: {error}") from None
        last = measurements[-1] if measurements else None
        if last is not None and last.step_count == step and not (last.metrics.keys() & metrics):
            last.metrics.update(metrics)
            continue
        measurements.append(Measurement(step, metrics, timestamp))
    return measurements


def _better(maximize: bool, value: float, than: float) -> bool:
    return value > than if maximize else value < than


def final_measurement(
    study_spec: StudySpec, measurements: Sequence[Measurement]
) -> Measurement | None:
    """The trial's final measurement by `measurement_selection_type` (None if none reported).

    Unspecified means LAST (DEFAULT_MEASUREMENT_SELECTION). Only measurements that carry every
    metric of the spec are candidates when there are any (with several metrics, reports come
    on separate lines); BEST ranks them by the first metric's goal, the earliest winning ties.
    """
    if not measurements:
        return None
    objectives = _objectives(study_spec)
    complete = [m for m in measurements if all(mid in m.metrics for mid, _ in objectives)]
    candidates = complete or list(measurements)
    selection = study_spec.measurement_selection_type or DEFAULT_MEASUREMENT_SELECTION
    if selection != Selection.BEST_MEASUREMENT:
        return candidates[-1]
    metric_id, maximize = objectives[0]
    best = None
    for measurement in candidates:
        value = measurement.metrics.get(metric_id)
        if value is None or not math.isfinite(value):
            continue
        if best is None or _better(maximize, value, best.metrics[metric_id]):
            best = measurement
    return best or candidates[-1]


def _final_values(objectives: list[tuple[str, bool]], trial: Trial) -> list[float] | None:
    if trial.state != Trial.State.SUCCEEDED or "final_measurement" not in trial:
        return None
    reported = {metric.metric_id: metric.value for metric in trial.final_measurement.metrics}
    values = [reported.get(metric_id) for metric_id, _ in objectives]
    if any(value is None or not math.isfinite(value) for value in values):
        return None
    return values


def best_trials(study_spec: StudySpec, trials: Sequence[Trial]) -> list[str]:
    """Ids of the best trial (one metric) or of the Pareto-optimal trials (several).

    Only SUCCEEDED trials whose final measurement has every metric count. One metric: the
    single best, the earliest in `trials` on a tie. Several: every trial no other trial
    dominates (as good in all metrics, better in one), in the order of `trials`.
    """
    objectives = _objectives(study_spec)
    scored = [
        (trial.id, values)
        for trial in trials
        if (values := _final_values(objectives, trial)) is not None
    ]
    if not scored:
        return []
    if len(objectives) == 1:
        maximize = objectives[0][1]
        best_id, best_value = scored[0][0], scored[0][1][0]
        for trial_id, (value,) in scored[1:]:
            if _better(maximize, value, best_value):
                best_id, best_value = trial_id, value
        return [best_id]

    def dominates(a: list[float], b: list[float]) -> bool:
        pairs = list(zip(a, b, (maximize for _, maximize in objectives), strict=True))
        return all(not _better(m, y, x) for x, y, m in pairs) and any(
            _better(m, x, y) for x, y, m in pairs
        )

    return [
        trial_id
        for trial_id, values in scored
        if not any(dominates(other, values) for _, other in scored)
    ]


# ---- automated stopping ---------------------------------------------------------------------


def _curve(
    metric_id: str, measurements: Sequence[Measurement], elapsed: bool
) -> list[tuple[float, float]]:
    """(x, value) for the reports of `metric_id`: x is the step, or seconds since the first."""
    points = [m for m in measurements if metric_id in m.metrics]
    origin = next((m.timestamp for m in points if m.timestamp is not None), 0.0)
    return [
        ((m.timestamp or origin) - origin if elapsed else m.step_count, m.metrics[metric_id])
        for m in points
    ]


def should_stop_early(
    study_spec: StudySpec,
    trial_measurements: Sequence[Measurement],
    completed: Sequence[Sequence[Measurement]],
) -> bool:
    """Whether the automated stopping spec stops a running trial now.

    `completed`: the measurements of each completed trial. Uses the first metric. With
    `use_elapsed_duration`, x is the seconds since a trial's first report (the trial's start
    is not in its metric file). No spec, or `convex_automated_stopping_spec`: never stops.

    Median rule, as documented (StudySpec.MedianAutomatedStoppingSpec): stop if the trial's
    best value is strictly worse than the median, over completed trials, of the running
    average of each one's values reported up to the trial's last x.

    Decay curve, approximated: Vertex fits a Gaussian-process regressor to predict the final
    value and stops "if there is very low probability to exceed the optimal value found so
    far" (StudySpec.DecayCurveAutomatedStoppingSpec). Here, once DECAY_CURVE_MIN_COMPLETED
    trials completed, the optimistic forecast is the trial's latest value plus the largest
    gain any completed trial made from the same x to its final measurement; the trial stops
    if even that is strictly worse than the best final value so far.
    """
    which = StudySpec.pb(study_spec).WhichOneof("automated_stopping_spec")
    if which not in ("median_automated_stopping_spec", "decay_curve_stopping_spec"):
        return False
    elapsed = getattr(study_spec, which).use_elapsed_duration
    metric_id, maximize = _objectives(study_spec)[0]
    current = _curve(metric_id, trial_measurements, elapsed)
    if not current:
        return False
    x_last, latest = current[-1]
    curves = [_curve(metric_id, trial, elapsed) for trial in completed]
    curves = [curve for curve in curves if curve]
    if which == "median_automated_stopping_spec":
        best = max(v for _, v in current) if maximize else min(v for _, v in current)
        averages = [
            statistics.fmean(v for x, v in curve if x <= x_last)
            for curve in curves
            if curve[0][0] <= x_last
        ]
        return bool(averages) and _better(maximize, statistics.median(averages), best)
    if len(curves) < DECAY_CURVE_MIN_COMPLETED:
        return False
    sign = 1.0 if maximize else -1.0
    finals, gains = [], []
    for trial in completed:
        final = final_measurement(study_spec, trial)
        if final is None or metric_id not in final.metrics:
            continue
        finals.append(final.metrics[metric_id])
        before = [v for x, v in _curve(metric_id, trial, elapsed) if x <= x_last]
        if before:
            gains.append(max(0.0, sign * (final.metrics[metric_id] - before[-1])))
    if not finals:
        return False
    best_final = max(finals) if maximize else min(finals)
    optimistic = latest + sign * max(gains, default=0.0)
    return _better(maximize, best_final, optimistic)


def _passed(constraint: Any, study_start: datetime, now: datetime) -> bool:
    if "end_time" in constraint:
        return now >= constraint.end_time
    return now - study_start >= constraint.max_duration


def _end_time(trial: Trial) -> datetime:
    return trial.end_time if "end_time" in trial else datetime.max.replace(tzinfo=UTC)


def should_stop_study(
    study_spec: StudySpec, trials: Sequence[Trial], study_start: datetime, now: datetime
) -> bool:
    """Whether `study_stopping_config` (v1) stops the study: no new trials after this.

    Rules as StudySpec.StudyStoppingConfig documents them: minimum_runtime_constraint and
    min_num_trials (COMPLETED trials: SUCCEEDED or INFEASIBLE) "prevent other stopping rules
    from being evaluated until they are met"; then stop when maximum_runtime_constraint has
    passed, when there are more than max_num_trials trials, or (single objective only) when
    the objective has not improved for max_num_trials_no_progress consecutive completed
    trials or for max_duration_no_progress. `should_stop_asap` is the caller's to read: it
    asks that running trials be stopped too. Datetimes must be timezone-aware.
    """
    if "study_stopping_config" not in study_spec:
        return False
    config = study_spec.study_stopping_config
    done = {Trial.State.SUCCEEDED, Trial.State.INFEASIBLE}
    finished = sorted((t for t in trials if t.state in done), key=_end_time)
    if "minimum_runtime_constraint" in config and not _passed(
        config.minimum_runtime_constraint, study_start, now
    ):
        return False
    if config.min_num_trials is not None and len(finished) < config.min_num_trials:
        return False
    if "maximum_runtime_constraint" in config and _passed(
        config.maximum_runtime_constraint, study_start, now
    ):
        return True
    if config.max_num_trials is not None and len(trials) > config.max_num_trials:
        return True
    objectives = _objectives(study_spec)
    if len(objectives) != 1:
        return False
    maximize = objectives[0][1]
    best, last_progress, since_progress = None, study_start, 0
    for trial in finished:
        values = _final_values(objectives, trial)
        if values is not None and (best is None or _better(maximize, values[0], best)):
            best, last_progress, since_progress = values[0], trial.end_time, 0
        else:
            since_progress += 1
    if (
        config.max_num_trials_no_progress is not None
        and since_progress >= config.max_num_trials_no_progress
    ):
        return True
    return (
        "max_duration_no_progress" in config
        and now - last_progress >= config.max_duration_no_progress
    )
