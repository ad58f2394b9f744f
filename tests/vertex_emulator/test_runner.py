"""What each replica is given (command line, Vertex's environment, CLUSTER_SPEC/TF_CONFIG,
log path), the `docker run` of --docker mode, and the images it cannot run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from google.cloud.aiplatform_v1.types import custom_job

from tests.harness.emulator import (
    APPS_DIR,
    PROBE_IMAGE,
    PROJECT_DIR,
    pool,
    probe_job_spec,
)
from vertex_emulator.runner import (
    LaunchError,
    RunnerConfig,
    docker_command,
    format_parameter,
    plan_replicas,
)

STORAGE = "http://127.0.0.1:4443"


def _config(tmp_path: Path, **overrides) -> RunnerConfig:
    return RunnerConfig(root=tmp_path, apps_dir=APPS_DIR, storage_url=STORAGE, **overrides)


def _spec(**kwargs) -> custom_job.CustomJobSpec:
    return custom_job.CustomJobSpec(probe_job_spec(**kwargs))


def test_a_local_app_runs_the_manifest_command_with_this_python_from_its_source(tmp_path):
    (replica,) = plan_replicas(_config(tmp_path), _spec(pools=[pool("--a", "1")]), "77")
    assert replica.command == [sys.executable, "-m", "probe", "--a", "1"]
    assert replica.cwd == str(APPS_DIR / "probe")
    assert replica.env["PYTHONPATH"] == str(APPS_DIR / "probe")
    assert replica.log_path == tmp_path / "jobs" / "77" / "logs" / "workerpool0-0.log"


def test_the_container_command_overrides_the_manifest(tmp_path):
    spec = _spec(pools=[pool("x", command=["python3", "-c", "pass"])])
    (replica,) = plan_replicas(_config(tmp_path), spec, "1")
    assert replica.command == [sys.executable, "-c", "pass", "x"]


def test_vertex_variables_follow_the_base_output_directory_and_the_trial(tmp_path):
    spec = _spec(output="gs://out/runs", pools=[pool(env=[{"name": "MODE", "value": "a"}])])
    (job,) = plan_replicas(_config(tmp_path), spec, "9")
    assert {k: v for k, v in job.env.items() if k.startswith(("AIP_", "CLOUD_ML_"))} == {
        "AIP_MODEL_DIR": "gs://out/runs/model/",
        "AIP_CHECKPOINT_DIR": "gs://out/runs/checkpoints/",
        "AIP_TENSORBOARD_LOG_DIR": "gs://out/runs/logs/",
        "CLOUD_ML_JOB_ID": "9",
        "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "jobs/9/hypertune/output.metrics"),
    }
    assert job.env["STORAGE_EMULATOR_HOST"] == STORAGE
    assert job.env["MODE"] == "a"
    params = {"x": 0.25, "y": 3, "opt": "adam"}
    (trial,) = plan_replicas(_config(tmp_path), spec, "9", "4", params)
    assert trial.env["AIP_MODEL_DIR"] == "gs://out/runs/4/model/"
    assert trial.env["AIP_TENSORBOARD_LOG_DIR"] == "gs://out/runs/4/logs/"
    assert trial.env["CLOUD_ML_TRIAL_ID"] == "4"
    assert trial.env["CLOUD_ML_HP_METRIC_FILE"] == str(
        tmp_path / "jobs/9/trials/4/hypertune/output.metrics"
    )
    assert trial.command[-3:] == ["--x=0.25", "--y=3", "--opt=adam"]
    assert trial.log_path == tmp_path / "jobs/9/trials/4/logs/workerpool0-0.log"


def test_without_a_base_output_directory_there_are_no_aip_dirs(tmp_path):
    (replica,) = plan_replicas(_config(tmp_path), _spec(), "1")
    assert not [key for key in replica.env if key.startswith("AIP_")]


def test_vertex_variables_of_the_emulator_itself_do_not_leak(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "99")
    monkeypatch.setenv("TF_CONFIG", "{}")
    (replica,) = plan_replicas(_config(tmp_path), _spec(), "1")
    assert "CLOUD_ML_TRIAL_ID" not in replica.env
    assert json.loads(replica.env["TF_CONFIG"])["task"] == {"type": "chief", "index": 0}


def test_parameters_are_formatted_as_vertex_passes_them():
    assert [format_parameter(v) for v in (3, 32.0, 0.001, "adam")] == [
        "3",
        "32.0",
        "0.001",
        "adam",
    ]


def test_replicas_of_several_pools_share_one_cluster_and_know_their_task(tmp_path):
    spec = _spec(pools=[pool(), pool(replicas=2), {}, pool()])  # pool 2 skipped (empty)
    replicas = plan_replicas(_config(tmp_path), spec, "5", "2", {"y": 1})
    assert [r.name for r in replicas] == [
        "workerpool0-0",
        "workerpool1-0",
        "workerpool1-1",
        "workerpool3-0",
    ]
    specs = [json.loads(r.env["CLUSTER_SPEC"]) for r in replicas]
    cluster = specs[0]["cluster"]
    assert sorted(cluster) == ["workerpool0", "workerpool1", "workerpool3"]
    assert all(spec["cluster"] == cluster for spec in specs)
    addresses = [address for pool_addresses in cluster.values() for address in pool_addresses]
    assert len(set(addresses)) == 4 and all(a.startswith("127.0.0.1:") for a in addresses)
    assert [spec["task"] for spec in specs] == [
        {"type": "workerpool0", "index": 0, "trial": "2"},
        {"type": "workerpool1", "index": 0, "trial": "2"},
        {"type": "workerpool1", "index": 1, "trial": "2"},
        {"type": "workerpool3", "index": 0, "trial": "2"},
    ]
    assert specs[0]["environment"] == "cloud"
    assert specs[0]["job"]["workerPoolSpecs"][0]["containerSpec"]["imageUri"] == PROBE_IMAGE
    tf_configs = [json.loads(r.env["TF_CONFIG"]) for r in replicas]
    assert tf_configs[0]["cluster"] == {
        "chief": cluster["workerpool0"],
        "worker": cluster["workerpool1"],
    }  # the evaluator (pool 3) is not in TF's cluster
    assert [c["task"]["type"] for c in tf_configs] == ["chief", "worker", "worker", "evaluator"]


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("us-docker.pkg.dev/p/r/trainer@sha256:" + "a" * 64, "runs other images only with"),
        ("local.vtrain/missing/cpu:ctx-0123456789abcdef", "names the app 'missing'"),
        ("local.vtrain/probe/cpu:latest", "is not a local app"),
    ],
)
def test_an_image_the_emulator_cannot_run_is_a_launch_error(tmp_path, image, problem):
    with pytest.raises(LaunchError, match=problem):
        plan_replicas(_config(tmp_path), _spec(pools=[pool(image=image)]), "1")


def test_docker_mode_runs_other_images_as_containers(tmp_path):
    image = "us-docker.pkg.dev/p/r/trainer@sha256:" + "a" * 64
    spec = _spec(pools=[pool("--epochs=1", image=image)], output="gs://out/r")
    config = _config(tmp_path, docker=True, gcs_dir=tmp_path / "gcs")
    (replica,) = plan_replicas(config, spec, "8", "3", {"y": 2})
    assert replica.container == "vtrain-8-3-workerpool0-0"
    assert replica.command[:8] == [
        "docker", "run", "--rm", "--init", "--name", "vtrain-8-3-workerpool0-0",
        "--network", "host",
    ]  # fmt: skip
    assert "--env" in replica.command and "AIP_MODEL_DIR=gs://out/r/3/model/" in replica.command
    assert replica.command[-5:] == [
        "--volume",
        f"{tmp_path / 'gcs'}:/gcs",
        image,
        "--epochs=1",
        "--y=2",
    ]
    # A local app still runs from source in docker mode.
    (local,) = plan_replicas(config, _spec(), "8")
    assert local.container is None and local.command[0] == sys.executable


def test_docker_command_uses_the_container_command_as_entrypoint():
    command = docker_command("img", ["python", "-m", "t"], ["--a"], {"K": "v"}, "n", None)
    assert command == [
        "docker", "run", "--rm", "--init", "--name", "n", "--network", "host",
        "--env", "K=v", "--entrypoint", "python", "img", "-m", "t", "--a",
    ]  # fmt: skip


def test_a_flavour_the_app_does_not_ship_is_a_launch_error(tmp_path):
    image = "local.vtrain/probe/gpu:ctx-0123456789abcdef"  # the probe has cpu.Dockerfile only
    with pytest.raises(LaunchError, match="ships the flavours cpu, not 'gpu'"):
        plan_replicas(_config(tmp_path), _spec(pools=[pool(image=image)]), "1")


def test_a_broken_manifest_is_a_launch_error_naming_it(tmp_path):
    app = tmp_path / "apps" / "broken"
    app.mkdir(parents=True)
    (app / "cpu.Dockerfile").write_text("FROM scratch\n")
    (app / "MLproject").write_text("name: broken\nentry_points: {}\nmetrics: [m]\n")
    config = RunnerConfig(root=tmp_path, apps_dir=tmp_path / "apps", storage_url=STORAGE)
    image = "local.vtrain/broken/cpu:ctx-0123456789abcdef"
    with pytest.raises(LaunchError, match="MLproject: entry_points: no 'main' entry point"):
        plan_replicas(config, _spec(pools=[pool(image=image)]), "1")


def test_the_penguins_app_runs_its_manifest_command_from_images(tmp_path):
    config = RunnerConfig(root=tmp_path, apps_dir=PROJECT_DIR / "images", storage_url=STORAGE)
    image = "local.vtrain/penguins/cpu:ctx-0123456789abcdef"
    spec = _spec(
        pools=[pool("--epochs=1", image=image, env=[{"name": "PYTHONPATH", "value": "/x"}])]
    )
    (replica,) = plan_replicas(config, spec, "1")
    assert replica.command == [sys.executable, "-m", "trainer.task", "--epochs=1"]
    assert replica.env["PYTHONPATH"] == f"{PROJECT_DIR / 'images' / 'penguins'}:/x"


def test_replicas_sharing_the_machine_split_its_cpus_unless_told(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    spec = _spec(pools=[pool(), pool()])
    assert [r.env["OMP_NUM_THREADS"] for r in plan_replicas(_config(tmp_path), spec, "1")] == [
        "4",
        "4",
    ]
    (trial, _) = plan_replicas(_config(tmp_path), spec, "1", "2", {}, concurrent_runs=3)
    assert trial.env["OMP_NUM_THREADS"] == "1"  # 8 CPUs, 6 processes
    own = _spec(pools=[pool(env=[{"name": "OMP_NUM_THREADS", "value": "7"}])])
    assert plan_replicas(_config(tmp_path), own, "1")[0].env["OMP_NUM_THREADS"] == "7"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the emulator's own setting is inherited
    assert plan_replicas(_config(tmp_path), _spec(), "1")[0].env["OMP_NUM_THREADS"] == "3"
