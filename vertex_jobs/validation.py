"""The job providers' `check`: every input validated, each failure naming its property.

Values unknown at preview are skipped here and checked again at `up`. Google's patterns and
rules come from `config.catalogue`, the same ones the stack config is validated against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi.dynamic import CheckFailure

from config import catalogue
from vertex_jobs.contract import RESOURCE_UID_LABEL, TUNING_INPUTS
from vertex_jobs.proto import contains_unknown, is_int, parse_proto_json

Fail = Callable[[str, str], None]


def check_common(props: dict[str, Any], failures: list[CheckFailure]) -> None:
    def fail(prop: str, reason: str) -> None:
        failures.append(CheckFailure(prop, reason))

    def known(key: str) -> bool:
        return not contains_unknown(props.get(key))

    project = props.get("project")
    if known("project") and not (
        isinstance(project, str)
        and (
            catalogue.PROJECT_ID_PATTERN.match(project)
            or catalogue.PROJECT_NUMBER_PATTERN.match(project)
        )
    ):
        fail("project", f"must be a GCP project id like 'my-project-123', got {project!r}")
    region = props.get("region")
    if known("region") and region not in catalogue.VERTEX_AI_REGIONS:
        fail("region", f"must be a Vertex AI region like 'us-central1', got {region!r}")
    endpoint = props.get("api_endpoint")
    if known("api_endpoint") and endpoint is not None:
        if not (isinstance(endpoint, str) and catalogue.API_ENDPOINT_PATTERN.match(endpoint)):
            fail("api_endpoint", f"must be None or a host[:port], got {endpoint!r}")
    emulator = props.get("emulator_host")
    if known("emulator_host") and emulator is not None:
        if not (isinstance(emulator, str) and catalogue.API_ENDPOINT_PATTERN.match(emulator)):
            fail("emulator_host", f"must be None or a host:port, got {emulator!r}")
    name = props.get("display_name")
    if known("display_name") and not (
        isinstance(name, str) and 1 <= len(name) <= catalogue.DISPLAY_NAME_MAX_LENGTH
    ):
        fail("display_name", f"must be a string of 1 to 128 characters, got {name!r}")
    kms = props.get("encryption_kms_key")
    if known("encryption_kms_key") and kms is not None:
        if not (isinstance(kms, str) and catalogue.KMS_KEY_PATTERN.match(kms)):
            fail(
                "encryption_kms_key",
                "must be None or projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>, "
                f"got {kms!r}",
            )
    key = props.get("resource_key")
    if known("resource_key") and key is not None and not (isinstance(key, str) and key):
        fail("resource_key", f"must be None or '<project>/<stack>/<resource name>', got {key!r}")
    if known("labels"):
        _check_labels(props.get("labels"), fail)
    if known("wait"):
        _check_wait(props.get("wait"), fail)
    if known("job_spec"):
        _check_job_spec(props.get("job_spec"), "job_spec", fail)


def _check_labels(labels: Any, fail: Fail) -> None:
    if not isinstance(labels, dict):
        fail("labels", f"must be a map of string to string, got {type(labels).__name__}")
        return
    own = sum(1 for key in labels if key != RESOURCE_UID_LABEL)
    if own > catalogue.MAX_LABELS - 1:  # one is the resource-uid label
        fail(
            "labels",
            f"at most {catalogue.MAX_LABELS - 1} labels allowed (one is reserved), got {own}",
        )
    for key, value in labels.items():
        if key == RESOURCE_UID_LABEL:
            continue  # stamped by check; its value is validated where it is set
        problem = catalogue.label_problem(key, value)  # check_common skips unknown labels
        if problem:
            fail(f"labels.{key}", problem)


def _check_wait(wait: Any, fail: Fail) -> None:
    if wait is None:
        return
    if not isinstance(wait, dict) or set(wait) - {"until_terminal", "timeout_seconds"}:
        fail("wait", "must be None or {'until_terminal': bool, 'timeout_seconds': int}")
        return
    if not isinstance(wait.get("until_terminal", False), bool):
        fail("wait.until_terminal", f"must be a bool, got {wait.get('until_terminal')!r}")
    timeout = wait.get("timeout_seconds", 600)
    if not (is_int(timeout) and 1 <= timeout <= 86400):
        fail("wait.timeout_seconds", f"must be an int from 1 to 86400, got {timeout!r}")


def _check_job_spec(spec: Any, prop: str, fail: Fail) -> None:
    try:
        parsed = parse_proto_json("CustomJobSpec", spec)
    except Exception as exc:  # noqa: BLE001 - json_format raises ParseError/ValueError/TypeError
        fail(prop, f"not a valid CustomJobSpec (proto3 JSON): {exc}")
        return
    if not parsed.worker_pool_specs:
        fail(f"{prop}.worker_pool_specs", "at least one worker pool is required")
    for index, pool in enumerate(parsed.worker_pool_specs):
        where = f"{prop}.worker_pool_specs[{index}]"
        if index > 0 and pool.ByteSize() == 0:
            continue  # an empty pool is how Vertex spells "no workers in this role"
        if not pool.machine_spec.machine_type:
            fail(f"{where}.machine_spec.machine_type", "required")
        if not (pool.container_spec.image_uri or pool.python_package_spec.executor_image_uri):
            fail(f"{where}.container_spec.image_uri", "required")
        if pool.replica_count < 1:
            fail(f"{where}.replica_count", f"must be at least 1, got {pool.replica_count}")


def check_tuning(props: dict[str, Any], failures: list[CheckFailure]) -> None:
    def fail(prop: str, reason: str) -> None:
        failures.append(CheckFailure(prop, reason))

    counts = {key: props.get(key) for key in TUNING_INPUTS if key != "study_spec"}
    for key, value in counts.items():
        minimum = 0 if key == "max_failed_trial_count" else 1
        if not contains_unknown(value) and not (is_int(value) and value >= minimum):
            fail(key, f"must be an int >= {minimum}, got {value!r}")
    if all(is_int(value) for value in counts.values()):
        for key, problem in catalogue.trial_count_problems(counts):
            fail(key, problem)
    spec = props.get("study_spec")
    if contains_unknown(spec):
        return
    try:
        study = parse_proto_json("StudySpec", spec)
    except Exception as exc:  # noqa: BLE001
        fail("study_spec", f"not a valid StudySpec (proto3 JSON): {exc}")
        return
    if not study.metrics:
        fail("study_spec.metrics", "at least one metric {metric_id, goal} is required")
    for index, metric in enumerate(study.metrics):
        if not metric.metric_id:
            fail(f"study_spec.metrics[{index}].metric_id", "required")
        if metric.goal == 0:
            fail(f"study_spec.metrics[{index}].goal", "must be MAXIMIZE or MINIMIZE")
    if not study.parameters:
        fail("study_spec.parameters", "at least one parameter is required")
