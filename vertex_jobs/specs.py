"""The stack config's jobs as Vertex AI request bodies: CustomJobSpec and StudySpec.

Proto3 JSON with the proto's snake_case names; values may be `pulumi.Output`s (the image
digest and the service account are known only after their resources exist).
"""

from __future__ import annotations

from typing import Any

import pulumi

from config import apps, catalogue
from config.jobs import Job, WorkerPool
from config.study import Parameter, Study, StudyStopping

SCALE_TYPES = {
    "linear": "UNIT_LINEAR_SCALE",
    "log": "UNIT_LOG_SCALE",
    "reverse-log": "UNIT_REVERSE_LOG_SCALE",
}
ALGORITHMS = {"default": "ALGORITHM_UNSPECIFIED", "grid": "GRID_SEARCH", "random": "RANDOM_SEARCH"}
MEASUREMENT_SELECTION = {"last": "LAST_MEASUREMENT", "best": "BEST_MEASUREMENT"}
EARLY_STOPPING_RULES = {
    "decay-curve": "decay_curve_stopping_spec",
    "median": "median_automated_stopping_spec",
}
# ConditionalParameterSpec's `parent_value_condition` oneof, by the parent's type.
PARENT_CONDITIONS = {
    "discrete": "parent_discrete_values",
    "integer": "parent_int_values",
    "categorical": "parent_categorical_values",
}
STOPPING_COUNTS = {
    "min_trials": "min_num_trials",
    "max_trials": "max_num_trials",
    "max_trials_no_progress": "max_num_trials_no_progress",
}


def trainer_args(job: Job, default_data: dict[str, pulumi.Input[str]]) -> list[Any]:
    """Command-line flags for the app: sample data URIs, then the job's fixed arguments."""
    app, _ = apps.image_app(job.image)
    values: dict[str, Any] = {
        flag: default_data[flag] for flag in apps.sample_data_flags(app) if flag in default_data
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
    persistent_resource_id: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """The CustomJobSpec (proto3 JSON) of a job; a tuning job's trial job spec.

    `persistent_resource_id`: the stack's persistent resource, for a job that runs on it.
    Fields left at their default are left out, so adding a feature changes no existing spec."""
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
    if job.disable_retries:
        scheduling["disable_retries"] = True
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
    return _with_job_features(job, spec, persistent_resource_id)


def _with_job_features(
    job: Job, spec: dict[str, Any], persistent_resource_id: pulumi.Input[str] | None
) -> dict[str, Any]:
    """Persistent resource, PSC interface, dashboard, experiment, then `specOverrides` last."""
    from vertex_jobs.overrides import checked_overrides, merged

    if job.persistent_resource:
        if persistent_resource_id is None:
            raise ValueError(f"job {job.name!r} runs on the persistent resource; pass its ID")
        spec["persistent_resource_id"] = persistent_resource_id
    if job.psc_interface_config:
        spec["psc_interface_config"] = {
            "network_attachment": job.psc_interface_config.network_attachment
        }
    if job.enable_dashboard_access:
        spec["enable_dashboard_access"] = True
    if job.experiment:
        spec["experiment"] = job.experiment
    if job.experiment_run:
        spec["experiment_run"] = job.experiment_run
    if not job.spec_overrides:
        return spec
    return merged(spec, checked_overrides(job.spec_overrides))


def _pool_spec(pool: WorkerPool, container: dict[str, Any]) -> dict[str, Any]:
    machine: dict[str, Any] = {"machine_type": pool.machine_type}
    if pool.accelerator_type:
        machine["accelerator_type"] = pool.accelerator_type
        machine["accelerator_count"] = pool.accelerator_count
    if pool.tpu_topology:
        machine["tpu_topology"] = pool.tpu_topology
    if pool.reservation_affinity:
        affinity = pool.reservation_affinity
        machine["reservation_affinity"] = {
            "reservation_affinity_type": catalogue.RESERVATION_AFFINITY_TYPES[affinity.type],
            **({"key": affinity.key, "values": list(affinity.values)} if affinity.key else {}),
        }
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
    spec: dict[str, Any] = {
        "metrics": [{"metric_id": metric.id, "goal": metric.goal} for metric in study.objectives],
        "parameters": [_parameter_spec(parameter) for parameter in study.parameters],
        "algorithm": ALGORITHMS[study.algorithm],
        "measurement_selection_type": MEASUREMENT_SELECTION[study.measurement_selection],
    }
    if study.early_stopping:
        # One of StudySpec's `automated_stopping_spec` oneof.
        rule = EARLY_STOPPING_RULES[study.early_stopping.rule]
        spec[rule] = {"use_elapsed_duration": study.early_stopping.use_elapsed_duration}
    if study.stopping:
        spec["study_stopping_config"] = _study_stopping_config(study.stopping)
    return spec


def _study_stopping_config(stopping: StudyStopping) -> dict[str, Any]:
    """StudyStoppingConfig: its counts are Int32Value and its flag a BoolValue, which proto3
    JSON writes as the bare value; durations as "<seconds>s"."""
    config: dict[str, Any] = {"should_stop_asap": stopping.should_stop_asap}
    for key, field in (
        ("min_runtime", "minimum_runtime_constraint"),
        ("max_runtime", "maximum_runtime_constraint"),
    ):
        seconds = stopping.seconds(key)
        if seconds is not None:
            config[field] = {"max_duration": f"{seconds}s"}
    for key, field in STOPPING_COUNTS.items():
        value = getattr(stopping, key)
        if value is not None:
            config[field] = value
    seconds = stopping.seconds("max_duration_no_progress")
    if seconds is not None:
        config["max_duration_no_progress"] = f"{seconds}s"
    return config


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
    if parameter.conditional:
        spec["conditional_parameter_specs"] = [
            {
                PARENT_CONDITIONS[parameter.type]: {
                    "values": [_parent_value(parameter, v) for v in child.parent_values]
                },
                "parameter_spec": _parameter_spec(child.parameter),
            }
            for child in parameter.conditional
        ]
    return spec


def _parent_value(parent: Parameter, value: float | str) -> float | str:
    if parent.type == "integer":
        return str(int(value))  # IntValueCondition.values: int64, a string in proto3 JSON
    return float(value) if parent.type == "discrete" else str(value)
