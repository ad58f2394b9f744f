# Over 400 lines: one test per documented StudySpec rule the emulator's search applies.
"""vertex_emulator.search: what each StudySpec field makes the emulator's tuning do."""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, datetime, timedelta

import hypertune
import pytest
from google.cloud.aiplatform_v1.types import StudySpec, Trial

from vertex_emulator.search import (
    DECAY_CURVE_MIN_COMPLETED,
    Measurement,
    TrialSuggester,
    best_trials,
    final_measurement,
    read_hypertune_measurements,
    should_stop_early,
    should_stop_study,
)

ACC = {"metric_id": "accuracy", "goal": "MAXIMIZE"}
LOSS = {"metric_id": "loss", "goal": "MINIMIZE"}


def _spec(parameters, metrics=(ACC,), **fields) -> StudySpec:
    return StudySpec(metrics=list(metrics), parameters=list(parameters), **fields)


def _double(pid, low, high, scale="UNIT_LINEAR_SCALE"):
    return {
        "parameter_id": pid,
        "double_value_spec": {"min_value": low, "max_value": high},
        "scale_type": scale,
    }


def _int(pid, low, high, scale="UNIT_LINEAR_SCALE", children=()):
    return {
        "parameter_id": pid,
        "integer_value_spec": {"min_value": low, "max_value": high},
        "scale_type": scale,
        "conditional_parameter_specs": list(children),
    }


def _categorical(pid, values, children=()):
    return {
        "parameter_id": pid,
        "categorical_value_spec": {"values": values},
        "conditional_parameter_specs": list(children),
    }


def _discrete(pid, values, children=()):
    return {
        "parameter_id": pid,
        "discrete_value_spec": {"values": values},
        "conditional_parameter_specs": list(children),
    }


def _when(condition, values, child):
    return {condition: {"values": values}, "parameter_spec": child}


def _drain(suggester, limit=1000):
    suggestions = []
    while (parameters := suggester.suggest()) is not None:
        suggestions.append(parameters)
        assert len(suggestions) <= limit, "the grid never ends"
    return suggestions


# ---- grid search -------------------------------------------------------------------------------


def test_grid_suggests_every_combination_first_parameter_slowest_then_none():
    spec = _spec(
        [_int("layers", 1, 2), _categorical("act", ["relu", "gelu"]), _discrete("p", [0.5, 1.5])],
        algorithm="GRID_SEARCH",
    )
    suggestions = _drain(TrialSuggester(spec))
    assert suggestions == [
        {"layers": layers, "act": act, "p": p}
        for layers in (1, 2)
        for act in ("relu", "gelu")  # the listed order, not sorted
        for p in (0.5, 1.5)
    ]
    assert all(type(s["layers"]) is int and type(s["p"]) is float for s in suggestions)
    assert TrialSuggester(spec).suggest() == suggestions[0]


def test_grid_refuses_a_double_parameter_naming_it():
    spec = _spec([_int("layers", 1, 2), _double("lr", 0.1, 1.0)], algorithm="GRID_SEARCH")
    with pytest.raises(ValueError, match=r"GRID_SEARCH.*'lr' is DOUBLE"):
        TrialSuggester(spec)


def test_grid_refuses_a_double_conditional_child_too():
    child = _double("momentum", 0.1, 0.9)
    spec = _spec(
        [
            _categorical(
                "opt", ["adam", "sgd"], [_when("parent_categorical_values", ["sgd"], child)]
            )
        ],
        algorithm="GRID_SEARCH",
    )
    with pytest.raises(ValueError, match="'momentum' is DOUBLE"):
        TrialSuggester(spec)


