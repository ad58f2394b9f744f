"""The training buckets: data, job output, and the access-log bucket both log into."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components import child_options
from config.settings import BucketLifecycle, BucketsSettings

# What a bucket is for (data, output, access-logs); the policy pack's IAM rules read it.
BUCKET_ROLE_LABEL = "vtrain-bucket-role"
# Google's usage-log writer must be able to create objects in the log bucket.
STORAGE_ANALYTICS_WRITER = "group:cloud-storage-analytics@google.com"


@dataclass(frozen=True)
class TrainingBucketsArgs:
    project: str
    region: str
    data_bucket_name: str
    output_bucket_name: str
    access_log_bucket_name: str
    lifecycle: BucketsSettings  # per bucket, straight from the stack config
    force_destroy: bool = False
    grant_storage_analytics_writer: bool = True
    kms_key_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


class TrainingBuckets(pulumi.ComponentResource):
    """Three REGIONAL buckets in the stack's region.

    Every bucket: uniform bucket-level access, public access prevention `enforced`,
    lifecycle rules from config, `force_destroy` only where the stack allows, optional CMEK,
    a `vtrain-bucket-role` label. Data and output are versioned and send access logs to
    the access-log bucket, which never logs into itself.
    Inputs: see `TrainingBucketsArgs`.
    Outputs: `data_bucket`, `output_bucket`, `access_log_bucket` (names) and their `gs://` URIs.
    Creates: three `gcp.storage.Bucket`, one `gcp.storage.BucketIAMMember` (log writer).
    """

    data_bucket: pulumi.Output[str]
    output_bucket: pulumi.Output[str]
    access_log_bucket: pulumi.Output[str]
    data_uri: pulumi.Output[str]
    output_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingBucketsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:storage:TrainingBuckets", name, None, opts)
        self._child_opts = child_options(self, opts)
        self._args = args
        self.access_logs = self._bucket(
            f"{name}-access-logs",
            "access-logs",
            args.access_log_bucket_name,
            args.lifecycle.access_logs,
            versioned=False,
            log_bucket=None,
        )
        # Usage-log delivery writes as this Google group (cloud.google.com/storage/docs/
        # access-logs). Domain-restricted sharing (constraints/iam.allowedPolicyMemberDomains)
        # rejects it, as it is outside the organization's customer IDs: hence the switch.
        self.log_writer = (
            gcp.storage.BucketIAMMember(
                f"{name}-access-logs-writer",
                bucket=self.access_logs.name,
                role="roles/storage.objectCreator",
                member=STORAGE_ANALYTICS_WRITER,
                opts=self._child_opts,
            )
            if args.grant_storage_analytics_writer
            else None
        )
        self.data = self._bucket(
            f"{name}-data",
            "data",
            args.data_bucket_name,
            args.lifecycle.data,
            versioned=True,
            log_bucket=self.access_logs.name,
        )
        self.output = self._bucket(
            f"{name}-output",
            "output",
            args.output_bucket_name,
            args.lifecycle.output,
            versioned=True,
            log_bucket=self.access_logs.name,
        )
        self.data_bucket = self.data.name
        self.output_bucket = self.output.name
        self.access_log_bucket = self.access_logs.name
        self.data_uri = self.data.name.apply(lambda bucket: f"gs://{bucket}")
        self.output_uri = self.output.name.apply(lambda bucket: f"gs://{bucket}")
        self.register_outputs(
            {
                "data_bucket": self.data_bucket,
                "output_bucket": self.output_bucket,
                "access_log_bucket": self.access_log_bucket,
                "data_uri": self.data_uri,
                "output_uri": self.output_uri,
            }
        )

    def _bucket(
        self,
        resource_name: str,
        role: str,
        bucket_name: str,
        lifecycle: BucketLifecycle,
        versioned: bool,
        log_bucket: pulumi.Output[str] | None,
    ) -> gcp.storage.Bucket:
        args = self._args
        return gcp.storage.Bucket(
            resource_name,
            name=bucket_name,
            project=args.project,
            location=args.region,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=versioned),
            lifecycle_rules=lifecycle_rules(lifecycle),
            logging=(
                gcp.storage.BucketLoggingArgs(log_bucket=log_bucket, log_object_prefix=role)
                if log_bucket is not None
                else None
            ),
            encryption=(
                gcp.storage.BucketEncryptionArgs(default_kms_key_name=args.kms_key_name)
                if args.kms_key_name
                else None
            ),
            force_destroy=args.force_destroy,
            labels={**args.labels, BUCKET_ROLE_LABEL: role},
            opts=self._child_opts,
        )


def lifecycle_rules(lifecycle: BucketLifecycle) -> list[gcp.storage.BucketLifecycleRuleArgs]:
    """Delete rules for noncurrent versions (by count and by age) and for old live objects."""
    delete = gcp.storage.BucketLifecycleRuleActionArgs(type="Delete")
    conditions = []
    if lifecycle.noncurrent_versions_to_keep is not None:
        conditions.append(
            gcp.storage.BucketLifecycleRuleConditionArgs(
                with_state="ARCHIVED", num_newer_versions=lifecycle.noncurrent_versions_to_keep
            )
        )
    if lifecycle.noncurrent_version_age_days is not None:
        conditions.append(
            gcp.storage.BucketLifecycleRuleConditionArgs(
                with_state="ARCHIVED",
                days_since_noncurrent_time=lifecycle.noncurrent_version_age_days,
            )
        )
    if lifecycle.delete_after_days is not None:
        conditions.append(
            gcp.storage.BucketLifecycleRuleConditionArgs(
                with_state="ANY", age=lifecycle.delete_after_days
            )
        )
    return [
        gcp.storage.BucketLifecycleRuleArgs(action=delete, condition=condition)
        for condition in conditions
    ]
