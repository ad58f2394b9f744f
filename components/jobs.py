"""The stack's Vertex AI jobs: each configured job becomes a CustomJob or tuning job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import child_options
from config.cost import accelerator_hours
from config.jobs import Job
from vertex_jobs.contract import SUMMARY_OUTPUTS, TUNING_OUTPUTS
from vertex_jobs.resources import (
    CustomJob,
    CustomJobArgs,
    HyperparameterTuningJob,
    HyperparameterTuningJobArgs,
)
from vertex_jobs.specs import job_spec, study_spec


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
    # The local stack's Vertex AI emulator (host:port); None: Google's JobService.
    emulator_host: str | None = None
    kms_key_name: str | None = None
    # The stack's persistent resource, for jobs with `persistentResource: true`.
    persistent_resource_id: pulumi.Input[str] | None = None


class TrainingJobs(pulumi.ComponentResource):
    """Launches the stack's jobs on Vertex AI, tied to the stack's lifecycle.

    `pulumi up` submits each job (image by digest, the training service account, outputs
    under `gs://<output bucket>/jobs/<job name>/`); `pulumi refresh` reads its state (and,
    for tuning jobs, every trial and the best one); `pulumi destroy` cancels and deletes it.
    Inputs: see `TrainingJobsArgs`.
    Outputs: `jobs`, by job name: `vertex_jobs.contract.SUMMARY_OUTPUTS`, and for tuning
    jobs `TUNING_OUTPUTS` (the best trial, or the Pareto-optimal ones, and a summary of each
    trial); `accelerator_hours`, a plain value known at preview: `{total, byJob}`, each job's
    worst case (`config.cost`).
    Creates: one `CustomJob` or `HyperparameterTuningJob` dynamic resource per job.
    """

    jobs: pulumi.Output[dict[str, Any]]
    accelerator_hours: dict[str, Any]

    def __init__(
        self, name: str, args: TrainingJobsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:jobs:TrainingJobs", name, None, opts)
        self._child_opts = child_options(self, opts)
        self.resources: dict[str, CustomJob | HyperparameterTuningJob] = {
            job.name: self._launch(job, args) for job in args.jobs
        }
        self.jobs = pulumi.Output.all(
            **{job_name: _summary(resource) for job_name, resource in self.resources.items()}
        )
        self.accelerator_hours = accelerator_hours(args.jobs)
        self.register_outputs({"jobs": self.jobs, "acceleratorHours": self.accelerator_hours})

    def _launch(self, job: Job, args: TrainingJobsArgs) -> CustomJob | HyperparameterTuningJob:
        common: dict[str, Any] = {
            "project": args.project,
            "region": args.region,
            "api_endpoint": args.api_endpoint,
            "emulator_host": args.emulator_host,
            "display_name": job.name,
            "labels": {**args.labels, **job.labels, "vtrain-job": job.name},
            "job_spec": job_spec(
                job,
                image_uri=pulumi.Output.from_input(args.image_digests).apply(
                    lambda digests: digests[job.image]
                ),
                service_account=args.service_account,
                output_uri_prefix=pulumi.Output.concat(
                    "gs://", args.output_bucket, f"/jobs/{job.name}/"
                ),
                default_data=args.default_data,
                persistent_resource_id=args.persistent_resource_id,
            ),
            "encryption_kms_key": args.kms_key_name,
            "wait": job.wait.model_dump() if job.wait else None,
        }
        if job.study is None:
            return CustomJob(job.name, CustomJobArgs(**common), opts=self._child_opts)
        return HyperparameterTuningJob(
            job.name,
            HyperparameterTuningJobArgs(
                **common,
                study_spec=study_spec(job.study),
                max_trial_count=job.study.max_trial_count,
                parallel_trial_count=job.study.parallel_trial_count,
                max_failed_trial_count=job.study.max_failed_trial_count,
            ),
            opts=self._child_opts,
        )


def _summary(resource: CustomJob | HyperparameterTuningJob) -> pulumi.Output[dict[str, Any]]:
    keys = list(SUMMARY_OUTPUTS)
    if isinstance(resource, HyperparameterTuningJob):
        keys += TUNING_OUTPUTS
    return pulumi.Output.all(**{key: getattr(resource, key) for key in keys})
