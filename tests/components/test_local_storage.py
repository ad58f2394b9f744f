"""LocalStorage: the local stack's buckets and sample data, in the storage emulator.

What the program registers; the providers themselves are tests/emulated_gcs/, and the whole
stack for real is tests/project/test_local_stack.py."""

from __future__ import annotations

import hashlib

from emulated_gcs.contract import BUCKET_TYPE, OBJECT_TYPE
from tests.harness.engine import run_stack
from tests.harness.stack_config import PROJECT_DIR, cli_config, stack_file

NS = "vertex-training"


def test_two_buckets_named_as_in_the_cloud_labelled_with_their_role():
    run = run_stack("local")
    config = cli_config("local")
    prefix = f"{config['gcp:project']}-local"
    (component,) = run.of_type("vtrain:local_storage:LocalStorage")
    buckets = {b.plain_inputs["labels"]["vtrain-bucket-role"]: b for b in run.of_type(BUCKET_TYPE)}
    assert {role: b.plain_inputs["name"] for role, b in buckets.items()} == {
        "data": f"{prefix}-data",
        "output": f"{prefix}-output",
    }
    stack_labels = stack_file("local")["config"][f"{NS}:labels"]
    for bucket in buckets.values():
        inputs = bucket.plain_inputs
        assert bucket.parent == component.urn
        assert inputs["storage_host"] == config[f"{NS}:storageEmulatorHost"]
        assert inputs["location"] == config.get(f"{NS}:region", "us-central1")
        assert inputs["force_destroy"] is True  # the local stack file's forceDestroy
        assert stack_labels.items() <= inputs["labels"].items()
        assert inputs["labels"]["vtrain-stack"] == "local"
    outputs = run.plain_outputs
    assert outputs["dataBucket"] == f"{prefix}-data"
    assert outputs["outputBucketUri"] == f"gs://{prefix}-output"


def test_the_sample_files_are_uploaded_by_path_and_hash_to_the_data_bucket():
    run = run_stack("local")
    objects = {o.plain_inputs["name"]: o.plain_inputs for o in run.of_type(OBJECT_TYPE)}
    data_bucket = run.plain_outputs["dataBucket"]
    assert set(objects) == {"samples/penguins/train.csv", "samples/penguins/val.csv"}
    for name, inputs in objects.items():
        source = f"images/penguins/sample_data/{name.rsplit('/', 1)[1]}"
        assert inputs["source"] == source  # relative: the same inputs from any checkout
        assert inputs["sha256"] == hashlib.sha256((PROJECT_DIR / source).read_bytes()).hexdigest()
        assert inputs["bucket"] == data_bucket
    assert run.plain_outputs["sampleValDataUri"] == f"gs://{data_bucket}/samples/penguins/val.csv"
    # Each object waits for its bucket.
    (data,) = [b for b in run.of_type(BUCKET_TYPE) if b.plain_inputs["name"] == data_bucket]
    assert all(data.urn in o.dependencies for o in run.of_type(OBJECT_TYPE))


def test_without_sample_data_nothing_is_uploaded_and_jobs_name_their_own_data():
    data = {"train-data": "gs://b/t.csv", "val-data": "gs://b/v.csv"}
    jobs = [{"name": "own", "image": "penguins-cpu", "args": data}]
    run = run_stack("local", {f"{NS}:uploadSampleData": False, f"{NS}:jobs": jobs})
    assert run.of_type(OBJECT_TYPE) == []
    assert "sampleTrainDataUri" not in run.plain_outputs
    (job,) = run.of_type("pulumi-python:dynamic/vtrain/jobs:CustomJob")
    args = job.plain_inputs["job_spec"]["worker_pool_specs"][0]["container_spec"]["args"]
    assert args == ["--train-data=gs://b/t.csv", "--val-data=gs://b/v.csv"]
