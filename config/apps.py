"""The training apps in `images/`: each app's manifest, flavours and image names.

An app is a directory `images/<app>/`: its own Docker build context, with `cpu.Dockerfile`
and/or `gpu.Dockerfile` (the flavours it ships are the Dockerfiles present) and a manifest,
`MLproject`, in MLflow's project layout (https://mlflow.org/docs/latest/ml/projects,
"Specifying Parameters"), extended:

    name: penguins                         # the directory's name
    entry_points:
      main:
        command: python -m trainer.task    # the Dockerfiles' ENTRYPOINT
        parameters:                        # hyperparameter flags a study may tune
          learning-rate: {type: float, default: 0.01}
          epochs: int                      # MLflow's shorthand: the type alone
        flags:                             # vtrain: other flags a job may set in `args`
          train-data: path                 # input data (the stack's sample data fills it)
          model-dir: uri
    metrics: [accuracy]                    # vtrain: hypertune metric tags it reports
    metric_flag: metric-tag                # vtrain, optional: a flag that renames the metric

Image names are `<app>-<flavour>`, in the stack config and in the registry alike. Every
manifest is read and checked once, before the stack config is validated; a problem is a
`ManifestError` naming the file and the key.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from config.base import suggest

# The Pulumi project directory, where the program runs.
PROJECT_DIR = Path(__file__).resolve().parents[1]
IMAGES_DIR = PROJECT_DIR / "images"
MANIFEST = "MLproject"
ENTRY_POINT = "main"  # the one entry point an image runs (MLflow's default name)

# The flavours an app may ship, each as `<flavour>.Dockerfile` in its directory.
FLAVOURS = ("cpu", "gpu")
# Flavours whose image needs GPUs to be of use (and that GPUs need).
GPU_FLAVOURS = ("gpu",)

# Types of a tunable flag: MLflow's float and string, plus int.
HyperparameterType = Literal["float", "int", "string"]
# Types of the other flags, also MLflow's `path` (data the app reads) and `uri` (as is).
FlagType = Literal[HyperparameterType, "path", "uri"]
# The Vertex AI parameter types (StudySpec.ParameterSpec) that can set a flag of each type:
# a trial's value reaches the app as `--<id>=<value>`, so an int flag takes only whole numbers
# and a string flag only categorical values.
TUNABLE_AS = {
    "float": ("double", "integer", "discrete"),
    "int": ("integer", "discrete"),
    "string": ("categorical",),
}

# The stack's sample dataset (`uploadSampleData`) is this app's: the stack passes its
# gs:// URIs for the app's `path` flags that a job leaves unset.
SAMPLE_DATA_APP = "penguins"
SAMPLE_DATA_DIR = IMAGES_DIR / SAMPLE_DATA_APP / "sample_data"

# Lowercase words joined by single hyphens: valid in an Artifact Registry image name, and
# `<app>-<flavour>` splits at its last hyphen.
APP_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
APP_NAME_MAX = 40
FLAG_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class ManifestError(ValueError):
    """An app's manifest or directory is not what the stack can build and run."""


def _typed(spec: Any) -> Any:
    # MLflow's shorthand `name: float` is `name: {type: float}`.
    return {"type": spec} if isinstance(spec, str) else spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Parameter(_Strict):
    type: HyperparameterType
    default: Any = None  # checked against `type` by load_app


class _Flag(_Strict):
    type: FlagType
    default: Any = None  # checked against `type` by load_app


FlagName = Annotated[str, Field(pattern=FLAG_NAME_PATTERN.pattern)]


class _EntryPoint(_Strict):
    command: str
    parameters: dict[FlagName, Annotated[_Parameter, BeforeValidator(_typed)]] = {}
    flags: dict[FlagName, Annotated[_Flag, BeforeValidator(_typed)]] = {}


class _Manifest(_Strict):
    name: str
    entry_points: dict[str, _EntryPoint]
    metrics: Annotated[list[str], Field(min_length=1)]
    metric_flag: str | None = None
    # MLflow's environment keys: allowed so an MLflow project reads as is, not used here.
    python_env: Any = None
    conda_env: Any = None
    docker_env: Any = None


