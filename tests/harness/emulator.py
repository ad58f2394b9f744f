"""The Vertex AI JobService emulator as a subprocess, for tests.

``start_emulator(root)`` runs ``python -m vertex_emulator serve --port 0 --root <root>``,
parses the one line it prints (``vertex emulator listening on HOST:PORT (storage emulator
on URL)``) and returns an ``EmulatorProcess`` with ``.address``, ``.storage_url``,
``.root``, ``.restart()`` and ``.stop()``. The fixture ``emulator`` (registered for every
module by tests/conftest.py) gives each test a fresh one under ``tmp_path``, running the
apps of images/, with ``VERTEX_AI_EMULATOR_HOST`` and ``STORAGE_EMULATOR_HOST`` set.
The emulator's own log (stderr) is ``<root>/emulator.log``.
"""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
LISTENING = re.compile(
    r"^vertex emulator listening on (?P<address>\S+) \(storage emulator on (?P<storage>\S+)\)$"
)
START_TIMEOUT_S = 60.0


@dataclass
class EmulatorProcess:
    root: Path
    extra_args: list[str] = field(default_factory=list)
    address: str = ""
    storage_url: str = ""
    process: subprocess.Popen | None = None

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @property
    def storage_port(self) -> int:
        return int(self.storage_url.rpartition(":")[2])

    @property
    def log_path(self) -> Path:
        return self.root / "emulator.log"

    def start(self, port: int = 0, storage_port: int = 0) -> EmulatorProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "vertex_emulator", "serve", "--root", str(self.root),
            "--port", str(port), "--storage-port", str(storage_port), *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=log, text=True
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_S)
        line = self.process.stdout.readline().strip() if ready else ""
        match = LISTENING.match(line)
        if match is None:
            self.process.kill()
            raise RuntimeError(
                f"the emulator did not start (printed {line!r}); its log:\n"
                + self.log_path.read_text()
            )
        self.address, self.storage_url = match["address"], match["storage"]
        return self

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (the emulator stops its jobs and exits), or SIGKILL (it dies at once,
        leaving its jobs' processes and state behind, as a crash would)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def restart(self, *, kill: bool = False) -> EmulatorProcess:
        """Stop (or kill) and start again on the same root and ports."""
        port, storage_port = self.port, self.storage_port
        self.stop(kill=kill)
        return self.start(port, storage_port)


def start_emulator(root: Path, *extra_args: str) -> EmulatorProcess:
    return EmulatorProcess(root, list(extra_args)).start()


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorProcess]:
    """A fresh emulator under tmp_path/emulator, with the environment pointed at it."""
    running = start_emulator(tmp_path / "emulator")
    monkeypatch.setenv("VERTEX_AI_EMULATOR_HOST", running.address)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", running.storage_url)
    try:
        yield running
    finally:
        running.stop()


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}")
        time.sleep(interval_s)


# ---- jobs for the probe app (tests/vertex_emulator/apps/probe) ---------------------------

APPS_DIR = PROJECT_DIR / "tests" / "vertex_emulator" / "apps"
# Contract 3: a local app run from source (the hash is not checked by the emulator).
PROBE_IMAGE = "local.vtrain/probe/cpu:ctx-0123456789abcdef"
PARENT = "projects/my-project/locations/us-central1"
FINISHED = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")


def pool(*args: str, replicas: int = 1, image: str = PROBE_IMAGE, **container) -> dict:
    return {
        "machine_spec": {"machine_type": "n1-standard-4"},
        "replica_count": replicas,
        "container_spec": {"image_uri": image, "args": list(args), **container},
    }


def probe_job_spec(*args: str, output: str | None = None, pools: list | None = None) -> dict:
    spec: dict = {"worker_pool_specs": pools or [pool(*args)]}
    if output:
        spec["base_output_directory"] = {"output_uri_prefix": output}
    return spec


def probe_custom_job(*args: str, name: str = "probe", **spec) -> dict:
    return {"display_name": name, "job_spec": probe_job_spec(*args, **spec)}


def wait_for_job(get, name: str, states=FINISHED, timeout_s: float = 30.0):
    """Poll ``get(name=...)`` until the job's state is one of ``states``; return the job."""
    found = {}

    def reached() -> bool:
        found["job"] = get(name=name)
        return found["job"].state.name in states

    wait_for(reached, timeout_s, what=f"{name} to reach {states}")
    return found["job"]


def replica_log(root: Path, name: str, replica: str = "workerpool0-0", trial: str = "") -> Path:
    """The documented log path of a replica (vertex_emulator/runner.py)."""
    job_dir = root / "jobs" / name.rsplit("/", 1)[-1]
    return (job_dir / "trials" / trial if trial else job_dir) / "logs" / f"{replica}.log"


def probe_report(root: Path, name: str, replica: str = "workerpool0-0", trial: str = "") -> dict:
    """The JSON line the probe app printed first: argv, pid, cwd, Vertex variables."""
    return json.loads(replica_log(root, name, replica, trial).read_text().splitlines()[0])


def ensure_bucket(gcs, name: str):
    """The storage emulator's bucket ``name``, created if missing."""
    found = gcs.bucket(name)
    return found if found.exists() else gcs.create_bucket(name)


def wait_for_log_lines(
    root: Path, name: str, count: int = 1, replica: str = "workerpool0-0", trial: str = ""
) -> list[str]:
    """The first ``count`` lines of a replica's log, once it has printed them."""
    path = replica_log(root, name, replica, trial)

    def lines() -> list[str]:
        return path.read_text().splitlines() if path.exists() else []

    wait_for(lambda: len(lines()) >= count, what=f"{count} lines in {path}")
    return lines()[:count]


def assert_gone(*pids: int, timeout_s: float = 5.0) -> None:
    """Every pid is gone within ``timeout_s`` (SIGKILL is delivered asynchronously, and an
    orphan is reaped by init)."""
    wait_for(
        lambda: not any(process_alive(pid) for pid in pids),
        timeout_s,
        what=f"processes {pids} to be gone",
    )
