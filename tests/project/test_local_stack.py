"""The `local` stack: no Google resources, and its jobs train for real.

The first tests run the real program for the local stack and read what it registers. The
rest run it with every dynamic resource executed by Pulumi's dynamic-provider host against
the Vertex AI emulator (`python -m vertex_emulator serve`, tests/harness/emulator.py), which
runs the penguins trainer from source on the sample data the stack uploaded to its storage
emulator: what `scripts/local_up.sh` does, minus the Pulumi CLI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.images import ImageBuild, context_hash
from emulated_gcs.contract import BUCKET_TYPE, OBJECT_TYPE
from scripts.local_models import log_dir, model_uri, on_disk, output_prefix
from tests.harness.dynamic_host import DynamicProviderHost
from tests.harness.engine import StackRun, run_stack
from tests.harness.fake_job_service import FAST_PROVIDER_ENV
from tests.harness.stack_config import PROJECT_DIR, cli_config, stack_file
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE

NS = "vertex-training"
DYNAMIC_TYPES = (BUCKET_TYPE, OBJECT_TYPE, CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE)
JOB_TYPES = (CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE)


# ---- what the program registers ----------------------------------------------------------


@pytest.fixture(scope="module")
def local_run() -> StackRun:
    return run_stack("local")


def test_the_local_stack_registers_no_google_resource(local_run):
    types = {resource.type for resource in local_run.resources}
    assert types == {
        "vtrain:local_storage:LocalStorage",
        BUCKET_TYPE,
        OBJECT_TYPE,
        "vtrain:jobs:TrainingJobs",
        *JOB_TYPES,
    }
    assert not any(resource.provider for resource in local_run.resources)
    assert local_run.invokes == []  # not even a lookup


def test_jobs_run_the_apps_from_source_by_content_tag_on_the_emulator(local_run):
    config = cli_config("local")
    build = ImageBuild.of("penguins-cpu")
    digest = context_hash(build.context_dir, build.dockerfile)[:16]
    expected = f"local.vtrain/penguins/cpu:ctx-{digest}"  # a code change is a new tag
    for job in (r.plain_inputs for t in JOB_TYPES for r in local_run.of_type(t)):
        assert job["emulator_host"] == config[f"{NS}:emulatorHost"]
        assert job.get("api_endpoint") is None and job["job_spec"]["service_account"] == ""
        images = [p["container_spec"]["image_uri"] for p in job["job_spec"]["worker_pool_specs"]]
        assert set(images) == {expected}
    assert local_run.plain_outputs["images"] == {"penguins-cpu": expected}


def test_a_change_to_the_apps_code_is_a_new_local_image_reference(tmp_path):
    """So the job's spec changes, and the job is replaced, as a new digest does in the cloud."""
    build = ImageBuild.of("penguins-cpu")
    copy = tmp_path / "penguins"
    shutil.copytree(build.context_dir, copy)
    copied = dataclasses.replace(build, app=build.app.model_copy(update={"dir": copy}))
    assert copied.local_uri == build.local_uri  # the same code, wherever it is
    (copy / "trainer" / "task.py").write_text((copy / "trainer" / "task.py").read_text() + "\n")
    changed = dataclasses.replace(build, app=build.app.model_copy(update={"dir": copy}))
    assert changed.local_uri != build.local_uri
    assert changed.local_uri.startswith("local.vtrain/penguins/cpu:ctx-")


def test_local_image_references_are_what_the_emulator_runs(local_run):
    runner = pytest.importorskip("vertex_emulator.runner")
    for image in local_run.plain_outputs["images"].values():
        assert runner.LOCAL_IMAGE.match(image), image


def test_the_model_locations_the_script_prints_are_the_jobs_output_directories(local_run):
    bucket = local_run.plain_outputs["outputBucket"]
    for job in (r.plain_inputs for t in JOB_TYPES for r in local_run.of_type(t)):
        prefix = job["job_spec"]["base_output_directory"]["output_uri_prefix"]
        assert output_prefix(bucket, job["display_name"]) == prefix
    trial = {"trials": [], "best_trial": {"id": "3"}}
    assert model_uri("b", "tune", trial) == "gs://b/jobs/tune/3/model/"
    assert model_uri("b", "train", {"state": "x"}) == "gs://b/jobs/train/model/"
    assert on_disk(Path("/r"), "gs://b/jobs/train/model/") == Path(
        "/r/gcs/.cloudstorage/b/jobs/train/model"
    )


# ---- the main command -------------------------------------------------------------------


