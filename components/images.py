"""The CPU and GPU training images, built and pushed to the stack's repository."""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components import child_options
from config.trainer import IMAGE_FLAVOURS

# Artifact Registry accepts a short-lived OAuth token as the password of this user.
REGISTRY_USERNAME = "oauth2accesstoken"
PLATFORM = "linux/amd64"  # what Vertex AI machines run, whatever the build host is


def _ignore_patterns(context_dir: Path) -> list[str]:
    ignore_file = context_dir / ".dockerignore"
    if not ignore_file.exists():
        return []
    patterns = []
    for line in ignore_file.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            # Our matcher does not do re-inclusion; refuse rather than hash the wrong files.
            raise ValueError(f"{ignore_file}: '!' patterns are not supported ({line!r})")
        patterns.append(line.lstrip("/"))
    return patterns


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    for pattern in patterns:
        candidates = [pattern] + ([pattern[3:]] if pattern.startswith("**/") else [])
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            return True
    return False


def context_hash(context_dir: Path, dockerfile: Path) -> str:
    """A hash of the Dockerfile and every build-context file Docker would send.

    Unchanged code gives the same hash, hence the same tag, hence no new image. (Not to be
    confused with the pushed image's repo digest, `sha256:...`, which jobs run by.)
    """
    hasher = hashlib.sha256()
    hasher.update(dockerfile.read_bytes())
    patterns = _ignore_patterns(context_dir)
    for path in sorted(p for p in context_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(context_dir).as_posix()
        if _ignored(relative, patterns):
            continue
        hasher.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


@dataclass(frozen=True)
class TrainingImagesArgs:
    repository_url: pulumi.Input[str]  # <region>-docker.pkg.dev/<project>/<repository>
    context_dir: Path  # holds <flavour>/Dockerfile and the trainer package
    access_token: pulumi.Input[str]  # the stack's Google access token; pushed as a secret
    flavours: list[str] = field(default_factory=lambda: list(IMAGE_FLAVOURS))
    # Images from the last update, used as build cache; empty on a first update.
    cache_from: pulumi.Input[dict[str, str]] = field(default_factory=dict)


class TrainingImages(pulumi.ComponentResource):
    """Builds each training image for linux/amd64 and pushes it to Artifact Registry.

    Each image is tagged `ctx-<hash of its build context>`, so an unchanged trainer maps to
    the same tag and nothing is rebuilt or pushed. Jobs use the pushed repo digest, never
    the tag. Registry credentials are the stack's Google access token, kept secret.
    Inputs: see `TrainingImagesArgs`.
    Outputs: `image_names` and `repo_digests`, each by flavour (`cpu`, `gpu`).
    Creates: one `docker.Image` per flavour.
    """

    image_names: pulumi.Output[dict[str, str]]
    repo_digests: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: TrainingImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:images:TrainingImages", name, None, opts)
        self._child_opts = child_options(self, opts)
        repository_url = pulumi.Output.from_input(args.repository_url)
        registry = docker.RegistryArgs(
            server=repository_url.apply(lambda url: url.split("/")[0]),
            username=REGISTRY_USERNAME,
            password=pulumi.Output.secret(args.access_token),
        )
        cache_from = pulumi.Output.from_input(args.cache_from)
        self.images: dict[str, docker.Image] = {}
        for flavour in args.flavours:
            dockerfile = args.context_dir / flavour / "Dockerfile"
            tag = f"ctx-{context_hash(args.context_dir, dockerfile)[:16]}"
            self.images[flavour] = docker.Image(
                f"{name}-{flavour}",
                image_name=pulumi.Output.concat(repository_url, f"/trainer-{flavour}:{tag}"),
                build=docker.DockerBuildArgs(
                    context=str(args.context_dir),
                    dockerfile=str(dockerfile),
                    platform=PLATFORM,
                    # Inline cache metadata lets the next build reuse this image's layers.
                    args={"BUILDKIT_INLINE_CACHE": "1"},
                    cache_from=docker.CacheFromArgs(
                        images=cache_from.apply(
                            lambda previous, f=flavour: [previous[f]] if previous.get(f) else []
                        )
                    ),
                ),
                registry=registry,
                opts=self._child_opts,
            )
        self.image_names = pulumi.Output.all(
            **{flavour: image.image_name for flavour, image in self.images.items()}
        )
        self.repo_digests = pulumi.Output.all(
            **{flavour: image.repo_digest for flavour, image in self.images.items()}
        )
        self.register_outputs({"image_names": self.image_names, "repo_digests": self.repo_digests})
