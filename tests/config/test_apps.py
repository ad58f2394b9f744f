"""config/apps.py: each app's manifest is read, checked and kept in step with the app."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from config import apps
from config.apps import ManifestError, load_app
from config.loader import ConfigError, validate_settings
from tests.config.test_loader import VALID
from tests.harness.trainer import PROJECT_DIR, SAMPLE_TRAIN, SAMPLE_VAL
from tests.project.test_dockerfiles import instructions

LINREG_DIR = PROJECT_DIR / "images" / "linreg"
if str(LINREG_DIR) not in sys.path:
    sys.path.insert(0, str(LINREG_DIR))


def test_each_app_in_images_is_found_with_the_flavours_its_dockerfiles_give():
    found = apps.installed()
    assert {name: app.flavours for name, app in found.items()} == {
        "linreg": ("cpu",),
        "penguins": ("cpu", "gpu"),
    }
    assert apps.image_names() == ["linreg-cpu", "penguins-cpu", "penguins-gpu"]
    assert apps.image_app("linreg-cpu") == (found["linreg"], "cpu")
    assert apps.SAMPLE_DATA_DIR == found[apps.SAMPLE_DATA_APP].dir / "sample_data"
    assert {SAMPLE_TRAIN.parent, SAMPLE_VAL.parent} == {apps.SAMPLE_DATA_DIR}


@pytest.mark.parametrize("image", apps.image_names())
def test_the_manifest_command_is_the_dockerfiles_entrypoint(image):
    app, flavour = apps.image_app(image)
    entrypoints = [
        args for step, args in instructions(app.dockerfile(flavour)) if step == "ENTRYPOINT"
    ]
    assert json.loads(entrypoints[-1]) == app.command


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        action.option_strings[0].removeprefix("--"): action
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    }


def _assert_manifest_matches(app: apps.App, parser: argparse.ArgumentParser, argv: list[str]):
    """Every flag of the parser is in the manifest and the reverse; each manifest type parses
    what a trial passes for it; each manifest default is the parser's."""
    options = _options(parser)
    assert set(options) == {*app.parameters, *app.flags}
    for flag, kind in {**app.parameters, **app.flags}.items():
        convert = options[flag].type or str
        if kind == "int":
            assert convert("16") == 16 or convert("16") == (16,), flag
            assert convert("16.0") in (16, (16,)), flag  # how Vertex may pass an integer
        elif kind == "float":
            assert convert("0.5") == 0.5, flag
        elif options[flag].choices:
            assert all(isinstance(choice, str) for choice in options[flag].choices), flag
    parsed = vars(parser.parse_args(argv))
    for flag, default in app.defaults.items():
        assert parsed[options[flag].dest] == default, flag


def test_the_penguins_manifest_is_the_trainers_flags_with_their_types_and_defaults():
    from trainer.config import DEFAULT_METRIC_TAG, build_parser

    app = apps.installed()["penguins"]
    parser = build_parser({})
    groups = {group.title: group for group in parser._action_groups}
    hyperparameters = {
        action.option_strings[0].removeprefix("--")
        for action in groups["hyperparameters"]._group_actions
    }
    assert set(app.parameters) == hyperparameters
    _assert_manifest_matches(app, parser, ["--train-data", "t.csv", "--val-data", "v.csv"])
    assert app.metrics == [DEFAULT_METRIC_TAG] == [app.defaults[app.metric_flag]]
    assert apps.sample_data_flags(app) == ("train-data", "val-data")


def test_the_linreg_manifest_is_its_flags_and_it_gets_no_sample_data():
    from linreg.task import METRIC_TAG, build_parser

    app = apps.installed()["linreg"]
    _assert_manifest_matches(app, build_parser({}), [])
    assert app.metrics == [METRIC_TAG]
    assert apps.sample_data_flags(app) == ()


