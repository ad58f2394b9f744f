"""The stack's Vertex AI jobs: each configured job becomes a CustomJob or tuning job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import child_options
from components.vertex_jobs import (
    CustomJob,
    CustomJobArgs,
    HyperparameterTuningJob,
    HyperparameterTuningJobArgs,
)
from jobs_config import TRAINER_DATA_FLAGS, Job, Parameter, Study, WorkerPool

SCALE_TYPES = {
    "linear": "UNIT_LINEAR_SCALE",
    "log": "UNIT_LOG_SCALE",
    "reverse-log": "UNIT_REVERSE_LOG_SCALE",
}
ALGORITHMS = {"default": "ALGORITHM_UNSPECIFIED", "grid": "GRID_SEARCH", "random": "RANDOM_SEARCH"}
MEASUREMENT_SELECTION = {"last": "LAST_MEASUREMENT", "best": "BEST_MEASUREMENT"}


@dataclass(frozen=True)
class TrainingJobsArgs:
    project: str
    region: str
    jobs: list[Job]
    image_digests: pulumi.Input[dict[str, str]]  # flavour -> repo digest
    service_account: pulumi.Input[str]
    output_bucket: pulumi.Input[str]
    # Trainer flag -> gs:// URI, used where a job does not set the flag itself.
    default_data: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    api_endpoint: str | None = None
    kms_key_name: str | None = None


class TrainingJobs(pulumi.ComponentResource):
    """Launches the stack's jobs on Vertex AI, tied to the stack's lifecycle.

    `pulumi up` submits each job (image by digest, the training service account, outputs
    under `gs://<output bucket>/jobs/<job name>/`); `pulumi refresh` reads its state (and,
    for tuning jobs, every trial and the best one); `pulumi destroy` cancels and deletes it.
    Inputs: see `TrainingJobsArgs`.
    Outputs: `jobs`, by job name: resource name, state, console URL, error, and for tuning
    jobs the best trial and a summary of each trial.
    Creates: one `CustomJob` or `HyperparameterTuningJob` dynamic resource per job.
    """

    jobs: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, args: TrainingJobsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:jobs:TrainingJobs", name, None, opts)
        self._child = child_options(self, opts)
        self.resources: dict[str, CustomJob | HyperparameterTuningJob] = {
            job.name: self._launch(job, args) for job in args.jobs
        }
        self.jobs = pulumi.Output.all(
            **{job_name: _summary(resource) for job_name, resource in self.resources.items()}
        )
        self.register_outputs({"jobs": self.jobs})

    def _launch(self, job: Job, args: TrainingJobsArgs) -> CustomJob | HyperparameterTuningJob:
        common: dict[str, Any] = {
            "project": args.project,
            "region": args.region,
            "api_endpoint": args.api_endpoint,
            "display_name": job.name,
            "labels": {**args.labels, **job.labels, "vtrain-job": job.name},
            "job_spec": job_spec(job, args),
            "encryption_kms_key": args.kms_key_name,
            "wait": job.wait.model_dump() if job.wait else None,
        }
        if job.study is None:
            return CustomJob(job.name, CustomJobArgs(**common), opts=self._child)
        return HyperparameterTuningJob(
            job.name,
            HyperparameterTuningJobArgs(
                **common,
                study_spec=study_spec(job.study),
                max_trial_count=job.study.max_trial_count,
                parallel_trial_count=job.study.parallel_trial_count,
                max_failed_trial_count=job.study.max_failed_trial_count,
            ),
            opts=self._child,
        )


def trainer_args(job: Job, default_data: dict[str, pulumi.Input[str]]) -> list[Any]:
    """Command-line flags for the trainer: data URIs, then the job's fixed arguments."""
    values: dict[str, Any] = {
        flag: default_data[flag] for flag in TRAINER_DATA_FLAGS if flag in default_data
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


def job_spec(job: Job, args: TrainingJobsArgs) -> dict[str, Any]:
    """The CustomJobSpec (proto3 JSON) of a job; a tuning job's trial job spec."""
    image = pulumi.Output.from_input(args.image_digests).apply(lambda digests: digests[job.image])
    container: dict[str, Any] = {
        "image_uri": image,
        "args": trainer_args(job, args.default_data),
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
        "service_account": args.service_account,
        "base_output_directory": {
            "output_uri_prefix": pulumi.Output.concat(
                "gs://", args.output_bucket, f"/jobs/{job.name}/"
            )
        },
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


def _summary(resource: CustomJob | HyperparameterTuningJob) -> pulumi.Output[dict[str, Any]]:
    fields = {
        "name": resource.name,
        "state": resource.state,
        "console_url": resource.console_url,
        "error": resource.error,
    }
    if isinstance(resource, HyperparameterTuningJob):
        fields["best_trial"] = resource.best_trial
        fields["trials"] = resource.trials
    return pulumi.Output.all(**fields)
