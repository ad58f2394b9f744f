"""TrainingImages: each app's CPU and GPU images built for Vertex, pushed by content tag,
used by digest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from components.images import context_hash
from config.apps import image_app, installed
from tests.harness.engine import FAKE_ACCESS_TOKEN, is_secret, run_stack
from tests.harness.stack_config import PROJECT_DIR

NS = "vertex-training"
PENGUINS_DIR = installed()["penguins"].dir
# A stack that builds two apps' images and runs jobs on each (tests/components/test_jobs.py).
TWO_APPS = {
    f"{NS}:images": ["penguins-cpu", "linreg-cpu"],
    f"{NS}:jobs": [
        {"name": "penguins-baseline", "image": "penguins-cpu", "args": {"epochs": 5}},
        {"name": "linreg-train", "image": "linreg-cpu", "args": {"steps": 50}},
        {
            "name": "linreg-tuning",
            "image": "linreg-cpu",
            "study": {
                "metric": {"goal": "MINIMIZE"},  # the metric id is the manifest's: mse
                "parameters": [
                    {"id": "learning-rate", "type": "double", "min": 0.01, "max": 0.5},
                    {"id": "steps", "type": "integer", "min": 10, "max": 200},
                    {"id": "schedule", "type": "categorical", "values": ["constant", "decay"]},
                ],
                "maxTrialCount": 6,
                "parallelTrialCount": 2,
            },
        },
    ],
}


def _images(run) -> dict[str, object]:
    return {
        image.name.removeprefix("images-"): image
        for image in run.of_type("docker:index/image:Image")
    }


def test_both_images_pushed_to_the_stack_repository(stack_runs):
    run = stack_runs["prod"]
    images = _images(run)
    assert set(images) == {"penguins-cpu", "penguins-gpu"}
    repository_url = run.plain_outputs["repositoryUrl"]
    for name, image in images.items():
        flavour = name.removeprefix("penguins-")
        inputs = image.plain_inputs
        tag = "ctx-" + context_hash(PENGUINS_DIR, PENGUINS_DIR / f"{flavour}.Dockerfile")[:16]
        assert inputs["imageName"] == f"{repository_url}/penguins-{flavour}:{tag}"
        assert inputs["build"]["platform"] == "linux/amd64"
        # Relative to the project directory, where pulumi-docker runs: no checkout path.
        assert inputs["build"]["context"] == "images/penguins"
        assert inputs["build"]["dockerfile"] == f"images/penguins/{flavour}.Dockerfile"
        assert inputs["skipPush"] is False


def test_each_app_is_built_from_its_own_directory_and_pushed_under_its_name():
    run = run_stack("dev", TWO_APPS)
    images = _images(run)
    assert set(images) == {"penguins-cpu", "linreg-cpu"}
    repository_url = run.plain_outputs["repositoryUrl"]
    tags = set()
    for name, image in images.items():
        app, flavour = image_app(name)
        tag = "ctx-" + context_hash(app.dir, app.dockerfile(flavour))[:16]
        tags.add(tag)
        assert image.plain_inputs["imageName"] == f"{repository_url}/{name}:{tag}"
        assert image.plain_inputs["build"]["context"] == f"images/{app.name}"
        assert image.plain_inputs["build"]["dockerfile"] == f"images/{app.name}/cpu.Dockerfile"
    assert len(tags) == 2
    assert set(run.plain_outputs["imageDigests"]) == {"penguins-cpu", "linreg-cpu"}


def test_the_penguins_images_keep_the_resources_they_had_before_apps_were_named(stack_runs):
    """Before issue 11 they were `images-cpu` and `images-gpu`: the aliases make a deployed
    stack update them in place instead of deleting and creating them."""
    images = _images(stack_runs["prod"])
    assert "images-cpu" in images["penguins-cpu"].aliases
    assert "images-gpu" in images["penguins-gpu"].aliases
    linreg = _images(run_stack("dev", TWO_APPS))["linreg-cpu"]
    assert not [alias for alias in linreg.aliases if alias.startswith("images-")]


def test_registry_token_mode_pushes_with_the_stack_token_as_a_secret(stack_runs):
    for image in _images(stack_runs["dev"]).values():
        registry = image.inputs["registry"]
        assert is_secret(registry)
        assert registry["value"] == {
            "server": "us-central1-docker.pkg.dev",
            "username": "oauth2accesstoken",
            "password": FAKE_ACCESS_TOKEN,
        }
    tokens = [token for token, _ in stack_runs["dev"].invokes]
    assert "gcp:organizations/getClientConfig:getClientConfig" in tokens


def test_docker_config_mode_leaves_the_push_to_the_hosts_credential_helper(stack_runs):
    """A token read at program start lasts about an hour; a GPU build can outlast it. With
    no username and password pulumi-docker asks the Docker config's helper at push time."""
    for image in _images(stack_runs["staging"]).values():
        assert image.plain_inputs["registry"] == {"server": "us-central1-docker.pkg.dev"}
    tokens = [token for token, _ in stack_runs["staging"].invokes]
    assert "gcp:organizations/getClientConfig:getClientConfig" not in tokens


