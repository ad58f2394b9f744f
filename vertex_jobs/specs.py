"""The stack config's jobs as Vertex AI request bodies: CustomJobSpec and StudySpec.

Proto3 JSON with the proto's snake_case names; values may be `pulumi.Output`s (the image
digest and the service account are known only after their resources exist).
"""

from __future__ import annotations

from typing import Any

import pulumi

from config import trainer
from config.jobs import Job, Parameter, Study, WorkerPool

SCALE_TYPES = {
    "linear": "UNIT_LINEAR_SCALE",
    "log": "UNIT_LOG_SCALE",
    "reverse-log": "UNIT_REVERSE_LOG_SCALE",
}
ALGORITHMS = {"default": "ALGORITHM_UNSPECIFIED", "grid": "GRID_SEARCH", "random": "RANDOM_SEARCH"}
MEASUREMENT_SELECTION = {"last": "LAST_MEASUREMENT", "best": "BEST_MEASUREMENT"}


def trainer_args(job: Job, default_data: dict[str, pulumi.Input[str]]) -> list[Any]:
    """Command-line flags for the trainer: data URIs, then the job's fixed arguments."""
    values: dict[str, Any] = {
        flag: default_data[flag] for flag in trainer.DATA_FLAGS if flag in default_data
    }
    values.update(job.args)
    return [
        pulumi.Output.concat(f"--{flag}=", _flag_value(value))
        if isinstance(value, pulumi.Output)
        else f"--{flag}={_flag_value(value)}"
        for flag, value in values.items()
    ]


def _flag_value(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    return str(value).lower() if isinstance(value, bool) else str(value)


def job_spec(
    job: Job,
    *,
    image_uri: pulumi.Input[str],
    service_account: pulumi.Input[str],
    output_uri_prefix: pulumi.Input[str],
    default_data: dict[str, pulumi.Input[str]],
) -> dict[str, Any]:
    """The CustomJobSpec (proto3 JSON) of a job; a tuning job's trial job spec."""
    container: dict[str, Any] = {
        "image_uri": image_uri,
        "args": trainer_args(job, default_data),
        "env": [{"name": key, "value": value} for key, value in sorted(job.env.items())],
    }
    if job.command:
        container["command"] = job.command
    scheduling: dict[str, Any] = {
        "timeout": f"{job.timeout_seconds}s",
        "restart_job_on_worker_restart": job.restart_job_on_worker_restart,
        "strategy": job.strategy,
    }
    if job.max_wait_seconds:
        scheduling["max_wait_duration"] = f"{job.max_wait_seconds}s"
    spec: dict[str, Any] = {
        "worker_pool_specs": [_pool_spec(pool, container) for pool in job.worker_pools],
        "scheduling": scheduling,
        "service_account": service_account,
        "base_output_directory": {"output_uri_prefix": output_uri_prefix},
        "enable_web_access": job.enable_web_access,
    }
    if job.network:
        spec["network"] = job.network
    if job.tensorboard:
        spec["tensorboard"] = job.tensorboard
    return spec


def _pool_spec(pool: WorkerPool, container: dict[str, Any]) -> dict[str, Any]:
    machine: dict[str, Any] = {"machine_type": pool.machine_type}
    if pool.accelerator_type:
        machine["accelerator_type"] = pool.accelerator_type
        machine["accelerator_count"] = pool.accelerator_count
    return {
        "machine_spec": machine,
        "replica_count": pool.replica_count,
        "disk_spec": {
            "boot_disk_type": pool.boot_disk_type,
            "boot_disk_size_gb": pool.boot_disk_size_gb,
        },
        "container_spec": container,
    }


def study_spec(study: Study) -> dict[str, Any]:
    """The StudySpec (proto3 JSON) of a tuning job."""
    return {
        "metrics": [{"metric_id": study.metric.id, "goal": study.metric.goal}],
        "parameters": [_parameter_spec(parameter) for parameter in study.parameters],
        "algorithm": ALGORITHMS[study.algorithm],
        "measurement_selection_type": MEASUREMENT_SELECTION[study.measurement_selection],
    }


def _parameter_spec(parameter: Parameter) -> dict[str, Any]:
    spec: dict[str, Any] = {"parameter_id": parameter.id}
    if parameter.type == "double":
        spec["double_value_spec"] = {"min_value": parameter.min, "max_value": parameter.max}
    elif parameter.type == "integer":
        # int64 fields are strings in proto3 JSON.
        spec["integer_value_spec"] = {
            "min_value": str(int(parameter.min or 0)),
            "max_value": str(int(parameter.max or 0)),
        }
    elif parameter.type == "discrete":
        spec["discrete_value_spec"] = {"values": [float(v) for v in parameter.values or []]}
    else:
        spec["categorical_value_spec"] = {"values": [str(v) for v in parameter.values or []]}
    if parameter.scale:
        spec["scale_type"] = SCALE_TYPES[parameter.scale]
    return spec
