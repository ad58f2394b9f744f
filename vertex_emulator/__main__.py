"""`python -m vertex_emulator serve --port PORT --root DIR`: run the Vertex AI JobService
emulator until SIGINT/SIGTERM. See vertex_emulator/README.md."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

LISTENING = "vertex emulator listening on {address} (storage emulator on {storage})"
DEFAULT_APPS_DIR = Path(__file__).resolve().parent.parent / "images"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m vertex_emulator",
        description="A local Vertex AI JobService (CustomJob, HyperparameterTuningJob) that "
        "runs every job for real: each replica a local process (or a container with "
        "--docker). Point the aiplatform client at it with VERTEX_AI_EMULATOR_HOST=host:port.",
    )
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the JobService until interrupted",
        description="Serve the JobService and an embedded Cloud Storage emulator. It executes "
        "whatever command a job asks for, as the user who runs it: it listens on loopback "
        "unless --host says otherwise.",
    )
    serve.add_argument("--port", type=int, default=0, help="gRPC port (0: a free one)")
    serve.add_argument(
        "--root", type=Path, required=True, help="state, logs and storage data (SQLite, files)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; anything else lets whoever reaches the "
        "port run commands on this machine)",
    )
    serve.add_argument(
        "--storage-port", type=int, default=0, help="storage emulator port (0: a free one)"
    )
    serve.add_argument(
        "--apps-dir",
        type=Path,
        default=DEFAULT_APPS_DIR,
        help="where local.vtrain/<app>/... images are run from source "
        f"(default {DEFAULT_APPS_DIR})",
    )
    serve.add_argument(
        "--docker",
        action="store_true",
        help="run images other than local.vtrain/... as containers (needs a Docker engine)",
    )
    serve.add_argument(
        "--grace-period",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="after SIGTERM, how long a cancelled replica has before SIGKILL (default 10)",
    )
    return root


def docker_problem() -> str | None:
    """Why --docker cannot work here, or None."""
    if shutil.which("docker") is None:
        return "--docker needs the docker CLI on PATH, and there is none"
    try:
        probe = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=15, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"--docker: `docker version` failed: {error}"
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()
        return "--docker: the Docker engine is not reachable: " + (reason[-1] if reason else "")
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.docker and (problem := docker_problem()):
        parser().exit(2, f"python -m vertex_emulator serve: error: {problem}\n")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)  # a line per request
    from vertex_emulator.server import Emulator, EmulatorOptions  # slow: aiplatform types

    emulator = Emulator(
        EmulatorOptions(
            root=args.root.resolve(),  # the storage emulator needs an absolute path
            host=args.host,
            port=args.port,
            storage_port=args.storage_port,
            apps_dir=args.apps_dir,
            docker=args.docker,
            grace_s=args.grace_period,
        )
    )
    try:
        emulator.start()
    except Exception as error:  # noqa: BLE001 - one line, not a traceback, for a busy port
        parser().exit(1, f"python -m vertex_emulator serve: error: {error}\n")
    if not is_loopback(args.host):
        print(
            f"WARNING: listening on {args.host}, not loopback: whoever reaches port "
            f"{emulator.port} can run any command on this machine as this user.",
            file=sys.stderr,
            flush=True,
        )
    for name in emulator.recovered_failed:
        logging.getLogger("vertex_emulator").warning(
            "%s was running when the last emulator stopped: marked FAILED", name
        )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    print(LISTENING.format(address=emulator.address, storage=emulator.storage.url), flush=True)
    stopped.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