def _run_linreg(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "linreg.task", *args],
        cwd=LINREG_DIR,
        env={"PYTHONPATH": str(LINREG_DIR), "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "m")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_linreg_reports_its_manifest_metric_through_hypertune(tmp_path):
    (tag,) = apps.installed()["linreg"].metrics
    run = _run_linreg(
        tmp_path, "--learning-rate=0.3", "--steps=50.0", f"--model-dir={tmp_path / 'model'}"
    )
    assert run.returncode == 0, run.stderr
    measurements = [json.loads(line) for line in (tmp_path / "m").read_text().splitlines()]
    assert [int(m["global_step"]) for m in measurements] == list(range(5, 51, 5))
    losses = [float(m[tag]) for m in measurements]
    assert losses[-1] < losses[0] and losses[-1] < 0.05  # noise variance is 0.01
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["weight"] == pytest.approx(3.0, abs=0.1)
    assert model["bias"] == pytest.approx(-1.0, abs=0.1)


def test_linreg_fails_a_diverging_trial_with_one_line(tmp_path):
    run = _run_linreg(tmp_path, "--learning-rate=5", "--steps=20")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "linreg.task: error: diverged at step 4 (--learning-rate 5.0 is too large)"
    ]


# ---- a manifest a team gets wrong ----------------------------------------------------------

GOOD = """\
name: demo
entry_points:
  main:
    command: python -m demo.task
    parameters:
      rate: {type: float, default: 0.1}
      depth: int
    flags:
      data: path
metrics: [score]
"""


def _app(tmp_path, manifest: str = GOOD, dockerfiles=("cpu.Dockerfile",)):
    app_dir = tmp_path / "demo"
    app_dir.mkdir()
    (app_dir / "MLproject").write_text(manifest)
    for dockerfile in dockerfiles:
        (app_dir / dockerfile).write_text("FROM scratch\n")
    return app_dir


def test_a_good_manifest_reads_as_the_app_model(tmp_path):
    app = load_app(_app(tmp_path, GOOD + "python_env: python_env.yaml\n"))
    assert app.model_dump() == {
        "name": "demo",
        "dir": tmp_path / "demo",
        "flavours": ("cpu",),
        "command": ["python", "-m", "demo.task"],
        "parameters": {"rate": "float", "depth": "int"},
        "metrics": ["score"],
        "defaults": {"rate": 0.1},
        "flags": {"data": "path"},
        "metric_flag": None,
    }
    assert app.images == ["demo-cpu"] and app.data_flags == ("data",)


BAD_MANIFESTS = {
    "unknown parameter type": (
        GOOD.replace("depth: int", "depth: double"),
        "entry_points.main.parameters.depth.type: 'double' is not allowed: Input should be "
        "'float', 'int' or 'string'",
    ),
    "path is not tunable": (
        GOOD.replace("depth: int", "depth: path"),
        "entry_points.main.parameters.depth.type: 'path' is not allowed",
    ),
    "misspelt key": (
        GOOD.replace("    parameters:", "    paramters:"),
        "entry_points.main.paramters: unknown key",
    ),
    "no metrics": (GOOD.replace("metrics: [score]\n", ""), "metrics: required but not set"),
    "empty metrics": (GOOD.replace("[score]", "[]"), "metrics: [] is not allowed"),
    "repeated metrics": (GOOD.replace("[score]", "[score, score]"), "metrics: ['score', "),
    "name not the directory's": (
        GOOD.replace("name: demo", "name: other"),
        "name: 'other' must be the directory's name, 'demo'",
    ),
    "default of another type": (
        GOOD.replace("default: 0.1", "default: fast"),
        "entry_points.main.parameters.rate.default: 'fast' is not a float",
    ),
    "boolean default": (
        GOOD.replace("default: 0.1", "default: true"),
        "entry_points.main.parameters.rate.default: True is not a float",
    ),
    "no main entry point": (
        GOOD.replace("  main:", "  train:"),
        "entry_points: no 'main' entry point (the one an image runs)",
    ),
    "flag twice": (
        GOOD.replace("data: path", "data: path\n      rate: float"),
        "entry_points.main: rate listed as parameter and as flag",
    ),
    "flag with dashes": (
        GOOD.replace("depth: int", "--depth: int"),
        "entry_points.main.parameters.--depth.[key]: '--depth' is not allowed",
    ),
    "metric flag that is not a flag": (
        GOOD + "metric_flag: tag\n",
        "metric_flag: 'tag' must be one of entry_points.main.flags, of type string",
    ),
    "metric flag defaulting to another metric": (
        GOOD.replace("data: path", "data: path\n      tag: {type: string, default: loss}")
        + "metric_flag: tag\n",
        "metric_flag: its default 'loss' is not one of metrics ['score']",
    ),
    "not YAML": ("name: [demo\n", "MLproject: not valid YAML"),
}


