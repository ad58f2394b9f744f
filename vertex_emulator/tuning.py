"""The trial loop of a HyperparameterTuningJob (rules in scheduler.py's docstring).

Trials are stored in the job as Vertex shapes them (`aiplatform_v1.types.Trial`): id "1",
"2"... in the order they start, state ACTIVE while they run, then SUCCEEDED with
`final_measurement` (and every reported `measurements`) or INFEASIBLE with
`infeasible_reason`; parameters as protobuf Values, start and end times. The search itself
(`vertex_emulator.search`) suggests parameters and picks each final measurement.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from google.cloud.aiplatform_v1.types import study

from vertex_emulator import search
from vertex_emulator.processes import Execution, Outcome
from vertex_emulator.rules import JobState, utc_now
from vertex_emulator.runner import LaunchError, metric_file, plan_replicas
from vertex_emulator.scheduler import (
    DEFAULT_FAILED_TRIALS,
    INVALID_ARGUMENT_CODE,
    Interrupted,
    Scheduler,
)
from vertex_emulator.store import JobGone

# How often running trials' metric files are read for automated early stopping.
EARLY_STOPPING_CHECK_S = 1.0
TrialState = study.Trial.State


@dataclass
class _Running:
    trial_id: str
    parameters: dict[str, Any]
    execution: Execution
    started: float  # time.time()
    deadline: float | None


class TrialLoop:
    def __init__(self, scheduler: Scheduler, name: str, job: Any, cancel: threading.Event):
        self.scheduler, self.name, self.job, self.cancel = scheduler, name, job, cancel
        self.study_spec = job.study_spec
        self.job_id = name.rsplit("/", 1)[-1]
        self.running: dict[str, _Running] = {}
        self.started = self.succeeded = self.failed = 0
        self.completed_measurements: list[list[search.Measurement]] = []
        self.last_failure = ""
        self._last_stop_check = 0.0

    def run(self) -> None:
        try:
            suggester = search.TrialSuggester(self.study_spec)
        except ValueError as error:
            raise LaunchError(f"study_spec: {error}") from None
        self.scheduler.advance(self.name, JobState.JOB_STATE_RUNNING)
        study_start = utc_now()
        exhausted = False
        try:
            while True:
                if self.cancel.is_set():
                    raise Interrupted()
                stop_study = self._study_stops(study_start)
                while (
                    not exhausted
                    and not stop_study
                    and len(self.running) < self.job.parallel_trial_count
                    and self.started < self.job.max_trial_count
                ):
                    parameters = suggester.suggest()
                    if parameters is None:
                        exhausted = True
                        break
                    self._start_trial(parameters)
                check_stopping = self._early_stopping_due()
                finished = False
                for trial_id in list(self.running):
                    outcome = self._poll(self.running[trial_id], check_stopping)
                    if outcome is not None:
                        self._finish_trial(self.running.pop(trial_id), outcome, suggester)
                        finished = True
                if self._too_many_failures():
                    limit = self.job.max_failed_trial_count
                    message = (
                        f"{self.failed} trials failed (maxFailedTrialCount: "
                        f"{limit or 'unset, the emulator stops after ' + str(self._limit())})."
                        f" The last: {self.last_failure}"
                    )
                    self._stop_all("The job failed: too many trials failed.")
                    self.scheduler.end(
                        self.name, JobState.JOB_STATE_FAILED, INVALID_ARGUMENT_CODE, message
                    )
                    return
                no_more = exhausted or stop_study or self.started >= self.job.max_trial_count
                if not self.running and no_more:
                    break
                if not finished:  # a finished trial's place is filled at once
                    time.sleep(self.scheduler.poll_s)
        except Interrupted:
            self._stop_all("The job was cancelled, or the emulator stopped.")
            raise
        except BaseException as error:
            self._stop_all(f"The job failed: {error}")
            raise
        if self.succeeded:
            self.scheduler.end(self.name, JobState.JOB_STATE_SUCCEEDED)
        else:
            message = f"All {self.failed} trials failed. The last: {self.last_failure}"
            self.scheduler.end(self.name, JobState.JOB_STATE_FAILED, INVALID_ARGUMENT_CODE, message)

    # ---- trials ------------------------------------------------------------------------

    def _study_stops(self, study_start: Any) -> bool:
        """StudySpec.study_stopping_config says to start no more trials."""
        if "study_stopping_config" not in self.study_spec:
            return False
        return search.should_stop_study(self.study_spec, self._trials(), study_start, utc_now())

    def _trials(self) -> list[Any]:
        found = self.scheduler.store.get_job(self.name)
        return list(found[1].trials) if found else []

    def _start_trial(self, parameters: dict[str, Any]) -> None:
        self.started += 1
        trial_id = str(self.started)
        trial = study.Trial(
            id=trial_id,
            state=TrialState.ACTIVE,
            parameters=[
                study.Trial.Parameter(parameter_id=key, value=value)
                for key, value in parameters.items()
            ],
            start_time=utc_now(),
        )
        self.scheduler.store.update(self.name, lambda job: job.trials.append(trial))
        spec = self.job.trial_job_spec
        try:
            replicas = plan_replicas(
                self.scheduler.config, spec, self.job_id, trial_id, parameters,
                concurrent_runs=self.job.parallel_trial_count,
            )  # fmt: skip
            execution = self.scheduler.execution(self.name, replicas)
            execution.start()
        except LaunchError as error:
            self._update_trial(trial_id, TrialState.INFEASIBLE, reason=str(error))
            raise  # the image cannot run: every trial would fail the same way
        self.running[trial_id] = _Running(
            trial_id, parameters, execution, time.time(), self.scheduler.deadline(spec)
        )

    def _poll(self, running: _Running, check_stopping: bool) -> Outcome | None:
        outcome = running.execution.poll()
        if outcome is not None:
            return outcome
        if running.deadline is not None and time.monotonic() > running.deadline:
            running.execution.stop()
            return Outcome(False, "The trial ran longer than trial_job_spec.scheduling.timeout.")
        if check_stopping:
            measurements = self._measurements(running.trial_id)
            if measurements and search.should_stop_early(
                self.study_spec, measurements, self.completed_measurements
            ):
                running.execution.stop()
                return Outcome(True, "stopped early by the study's automated stopping spec")
        return None

    def _early_stopping_due(self) -> bool:
        """Whether to read the running trials' reports now (automated stopping only)."""
        spec = self.study_spec
        wanted = "decay_curve_stopping_spec" in spec or "median_automated_stopping_spec" in spec
        if not wanted or time.monotonic() - self._last_stop_check < EARLY_STOPPING_CHECK_S:
            return False
        self._last_stop_check = time.monotonic()
        return True

    def _measurements(self, trial_id: str) -> list[search.Measurement]:
        path = metric_file(self.scheduler.config.root, self.job_id, trial_id)
        try:
            return search.read_hypertune_measurements(path)
        except ValueError:
            return []

    def _finish_trial(self, running: _Running, outcome: Outcome, suggester: Any) -> None:
        measurements = self._measurements(running.trial_id)
        final = search.final_measurement(self.study_spec, measurements)
        metric_ids = {metric.metric_id for metric in self.study_spec.metrics}
        reported = final is not None and metric_ids <= final.metrics.keys()
        if outcome.succeeded and reported:
            self.succeeded += 1
            self.completed_measurements.append(measurements)
            self._update_trial(
                running.trial_id,
                TrialState.SUCCEEDED,
                final=final.to_proto(running.started),
                measurements=[m.to_proto(running.started) for m in measurements],
            )
            suggester.tell(running.parameters, final.metrics)
            return
        self.failed += 1
        if outcome.succeeded:
            ids = ", ".join(sorted(metric_ids))
            reason = (
                f"The trial exited 0 but reported no value of {ids} through cloudml-hypertune "
                "(CLOUD_ML_HP_METRIC_FILE)."
            )
        else:
            reason = outcome.message
        self.last_failure = f"trial {running.trial_id}: {reason}"
        self._update_trial(running.trial_id, TrialState.INFEASIBLE, reason=reason)
        suggester.tell(running.parameters, None)

    def _update_trial(
        self,
        trial_id: str,
        state: Any,
        *,
        reason: str = "",
        final: Any = None,
        measurements: list[Any] | None = None,
    ) -> None:
        def change(job: Any) -> None:
            for trial in job.trials:
                if trial.id != trial_id:
                    continue
                trial.state = state
                trial.end_time = utc_now()
                if reason:
                    trial.infeasible_reason = reason
                if final is not None:
                    trial.final_measurement = final
                if measurements:
                    trial.measurements = measurements
            job.update_time = utc_now()

        self.scheduler.store.update(self.name, change)

    def _limit(self) -> int:
        return self.job.max_failed_trial_count or DEFAULT_FAILED_TRIALS

    def _too_many_failures(self) -> bool:
        if self.job.max_failed_trial_count:
            return self.failed >= self.job.max_failed_trial_count
        return self.succeeded == 0 and self.failed >= self._limit()

    def _stop_all(self, reason: str) -> None:
        for running in self.running.values():
            running.execution.stop()
            try:
                self._update_trial(running.trial_id, TrialState.INFEASIBLE, reason=reason)
            except JobGone:
                pass
        self.running.clear()