class App(BaseModel):
    """One training app: what the stack builds from `dir` and what its jobs may pass it."""

    model_config = ConfigDict(frozen=True)

    name: str
    dir: Path
    flavours: tuple[str, ...]
    command: list[str]
    parameters: dict[str, str]  # hyperparameter flag -> float | int | string
    metrics: list[str]
    defaults: dict[str, float | int | str] = {}
    flags: dict[str, str] = {}  # other flag -> its type
    metric_flag: str | None = None

    @property
    def images(self) -> list[str]:
        return [image_name(self.name, flavour) for flavour in self.flavours]

    @property
    def data_flags(self) -> tuple[str, ...]:
        """The flags that take input data (type `path`)."""
        return tuple(flag for flag, kind in self.flags.items() if kind == "path")

    def dockerfile(self, flavour: str) -> Path:
        return self.dir / f"{flavour}.Dockerfile"

    def reported_metrics(self, args: dict[str, Any]) -> list[str]:
        """The metric tags a run with these args reports."""
        if self.metric_flag and self.metric_flag in args:
            return [str(args[self.metric_flag])]
        return list(self.metrics)

    def unknown_flag_problem(self, flags: Iterable[str]) -> str | None:
        """What is wrong with the first of `flags` the app does not take, if any."""
        known = [*self.parameters, *self.flags]
        for flag in flags:
            if flag not in known:
                return (
                    f"{flag!r} is not a flag of app {self.name!r}; allowed: {', '.join(known)}"
                    f"{suggest(flag, known)}"
                )
        return None

    def parameter_problem(self, parameter_id: str, kind: str, values: list | None) -> str | None:
        """What is wrong with tuning flag `parameter_id` as a Vertex parameter of `kind`
        (double, integer, discrete, categorical) over `values`, if anything."""
        if parameter_id not in self.parameters:
            allowed = list(self.parameters)
            return (
                f"{parameter_id!r} is not a hyperparameter of app {self.name!r}; allowed: "
                f"{', '.join(allowed) or '(none)'}{suggest(parameter_id, allowed)}"
            )
        flag_type = self.parameters[parameter_id]
        fitting = TUNABLE_AS[flag_type]
        if kind not in fitting:
            return (
                f"type {kind!r} does not fit {parameter_id!r}, {_article(flag_type)} "
                f"{flag_type} flag of app {self.name!r}; use {' or '.join(fitting)}"
            )
        if kind == "discrete" and flag_type == "int":
            fractional = [value for value in values or [] if not float(value).is_integer()]
            if fractional:
                return (
                    f"discrete values {fractional} of {parameter_id!r} are not whole numbers; "
                    f"it is an int flag of app {self.name!r}"
                )
        return None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def image_name(app: str, flavour: str) -> str:
    return f"{app}-{flavour}"


def _shown(path: Path) -> str:
    return (
        path.relative_to(PROJECT_DIR).as_posix() if path.is_relative_to(PROJECT_DIR) else str(path)
    )


def _key(location: tuple) -> str:
    return ".".join(str(part) for part in location) or "<manifest>"


def _parse(manifest_path: Path) -> _Manifest:
    shown = _shown(manifest_path)
    try:
        raw = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ManifestError(f"{shown}: not valid YAML: {error}") from None
    try:
        return _Manifest.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            if detail["type"] == "extra_forbidden":
                problems.append(f"{shown}: {_key(detail['loc'])}: unknown key")
            elif detail["type"] == "missing":
                problems.append(f"{shown}: {_key(detail['loc'])}: required but not set")
            else:
                problems.append(
                    f"{shown}: {_key(detail['loc'])}: {detail.get('input')!r} is not allowed: "
                    f"{detail['msg']}"
                )
        raise ManifestError("\n".join(problems)) from None