def test_grid_expands_children_only_under_the_parent_values_they_name():
    momentum = _discrete("momentum", [0.8, 0.9])
    depth = _int("depth", 3, 4)
    spec = _spec(
        [
            _categorical(
                "opt",
                ["adam", "sgd"],
                [_when("parent_categorical_values", ["sgd"], momentum)],
            ),
            _int("trees", 1, 3, children=[_when("parent_int_values", [2], depth)]),
        ],
        algorithm="GRID_SEARCH",
    )
    suggestions = _drain(TrialSuggester(spec))
    assert suggestions[:4] == [
        {"opt": "adam", "trees": 1},
        {"opt": "adam", "trees": 2, "depth": 3},
        {"opt": "adam", "trees": 2, "depth": 4},
        {"opt": "adam", "trees": 3},
    ]
    # adam: 1 + 2 + 1; sgd: two momenta times the same 4.
    assert len(suggestions) == 4 + 2 * 4
    assert all(("momentum" in s) == (s["opt"] == "sgd") for s in suggestions)
    assert all(("depth" in s) == (s["trees"] == 2) for s in suggestions)


def test_grid_resumed_after_a_restart_skips_the_combinations_already_told():
    spec = _spec([_int("layers", 1, 3)], algorithm="GRID_SEARCH")
    suggester = TrialSuggester(spec)
    suggester.tell({"layers": 1.0}, {"accuracy": 0.5})  # a number back from a protobuf Value
    suggester.tell({"layers": 3}, None)
    assert _drain(suggester) == [{"layers": 2}]


# ---- scales, types and seeds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "share_above_500"),
    [
        ("UNIT_LINEAR_SCALE", 0.5),
        # log-uniform on [1, 1000]: P(x > 500) = 1 - log(500) / log(1000)
        ("UNIT_LOG_SCALE", 1 - math.log(500) / math.log(1000)),
        # the mirror image: x = 1001 - y, y log-uniform, so P(x > 500) = log(501) / log(1000)
        ("UNIT_REVERSE_LOG_SCALE", math.log(501) / math.log(1000)),
    ],
)
def test_random_search_samples_each_scale_with_its_density(scale, share_above_500):
    suggester = TrialSuggester(
        _spec([_double("x", 1.0, 1000.0, scale)], algorithm="RANDOM_SEARCH"), seed=7
    )
    values = [suggester.suggest()["x"] for _ in range(300)]
    assert all(1.0 <= value <= 1000.0 for value in values)
    share = sum(value > 500 for value in values) / len(values)
    assert share == pytest.approx(share_above_500, abs=0.07)


def test_reverse_log_integers_crowd_the_top_of_the_range():
    suggester = TrialSuggester(
        _spec([_int("n", 1, 100, "UNIT_REVERSE_LOG_SCALE")], algorithm="RANDOM_SEARCH"), seed=3
    )
    values = [suggester.suggest()["n"] for _ in range(200)]
    assert all(type(value) is int and 1 <= value <= 100 for value in values)
    assert sum(value > 90 for value in values) > sum(value <= 10 for value in values) * 5


def test_values_come_back_typed_as_vertex_passes_them():
    spec = _spec(
        [
            _int("batch", 8, 512, "UNIT_LOG_SCALE"),
            _discrete("dropout", [0.1, 0.25, 0.5]),
            _categorical("opt", ["adam", "sgd"]),
        ],
        algorithm="RANDOM_SEARCH",
    )
    suggester = TrialSuggester(spec, seed=0)
    suggestions = [suggester.suggest() for _ in range(60)]
    assert all(type(s["batch"]) is int and 8 <= s["batch"] <= 512 for s in suggestions)
    assert {s["dropout"] for s in suggestions} == {0.1, 0.25, 0.5}
    assert {s["opt"] for s in suggestions} == {"adam", "sgd"}


@pytest.mark.parametrize("algorithm", ["RANDOM_SEARCH", "ALGORITHM_UNSPECIFIED"])
def test_the_same_seed_gives_the_same_suggestions(algorithm):
    spec = _spec([_double("lr", 1e-4, 1e-1, "UNIT_LOG_SCALE")], algorithm=algorithm)

    def run(seed):
        suggester = TrialSuggester(spec, seed=seed)
        suggestions = []
        for _ in range(12):
            parameters = suggester.suggest()
            suggester.tell(parameters, {"accuracy": -abs(math.log10(parameters["lr"]) + 2)})
            suggestions.append(parameters)
        return suggestions

    assert run(1) == run(1)
    assert run(1) != run(2)


