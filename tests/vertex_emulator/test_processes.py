"""Running replicas: a stop reaches the whole process group (children too) and SIGKILLs
what ignores SIGTERM after the grace period; one failing replica fails the run with its exit
code, log tail and log path; a job's leftover containers are found and removed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.harness.emulator import assert_gone
from vertex_emulator.processes import Execution, remove_job_containers
from vertex_emulator.runner import Replica


def _replica(tmp_path: Path, code: str, name: str = "r") -> Replica:
    return Replica(0, 0, [sys.executable, "-c", code], {}, None, tmp_path / f"{name}.log")


def test_stop_terminates_the_whole_process_group_then_kills_what_ignores_sigterm(tmp_path):
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    replica = _replica(tmp_path, code)
    spawned, reaped = [], []
    execution = Execution(
        [replica], grace_s=0.3, on_spawn=lambda pgid, t: spawned.append(pgid), on_reap=reaped.append
    )
    execution.start()
    deadline = time.monotonic() + 10
    while not replica.log_path.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(replica.log_path.read_text().split()[0])
    assert execution.poll() is None
    started = time.monotonic()
    execution.stop()
    assert time.monotonic() - started >= 0.3  # it waited the grace period for SIGTERM
    assert_gone(execution.pids[0], child)
    assert spawned == reaped == execution.pids


def test_one_failing_replica_fails_the_execution_and_stops_the_others(tmp_path):
    failing = _replica(tmp_path, "import sys; print('boom'); sys.exit(4)", "fail")
    sleeping = _replica(tmp_path, "import time; time.sleep(600)", "sleep")
    execution = Execution([sleeping, failing], grace_s=1)
    execution.start()
    deadline = time.monotonic() + 10
    while (outcome := execution.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert outcome is not None and not outcome.succeeded and outcome.exit_code == 4
    assert "exited with a non-zero status of 4" in outcome.message
    assert "boom" in outcome.message and str(failing.log_path) in outcome.message
    assert_gone(execution.pids[0])


def test_the_containers_of_a_job_are_found_by_name_and_removed(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    docker = tmp_path / "docker"
    docker.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n[ "$1" = ps ] && printf "c1\\nc2\\n"\nexit 0\n'
    )
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    remove_job_containers("42")
    assert calls.read_text().splitlines() == [
        "ps --all --quiet --filter name=^vtrain-42-",
        "rm --force c1 c2",
    ]