def _fits(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def load_app(app_dir: Path) -> App:
    """Read and check `<app_dir>/MLproject`; raise ManifestError naming the file and key."""
    manifest_path = app_dir / MANIFEST
    shown = _shown(manifest_path)
    manifest = _parse(manifest_path)

    def problem(key: str, message: str) -> ManifestError:
        return ManifestError(f"{shown}: {key}: {message}")

    if manifest.name != app_dir.name:
        raise problem("name", f"{manifest.name!r} must be the directory's name, {app_dir.name!r}")
    if not APP_NAME_PATTERN.match(manifest.name) or len(manifest.name) > APP_NAME_MAX:
        raise problem(
            "name",
            f"{manifest.name!r}: 1-{APP_NAME_MAX} lowercase letters and digits in words joined "
            "by single hyphens, starting with a letter (it names the images)",
        )
    entry = manifest.entry_points.get(ENTRY_POINT)
    if entry is None:
        raise problem("entry_points", f"no {ENTRY_POINT!r} entry point (the one an image runs)")
    command = shlex.split(entry.command)
    if not command:
        raise problem(f"entry_points.{ENTRY_POINT}.command", "empty")
    both = sorted(set(entry.parameters) & set(entry.flags))
    if both:
        raise problem(
            f"entry_points.{ENTRY_POINT}", f"{', '.join(both)} listed as parameter and as flag"
        )
    specs = {**entry.parameters, **entry.flags}
    for flag, spec in specs.items():
        if spec.default is not None and not _fits(spec.type, spec.default):
            section = "parameters" if flag in entry.parameters else "flags"
            raise problem(
                f"entry_points.{ENTRY_POINT}.{section}.{flag}.default",
                f"{spec.default!r} is not a {spec.type}",
            )
    if len(set(manifest.metrics)) != len(manifest.metrics):
        raise problem("metrics", f"{manifest.metrics} repeat")
    if manifest.metric_flag is not None:
        spec = entry.flags.get(manifest.metric_flag)
        if spec is None or spec.type != "string":
            raise problem(
                "metric_flag",
                f"{manifest.metric_flag!r} must be one of entry_points.{ENTRY_POINT}.flags, of "
                "type string",
            )
        if spec.default is not None and spec.default not in manifest.metrics:
            raise problem(
                "metric_flag",
                f"its default {spec.default!r} is not one of metrics {manifest.metrics}",
            )
    return App(
        name=manifest.name,
        dir=app_dir,
        flavours=_flavours(app_dir),
        command=command,
        parameters={flag: spec.type for flag, spec in entry.parameters.items()},
        metrics=manifest.metrics,
        defaults={flag: spec.default for flag, spec in specs.items() if spec.default is not None},
        flags={flag: spec.type for flag, spec in entry.flags.items()},
        metric_flag=manifest.metric_flag,
    )


def _flavours(app_dir: Path) -> tuple[str, ...]:
    present = sorted(path.name.removesuffix(".Dockerfile") for path in app_dir.glob("*.Dockerfile"))
    unknown = [flavour for flavour in present if flavour not in FLAVOURS]
    if unknown:
        raise ManifestError(
            f"{_shown(app_dir)}: {unknown[0]}.Dockerfile: {unknown[0]!r} is not a flavour; "
            f"allowed: {', '.join(f'{flavour}.Dockerfile' for flavour in FLAVOURS)}"
        )
    if not present:
        raise ManifestError(
            f"{_shown(app_dir)}: no Dockerfile; an app ships "
            f"{' and/or '.join(f'{flavour}.Dockerfile' for flavour in FLAVOURS)}"
        )
    return tuple(flavour for flavour in FLAVOURS if flavour in present)


def discover_apps(images_dir: Path = IMAGES_DIR) -> dict[str, App]:
    """Every app under `images_dir`: each directory with an `MLproject`, by name."""
    return {
        manifest.parent.name: load_app(manifest.parent)
        for manifest in sorted(images_dir.glob(f"*/{MANIFEST}"))
    }


@functools.cache
def installed() -> dict[str, App]:
    """The apps in this checkout's `images/` (read once per process)."""
    return discover_apps(IMAGES_DIR)


def image_names() -> list[str]:
    """Every image the apps in `images/` can be built as, `<app>-<flavour>`."""
    return [image for app in installed().values() for image in app.images]


def known_image(image: str) -> str:
    """A field validator: `image` must be one an app in `images/` ships."""
    allowed = image_names()
    if image not in allowed:
        raise ValueError(
            f"{image!r} is not an image of an app in images/; allowed: {', '.join(allowed)}"
            f"{suggest(image, allowed)}"
        )
    return image


def image_app(image: str) -> tuple[App, str]:
    """The app and flavour of a known image name (see `known_image`)."""
    app_name, _, flavour = image.rpartition("-")
    return installed()[app_name], flavour


def sample_data_flags(app: App) -> tuple[str, ...]:
    """The app's flags that the stack's sample data fills when a job leaves them unset."""
    return app.data_flags if app.name == SAMPLE_DATA_APP else ()