def test_a_gpu_image_with_token_auth_is_warned_about_at_preview():
    run = run_stack("staging", {f"{NS}:registryAuth": "token"})
    assert any("registryAuth: 'token' with a GPU image" in w for w in run.warnings)
    assert not any("registryAuth" in w for w in run_stack("staging").warnings)


def test_images_wait_for_the_repository_and_its_readers(stack_runs):
    run = stack_runs["prod"]
    (repository,) = run.of_type("gcp:artifactregistry/repository:Repository")
    readers = run.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    for image in _images(run).values():
        assert repository.urn in image.dependencies
        assert {reader.urn for reader in readers} <= set(image.dependencies)


def test_repo_digests_are_exported_by_image_name(stack_runs):
    outputs = stack_runs["prod"].plain_outputs
    assert (
        set(outputs["images"]) == set(outputs["imageDigests"]) == {"penguins-cpu", "penguins-gpu"}
    )
    for name, image in outputs["images"].items():
        digest = outputs["imageDigests"][name]
        assert image.startswith(f"{outputs['repositoryUrl']}/{name}:ctx-")
        assert digest.startswith(image.rsplit(":", 1)[0] + "@sha256:")


def test_the_stack_config_chooses_the_images(stack_runs):
    assert set(_images(stack_runs["dev"])) == {"penguins-cpu"}
    gpu_only = run_stack("dev", {f"{NS}:images": ["penguins-gpu"], f"{NS}:jobs": []})
    assert set(_images(gpu_only)) == {"penguins-gpu"}


def test_unknown_image_is_a_config_error():
    from config.loader import ConfigError

    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {f"{NS}:images": ["penguins-gpus"]})
    assert f"{NS}:images[0]: 'penguins-gpus' is not an image of an app in images/" in str(
        raised.value
    )
    assert raised.value.stack_run.resources == []


def _image_inputs(run) -> dict[str, dict]:
    """Each image's inputs as pulumi-docker diffs them, the exempt registry login aside."""
    return {
        name: {key: value for key, value in image.plain_inputs.items() if key != "registry"}
        for name, image in _images(run).items()
    }


def test_a_second_up_with_no_change_gives_identical_image_inputs(stack_run):
    """pulumi-docker rebuilds and re-pushes when any `build` input differs; the second run
    is fed the first run's stack outputs, as a self StackReference would read them."""
    first = stack_run
    second = run_stack(first.stack, previous_outputs=first.plain_outputs)
    assert _image_inputs(second) == _image_inputs(first)
    assert not second.of_type("pulumi:pulumi:StackReference")


_INPUTS_FROM_A_CHECKOUT = """
import json, sys
sys.path.insert(0, ".")
from tests.harness.engine import run_stack
from tests.components.test_images import _image_inputs
print(json.dumps({s: _image_inputs(run_stack(s)) for s in ("dev", "staging", "prod")}))
"""