def test_local_up_without_the_pulumi_cli_says_so_in_one_line(tmp_path):
    tools = tmp_path / "bin"  # only what the script needs before it looks for pulumi
    tools.mkdir()
    for tool in ("dirname",):
        (tools / tool).symlink_to(shutil.which(tool))
    result = subprocess.run(
        ["/bin/bash", str(PROJECT_DIR / "scripts" / "local_up.sh")],
        env={"PATH": str(tools), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Pulumi CLI is not installed" in result.stderr
    assert "https://www.pulumi.com/docs/install/" in result.stderr
    assert not (tmp_path / "venv").exists()


# ---- for real: the emulator runs the jobs -----------------------------------------------


@dataclass
class Local:
    emulator: object  # tests.harness.emulator.EmulatorProcess
    host: DynamicProviderHost

    def up(self, jobs: list[dict]) -> StackRun:
        """`pulumi up -s local` with these jobs, every dynamic resource created for real."""
        handler = self.host.engine_handler()
        config = {
            f"{NS}:emulatorHost": self.emulator.address,
            f"{NS}:storageEmulatorHost": self.emulator.storage_url,
            f"{NS}:jobs": jobs,
        }
        return run_stack("local", config, resource_handlers=dict.fromkeys(DYNAMIC_TYPES, handler))

    def refresh(self, resource) -> dict:
        return self.host.read(resource.urn, resource.id, resource.outputs)["properties"]

    def storage(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="local-project",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.emulator.storage_url},
        )

    def job_client(self):
        from vertex_jobs.api import Endpoint, make_job_client

        return make_job_client(Endpoint(self.emulator.address, insecure=True))


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Iterator[Local]:
    emulator_harness = pytest.importorskip(
        "tests.harness.emulator", reason="the vertex_emulator package is absent"
    )
    pytest.importorskip("vertex_emulator", reason="the vertex_emulator package is absent")
    root = tmp_path_factory.mktemp("local-stack")
    emulator = emulator_harness.start_emulator(root / "emulator", "--grace-period", "2")
    # Nothing in the environment points anywhere: the resources carry both addresses.
    env = {**FAST_PROVIDER_ENV, "VERTEX_AI_EMULATOR_HOST": None, "STORAGE_EMULATOR_HOST": None}
    env["VTRAIN_VERTEX_DELETE_TIMEOUT_S"] = "60"
    try:
        with DynamicProviderHost(env=env, call_timeout_s=600) as host:
            yield Local(emulator, host)
    finally:
        emulator.stop()


def _job(name: str, epochs: int, **fields) -> dict:
    return {
        "name": name,
        "image": "penguins-cpu",
        "workerPools": [{"machineType": "n1-standard-4"}],
        "args": {"epochs": epochs},
        "wait": {"untilTerminal": True, "timeoutSeconds": 600},
        **fields,
    }


def _resource(run: StackRun, name: str):
    return next(r for t in JOB_TYPES for r in run.of_type(t) if r.name == name)


def _reported(root: Path, job_id: str, trial_id: str, metric: str) -> list[float]:
    """What the trial's trainer wrote through cloudml-hypertune (one JSON object a line)."""
    path = root / "jobs" / job_id / "trials" / trial_id / "hypertune" / "output.metrics"
    return [float(json.loads(line)[metric]) for line in path.read_text().splitlines()]


def _overlap(trials) -> int:
    """The most trials that ran at the same time."""
    events = sorted(
        [(t.start_time.timestamp(), 1) for t in trials]
        + [(t.end_time.timestamp(), -1) for t in trials]
    )
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_up_trains_a_model_and_tunes_and_refresh_names_the_best_trial(local):
    study = {
        "metric": {"id": "accuracy", "goal": "MAXIMIZE"},
        "parameters": [
            {"id": "learning-rate", "type": "double", "min": 0.0005, "max": 0.05, "scale": "log"}
        ],
        "maxTrialCount": 4,
        "parallelTrialCount": 2,
    }
    run = local.up([_job("train", 5), _job("tune", 5, study=study)])
    outputs = run.plain_outputs
    bucket = local.storage().bucket(outputs["outputBucket"])

    train = outputs["jobs"]["train"]
    assert train["state"] == "JOB_STATE_SUCCEEDED", train["error"]
    model = [blob.name for blob in bucket.list_blobs(prefix="jobs/train/model/")]
    assert model, "the CustomJob wrote no model under AIP_MODEL_DIR"
    # Where scripts/local_models.py says the logs are, and no Google console link.
    replica_log = log_dir(local.emulator.root, train["name"]) / "logs" / "workerpool0-0.log"
    assert "done: val accuracy" in replica_log.read_text()
    refreshed_train = local.refresh(_resource(run, "train"))
    # (the host drops null properties: an absent link is a None one)
    assert refreshed_train.get("console_url") is None and refreshed_train.get("logs_url") is None

    tune = _resource(run, "tune")
    refreshed = local.refresh(tune)
    assert refreshed["state"] == "JOB_STATE_SUCCEEDED", refreshed["error"]
    trials = refreshed["trials"]
    assert len(trials) == 4 and {t["state"] for t in trials} == {"SUCCEEDED"}
    # Each trial's final metric is the best value its own trainer reported (measurement
    # selection BEST, the config's default; Vertex's own is LAST), and the best trial is
    # the one with the highest.
    root, job_id = local.emulator.root, refreshed["job_id"]
    for trial in trials:
        reported = _reported(root, job_id, trial["id"], "accuracy")
        assert trial["final_metric_value"] == pytest.approx(max(reported))
    best = max(trials, key=lambda t: t["final_metric_value"])
    assert refreshed["best_trial"]["id"] == best["id"]
    assert refreshed["best_trial"]["metric_value"] == pytest.approx(best["final_metric_value"])
    assert [b.name for b in bucket.list_blobs(prefix=f"jobs/tune/{best['id']}/model/")]

    with local.job_client() as client:
        job = client.get_hyperparameter_tuning_job(name=refreshed["name"])
    assert _overlap(job.trials) == 2  # parallelTrialCount, never more


def _replica_pids(job_id: str) -> list[int]:
    """This user's processes that Vertex's environment names as the job's replicas."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"CLOUD_ML_JOB_ID={job_id}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_cancelling_a_running_job_stops_its_processes_and_destroy_removes_it(local):
    from tests.harness.emulator import process_alive, replica_log, wait_for

    long_job = _job("long", 100_000)
    del long_job["wait"]
    run = local.up([long_job])
    job = _resource(run, "long")
    job_id = job.outputs["job_id"]
    wait_for(lambda: local.refresh(job)["state"] == "JOB_STATE_RUNNING", 60, 0.2, "RUNNING")
    log = replica_log(local.emulator.root, job_id)
    # Training, not starting up: the trainer logs its device once data and outputs are ready.
    training = re.compile(r"device \S+, precision \S+, world size 1")

    def started() -> bool:
        if log.exists() and training.search(log.read_text()):
            return True
        refreshed = local.refresh(job)
        assert refreshed["state"] == "JOB_STATE_RUNNING", refreshed["error"]
        return False

    wait_for(started, 60, 0.2, f"training to start ({log})")
    pids = _replica_pids(job_id)
    assert pids

    with local.job_client() as client:
        client.cancel_custom_job(name=job.id)
    wait_for(lambda: local.refresh(job)["state"] == "JOB_STATE_CANCELLED", 30, 0.2, "CANCELLED")
    wait_for(lambda: not any(process_alive(pid) for pid in pids), 15, 0.1, "the replica to end")

    local.host.delete(job.urn, job.id, job.outputs)  # `pulumi destroy`
    assert local.host.read(job.urn, job.id, job.outputs)["id"] == ""  # gone


def test_a_two_replica_job_trains_with_ddp_over_gloo(local):
    from tests.harness.emulator import replica_log

    pools = [{"machineType": "n1-standard-4"}, {"machineType": "n1-standard-4"}]
    run = local.up([_job("ddp", 3, workerPools=pools)])
    summary = run.plain_outputs["jobs"]["ddp"]
    assert summary["state"] == "JOB_STATE_SUCCEEDED", summary["error"]
    job_id = _resource(run, "ddp").outputs["job_id"]
    root = local.emulator.root
    chief = replica_log(root, job_id, "workerpool0-0").read_text()
    worker = replica_log(root, job_id, "workerpool1-0").read_text()
    assert re.search(r"joining \S+ as rank 0 of 2", chief), chief[-2000:]
    assert re.search(r"joining \S+ as rank 1 of 2", worker), worker[-2000:]
    assert "world size 2" in chief
    bucket = local.storage().bucket(run.plain_outputs["outputBucket"])
    assert [blob.name for blob in bucket.list_blobs(prefix="jobs/ddp/model/")]


def test_the_shipped_local_stack_file_declares_a_job_and_a_study():
    jobs = stack_file("local")["config"][f"{NS}:jobs"]
    assert any("study" in job for job in jobs) and any("study" not in job for job in jobs)
    assert os.access(PROJECT_DIR / "scripts" / "local_up.sh", os.X_OK)