@pytest.mark.parametrize(
    ("where", "spec", "message"),
    [
        ("log min", _spec([_double("lr", 0.0, 1.0, "UNIT_LOG_SCALE")]), "UNIT_LOG_SCALE.*'lr'"),
        ("reverse", _spec([_int("n", -1, 5, "UNIT_REVERSE_LOG_SCALE")]), "REVERSE.*'n'"),
        ("min>max", _spec([_double("lr", 2.0, 1.0)]), "min_value 2.0 exceeds max_value 1.0"),
        ("order", _spec([_discrete("p", [0.5, 0.1])]), r"discrete values \[0.5, 0.1\]"),
        (
            "condition type",
            _spec(
                [
                    _categorical(
                        "opt",
                        ["adam"],
                        [_when("parent_int_values", [1], _int("k", 1, 2))],
                    )
                ]
            ),
            "must be parent_categorical_values, got parent_int_values",
        ),
        (
            "condition value",
            _spec(
                [
                    _categorical(
                        "opt",
                        ["adam"],
                        [_when("parent_categorical_values", ["sgd"], _int("k", 1, 2))],
                    )
                ]
            ),
            "'sgd' is not a value of parent 'opt'",
        ),
        (
            "safety",
            _spec(
                [_int("n", 1, 2)],
                metrics=[{**ACC, "safety_config": {"safety_threshold": 0.1}}],
            ),
            r"metrics\[0\].safety_config",
        ),
    ],
)
def test_a_spec_vertex_would_reject_is_an_error_naming_the_field(where, spec, message):
    with pytest.raises(ValueError, match=message):
        TrialSuggester(spec)


# ---- conditional parameters with random and Bayesian search ------------------------------------


@pytest.mark.parametrize("algorithm", ["RANDOM_SEARCH", "ALGORITHM_UNSPECIFIED"])
def test_a_child_is_suggested_only_when_its_parent_value_matches(algorithm):
    spec = _spec(
        [
            _categorical(
                "opt",
                ["adam", "sgd", "rmsprop"],
                [
                    _when("parent_categorical_values", ["sgd", "rmsprop"], _double("m", 0.1, 0.9)),
                    _when("parent_categorical_values", ["adam"], _double("beta", 0.8, 0.99)),
                ],
            ),
            _discrete(
                "p", [0.1, 0.2, 0.3], [_when("parent_discrete_values", [0.2], _int("k", 1, 3))]
            ),
        ],
        algorithm=algorithm,
    )
    suggester = TrialSuggester(spec, seed=5)
    seen = []
    for _ in range(30):
        parameters = suggester.suggest()
        suggester.tell(parameters, {"accuracy": parameters.get("m", 0.0)})
        seen.append(parameters)
    assert all(("m" in s) == (s["opt"] != "adam") for s in seen)
    assert all(("beta" in s) == (s["opt"] == "adam") for s in seen)
    assert all(("k" in s) == (s["p"] == 0.2) for s in seen)
    assert {s["opt"] for s in seen} == {"adam", "sgd", "rmsprop"}


def test_default_algorithm_learns_toward_the_optimum_where_random_search_does_not():
    def late_distance(algorithm, seed):
        spec = _spec([_double("x", 0.0, 1.0)], metrics=[LOSS], algorithm=algorithm)
        suggester = TrialSuggester(spec, seed=seed)
        distances = []
        for _ in range(40):
            parameters = suggester.suggest()
            suggester.tell(parameters, {"loss": (parameters["x"] - 0.3) ** 2})
            distances.append(abs(parameters["x"] - 0.3))
        return statistics.median(distances[-10:])  # after TPE's 10 random start-up trials

    seeds = (0, 1, 2)
    tpe = sum(late_distance("ALGORITHM_UNSPECIFIED", seed) for seed in seeds)
    random = sum(late_distance("RANDOM_SEARCH", seed) for seed in seeds)
    assert tpe < 0.6 * random