def test_another_checkout_path_gives_identical_image_inputs(tmp_path):
    """A laptop and a CI runner check out at different paths: same inputs, no rebuild."""
    keep = shutil.ignore_patterns(".venv", "venv", ".git", "__pycache__", ".pytest_cache")
    elsewhere = tmp_path / "elsewhere" / "vertex-training"
    shutil.copytree(PROJECT_DIR, elsewhere, ignore=keep)

    def inputs_from(root):
        run = subprocess.run(
            [sys.executable, "-c", _INPUTS_FROM_A_CHECKOUT],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": ""},
        )
        return json.loads(run.stdout.strip().splitlines()[-1])

    here, there = inputs_from(PROJECT_DIR), inputs_from(elsewhere)
    assert here == there
    assert str(tmp_path) not in json.dumps(there)


@pytest.fixture()
def context_copy(tmp_path):
    copy = tmp_path / "penguins"
    shutil.copytree(PENGUINS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _tag(context):
    return context_hash(context, context / "cpu.Dockerfile")


def test_tag_changes_with_trainer_code(context_copy):
    before = _tag(context_copy)
    task = context_copy / "trainer" / "task.py"
    task.write_text(task.read_text() + "\n# changed\n")
    assert _tag(context_copy) != before


def test_tag_changes_with_the_dockerfile(context_copy):
    before = _tag(context_copy)
    dockerfile = context_copy / "cpu.Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nLABEL changed=yes\n")
    assert _tag(context_copy) != before


def test_tag_ignores_what_dockerignore_keeps_out(context_copy):
    before = _tag(context_copy)
    manifest = context_copy / "MLproject"  # read by the program, never by the image
    manifest.write_text(manifest.read_text() + "\n# changed\n")
    (context_copy / "sample_data" / "extra.csv").write_text("a,b\n1,2\n")
    cache = context_copy / "trainer" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "task.cpython-311.pyc").write_bytes(b"\0")
    assert _tag(context_copy) == before


@pytest.mark.parametrize("app", sorted(installed()))
def test_no_app_sends_its_manifest_to_docker(app):
    """The manifest is the program's: a change to it rebuilds no image."""
    from components.images import _sent_files

    app_dir = installed()[app].dir
    for flavour in installed()[app].flavours:
        sent = _sent_files(app_dir, installed()[app].dockerfile(flavour))
        assert app_dir / "MLproject" not in sent
        assert app_dir / f"{flavour}.Dockerfile" in sent


def test_an_exception_re_includes_shipped_sample_data(context_copy):
    ignore = context_copy / ".dockerignore"
    ignore.write_text(ignore.read_text() + "\n!sample_data/train.csv\n")
    before = _tag(context_copy)
    val = context_copy / "sample_data" / "val.csv"
    val.write_text(val.read_text() + "0,0\n")
    assert _tag(context_copy) == before
    train = context_copy / "sample_data" / "train.csv"
    train.write_text(train.read_text() + "0,0\n")
    assert _tag(context_copy) != before


def _sent(tmp_path, dockerignore: str, files: list[str]) -> set[str]:
    """Of `files`, laid out in a fresh context with this .dockerignore, those whose change
    changes the hash: the files Docker sends."""
    context = tmp_path / "context"
    for relative in [*files, "Dockerfile"]:
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        (context / relative).write_text(f"{relative}\n")
    (context / ".dockerignore").write_text(dockerignore)
    sent = set()
    for relative in files:
        before = context_hash(context, context / "Dockerfile")
        (context / relative).write_text(f"{relative} changed\n")
        if context_hash(context, context / "Dockerfile") != before:
            sent.add(relative)
    return sent


