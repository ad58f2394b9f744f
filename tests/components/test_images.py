"""TrainingImages: CPU and GPU images built for Vertex, pushed by content tag, used by digest."""

from __future__ import annotations

import shutil

import pytest

from components.images import context_hash
from config.trainer import IMAGES_DIR
from tests.harness.engine import FAKE_ACCESS_TOKEN, is_secret, run_stack

NS = "vertex-training"


def _images(run) -> dict[str, object]:
    return {
        image.name.removeprefix("images-"): image
        for image in run.of_type("docker:index/image:Image")
    }


def test_both_images_pushed_to_the_stack_repository(stack_runs):
    run = stack_runs["prod"]
    images = _images(run)
    assert set(images) == {"cpu", "gpu"}
    repository_url = run.plain_outputs["repositoryUrl"]
    for flavour, image in images.items():
        inputs = image.plain_inputs
        tag = "ctx-" + context_hash(IMAGES_DIR, IMAGES_DIR / flavour / "Dockerfile")[:16]
        assert inputs["imageName"] == f"{repository_url}/trainer-{flavour}:{tag}"
        assert inputs["build"]["platform"] == "linux/amd64"
        assert inputs["build"]["context"] == str(IMAGES_DIR)
        assert inputs["build"]["dockerfile"] == str(IMAGES_DIR / flavour / "Dockerfile")
        assert inputs["skipPush"] is False


def test_registry_credentials_are_the_stack_token_and_secret(stack_runs):
    for image in _images(stack_runs["staging"]).values():
        registry = image.inputs["registry"]
        assert is_secret(registry)
        assert registry["value"] == {
            "server": "us-central1-docker.pkg.dev",
            "username": "oauth2accesstoken",
            "password": FAKE_ACCESS_TOKEN,
        }
    tokens = [token for token, _ in stack_runs["staging"].invokes]
    assert "gcp:organizations/getClientConfig:getClientConfig" in tokens


def test_images_wait_for_the_repository_and_its_readers(stack_runs):
    run = stack_runs["prod"]
    (repository,) = run.of_type("gcp:artifactregistry/repository:Repository")
    readers = run.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    for image in _images(run).values():
        assert repository.urn in image.dependencies
        assert {reader.urn for reader in readers} <= set(image.dependencies)


def test_repo_digests_are_exported_by_flavour(stack_runs):
    outputs = stack_runs["prod"].plain_outputs
    for flavour in ("cpu", "gpu"):
        image = outputs["images"][flavour]
        digest = outputs["imageDigests"][flavour]
        assert digest.startswith(image.rsplit(":", 1)[0] + "@sha256:")


def test_the_stack_config_chooses_the_flavours(stack_runs):
    assert set(_images(stack_runs["dev"])) == {"cpu"}
    gpu_only = run_stack("dev", {f"{NS}:images": ["gpu"], f"{NS}:jobs": []})
    assert set(_images(gpu_only)) == {"gpu"}


def test_unknown_flavour_is_a_config_error():
    from config.settings import ConfigError

    with pytest.raises(ConfigError, match=r"images\[0\]: 'gpus' is not an image flavour"):
        run_stack("dev", {f"{NS}:images": ["gpus"]})


def test_previous_images_seed_the_build_cache():
    previous = {"cpu": "us-central1-docker.pkg.dev/acme-ml-dev/training-images/trainer-cpu:ctx-0"}
    first = _images(run_stack("dev"))["cpu"].plain_inputs
    later = _images(run_stack("dev", previous_outputs={"images": previous}))["cpu"].plain_inputs
    assert first["build"]["cacheFrom"] == {"images": []}
    assert later["build"]["cacheFrom"] == {"images": [previous["cpu"]]}
    assert later["build"]["args"] == {"BUILDKIT_INLINE_CACHE": "1"}
    off = run_stack("dev", {f"{NS}:cacheFromPreviousImages": False}, previous_outputs={})
    assert not off.of_type("pulumi:pulumi:StackReference")


@pytest.fixture()
def context_copy(tmp_path):
    copy = tmp_path / "images"
    shutil.copytree(IMAGES_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _tag(context):
    return context_hash(context, context / "cpu" / "Dockerfile")


def test_tag_changes_with_trainer_code(context_copy):
    before = _tag(context_copy)
    task = context_copy / "trainer" / "trainer" / "task.py"
    task.write_text(task.read_text() + "\n# changed\n")
    assert _tag(context_copy) != before


def test_tag_changes_with_the_dockerfile(context_copy):
    before = _tag(context_copy)
    dockerfile = context_copy / "cpu" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nLABEL changed=yes\n")
    assert _tag(context_copy) != before


def test_tag_ignores_what_dockerignore_keeps_out(context_copy):
    before = _tag(context_copy)
    (context_copy / "trainer" / "sample_data" / "extra.csv").write_text("a,b\n1,2\n")
    cache = context_copy / "trainer" / "trainer" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "task.cpython-311.pyc").write_bytes(b"\0")
    assert _tag(context_copy) == before


def test_an_exception_re_includes_shipped_sample_data(context_copy):
    ignore = context_copy / ".dockerignore"
    ignore.write_text(ignore.read_text() + "\n!trainer/sample_data/train.csv\n")
    before = _tag(context_copy)
    val = context_copy / "trainer" / "sample_data" / "val.csv"
    val.write_text(val.read_text() + "0,0\n")
    assert _tag(context_copy) == before
    train = context_copy / "trainer" / "sample_data" / "train.csv"
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
    dockerfile = context / "cpu" / "Dockerfile"
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
