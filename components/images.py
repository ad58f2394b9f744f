"""The stack's training images, one per (app, flavour), built and pushed to its repository."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

# docker-py, not pulumi_docker: its port of Docker's .dockerignore patterns.
from docker.utils.build import Pattern, PatternMatcher
from docker.utils.fnmatch import fnmatchcase

from components import child_options
from config.apps import App, image_app

# Artifact Registry accepts a short-lived OAuth token as the password of this user.
REGISTRY_USERNAME = "oauth2accesstoken"
PLATFORM = "linux/amd64"  # what Vertex AI machines run, whatever the build host is
# Not a registry: the name the local stack's image references start with.
LOCAL_IMAGE_REGISTRY = "local.vtrain"


def _ignore_patterns(context_dir: Path) -> list[str]:
    """The lines of `.dockerignore`, read as Docker reads them (moby's `ignorefile.ReadAll`).

    A comment is a `#` in column 1; `!` starts an exception (a re-inclusion). Refuses the
    few constructs that docker-py's glob translation reads differently from Docker's (see
    `_sent_files`), rather than hash the wrong files.
    """
    ignore_file = context_dir / ".dockerignore"
    if not ignore_file.exists():
        return []
    patterns = []
    for line in ignore_file.read_text(encoding="utf-8-sig").splitlines():
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        glob = line[1:].strip() if line.startswith("!") else line
        if not glob:
            raise ValueError(f"{ignore_file}: a bare '!' is not a pattern (Docker refuses it)")
        if "\\" in glob or "[!" in glob or "[^" in glob:
            # Go's filepath.Match negates a class with '^' and escapes with '\'; docker-py
            # negates with '!' and takes '\' literally. Neither is worth translating.
            raise ValueError(
                f"{ignore_file}: {line!r}: '\\' escapes and negated '[...]' classes are not "
                "supported (docker-py reads them differently from Docker)"
            )
        patterns.append(("!" if line.startswith("!") else "") + glob)
    return patterns


def _excluded(relative: str, patterns: list[Pattern]) -> bool:
    """Docker's rule: the last pattern that matches the path, or one of its parent
    directories, decides (moby's `MatchesOrParentMatches`). Case-sensitive, like Docker."""
    parts = relative.split("/")
    candidates = [relative, *("/".join(parts[:depth]) for depth in range(1, len(parts)))]
    excluded = False
    for pattern in patterns:
        if any(fnmatchcase(candidate, pattern.cleaned_pattern) for candidate in candidates):
            excluded = not pattern.exclusion
    return excluded


def _sent_files(context_dir: Path, dockerfile: Path) -> list[Path]:
    """The files under `context_dir` that Docker sends as the build context.

    The patterns are parsed and their globs translated by docker-py (a port of moby's
    patternmatcher: `*` stops at `/`, `**`, `!`, leading and trailing `/` dropped), but not
    matched with its `PatternMatcher.matches`/`exclude_paths`, which differ from Docker's
    documented rules: they match case-insensitively, check only one parent directory (so a
    file deep in an excluded directory can slip back in), and skip an excluded directory
    unless an exception starts with its path (so `build` then `!**/*.py` drops
    `build/x.py`, as the classic builder's tar walk also does; hashing it costs at most a
    rebuild). Docker always sends the Dockerfile and `.dockerignore`; so do we, through
    exceptions appended last (docker-py's `exclude_paths` appends the same two).
    """
    patterns = _ignore_patterns(context_dir)
    if dockerfile.resolve().is_relative_to(context_dir.resolve()):
        patterns.append("!" + dockerfile.resolve().relative_to(context_dir.resolve()).as_posix())
    # PatternMatcher drops empty patterns (`.`, `/`) and appends `!.dockerignore`.
    matcher = PatternMatcher(patterns)
    return sorted(
        path
        for path in context_dir.rglob("*")
        if path.is_file()
        and not _excluded(path.relative_to(context_dir).as_posix(), matcher.patterns)
    )


def context_hash(context_dir: Path, dockerfile: Path) -> str:
    """A hash of the Dockerfile and every build-context file Docker would send.

    Unchanged code gives the same hash, hence the same tag, hence no new image. (Not to be
    confused with the pushed image's repo digest, `sha256:...`, which jobs run by.)
    """
    hasher = hashlib.sha256()
    hasher.update(dockerfile.read_bytes())  # also when it lies outside the context
    for path in _sent_files(context_dir, dockerfile):
        relative = path.relative_to(context_dir).as_posix()
        hasher.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


@dataclass(frozen=True)
class ImageBuild:
    """One image: `name` (`<app>-<flavour>`, also its name in the registry), built from the
    app's directory with `<flavour>.Dockerfile`."""

    name: str
    app: App
    flavour: str

    @classmethod
    def of(cls, name: str) -> ImageBuild:
        """The build of a validated image name (`config.apps.known_image`)."""
        app, flavour = image_app(name)
        return cls(name=name, app=app, flavour=flavour)

    @property
    def context_dir(self) -> Path:
        return self.app.dir

    @property
    def dockerfile(self) -> Path:
        return self.app.dockerfile(self.flavour)

    @property
    def tag(self) -> str:
        """`ctx-<16 hex of the build context's hash>`: unchanged code, unchanged tag."""
        return f"ctx-{context_hash(self.context_dir, self.dockerfile)[:16]}"

    @property
    def local_uri(self) -> str:
        """What a local stack's jobs run instead of a pushed image:
        `local.vtrain/<app>/<flavour>:<tag>`. The emulator runs the app from source; the tag
        is the pushed image's, so a change to the app replaces its jobs, as in the cloud."""
        return f"{LOCAL_IMAGE_REGISTRY}/{self.app.name}/{self.flavour}:{self.tag}"


# Images that had another resource name before apps had their own (issue 11), so deployed
# stacks adopt them instead of deleting and creating them.
PREVIOUS_RESOURCE_SUFFIX = {"penguins-cpu": "cpu", "penguins-gpu": "gpu"}


@dataclass(frozen=True)
class TrainingImagesArgs:
    repository_url: pulumi.Input[str]  # <region>-docker.pkg.dev/<project>/<repository>
    images: list[ImageBuild]
    # The Pulumi project directory, where the program and the docker provider run: build
    # paths are given relative to it, so every checkout path gives the same inputs.
    project_dir: Path
    # The stack's Google access token, pushed as a secret; None: the host's Docker
    # credential helper authenticates each push when it happens (registryAuth docker-config).
    access_token: pulumi.Input[str] | None


class TrainingImages(pulumi.ComponentResource):
    """Builds each training image for linux/amd64 and pushes it to Artifact Registry.

    Each image is built from its app's directory (`images/<app>/`, the build context) with
    `<flavour>.Dockerfile`, pushed as `<repository>/<app>-<flavour>`, and tagged
    `ctx-<hash of its build context>`, so an unchanged app maps to the same tag and nothing
    is rebuilt or pushed. Jobs use the pushed repo digest, never
    the tag. Every build input is a pure function of the checked-out code: no absolute
    path, no value from the last update (pulumi-docker rebuilds and re-pushes whenever any
    `build` input differs, and a rebuild is not bit-identical, so an immutable tag would
    reject the push). Registry credentials: the stack's Google access token, kept secret
    (pulumi-docker exempts them from its diff), or the host's Docker credential helper.
    Inputs: see `TrainingImagesArgs`.
    Outputs: `image_names` and `repo_digests`, each by image name (`penguins-cpu`, ...).
    Creates: one `docker.Image` per image.
    """

    image_names: pulumi.Output[dict[str, str]]
    repo_digests: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: TrainingImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:images:TrainingImages", name, None, opts)
        self._child_opts = child_options(self, opts)
        repository_url = pulumi.Output.from_input(args.repository_url)
        server = repository_url.apply(lambda url: url.split("/")[0])
        registry = (
            docker.RegistryArgs(
                server=server,
                username=REGISTRY_USERNAME,
                password=pulumi.Output.secret(args.access_token),
            )
            # Without username and password pulumi-docker logs in from the Docker config
            # file, i.e. its credential helpers (pulumi/pulumi-docker#461).
            if args.access_token is not None
            else docker.RegistryArgs(server=server)
        )
        self.images: dict[str, docker.Image] = {}
        for build in args.images:
            tag = build.tag
            previous = PREVIOUS_RESOURCE_SUFFIX.get(build.name)
            self.images[build.name] = docker.Image(
                f"{name}-{build.name}",
                image_name=pulumi.Output.concat(repository_url, f"/{build.name}:{tag}"),
                build=docker.DockerBuildArgs(
                    # Relative to the program's directory; pulumi-docker >= 4.0.1 reads the
                    # Dockerfile path relative to it too, not to the context.
                    context=build.context_dir.relative_to(args.project_dir).as_posix(),
                    dockerfile=build.dockerfile.relative_to(args.project_dir).as_posix(),
                    platform=PLATFORM,
                    # Inline cache metadata, so a builder can use a pushed image as cache.
                    args={"BUILDKIT_INLINE_CACHE": "1"},
                ),
                registry=registry,
                opts=pulumi.ResourceOptions.merge(
                    self._child_opts,
                    pulumi.ResourceOptions(
                        aliases=[pulumi.Alias(name=f"{name}-{previous}")] if previous else None
                    ),
                ),
            )
        self.image_names = pulumi.Output.all(
            **{image_name: image.image_name for image_name, image in self.images.items()}
        )
        self.repo_digests = pulumi.Output.all(
            **{image_name: image.repo_digest for image_name, image in self.images.items()}
        )
        self.register_outputs({"image_names": self.image_names, "repo_digests": self.repo_digests})
