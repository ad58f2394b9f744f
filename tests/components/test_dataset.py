"""SampleDataset: a fresh stack has training data in its own bucket and region."""

from pathlib import Path

import pytest

from tests.harness.engine import run_stack

NS = "vertex-training"


def test_sample_files_are_uploaded_to_the_data_bucket(stack_run):
    objects = stack_run.of_type("gcp:storage/bucketObject:BucketObject")
    (data_bucket,) = [
        bucket.plain_inputs["name"]
        for bucket in stack_run.of_type("gcp:storage/bucket:Bucket")
        if bucket.plain_inputs["labels"]["vtrain-bucket-role"] == "data"
    ]
    assert {obj.plain_inputs["name"] for obj in objects} == {
        "samples/penguins/train.csv",
        "samples/penguins/val.csv",
    }
    for obj in objects:
        assert obj.plain_inputs["bucket"] == data_bucket
        assert Path(obj.inputs["source"].path).is_file()
    outputs = stack_run.plain_outputs
    assert outputs["sampleTrainDataUri"] == f"gs://{data_bucket}/samples/penguins/train.csv"
    assert outputs["sampleValDataUri"] == f"gs://{data_bucket}/samples/penguins/val.csv"


def test_upload_can_be_switched_off():
    run = run_stack("dev", {f"{NS}:uploadSampleData": False, f"{NS}:jobs": []})
    assert not run.of_type("gcp:storage/bucketObject:BucketObject")
    assert "sampleTrainDataUri" not in run.outputs


def test_without_sample_data_jobs_must_name_their_data():
    from config.loader import ConfigError

    with pytest.raises(ConfigError, match=r"jobs\[0\]\.args: set train-data, val-data"):
        run_stack("dev", {f"{NS}:uploadSampleData": False})
