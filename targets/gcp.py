"""The `gcp` target: one environment's Vertex AI training platform in one Google Cloud region."""

import pulumi
import pulumi_gcp as gcp

from components.dataset import SampleDataset, SampleDatasetArgs
from components.encryption import KeyAccess, KeyAccessArgs
from components.iam import TrainingIdentity, TrainingIdentityArgs
from components.images import ImageBuild, TrainingImages, TrainingImagesArgs
from components.jobs import TrainingJobs, TrainingJobsArgs
from components.persistent_resource import TrainingCluster, TrainingClusterArgs
from components.registry import ImageRepository, ImageRepositoryArgs
from components.services import ProjectServices, ProjectServicesArgs
from components.storage import TrainingBuckets, TrainingBucketsArgs
from config.apps import PROJECT_DIR, SAMPLE_DATA_DIR
from config.settings import StackSettings


def build(settings: StackSettings) -> None:
    # An explicit provider pins project and region, so ambient gcloud settings cannot leak in.
    provider = gcp.Provider("gcp", project=settings.project, region=settings.region)
    services = ProjectServices(
        "services",
        ProjectServicesArgs(project=settings.project, uses_cmek=bool(settings.kms_key_name)),
        opts=pulumi.ResourceOptions(providers=[provider]),
    )
    after_services = pulumi.ResourceOptions(providers=[provider], depends_on=[services])
    project_number = gcp.organizations.get_project_output(
        project_id=settings.project, opts=pulumi.InvokeOutputOptions(provider=provider)
    ).number

    encryption_ready = []
    if settings.kms_key_name:
        encryption_ready.append(
            KeyAccess(
                "cmek",
                KeyAccessArgs(project=settings.project, kms_key_name=settings.kms_key_name),
                opts=after_services,
            )
        )
    encrypted_opts = pulumi.ResourceOptions.merge(
        after_services, pulumi.ResourceOptions(depends_on=encryption_ready)
    )

    repository = ImageRepository(
        "repository",
        ImageRepositoryArgs(
            project=settings.project,
            region=settings.region,
            repository_id=settings.repository_id,
            keep_recent_versions=settings.keep_recent_versions,
            delete_untagged_after_days=settings.delete_untagged_after_days,
            immutable_tags=settings.immutable_tags,
            kms_key_name=settings.kms_key_name,
            labels=settings.common_labels,
        ),
        opts=encrypted_opts,
    )

    buckets = TrainingBuckets(
        "buckets",
        TrainingBucketsArgs(
            project=settings.project,
            region=settings.region,
            data_bucket_name=settings.bucket_name("data"),
            output_bucket_name=settings.bucket_name("output"),
            access_log_bucket_name=settings.bucket_name("access-logs"),
            lifecycle=settings.buckets,
            force_destroy=settings.force_destroy,
            grant_storage_analytics_writer=settings.grant_storage_analytics_writer,
            kms_key_name=settings.kms_key_name,
            labels=settings.common_labels,
        ),
        opts=encrypted_opts,
    )

    identity = TrainingIdentity(
        "training",
        TrainingIdentityArgs(
            project=settings.project,
            project_number=project_number,
            account_id=settings.training_account_id,
            data_bucket=buckets.data_bucket,
            output_bucket=buckets.output_bucket,
            region=settings.region,
            repository_name=repository.repository_name,
            grant_service_agent_registry_read=settings.grant_service_agent_registry_read,
            deployers=settings.job_submitters,
        ),
        opts=after_services,
    )

    sample_data: dict[str, pulumi.Output[str]] = {}
    data_ready: list[pulumi.Resource] = []
    if settings.upload_sample_data:
        sample = SampleDataset(
            "sample-data",
            SampleDatasetArgs(bucket=buckets.data_bucket, source_dir=SAMPLE_DATA_DIR),
            opts=after_services,
        )
        sample_data = {"train-data": sample.train_uri, "val-data": sample.val_uri}
        data_ready.append(sample)
        pulumi.export("sampleTrainDataUri", sample.train_uri)
        pulumi.export("sampleValDataUri", sample.val_uri)

    images = TrainingImages(
        "images",
        TrainingImagesArgs(
            repository_url=repository.repository_url,
            images=[ImageBuild.of(name) for name in settings.images],
            project_dir=PROJECT_DIR,
            # "docker-config": no token; the host's credential helper answers at push time.
            access_token=(
                gcp.organizations.get_client_config_output(
                    opts=pulumi.InvokeOutputOptions(provider=provider)
                ).access_token
                if settings.registry_auth == "token"
                else None
            ),
        ),
        # Push only once the repository exists and the training identity can read it.
        opts=pulumi.ResourceOptions(
            providers=[provider], depends_on=[repository, *identity.job_prerequisites]
        ),
    )

    # Optional: machines held for jobs with `persistentResource: true` (billed while it exists).
    cluster = None
    if settings.persistent_resource:
        cluster = TrainingCluster(
            "persistent-resource",
            TrainingClusterArgs(
                project=settings.project,
                region=settings.region,
                resource_id=settings.persistent_resource.resource_id(settings.stack),
                settings=settings.persistent_resource,
                kms_key_name=settings.kms_key_name,
                labels=settings.common_labels,
            ),
            opts=encrypted_opts,
        )

    jobs = TrainingJobs(
        "jobs",
        TrainingJobsArgs(
            project=settings.project,
            region=settings.region,
            jobs=settings.jobs,
            image_digests=images.repo_digests,
            service_account=identity.email,
            output_bucket=buckets.output_bucket,
            default_data=sample_data,
            labels=settings.common_labels,
            api_endpoint=settings.api_endpoint,
            kms_key_name=settings.kms_key_name,
            persistent_resource_id=cluster.resource_id if cluster else None,
        ),
        # The job may start at once: its data, its bucket grants and its image must exist.
        opts=pulumi.ResourceOptions(
            depends_on=[*identity.job_prerequisites, images, *data_ready, *encryption_ready]
        ),
    )

    pulumi.export("project", settings.project)
    pulumi.export("region", settings.region)
    pulumi.export("repositoryUrl", repository.repository_url)
    pulumi.export("dataBucket", buckets.data_bucket)
    pulumi.export("dataBucketUri", buckets.data_uri)
    pulumi.export("outputBucket", buckets.output_bucket)
    pulumi.export("outputBucketUri", buckets.output_uri)
    pulumi.export("accessLogBucket", buckets.access_log_bucket)
    pulumi.export("trainingServiceAccount", identity.email)
    pulumi.export("images", images.image_names)
    pulumi.export("imageDigests", images.repo_digests)
    pulumi.export("jobs", jobs.jobs)
    pulumi.export("acceleratorHours", jobs.accelerator_hours)