@pytest.mark.parametrize("manifest, message", BAD_MANIFESTS.values(), ids=BAD_MANIFESTS.keys())
def test_a_bad_manifest_is_an_error_naming_the_file_and_the_key(tmp_path, manifest, message):
    with pytest.raises(ManifestError) as raised:
        load_app(_app(tmp_path, manifest))
    assert str(raised.value).startswith(f"{tmp_path / 'demo' / 'MLproject'}: ")
    assert message in str(raised.value)


def test_the_flavours_are_the_dockerfiles_present(tmp_path):
    assert load_app(_app(tmp_path, dockerfiles=("gpu.Dockerfile",))).flavours == ("gpu",)


@pytest.mark.parametrize(
    "dockerfiles, message",
    [
        ((), "no Dockerfile; an app ships cpu.Dockerfile and/or gpu.Dockerfile"),
        (
            ("cpu.Dockerfile", "tpu.Dockerfile"),
            "tpu.Dockerfile: 'tpu' is not a flavour; allowed: cpu.Dockerfile, gpu.Dockerfile",
        ),
    ],
    ids=["none", "unknown flavour"],
)
def test_an_app_without_a_known_dockerfile_is_an_error(tmp_path, dockerfiles, message):
    with pytest.raises(ManifestError, match=message):
        load_app(_app(tmp_path, dockerfiles=dockerfiles))


def test_an_app_name_that_cannot_name_an_image_is_an_error(tmp_path):
    app_dir = tmp_path / "Demo_App"
    app_dir.mkdir()
    (app_dir / "MLproject").write_text(GOOD.replace("name: demo", "name: Demo_App"))
    with pytest.raises(ManifestError, match="name: 'Demo_App': 1-40 lowercase letters"):
        load_app(app_dir)


@pytest.fixture()
def images_dir(tmp_path, monkeypatch):
    """`images/` replaced by an empty directory for the test (the app cache cleared)."""
    monkeypatch.setattr(apps, "IMAGES_DIR", tmp_path)
    apps.installed.cache_clear()
    yield tmp_path
    apps.installed.cache_clear()


def test_a_bad_manifest_fails_the_stack_config_before_anything_else(images_dir):
    _app(images_dir, GOOD.replace("metrics: [score]\n", ""))
    with pytest.raises(ConfigError) as raised:
        validate_settings(VALID)
    assert str(raised.value) == (
        f"invalid training app:\n  {images_dir / 'demo' / 'MLproject'}: metrics: required but "
        "not set"
    )


def test_the_stack_may_name_only_the_images_of_the_apps_present(images_dir):
    _app(images_dir)
    with pytest.raises(ConfigError) as raised:
        validate_settings(VALID)  # images: [penguins-cpu]
    assert (
        "vertex-training:images[0]: 'penguins-cpu' is not an image of an app in images/; "
        "allowed: demo-cpu" in str(raised.value)
    )


def test_the_local_stack_installs_every_apps_requirements():
    """The emulator runs each app from source with the local stack's Python."""
    local = (PROJECT_DIR / "requirements-local.txt").read_text().splitlines()
    for app in apps.installed().values():
        assert f"-r images/{app.name}/requirements.txt" in local, app.name
