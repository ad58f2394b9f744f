"""Running replicas: each in its own process group, its output to its log file; stopped
with SIGTERM, then SIGKILL after a grace period; the failing one's error in Vertex's words.
Also what a restart needs to clean up after a killed emulator (orphaned groups, containers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vertex_emulator.runner import LaunchError, Replica

LOG_TAIL_LINES = 20
STOP_POLL_S = 0.02


def process_start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/<pid>/stat): with the pid it
    identifies a process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_orphan_group(pgid: int, start_ticks: str) -> bool:
    """SIGKILL a process group a dead emulator left behind; True if there was one. The group
    is ours if its leader still has the recorded start time, or the leader is gone but the
    group lives on (Linux does not reuse a pid while a group of that id exists)."""
    leader = process_start_ticks(pgid)
    if leader is not None and leader != start_ticks:
        return False  # the pid now belongs to another process
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    kill_group(pgid, signal.SIGKILL)
    return True


def remove_job_containers(job_id: str) -> None:
    """Remove the containers of a job's replicas (docker mode): a killed emulator's `docker
    run` processes die with their group, their containers do not."""
    listed = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"name=^vtrain-{job_id}-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if ids := listed.stdout.split():
        subprocess.run(["docker", "rm", "--force", *ids], capture_output=True, check=False)


@dataclass
class Outcome:
    succeeded: bool
    message: str = ""
    exit_code: int | None = None


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def failure_message(replica: Replica, code: int) -> str:
    """Vertex's own wording ("The replica workerpool0-0 exited with a non-zero status of 1"),
    then the log's last lines and its path where Vertex would link Cloud Logging."""
    if code < 0:
        what = f"was killed by signal {signal.Signals(-code).name}"
    else:
        what = f"exited with a non-zero status of {code}"
    tail = log_tail(replica.log_path)
    return (
        f"The replica {replica.name} {what}. Last lines of its log:\n{tail}\n"
        f"Full log: {replica.log_path}"
    )


@dataclass
class Execution:
    """The running processes of one job or trial."""

    replicas: list[Replica]
    grace_s: float = 10.0
    on_spawn: Callable[[int, str], None] = lambda pgid, ticks: None
    on_reap: Callable[[int], None] = lambda pgid: None
    processes: list[subprocess.Popen] = field(default_factory=list)
    _done: set[int] = field(default_factory=set)

    def start(self) -> None:
        for replica in self.replicas:
            replica.log_path.parent.mkdir(parents=True, exist_ok=True)
            with replica.log_path.open("ab") as log:
                try:
                    process = subprocess.Popen(
                        replica.command, cwd=replica.cwd, env=replica.env, stdin=subprocess.DEVNULL,
                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    )  # fmt: skip
                except OSError as error:
                    self.stop()
                    raise LaunchError(
                        f"{replica.name}: cannot start {replica.command[0]}: {error}"
                    ) from None
            self.processes.append(process)
            self.on_spawn(process.pid, process_start_ticks(process.pid) or "")

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def poll(self) -> Outcome | None:
        """None while replicas run; the outcome once all exited 0 or one failed (then the
        others are stopped)."""
        for index, process in enumerate(self.processes):
            if index in self._done or not _exited(process):
                continue
            code = self._reap(index)
            if code != 0:
                self.stop()
                return Outcome(False, failure_message(self.replicas[index], code), code)
        if len(self._done) == len(self.processes):
            return Outcome(True)
        return None

    def _reap(self, index: int) -> int:
        """Kill what the exited leader left in its group, then reap it. In that order: while
        the leader is an unreaped zombie its pid, the group's id, cannot be reused."""
        process = self.processes[index]
        kill_group(process.pid, signal.SIGKILL)
        code = process.wait()
        self._done.add(index)
        self.on_reap(process.pid)
        return code

    def stop(self) -> None:
        """SIGTERM every replica's process group, SIGKILL what is left after the grace
        period (Vertex gives a stopped replica a grace period too)."""
        live = [i for i in range(len(self.processes)) if i not in self._done]
        for index in live:
            kill_group(self.processes[index].pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline and not all(
            _exited(self.processes[index]) for index in live
        ):
            time.sleep(STOP_POLL_S)
        for index in live:
            self._reap(index)
        for replica in self.replicas:
            if replica.container:  # the CLI's SIGKILL does not reach the container
                subprocess.run(
                    ["docker", "rm", "--force", replica.container], capture_output=True, check=False
                )


def _exited(process: subprocess.Popen) -> bool:
    """Whether the process has exited, without reaping it (waitid with WNOWAIT)."""
    if process.returncode is not None:
        return True
    try:
        found = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return True
    return found is not None