def test_several_metrics_make_a_multi_objective_study_with_each_goal():
    spec = _spec([_double("x", 0.0, 1.0)], metrics=[ACC, LOSS])
    suggester = TrialSuggester(spec, seed=0)
    directions = [direction.name for direction in suggester._study.directions]
    assert directions == ["MAXIMIZE", "MINIMIZE"]
    for _ in range(12):
        parameters = suggester.suggest()
        suggester.tell(parameters, {"accuracy": parameters["x"], "loss": parameters["x"] ** 2})
    assert len(suggester._study.best_trials) >= 1


def test_tell_records_failed_missing_and_unsuggested_trials():
    spec = _spec([_int("n", 1, 10)], metrics=[ACC, LOSS])
    suggester = TrialSuggester(spec, seed=0)
    failed = suggester.suggest()
    suggester.tell(failed, None)
    partial = suggester.suggest()
    suggester.tell(partial, {"accuracy": 0.9})  # no loss: infeasible
    suggester.tell({"n": 4}, {"accuracy": 0.5, "loss": 1.0})  # run before a restart
    states = [trial.state.name for trial in suggester._study.trials]
    assert states == ["FAIL", "FAIL", "COMPLETE"]
    with pytest.raises(ValueError, match="'n': 11 is outside its spec"):
        suggester.tell({"n": 11}, {"accuracy": 0.5, "loss": 1.0})


# ---- cloudml-hypertune measurements ------------------------------------------------------------


def test_reads_what_cloudml_hypertune_writes(tmp_path, monkeypatch):
    path = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "3")
    reporter = hypertune.HyperTune()
    for step, (accuracy, loss) in enumerate([(0.5, 2.0), (0.75, 1.5), (0.7, 1.25)], start=1):
        reporter.report_hyperparameter_tuning_metric("accuracy", accuracy, global_step=step)
        reporter.report_hyperparameter_tuning_metric("loss", loss, global_step=step)

    measurements = read_hypertune_measurements(path)

    assert [(m.step_count, m.metrics) for m in measurements] == [
        (1, {"accuracy": 0.5, "loss": 2.0}),
        (2, {"accuracy": 0.75, "loss": 1.5}),
        (3, {"accuracy": 0.7, "loss": 1.25}),
    ]
    assert all(isinstance(m.timestamp, float) for m in measurements)


def test_reports_without_a_step_stay_separate_measurements(tmp_path, monkeypatch):
    path = tmp_path / "metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
    reporter = hypertune.HyperTune()
    reporter.report_hyperparameter_tuning_metric("accuracy", 0.1)
    reporter.report_hyperparameter_tuning_metric("accuracy", 0.2)
    measurements = read_hypertune_measurements(path)
    assert [(m.step_count, m.metrics) for m in measurements] == [
        (0, {"accuracy": 0.1}),
        (0, {"accuracy": 0.2}),
    ]


def test_a_missing_metric_file_means_no_measurements(tmp_path):
    assert read_hypertune_measurements(tmp_path / "never-written") == []


def test_a_line_cut_short_at_the_end_is_skipped_but_one_in_the_middle_is_an_error(tmp_path):
    good = json.dumps({"accuracy": "0.5", "global_step": "1", "timestamp": 1.0, "trial": "1"})
    path = tmp_path / "metrics"
    path.write_text(good + "\n" + good[:12])
    assert len(read_hypertune_measurements(path)) == 1
    path.write_text(good[:12] + "\n" + good + "\n")
    with pytest.raises(ValueError, match="metrics:1: not a cloudml-hypertune report"):
        read_hypertune_measurements(path)


def test_measurement_to_proto_has_the_elapsed_duration():
    proto = Measurement(7, {"accuracy": 0.5}, timestamp=112.5).to_proto(trial_start=100.0)
    assert proto.step_count == 7
    assert [(m.metric_id, m.value) for m in proto.metrics] == [("accuracy", 0.5)]
    assert proto.elapsed_duration == timedelta(seconds=12.5)


# ---- final measurement -------------------------------------------------------------------------

CURVE = [
    Measurement(1, {"accuracy": 0.5, "loss": 0.9}),
    Measurement(2, {"accuracy": 0.9, "loss": 0.4}),
    Measurement(3, {"accuracy": 0.7, "loss": 0.2}),
]


