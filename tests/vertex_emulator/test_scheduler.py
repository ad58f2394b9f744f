"""CustomJobs run for real: a job's app writes to the storage emulator and succeeds; a
failing one makes the job FAILED with Vertex's wording, the log's tail and its path; cancel
and timeout kill every process (children included); two replicas share one CLUSTER_SPEC."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.emulator import (
    PARENT,
    assert_gone,
    ensure_bucket,
    pool,
    probe_custom_job,
    probe_report,
    process_alive,
    replica_log,
    wait_for_job,
    wait_for_log_lines,
)


def test_a_custom_job_runs_the_app_which_writes_its_model_to_the_storage_emulator(
    client, gcs, shared_emulator
):
    ensure_bucket(gcs, "outputs")
    request = probe_custom_job("--write-model", "--y=2", output="gs://outputs/runs/one")
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    job_id = job.name.rsplit("/", 1)[1]
    blob = gcs.bucket("outputs").blob("runs/one/model/model.txt")
    assert blob.download_as_text() == f"model of job {job_id}"
    seen = probe_report(shared_emulator.root, job.name)
    assert seen["argv"] == ["--write-model", "--y=2"]
    # It reported its metric with cloudml-hypertune, to the file the emulator named.
    metric_file = Path(seen["env"]["CLOUD_ML_HP_METRIC_FILE"])
    assert metric_file == shared_emulator.root / "jobs" / job_id / "hypertune" / "output.metrics"
    reports = [json.loads(line) for line in metric_file.read_text().splitlines()]
    assert [float(report["score"]) for report in reports] == [19.0, 20.0]
    assert seen["env"]["CLOUD_ML_JOB_ID"] == job_id
    assert seen["env"]["STORAGE_EMULATOR_HOST"] == shared_emulator.storage_url
    assert "CLOUD_ML_TRIAL_ID" not in seen["env"]


def test_a_failing_app_fails_the_job_with_its_exit_code_log_tail_and_log_path(
    client, shared_emulator
):
    request = probe_custom_job("--exit-code", "7", "--message", "probe: the data is missing")
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_FAILED"
    assert done.error.code == 3
    message = done.error.message
    assert message.startswith("The replica workerpool0-0 exited with a non-zero status of 7.")
    assert "probe: the data is missing" in message
    assert str(replica_log(shared_emulator.root, job.name)) in message
    assert done.start_time <= done.end_time


def test_an_image_that_is_not_a_local_app_fails_the_job_saying_why(client):
    image = "us-central1-docker.pkg.dev/p/r/trainer@sha256:" + "a" * 64
    request = probe_custom_job(pools=[pool(image=image)])
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_FAILED"
    assert "runs other images only with --docker" in done.error.message


def test_cancel_kills_the_replica_and_the_processes_it_started(client, shared_emulator):
    request = probe_custom_job("--spawn-child", "--sleep", "600")
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    wait_for_job(client.get_custom_job, job.name, states=("JOB_STATE_RUNNING",))
    report, spawned = wait_for_log_lines(shared_emulator.root, job.name, 2)
    pid, child = json.loads(report)["pid"], json.loads(spawned)["child_pid"]
    assert process_alive(pid) and process_alive(child)
    client.cancel_custom_job(name=job.name)
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_CANCELLED"
    assert_gone(pid, child)


def test_a_job_past_its_timeout_is_stopped_and_failed(client, shared_emulator):
    request = probe_custom_job("--sleep", "600")
    request["job_spec"]["scheduling"] = {"timeout": "1s"}
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_FAILED"
    assert "longer than its timeout (1s)" in done.error.message
    assert_gone(probe_report(shared_emulator.root, job.name)["pid"])


def test_two_replicas_get_one_consistent_cluster_spec(client, shared_emulator):
    request = probe_custom_job(pools=[pool(), pool()])
    job = client.create_custom_job(parent=PARENT, custom_job=request)
    done = wait_for_job(client.get_custom_job, job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    chief, worker = (
        json.loads(probe_report(shared_emulator.root, job.name, replica)["env"]["CLUSTER_SPEC"])
        for replica in ("workerpool0-0", "workerpool1-0")
    )
    assert chief["cluster"] == worker["cluster"]
    assert list(chief["cluster"]) == ["workerpool0", "workerpool1"]
    assert chief["task"] == {"type": "workerpool0", "index": 0}
    assert worker["task"] == {"type": "workerpool1", "index": 0}
