"""The compatibility promise of `vertex_jobs`: what old state and old URNs depend on.

The engine keeps each job's provider in state as a dill pickle *by reference* (module path +
class name, no code), and refresh/destroy of an old resource unpickles it with the code
checked out now, in the dynamic-provider host (`python -m pulumi.dynamic`, started in the
project root). The type tokens go into every URN, and the input/output keys are the props
old state holds. So none of these may move or be renamed. The pins use literal strings,
not the code's own constants, so that a rename in the code fails here (the serialization
tests at the end, moved from test_providers.py, check the same objects from the other side).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import pickletools
import subprocess
import sys

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from tests.harness.dynamic_host import PROJECT_DIR
from vertex_jobs.contract import (
    COMMON_INPUTS,
    CUSTOM_JOB_TYPE,
    HYPERPARAMETER_TUNING_JOB_TYPE,
)
from vertex_jobs.providers import CustomJobProvider, HyperparameterTuningJobProvider
from vertex_jobs.resources import CustomJob, HyperparameterTuningJob

PROVIDER_CLASSES = ["CustomJobProvider", "HyperparameterTuningJobProvider"]

# `__provider` as state files written by this project hold it (dill 0.4, pickle protocol 4).
RECORDED_STATE_PAYLOADS = {
    "CustomJobProvider": (
        "gASVMgAAAAAAAACMFXZlcnRleF9qb2JzLnByb3ZpZGVyc5SMEUN1c3RvbUpvYlByb3ZpZGVylJOUKYGULg=="
    ),
    "HyperparameterTuningJobProvider": (
        "gASVQAAAAAAAAACMFXZlcnRleF9qb2JzLnByb3ZpZGVyc5SMH0h5cGVycGFyYW1ldGVyVHVuaW5nSm9i"
        "UHJvdmlkZXKUk5QpgZQu"
    ),
}

# What the dynamic-provider host does with `__provider` (pulumi/dynamic/__main__.py), in a
# fresh interpreter that has imported nothing of the project: dill must import the module.
_UNPICKLE_LIKE_THE_HOST = """
import base64, json, sys
import dill
assert "vertex_jobs.providers" not in sys.modules
provider = dill.loads(base64.b64decode(sys.stdin.read()))
cls = type(provider)
print(json.dumps({
    "module": cls.__module__,
    "class": cls.__qualname__,
    "vars": vars(provider),
    "file": sys.modules[cls.__module__].__file__,
    "bases": [f"{base.__module__}.{base.__qualname__}" for base in cls.__mro__],
}))
"""


def _unpickle_in_a_fresh_host_process(payload: str) -> dict:
    """Unpickle ``payload`` (base64, as in state) in a new interpreter started in the project
    root, with no PYTHONPATH: the project is importable only as the host finds it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", _UNPICKLE_LIKE_THE_HOST],
        input=payload,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _assert_loaded_as(loaded: dict, class_name: str) -> None:
    assert loaded["module"] == "vertex_jobs.providers"
    assert loaded["class"] == class_name
    assert loaded["vars"] == {}
    assert loaded["file"] == str(PROJECT_DIR / "vertex_jobs" / "providers.py")
    assert "pulumi.dynamic.dynamic.ResourceProvider" in loaded["bases"]


# ---- providers: module path and class names ---------------------------------------------


@pytest.mark.parametrize("class_name", PROVIDER_CLASSES)
def test_providers_live_in_vertex_jobs_providers_under_their_names(class_name):
    cls = getattr(importlib.import_module("vertex_jobs.providers"), class_name)
    assert cls.__module__ == "vertex_jobs.providers"
    assert cls.__qualname__ == class_name
    payload = base64.b64decode(serialize_provider(cls()))
    strings = {arg for _, arg, _ in pickletools.genops(payload) if isinstance(arg, str)}
    assert strings == {"vertex_jobs.providers", class_name}


@pytest.mark.parametrize("class_name", PROVIDER_CLASSES)
def test_a_serialized_provider_unpickles_in_a_fresh_process_in_the_project_root(class_name):
    cls = getattr(importlib.import_module("vertex_jobs.providers"), class_name)
    loaded = _unpickle_in_a_fresh_host_process(serialize_provider(cls()))
    _assert_loaded_as(loaded, class_name)


