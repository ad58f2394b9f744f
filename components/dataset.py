"""The trainer's sample dataset, uploaded to the data bucket so a fresh stack can train."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from components import child_options

SAMPLE_FILES = ("train.csv", "val.csv")


@dataclass(frozen=True)
class SampleDatasetArgs:
    bucket: pulumi.Input[str]
    source_dir: Path  # holds train.csv and val.csv
    prefix: str = "samples/penguins"


class SampleDataset(pulumi.ComponentResource):
    """Uploads train.csv and val.csv under `gs://<data bucket>/<prefix>/`.

    The data then lives in the same project and region as the jobs that read it. Users
    point their jobs at their own data instead; this only makes a new stack usable at once.
    Inputs: bucket, source directory, object prefix.
    Outputs: `train_uri`, `val_uri`.
    Creates: one `gcp.storage.BucketObject` per file.
    """

    train_uri: pulumi.Output[str]
    val_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: SampleDatasetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vtrain:dataset:SampleDataset", name, None, opts)
        self._child_opts = child_options(self, opts)
        self.objects = {
            filename: gcp.storage.BucketObject(
                f"{name}-{filename.split('.')[0]}",
                bucket=args.bucket,
                name=f"{args.prefix}/{filename}",
                source=pulumi.FileAsset(str(args.source_dir / filename)),
                content_type="text/csv",
                opts=self._child_opts,
            )
            for filename in SAMPLE_FILES
        }
        uris = {
            filename: pulumi.Output.concat("gs://", obj.bucket, "/", obj.name)
            for filename, obj in self.objects.items()
        }
        self.train_uri, self.val_uri = uris["train.csv"], uris["val.csv"]
        self.register_outputs({"train_uri": self.train_uri, "val_uri": self.val_uri})