@pytest.mark.parametrize(
    ("selection", "metrics", "step"),
    [
        ("BEST_MEASUREMENT", [ACC], 2),
        ("BEST_MEASUREMENT", [{"metric_id": "accuracy", "goal": "MINIMIZE"}], 1),
        ("BEST_MEASUREMENT", [LOSS, ACC], 3),  # the first metric's goal decides
        ("LAST_MEASUREMENT", [ACC], 3),
        # "MEASUREMENT_SELECTION_TYPE_UNSPECIFIED: Will be treated as LAST_MEASUREMENT."
        ("MEASUREMENT_SELECTION_TYPE_UNSPECIFIED", [ACC], 3),
    ],
)
def test_final_measurement_follows_measurement_selection(selection, metrics, step):
    spec = _spec([_int("n", 1, 2)], metrics=metrics, measurement_selection_type=selection)
    assert final_measurement(spec, CURVE).step_count == step


def test_final_measurement_prefers_reports_that_carry_every_metric():
    spec = _spec(
        [_int("n", 1, 2)], metrics=[ACC, LOSS], measurement_selection_type="BEST_MEASUREMENT"
    )
    curve = [*CURVE, Measurement(4, {"accuracy": 0.99})]  # no loss reported at step 4
    assert final_measurement(spec, curve).step_count == 2
    last = _spec([_int("n", 1, 2)], metrics=[ACC, LOSS])
    assert final_measurement(last, curve).step_count == 3


def test_no_measurement_means_no_final_measurement():
    assert final_measurement(_spec([_int("n", 1, 2)]), []) is None


# ---- best trials -------------------------------------------------------------------------------


def _trial(trial_id, state="SUCCEEDED", **metrics):
    final = {"metrics": [{"metric_id": k, "value": v} for k, v in metrics.items()]}
    return Trial(id=trial_id, state=state, final_measurement=final if metrics else None)


def test_best_trial_is_the_one_best_feasible_trial():
    trials = [
        _trial("1", accuracy=0.7),
        _trial("2", accuracy=0.9),
        _trial("3", "INFEASIBLE", accuracy=0.99),
        _trial("4", "ACTIVE", accuracy=0.98),
        _trial("5", accuracy=0.9),  # a tie: the earlier trial wins
        _trial("6"),  # succeeded without reporting
    ]
    assert best_trials(_spec([_int("n", 1, 2)]), trials) == ["2"]
    minimize = _spec([_int("n", 1, 2)], metrics=[{"metric_id": "accuracy", "goal": "MINIMIZE"}])
    assert best_trials(minimize, trials) == ["1"]
    assert best_trials(_spec([_int("n", 1, 2)]), trials[2:4]) == []


def test_best_trials_with_two_metrics_are_the_pareto_set():
    spec = _spec([_int("n", 1, 2)], metrics=[ACC, {"metric_id": "latency", "goal": "MINIMIZE"}])
    trials = [
        _trial("a", accuracy=0.90, latency=10),
        _trial("b", accuracy=0.80, latency=5),
        _trial("c", accuracy=0.85, latency=12),  # a is better in both
        _trial("d", accuracy=0.80, latency=6),  # b: as accurate, faster
        _trial("e", accuracy=0.95, latency=20),
        _trial("f", "INFEASIBLE", accuracy=0.99, latency=1),  # would dominate all
        _trial("g", accuracy=0.99),  # no latency: not comparable, excluded
        _trial("h", accuracy=0.90, latency=10),  # equal to a: neither dominates
    ]
    assert best_trials(spec, trials) == ["a", "b", "e", "h"]


# ---- automated stopping ------------------------------------------------------------------------


def _curve(*values, metric="accuracy", start=1):
    return [Measurement(step, {metric: value}) for step, value in enumerate(values, start=start)]


MEDIAN = {"median_automated_stopping_spec": {}}


