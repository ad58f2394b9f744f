"""The command line: `serve --help`, the security note, and `--docker` refused at startup
where it cannot work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.harness.emulator import PROJECT_DIR
from vertex_emulator.__main__ import is_loopback, parser


def _serve(tmp_path, *args: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vertex_emulator", "serve", "--root", str(tmp_path), *args],
        cwd=PROJECT_DIR, env={**os.environ, "PATH": path}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_help_names_every_option_and_the_security_note(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--port", "--root", "--host", "--storage-port", "--apps-dir", "--docker"):
        assert option in text
    assert "executes whatever command a job asks for" in text
    assert "listens on loopback unless --host says otherwise" in text


def test_docker_mode_without_a_docker_cli_is_a_startup_error(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = _serve(tmp_path, "--docker", path=str(empty))
    assert result.returncode == 2
    assert "--docker needs the docker CLI on PATH, and there is none" in result.stderr
    assert result.stdout == ""  # never the listening line


def test_docker_mode_without_a_reachable_engine_is_a_startup_error(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    docker = fake / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    result = _serve(tmp_path, "--docker", path=f"{fake}:{os.environ['PATH']}")
    assert result.returncode == 2
    assert "the Docker engine is not reachable: Cannot connect to the Docker daemon" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("192.168.1.4", False), ("example.com", False)],
)  # fmt: skip
def test_only_loopback_hosts_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_a_second_emulator_on_the_same_root_refuses_to_start(shared_emulator):
    second = subprocess.run(
        [sys.executable, "-m", "vertex_emulator", "serve", "--root", str(shared_emulator.root)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 1
    pid = shared_emulator.process.pid
    assert f"another emulator (pid {pid}) is serving {shared_emulator.root}" in second.stderr
    assert second.stdout == ""


def test_a_busy_port_is_a_one_line_startup_error(tmp_path, shared_emulator):
    result = subprocess.run(
        [sys.executable, "-m", "vertex_emulator", "serve", "--root", str(tmp_path),
         "--port", str(shared_emulator.port)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1].startswith("python -m vertex_emulator serve: error:")
    )
    assert result.stdout == ""


def test_a_relative_root_is_taken_from_the_working_directory(tmp_path):
    """The embedded storage emulator refuses a relative data directory; serve resolves it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vertex_emulator", "serve", "--port", "0", "--root", "state"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "vertex emulator listening on" in process.stdout.readline()
        assert (tmp_path / "state" / "emulator.sqlite3").is_file()
        assert (tmp_path / "state" / "gcs").is_dir()
    finally:
        process.terminate()
        process.wait(timeout=30)
