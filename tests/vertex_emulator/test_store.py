"""Nothing lost: jobs live in SQLite under --root, so after a restart get and list return the
same jobs; a job whose processes died with the emulator is FAILED with a clear error, never
left RUNNING, and the processes a killed emulator left behind are killed."""

from __future__ import annotations

import json

from google.cloud.aiplatform_v1.types import custom_job

from tests.harness.emulator import (
    PARENT,
    assert_gone,
    probe_custom_job,
    probe_report,
    process_alive,
    wait_for_job,
    wait_for_log_lines,
)
from vertex_emulator.rules import CUSTOM, TUNING, JobState
from vertex_emulator.store import FIRST_ID, Store
from vertex_jobs.api import Endpoint, make_job_client


def _client(emulator):
    return make_job_client(Endpoint(emulator.address, insecure=True))


def test_store_keeps_jobs_and_ids_across_connections(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    first = store.next_id()
    job = custom_job.CustomJob(display_name="kept", name=f"{PARENT}/customJobs/{first}")
    store.insert_job(CUSTOM, PARENT, job, first)
    store.update(job.name, lambda stored: setattr(stored, "state", JobState.JOB_STATE_RUNNING))
    store.add_process(123, "456", job.name)
    store.close()
    reopened = Store(tmp_path / "db.sqlite3")
    kind, found = reopened.get_job(job.name)
    assert kind is CUSTOM and found.display_name == "kept"
    assert found.state == JobState.JOB_STATE_RUNNING
    assert [j.name for j in reopened.list_jobs(CUSTOM, PARENT)] == [job.name]
    assert reopened.list_jobs(TUNING) == [] and reopened.list_jobs(CUSTOM, "other") == []
    assert reopened.processes() == [(123, "456", job.name)]
    assert first == FIRST_ID and reopened.next_id() == first + 1


def test_a_failed_update_changes_nothing(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    job = custom_job.CustomJob(display_name="same", name=f"{PARENT}/customJobs/1")
    store.insert_job(CUSTOM, PARENT, job, 1)

    def broken(stored):
        stored.display_name = "changed"
        raise ValueError("no")

    try:
        store.update(job.name, broken)
    except ValueError:
        pass
    assert store.get_job(job.name)[1].display_name == "same"


def test_restart_keeps_finished_jobs_and_fails_the_one_whose_processes_it_stopped(
    fresh_emulator,
):
    with _client(fresh_emulator) as client:
        finished = client.create_custom_job(parent=PARENT, custom_job=probe_custom_job())
        finished = wait_for_job(client.get_custom_job, finished.name)
        running = client.create_custom_job(
            parent=PARENT, custom_job=probe_custom_job("--sleep", "600")
        )
        wait_for_job(client.get_custom_job, running.name, states=("JOB_STATE_RUNNING",))
        wait_for_log_lines(fresh_emulator.root, running.name)
        pid = probe_report(fresh_emulator.root, running.name)["pid"]
    fresh_emulator.restart()  # SIGTERM: the emulator stops the job's processes itself
    assert_gone(pid)
    with _client(fresh_emulator) as client:
        assert client.get_custom_job(name=finished.name) == finished
        stopped = client.get_custom_job(name=running.name)
        assert stopped.state.name == "JOB_STATE_FAILED"
        assert "The emulator was stopped while this job was RUNNING" in stopped.error.message
        listed = [job.name for job in client.list_custom_jobs(parent=PARENT)]
        assert listed == [finished.name, running.name]


def test_a_killed_emulator_leaves_no_running_job_and_no_process_behind(fresh_emulator):
    with _client(fresh_emulator) as client:
        job = client.create_custom_job(
            parent=PARENT, custom_job=probe_custom_job("--spawn-child", "--sleep", "600")
        )
        wait_for_job(client.get_custom_job, job.name, states=("JOB_STATE_RUNNING",))
        report, child = wait_for_log_lines(fresh_emulator.root, job.name, 2)
    pid = json.loads(report)["pid"]
    child_pid = json.loads(child)["child_pid"]
    assert process_alive(pid) and process_alive(child_pid)
    fresh_emulator.restart(kill=True)  # SIGKILL: as a crash, the processes outlive it
    assert_gone(pid, child_pid)
    with _client(fresh_emulator) as client:
        failed = client.get_custom_job(name=job.name)
    assert failed.state.name == "JOB_STATE_FAILED"
    assert failed.error.code == 13
    assert "The emulator stopped while this job was RUNNING" in failed.error.message
    assert failed.end_time >= failed.start_time