# Docker's rules (https://docs.docker.com/build/concepts/context/#dockerignore-files) where
# Python's fnmatch, or docker-py's own matcher, would decide otherwise.
@pytest.mark.parametrize(
    ("dockerignore", "files", "sent"),
    [
        pytest.param(
            "trainer/*.py\n",
            ["trainer/task.py", "trainer/trainer/task.py"],
            {"trainer/trainer/task.py"},
            id="star-stops-at-slash",
        ),
        pytest.param("*.md\n", ["README.md", "docs/x.md"], {"docs/x.md"}, id="root-only"),
        pytest.param(
            "**/*.pyc\n",
            ["a.pyc", "x/y/b.pyc", "x/y/b.py"],
            {"x/y/b.py"},
            id="double-star-any-depth",
        ),
        pytest.param(
            "x/**/*.pyc\n",
            ["x/a.pyc", "x/y/z/b.pyc", "y/c.pyc"],
            {"y/c.pyc"},
            id="double-star-zero-dirs",
        ),
        pytest.param(
            "docs\n!docs/keep.md\n",
            ["docs/a.md", "docs/keep.md"],
            {"docs/keep.md"},
            id="exception",
        ),
        pytest.param(
            "*.md\n!README*.md\nREADME-secret.md\n",
            ["README.md", "README-secret.md", "CHANGES.md"],
            {"README.md"},
            id="last-match-decides",
        ),
        pytest.param(
            "*.md\nREADME-secret.md\n!README*.md\n",
            ["README.md", "README-secret.md", "CHANGES.md"],
            {"README.md", "README-secret.md"},
            id="last-match-decides-reordered",
        ),
        pytest.param(
            "/*.md\n", ["README.md", "docs/README.md"], {"docs/README.md"}, id="leading-slash"
        ),
        pytest.param(
            "build/\n",
            ["build/a.o", "build/sub/b.o", "src/build/c.o", "build.txt"],
            {"src/build/c.o", "build.txt"},
            id="directory",
        ),
        # docker-py's PatternMatcher matches case-insensitively; Docker does not.
        pytest.param(
            "build\nREADME.md\n",
            ["build/a.o", "Build/a.o", "README.md", "readme.md"],
            {"Build/a.o", "readme.md"},
            id="case-sensitive",
        ),
        # docker-py checks one parent directory, so the exception's walk lets x back in.
        pytest.param(
            "**/cache\n!a/b/cache/keep\n",
            ["a/b/cache/x", "a/b/cache/keep"],
            {"a/b/cache/keep"},
            id="exception-deep-in-excluded-dir",
        ),
        # docker-py (and the classic builder's tar walk, docker/cli#2919) never look inside
        # build/; the docs' last-match rule sends build/x.py. Hashing it costs at worst a
        # rebuild, never a stale image.
        pytest.param(
            "build\n!**/*.py\n",
            ["build/x.py", "build/x.o"],
            {"build/x.py"},
            id="glob-exception-in-excluded-dir",
        ),
    ],
)
def test_the_hash_covers_what_docker_sends(tmp_path, dockerignore, files, sent):
    assert _sent(tmp_path, dockerignore, files) == sent


def test_the_dockerfile_and_dockerignore_always_count(tmp_path):
    context = tmp_path / "context"
    (context / "cpu").mkdir(parents=True)
    dockerfile = context / "cpu.Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    (context / "x.txt").write_text("x\n")
    ignore = context / ".dockerignore"
    ignore.write_text("*\n")
    before = context_hash(context, dockerfile)
    (context / "x.txt").write_text("y\n")
    assert context_hash(context, dockerfile) == before
    dockerfile.write_text("FROM scratch\nLABEL a=b\n")
    assert context_hash(context, dockerfile) != before
    before = context_hash(context, dockerfile)
    ignore.write_text("*\n# changed\n")
    assert context_hash(context, dockerfile) != before


@pytest.mark.parametrize("line", ["!", "[!a].txt", "[^a].txt", "foo\\*"])
def test_patterns_docker_py_reads_otherwise_are_refused(tmp_path, line):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text(f"{line}\n")
    with pytest.raises(ValueError, match=r"\.dockerignore: "):
        context_hash(tmp_path, tmp_path / "Dockerfile")