def test_median_rule_stops_a_trial_below_the_median_running_average():
    spec = _spec([_int("n", 1, 2)], **MEDIAN)
    completed = [_curve(0.5, 0.6, 0.7, 0.8), _curve(0.6, 0.7, 0.8, 0.9), _curve(0.1, 0.2, 0.3)]
    # running averages up to step 2: 0.55, 0.65, 0.15 -> median 0.55
    assert should_stop_early(spec, _curve(0.3, 0.5), completed)
    assert not should_stop_early(spec, _curve(0.3, 0.56), completed)
    assert not should_stop_early(spec, _curve(0.3, 0.55), completed)  # strictly below only


def test_median_rule_compares_only_up_to_the_trials_last_step():
    spec = _spec([_int("n", 1, 2)], **MEDIAN)
    slow_starters = [_curve(0.1, 0.2, 0.9, 0.95, 0.99)] * 3
    # over all their steps the averages are ~0.63; up to step 2 they are 0.15
    assert not should_stop_early(spec, _curve(0.3, 0.35), slow_starters)


def test_median_rule_for_a_minimized_metric():
    spec = _spec([_int("n", 1, 2)], metrics=[LOSS], **MEDIAN)
    completed = [_curve(1.0, 0.5, metric="loss")] * 3
    assert should_stop_early(spec, _curve(2.0, 1.9, metric="loss"), completed)
    assert not should_stop_early(spec, _curve(2.0, 0.7, metric="loss"), completed)


def test_median_rule_on_elapsed_time_uses_the_report_timestamps():
    spec = _spec([_int("n", 1, 2)], median_automated_stopping_spec={"use_elapsed_duration": True})

    def timed(*pairs):  # (seconds since the first report, value), steps all 0
        return [Measurement(0, {"accuracy": v}, timestamp=1000.0 + s) for s, v in pairs]

    completed = [timed((0, 0.1), (60, 0.9))] * 3
    # 10 s in: the completed trials had only their 0.1 report by then
    assert not should_stop_early(spec, timed((0, 0.05), (10, 0.2)), completed)
    # 60 s in: their running average is 0.5
    assert should_stop_early(spec, timed((0, 0.05), (60, 0.2)), completed)


def test_decay_curve_stops_a_trial_that_cannot_catch_the_best_final_value():
    spec = _spec([_int("n", 1, 2)], decay_curve_stopping_spec={})
    completed = [_curve(0.5, 0.7, 0.8), _curve(0.4, 0.5, 0.9), _curve(0.6, 0.65, 0.7)]
    # best final 0.9; the largest gain from step 1 to the end is +0.5 (0.4 -> 0.9)
    assert should_stop_early(spec, _curve(0.3), completed)  # 0.3 + 0.5 < 0.9
    assert not should_stop_early(spec, _curve(0.45), completed)  # 0.45 + 0.5 >= 0.9
    # from step 2 the largest gain is +0.4: 0.45 can no longer make it
    assert should_stop_early(spec, _curve(0.45, 0.45), completed)
    assert not should_stop_early(spec, _curve(0.3), completed[: DECAY_CURVE_MIN_COMPLETED - 1])


def test_no_automated_stopping_spec_never_stops():
    spec = _spec([_int("n", 1, 2)])
    assert not should_stop_early(spec, _curve(0.0), [_curve(1.0)] * 5)


# ---- study stopping config ---------------------------------------------------------------------

START = datetime(2026, 1, 1, tzinfo=UTC)


def _done(trial_id, minute, accuracy=None, state="SUCCEEDED"):
    trial = _trial(trial_id, state, **({} if accuracy is None else {"accuracy": accuracy}))
    trial.end_time = START + timedelta(minutes=minute)
    return trial


def _stopping(**config):
    return _spec([_int("n", 1, 2)], study_stopping_config=config)


def test_study_without_a_stopping_config_never_stops():
    assert not should_stop_study(_spec([_int("n", 1, 2)]), [], START, START + timedelta(days=9))


