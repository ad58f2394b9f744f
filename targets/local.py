"""The `local` target (README "Train on this machine"): no Google resource at all.

The buckets and the sample data go to the emulator's Cloud Storage, the apps run from source
(no image is built) and the jobs go to the Vertex AI emulator, which runs them as processes.
"""

import pulumi

from components.images import ImageBuild
from components.jobs import TrainingJobs, TrainingJobsArgs
from components.local_storage import LocalStorage, LocalStorageArgs
from config.apps import PROJECT_DIR, SAMPLE_DATA_DIR
from config.settings import StackSettings


def build(settings: StackSettings) -> None:
    storage = LocalStorage(
        "storage",
        LocalStorageArgs(
            storage_host=settings.storage_emulator_host,
            project=settings.project,
            region=settings.region,
            data_bucket_name=settings.bucket_name("data"),
            output_bucket_name=settings.bucket_name("output"),
            project_dir=PROJECT_DIR,
            sample_data_dir=SAMPLE_DATA_DIR if settings.upload_sample_data else None,
            force_destroy=settings.force_destroy,
            labels=settings.common_labels,
        ),
    )
    local_data = (
        {"train-data": storage.train_uri, "val-data": storage.val_uri}
        if settings.upload_sample_data
        else {}
    )
    local_images = {name: ImageBuild.of(name).local_uri for name in settings.images}
    local_jobs = TrainingJobs(
        "jobs",
        TrainingJobsArgs(
            project=settings.project,
            region=settings.region,
            jobs=settings.jobs,
            image_digests=local_images,
            service_account="",  # none: the emulator runs jobs as the user who started it
            output_bucket=storage.output_bucket,
            default_data=local_data,
            labels=settings.common_labels,
            emulator_host=settings.emulator_host,
        ),
        opts=pulumi.ResourceOptions(depends_on=[storage]),
    )

    pulumi.export("project", settings.project)
    pulumi.export("region", settings.region)
    pulumi.export(
        "emulator", {"vertex": settings.emulator_host, "storage": settings.storage_emulator_host}
    )
    pulumi.export("dataBucket", storage.data_bucket)
    pulumi.export("dataBucketUri", storage.data_uri)
    pulumi.export("outputBucket", storage.output_bucket)
    pulumi.export("outputBucketUri", storage.output_uri)
    if settings.upload_sample_data:
        pulumi.export("sampleTrainDataUri", storage.train_uri)
        pulumi.export("sampleValDataUri", storage.val_uri)
    pulumi.export("images", local_images)
    pulumi.export("jobs", local_jobs.jobs)
    pulumi.export("acceleratorHours", local_jobs.accelerator_hours)
