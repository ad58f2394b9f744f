"""The local stack's buckets and sample data, in the emulator's Cloud Storage emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from components import child_options
from components.dataset import SAMPLE_FILES
from emulated_gcs.providers import file_sha256
from emulated_gcs.resources import EmulatedBucket, EmulatedObject


@dataclass(frozen=True)
class LocalStorageArgs:
    storage_host: str  # http://host:port of the storage emulator
    project: str
    region: str
    data_bucket_name: str
    output_bucket_name: str
    project_dir: Path  # sources are given relative to it, as the provider host runs there
    # holds train.csv and val.csv; None: no sample data (uploadSampleData false)
    sample_data_dir: Path | None = None
    sample_prefix: str = "samples/penguins"
    force_destroy: bool = False
    labels: dict[str, str] = field(default_factory=dict)


class LocalStorage(pulumi.ComponentResource):
    """The data and output buckets of a local stack, and the sample data in the data bucket.

    The same names and `gs://` URIs as a cloud stack's (`<project>-<stack>-<role>`,
    `gs://<data bucket>/samples/penguins/train.csv`), in the Cloud Storage emulator the
    Vertex AI emulator embeds, which every job replica reaches through
    `STORAGE_EMULATOR_HOST`: jobs read and write them as they would in the cloud. No access-log
    bucket, lifecycle rules or IAM: the emulator has none of them.
    Inputs: see `LocalStorageArgs`.
    Outputs: `data_bucket`, `output_bucket` (names), `data_uri`, `output_uri`, and with
    sample data `train_uri`, `val_uri`.
    Creates: two `EmulatedBucket` and one `EmulatedObject` per sample file
    (`emulated_gcs`).
    """

    data_bucket: pulumi.Output[str]
    output_bucket: pulumi.Output[str]
    data_uri: pulumi.Output[str]
    output_uri: pulumi.Output[str]
    train_uri: pulumi.Output[str] | None
    val_uri: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: LocalStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:local_storage:LocalStorage", name, None, opts)
        self._child_opts = child_options(self, opts)
        buckets = {
            role: EmulatedBucket(
                f"{name}-{role}",
                storage_host=args.storage_host,
                project=args.project,
                name=bucket_name,
                location=args.region,
                labels={**args.labels, "vtrain-bucket-role": role},
                force_destroy=args.force_destroy,
                opts=self._child_opts,
            )
            for role, bucket_name in (
                ("data", args.data_bucket_name),
                ("output", args.output_bucket_name),
            )
        }
        self.data_bucket = buckets["data"].name
        self.output_bucket = buckets["output"].name
        # From inputs, not the providers' `url`/`uri` outputs, so known at preview.
        self.data_uri = pulumi.Output.concat("gs://", self.data_bucket)
        self.output_uri = pulumi.Output.concat("gs://", self.output_bucket)
        outputs = {
            "data_bucket": self.data_bucket,
            "output_bucket": self.output_bucket,
            "data_uri": self.data_uri,
            "output_uri": self.output_uri,
        }
        self.train_uri = self.val_uri = None
        if args.sample_data_dir is not None:
            objects = {
                filename: EmulatedObject(
                    f"{name}-sample-{filename.split('.')[0]}",
                    storage_host=args.storage_host,
                    bucket=self.data_bucket,
                    name=f"{args.sample_prefix}/{filename}",
                    source=(args.sample_data_dir / filename)
                    .relative_to(args.project_dir)
                    .as_posix(),
                    sha256=file_sha256(args.sample_data_dir / filename),
                    content_type="text/csv",
                    opts=self._child_opts,
                )
                for filename in SAMPLE_FILES
            }
            self.train_uri, self.val_uri = (
                pulumi.Output.concat("gs://", objects[filename].bucket, "/", objects[filename].name)
                for filename in ("train.csv", "val.csv")
            )
            outputs.update(train_uri=self.train_uri, val_uri=self.val_uri)
        self.register_outputs(outputs)