def test_study_minimum_trials_hold_off_the_maximum_runtime():
    spec = _stopping(min_num_trials=2, maximum_runtime_constraint={"max_duration": "3600s"})
    late = START + timedelta(hours=2)
    assert not should_stop_study(spec, [_done("1", 5, 0.5)], START, late)
    assert should_stop_study(spec, [_done("1", 5, 0.5), _done("2", 6, 0.6)], START, late)
    assert not should_stop_study(spec, [_done("1", 5), _done("2", 6)] * 2, START, START)


def test_study_minimum_runtime_holds_off_the_trial_count():
    spec = _stopping(minimum_runtime_constraint={"max_duration": "600s"}, max_num_trials=1)
    trials = [_done("1", 1, 0.5), _done("2", 2, 0.6)]
    assert not should_stop_study(spec, trials, START, START + timedelta(minutes=5))
    assert should_stop_study(spec, trials, START, START + timedelta(minutes=10))
    assert not should_stop_study(spec, trials[:1], START, START + timedelta(minutes=10))


def test_study_stops_after_trials_without_progress():
    spec = _stopping(max_num_trials_no_progress=2)
    trials = [_done("1", 1, 0.5), _done("2", 2, 0.7), _done("3", 3, 0.6)]
    assert not should_stop_study(spec, trials, START, START)
    trials.append(_done("4", 4, state="INFEASIBLE"))
    assert should_stop_study(spec, trials, START, START)
    trials.append(_done("5", 5, 0.8))  # progress again
    assert not should_stop_study(spec, trials, START, START)


def test_study_stops_after_a_duration_without_progress():
    spec = _stopping(max_duration_no_progress="1800s")
    trials = [_done("1", 10, 0.7), _done("2", 30, 0.6)]
    assert not should_stop_study(spec, trials, START, START + timedelta(minutes=39))
    assert should_stop_study(spec, trials, START, START + timedelta(minutes=40))


# ---- exact messages and fields (each line names where in the spec) ---------------------


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (
            {"parameter_id": "lr"},
            "study_spec.parameters[0]: parameter 'lr' has no value spec; allowed: "
            "double_value_spec, integer_value_spec, categorical_value_spec, discrete_value_spec.",
        ),
        (_double("lr", 0.5, 0.1), "study_spec.parameters[0]: min_value 0.5 exceeds max_value 0.1."),
        (
            _categorical("opt", []),
            "study_spec.parameters[0]: categorical_value_spec.values is empty; at least one "
            "value is required.",
        ),
        (
            _discrete("d", [2.0, 1.0]),
            "study_spec.parameters[0]: discrete values [2.0, 1.0] are not increasing.",
        ),
        (
            _int("n", 1, 4, children=[_when("parent_int_values", [1], {"parameter_id": "k"})]),
            "study_spec.parameters[0].conditional_parameter_specs[0].parameter_spec: parameter "
            "'k' has no value spec; allowed: double_value_spec, integer_value_spec, "
            "categorical_value_spec, discrete_value_spec.",
        ),
    ],
)
def test_a_bad_parameter_spec_is_named_by_its_path(parameter, message):
    with pytest.raises(ValueError) as raised:
        TrialSuggester(_spec([parameter]))
    assert str(raised.value) == message


def test_a_degenerate_double_range_is_allowed():
    suggester = TrialSuggester(_spec([_double("lr", 0.1, 0.1)]), seed=1)
    assert suggester.suggest() == {"lr": pytest.approx(0.1)}


def test_a_measurement_carries_its_elapsed_time_since_the_trial_started():
    proto = Measurement(3, {"accuracy": 0.5}, timestamp=1_000.25).to_proto(trial_start=998.0)
    assert proto.step_count == 3
    assert [(m.metric_id, m.value) for m in proto.metrics] == [("accuracy", 0.5)]
    assert proto.elapsed_duration.total_seconds() == pytest.approx(2.25)
    # Before the start (clock skew) is zero, not negative; no start or no timestamp: unset.
    early = Measurement(1, {}, timestamp=990.0).to_proto(trial_start=998.0)
    assert early.elapsed_duration.total_seconds() == 0
    assert "elapsed_duration" not in Measurement(1, {}, timestamp=5.0).to_proto()
    assert "elapsed_duration" not in Measurement(1, {}).to_proto(trial_start=998.0)