@pytest.mark.parametrize("class_name", PROVIDER_CLASSES)
def test_providers_recorded_in_existing_state_still_unpickle(class_name):
    """`__provider` values already in state files must keep loading, even once a newer dill
    or Python writes different bytes: refresh and destroy of existing stacks depend on it."""
    loaded = _unpickle_in_a_fresh_host_process(RECORDED_STATE_PAYLOADS[class_name])
    _assert_loaded_as(loaded, class_name)


# ---- type tokens (in every URN) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("constant", "resource", "token"),
    [
        ("CUSTOM_JOB_TYPE", "CustomJob", "pulumi-python:dynamic/vtrain/jobs:CustomJob"),
        (
            "HYPERPARAMETER_TUNING_JOB_TYPE",
            "HyperparameterTuningJob",
            "pulumi-python:dynamic/vtrain/jobs:HyperparameterTuningJob",
        ),
    ],
)
def test_type_tokens_are_pinned(constant, resource, token):
    """A new token is a new resource type: the engine would replace every job."""
    assert getattr(importlib.import_module("vertex_jobs.contract"), constant) == token
    cls = getattr(importlib.import_module("vertex_jobs.resources"), resource)
    assert f"pulumi-python:{cls._resource_type_name}" == token


# ---- input and output keys (the props old state holds) ----------------------------------


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        (
            "COMMON_INPUTS",
            {
                "project",
                "region",
                "api_endpoint",
                "emulator_host",
                "display_name",
                "labels",
                "job_spec",
                "encryption_kms_key",
                "wait",
                "resource_key",
            },
        ),
        (
            "TUNING_INPUTS",
            {"study_spec", "max_trial_count", "parallel_trial_count", "max_failed_trial_count"},
        ),
        (
            "COMMON_OUTPUTS",
            {
                "resource_uid",
                "name",
                "job_id",
                "state",
                "console_url",
                "logs_url",
                "create_time",
                "start_time",
                "end_time",
                "error",
            },
        ),
        ("TUNING_OUTPUTS", {"best_trial", "trials", "pareto_trials"}),
    ],
)
def test_input_and_output_keys_are_pinned(name, keys):
    """Old state holds these keys as the job's props, and refresh/destroy/diff read them with
    the code checked out now: removing or renaming a key breaks reading old state (a missing
    key reads as None: a changed input and a replaced job, or a failing refresh). Add keys
    only, as optional ones, and extend these sets."""
    assert set(getattr(importlib.import_module("vertex_jobs.contract"), name)) == keys


def test_the_resource_uid_label_is_pinned():
    """Live jobs carry this label; `create` adopts by it and `diff` ignores it. Renamed, every
    existing job's labels would differ from the new ones: each would be replaced."""
    contract = importlib.import_module("vertex_jobs.contract")
    assert contract.RESOURCE_UID_LABEL == "vtrain_resource_uid"


# ---- serialization and resources -------------------------------------------------------


@pytest.mark.parametrize("provider", [CustomJobProvider(), HyperparameterTuningJobProvider()])
def test_provider_pickles_by_reference_with_nothing_process_bound(provider):
    payload = base64.b64decode(serialize_provider(provider))
    strings = {str(arg) for _, arg, _ in pickletools.genops(payload) if isinstance(arg, str)}
    assert "vertex_jobs.providers" in strings
    assert type(provider).__name__ in strings
    forbidden = ("Client", "Channel", "channel", "Lock", "lock", "Config", "Transport")
    assert not [s for s in strings if any(word in s for word in forbidden)], strings
    clone = dill.loads(payload)
    assert type(clone) is type(provider) and vars(clone) == {}


def test_importing_the_resources_does_not_load_the_vertex_client():
    code = "import sys, vertex_jobs.resources;print('google.cloud.aiplatform_v1' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_DIR
    )
    assert result.stdout.split() == ["False"]


def test_resource_classes_carry_their_type_tokens():
    assert CUSTOM_JOB_TYPE == "pulumi-python:dynamic/vtrain/jobs:CustomJob"
    assert f"pulumi-python:{CustomJob._resource_type_name}" == CUSTOM_JOB_TYPE
    assert (
        f"pulumi-python:{HyperparameterTuningJob._resource_type_name}"
        == HYPERPARAMETER_TUNING_JOB_TYPE
    )


def test_resource_args_reject_unknown_keys_and_fill_every_input():
    from vertex_jobs.resources import _props

    props = _props({"project": "p", "labels": None}, COMMON_INPUTS)
    assert set(props) == set(COMMON_INPUTS) and props["labels"] == {}
    with pytest.raises(TypeError, match="job_specs"):
        _props({"job_specs": {}}, COMMON_INPUTS)
