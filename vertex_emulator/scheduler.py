"""Runs each job in its own thread: states, replicas, trials, cancel, timeout, restart.

A job goes QUEUED (create) -> PENDING (its replicas are being prepared) -> RUNNING (they
started) -> SUCCEEDED / FAILED / CANCELLED, with start and end times, as job_state.proto
describes; a cancel moves it to CANCELLING at once (server.py) and to CANCELLED when its
processes are gone. A HyperparameterTuningJob runs its trials `parallel_trial_count` at a
time up to `max_trial_count`, each a set of replicas with the trial's parameters appended
as `--<id>=<value>`, asking `vertex_emulator.search` for parameters and for the final
measurement of what the trial reported through cloudml-hypertune.

Failed trials (`max_failed_trial_count`): N > 0 fails the job at the N-th failed trial
("The number of failed Trials that need to be seen before failing the
HyperparameterTuningJob"). 0 means "Vertex AI decides how many Trials must fail before the
whole job fails" without saying how; this emulator then fails the job once
DEFAULT_FAILED_TRIALS trials failed before any succeeded (a broken app stops early), and
otherwise runs every trial. A job whose trials all failed is FAILED; otherwise SUCCEEDED.
A trial that exits 0 without reporting the study's metric is INFEASIBLE, as one that fails.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from google.rpc import status_pb2

from vertex_emulator.processes import (
    Execution,
    Outcome,
    kill_orphan_group,
    remove_job_containers,
)
from vertex_emulator.rules import (
    CUSTOM,
    END_TIME_STATES,
    TERMINAL,
    TUNING,
    JobState,
    transition_problem,
    utc_now,
)
from vertex_emulator.runner import LaunchError, RunnerConfig, plan_replicas
from vertex_emulator.store import JobGone, Store

DEFAULT_FAILED_TRIALS = 3
POLL_S = 0.02  # how often running replicas are checked
# google.rpc.Code values of job.error
CANCELLED_CODE, INVALID_ARGUMENT_CODE, INTERNAL_CODE = 1, 3, 13


def job_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _short(state: JobState) -> str:
    return state.name.removeprefix("JOB_STATE_")


def set_state(job: Any, state: JobState, now: Any) -> None:
    """State with its times: start_time on RUNNING, end_time on SUCCEEDED/FAILED/CANCELLED
    (CustomJob.end_time: "Time when the CustomJob entered any of the following states")."""
    job.state = state
    job.update_time = now
    if state == JobState.JOB_STATE_RUNNING and "start_time" not in job:
        job.start_time = now
    if state in END_TIME_STATES and "end_time" not in job:
        job.end_time = now


class Interrupted(Exception):
    """The job was cancelled, or the emulator is stopping."""


class Scheduler:
    def __init__(self, store: Store, config: RunnerConfig, poll_s: float = POLL_S):
        self.store, self.config, self.poll_s = store, config, poll_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}

    # ---- what the server calls -------------------------------------------------------

    def start_job(self, name: str) -> None:
        with self._lock:
            event = self._cancel[name] = threading.Event()
            thread = threading.Thread(target=self._run, args=(name, event), daemon=True)
            self._threads[name] = thread
        thread.start()

    def cancel(self, name: str) -> None:
        """Stop a job the server just moved to CANCELLING; one no thread runs ends now."""
        with self._lock:
            event = self._cancel.get(name)
        if event is not None:
            event.set()
        else:
            self.end(name, JobState.JOB_STATE_CANCELLED, CANCELLED_CODE, "CANCELLED")

    def recover(self) -> list[str]:
        """After a restart: kill the process groups a dead emulator left, fail the jobs they
        belonged to, end cancels in progress, start the jobs still QUEUED. Returns the names
        of the jobs marked FAILED."""
        for pgid, ticks, _job in self.store.processes():
            kill_orphan_group(pgid, ticks)
            self.store.remove_process(pgid)
        failed = []
        for kind_job in self._all_jobs():
            name, state = kind_job.name, kind_job.state
            if state == JobState.JOB_STATE_QUEUED:
                self.start_job(name)
            elif state == JobState.JOB_STATE_CANCELLING:
                self.end(name, JobState.JOB_STATE_CANCELLED, CANCELLED_CODE, "CANCELLED")
            elif state in (JobState.JOB_STATE_PENDING, JobState.JOB_STATE_RUNNING):
                message = (
                    f"The emulator stopped while this job was {_short(state)}: its processes "
                    "did not survive it. Create the job again to rerun it."
                )
                self.end(name, JobState.JOB_STATE_FAILED, INTERNAL_CODE, message)
                if self.config.docker:
                    remove_job_containers(job_id(name))
                failed.append(name)
        return failed

    def shutdown(self, timeout_s: float | None = None) -> None:
        """Stop every running job (its processes first) and wait for the threads."""
        self._stopping.set()
        with self._lock:
            events, threads = list(self._cancel.values()), list(self._threads.values())
        for event in events:
            event.set()
        for thread in threads:
            thread.join(timeout=timeout_s if timeout_s is not None else self.config.grace_s + 5)

    def running_jobs(self) -> list[str]:
        with self._lock:
            return sorted(self._threads)

    # ---- job threads -----------------------------------------------------------------

    def _all_jobs(self) -> list[Any]:
        return self.store.list_jobs(CUSTOM) + self.store.list_jobs(TUNING)

    def _run(self, name: str, cancel: threading.Event) -> None:
        try:
            found = self.store.get_job(name)
            if found is None:
                return
            kind, job = found
            self.advance(name, JobState.JOB_STATE_PENDING)
            if kind is CUSTOM:
                self._run_custom(name, job, cancel)
            else:
                self._run_tuning(name, job, cancel)
        except Interrupted:
            self._end_interrupted(name)
        except LaunchError as error:
            self.end(name, JobState.JOB_STATE_FAILED, INVALID_ARGUMENT_CODE, str(error))
        except JobGone:
            pass  # deleted meanwhile (only a terminal job can be)
        except Exception as error:  # noqa: BLE001 - a job must never be left running
            self.end(name, JobState.JOB_STATE_FAILED, INTERNAL_CODE, f"emulator error: {error!r}")
        finally:
            with self._lock:
                self._cancel.pop(name, None)
                self._threads.pop(name, None)

    def advance(self, name: str, state: JobState) -> None:
        """Move to ``state`` unless job_state.proto forbids it (a cancel came first)."""

        def change(job: Any) -> None:
            if transition_problem(job.state, state) is None:
                set_state(job, state, utc_now())

        job = self.store.update(name, change)
        if job.state != state:
            raise Interrupted()

    def end(self, name: str, state: JobState, code: int = 0, message: str = "") -> None:
        def change(job: Any) -> None:
            if job.state in TERMINAL:
                return
            if code:
                job.error = status_pb2.Status(code=code, message=message)
            set_state(job, state, utc_now())

        try:
            self.store.update(name, change)
        except JobGone:
            pass

    def _end_interrupted(self, name: str) -> None:
        if self._stopping.is_set():
            found = self.store.get_job(name)
            state = _short(found[1].state) if found else "RUNNING"
            message = (
                f"The emulator was stopped while this job was {state}; its processes were "
                "stopped with it. Create the job again to rerun it."
            )
            self.end(name, JobState.JOB_STATE_FAILED, INTERNAL_CODE, message)
        else:
            self.end(name, JobState.JOB_STATE_CANCELLED, CANCELLED_CODE, "CANCELLED")

    def execution(self, name: str, replicas: list) -> Execution:
        return Execution(
            replicas,
            grace_s=self.config.grace_s,
            on_spawn=lambda pgid, ticks: self.store.add_process(pgid, ticks, name),
            on_reap=self.store.remove_process,
        )

    @staticmethod
    def deadline(job_spec: Any) -> float | None:
        # CustomJobSpec.scheduling.timeout: "The maximum job running time. The default is 7
        # days." Unset here means no limit.
        timeout = job_spec.scheduling.timeout
        seconds = timeout.total_seconds() if timeout else 0
        return time.monotonic() + seconds if seconds > 0 else None

    def _run_custom(self, name: str, job: Any, cancel: threading.Event) -> None:
        replicas = plan_replicas(self.config, job.job_spec, job_id(name))
        execution = self.execution(name, replicas)
        execution.start()
        deadline = self.deadline(job.job_spec)
        try:
            self.advance(name, JobState.JOB_STATE_RUNNING)
            while True:
                if cancel.is_set():
                    raise Interrupted()
                outcome = execution.poll()
                if outcome is None and deadline is not None and time.monotonic() > deadline:
                    timeout = job.job_spec.scheduling.timeout.total_seconds()
                    outcome = Outcome(False, f"The job ran longer than its timeout ({timeout:g}s).")
                if outcome is not None:
                    break
                time.sleep(self.poll_s)
        finally:
            execution.stop()
        if outcome.succeeded:
            self.end(name, JobState.JOB_STATE_SUCCEEDED)
        else:
            self.end(name, JobState.JOB_STATE_FAILED, INVALID_ARGUMENT_CODE, outcome.message)

    def _run_tuning(self, name: str, job: Any, cancel: threading.Event) -> None:
        from vertex_emulator.tuning import TrialLoop

        TrialLoop(self, name, job, cancel).run()
