"""Each worker-pool replica of a job (or of a tuning trial) as a local process or a container.

``plan_replicas`` turns a CustomJobSpec into the processes Vertex would start, with Vertex's
environment and a log file under --root; ``processes.Execution`` runs them.

Paths under --root (the documented rule the job's error message points at):
  jobs/<job id>/logs/workerpool<i>-<j>.log                    a CustomJob's replica
  jobs/<job id>/trials/<trial id>/logs/workerpool<i>-<j>.log  a tuning trial's replica
  jobs/<job id>[/trials/<trial id>]/hypertune/output.metrics  CLOUD_ML_HP_METRIC_FILE
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from config.apps import ManifestError, load_app

# Contract 3 (the local stack): an app run from source, not built.
LOCAL_IMAGE = re.compile(
    r"^local\.vtrain/(?P<app>[a-z0-9][a-z0-9_-]*)/(?P<flavour>[a-z0-9][a-z0-9_-]*)"
    r":ctx-(?P<hash>[0-9a-f]{16})$"
)
# Variables Vertex sets: never inherited from the emulator's own environment.
_VERTEX_VARIABLES = ("AIP_", "CLOUD_ML_", "CLUSTER_SPEC", "TF_CONFIG")
# Vertex's TF_CONFIG task names of worker pools 0-3 (the evaluator is not in `cluster`).
# cloud.google.com/vertex-ai/docs/training/distributed-training#tf-config-format
TF_TASK_TYPES = ("chief", "worker", "ps", "evaluator")


class LaunchError(Exception):
    """The job cannot start (an image this emulator cannot run, a missing app...)."""


@dataclass(frozen=True)
class RunnerConfig:
    root: Path
    apps_dir: Path
    storage_url: str  # STORAGE_EMULATOR_HOST for every replica
    docker: bool = False
    gcs_dir: Path | None = None  # mounted at /gcs in containers
    python: str = sys.executable
    grace_s: float = 10.0


@dataclass(frozen=True)
class Replica:
    pool: int
    index: int
    command: list[str]
    env: dict[str, str]
    cwd: str | None
    log_path: Path
    container: str | None = None  # docker mode: the container's name

    @property
    def name(self) -> str:
        return f"workerpool{self.pool}-{self.index}"


def run_dir(root: Path, job_id: str, trial_id: str | None = None) -> Path:
    base = root / "jobs" / job_id
    return base / "trials" / trial_id if trial_id else base


def metric_file(root: Path, job_id: str, trial_id: str | None = None) -> Path:
    return run_dir(root, job_id, trial_id) / "hypertune" / "output.metrics"


def format_parameter(value: Any) -> str:
    """A trial parameter as Vertex passes it on the command line (`--<id>=<value>`)."""
    # A DOUBLE or DISCRETE value stays a double (32.0), an INTEGER one an int (32).
    return repr(value) if isinstance(value, float) else str(value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pools(job_spec: Any) -> list[tuple[int, Any]]:
    # "All worker pools except the first one are optional and can be skipped by providing an
    # empty value" (CustomJobSpec.worker_pool_specs).
    return [
        (index, pool)
        for index, pool in enumerate(job_spec.worker_pool_specs)
        if type(pool).pb(pool).ByteSize() > 0
    ]


def cluster_specs(
    job_spec: Any, trial_id: str | None, ports: dict[tuple[int, int], int]
) -> dict[tuple[int, int], dict[str, str]]:
    """CLUSTER_SPEC and TF_CONFIG of every replica, as Vertex documents them
    (cloud.google.com/vertex-ai/docs/training/distributed-training#cluster-variables):
    `cluster` maps workerpool<i> to host:port of its replicas, `task` is this replica's
    type and index (plus `trial` in a tuning trial), `job` the CustomJobSpec. Hosts are
    127.0.0.1 and the ports free ones of this machine."""
    pools = _pools(job_spec)
    cluster = {
        f"workerpool{pool}": [
            f"127.0.0.1:{ports[pool, index]}" for index in range(spec.replica_count or 1)
        ]
        for pool, spec in pools
    }
    tf_cluster = {
        TF_TASK_TYPES[pool]: cluster[f"workerpool{pool}"] for pool, _ in pools if pool < 3
    }
    job = json_format.MessageToDict(type(job_spec).pb(job_spec))
    specs = {}
    for pool, index in ports:
        task: dict[str, Any] = {"type": f"workerpool{pool}", "index": index}
        tf_task: dict[str, Any] = {"type": TF_TASK_TYPES[pool], "index": index}
        if trial_id:
            task["trial"] = tf_task["trial"] = trial_id
        common = {"environment": "cloud", "job": job}
        specs[pool, index] = {
            "CLUSTER_SPEC": json.dumps({"cluster": cluster, "task": task, **common}),
            "TF_CONFIG": json.dumps({"cluster": tf_cluster, "task": tf_task, **common}),
        }
    return specs


def thread_share(processes: int) -> dict[str, str]:
    """OMP_NUM_THREADS for replicas that share this machine where Vertex gives each its own
    VM: the CPUs split between them (torch and NumPy size their thread pools by it), unless
    the emulator's environment sets it already (a job's container env still wins)."""
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // max(1, processes)))}


def output_dirs(job_spec: Any, trial_id: str | None) -> dict[str, str]:
    """AIP_MODEL_DIR, AIP_CHECKPOINT_DIR, AIP_TENSORBOARD_LOG_DIR, from
    CustomJobSpec.base_output_directory (custom_job.proto): "<base>/model/",
    "<base>/checkpoints/", "<base>/logs/"; for a trial of a HyperparameterTuningJob
    "<base>/<trial_id>/model/" and so on. Unset without a base output directory."""
    prefix = job_spec.base_output_directory.output_uri_prefix
    if not prefix:
        return {}
    base = prefix.rstrip("/") + (f"/{trial_id}" if trial_id else "")
    return {
        "AIP_MODEL_DIR": f"{base}/model/",
        "AIP_CHECKPOINT_DIR": f"{base}/checkpoints/",
        "AIP_TENSORBOARD_LOG_DIR": f"{base}/logs/",
    }


def _local_command(config: RunnerConfig, image_uri: str, container: Any) -> tuple[list[str], str]:
    """Command and directory of a local app (`local.vtrain/<app>/<flavour>:ctx-…`): the
    container's command if set, else the manifest's (read by config.apps), `python` being
    this one."""
    match = LOCAL_IMAGE.match(image_uri)
    if match is None:
        raise LaunchError(
            f"the image {image_uri!r} is not a local app (local.vtrain/<app>/<flavour>:"
            "ctx-<16 hex>); the emulator runs other images only with --docker"
        )
    app_dir = config.apps_dir / match["app"]
    if not app_dir.is_dir():
        raise LaunchError(f"the image {image_uri!r} names the app {match['app']!r}: no {app_dir}")
    try:
        app = load_app(app_dir)  # the app's MLproject, checked
    except ManifestError as error:
        raise LaunchError(f"the image {image_uri!r}: {error}") from None
    if match["flavour"] not in app.flavours:
        raise LaunchError(
            f"the image {image_uri!r}: the app {app.name!r} ships the flavours "
            f"{', '.join(app.flavours)}, not {match['flavour']!r}"
        )
    command = list(container.command) or list(app.command)
    if command and command[0] in ("python", "python3"):
        command[0] = config.python  # the emulator's interpreter, with the apps' requirements
    return command, str(app_dir)


def docker_command(
    image_uri: str, command: list[str], args: list[str], env: dict[str, str], name: str,
    gcs_dir: Path | None,
) -> list[str]:  # fmt: skip
    """The `docker run` of one replica: host network (so 127.0.0.1 reaches the storage
    emulator and the other replicas), Vertex's variables, the storage data at /gcs (Vertex
    mounts buckets there with Cloud Storage FUSE), the container spec's command as the
    entrypoint when set."""
    run = ["docker", "run", "--rm", "--init", "--name", name, "--network", "host"]
    for key in sorted(env):
        run += ["--env", f"{key}={env[key]}"]
    if gcs_dir is not None:
        run += ["--volume", f"{gcs_dir}:/gcs"]
    if command:
        run += ["--entrypoint", command[0], image_uri, *command[1:]]
    else:
        run.append(image_uri)
    return run + args


def plan_replicas(
    config: RunnerConfig,
    job_spec: Any,
    job_id: str,
    trial_id: str | None = None,
    parameters: dict[str, Any] | None = None,
    concurrent_runs: int = 1,
) -> list[Replica]:
    """The replicas of a CustomJobSpec, each with its command line, environment and log.
    ``concurrent_runs``: how many runs of this spec share the machine (parallel trials)."""
    directory = run_dir(config.root, job_id, trial_id)
    pools = _pools(job_spec)
    ports = {
        (pool, index): _free_port() for pool, spec in pools for index in range(spec.replica_count)
    }
    threads = thread_share(len(ports) * concurrent_runs)
    clusters = cluster_specs(job_spec, trial_id, ports)
    trial_args = [f"--{key}={format_parameter(value)}" for key, value in (parameters or {}).items()]
    vertex_env = {
        **output_dirs(job_spec, trial_id),
        "CLOUD_ML_JOB_ID": job_id,
        "CLOUD_ML_HP_METRIC_FILE": str(metric_file(config.root, job_id, trial_id)),
        "STORAGE_EMULATOR_HOST": config.storage_url,
    }
    if trial_id:
        vertex_env["CLOUD_ML_TRIAL_ID"] = trial_id
    inherited = {
        key: value for key, value in os.environ.items() if not key.startswith(_VERTEX_VARIABLES)
    }
    replicas = []
    for pool, spec in pools:
        if type(spec).pb(spec).WhichOneof("task") != "container_spec":
            raise LaunchError(f"workerpool{pool}: only container_spec pools are emulated")
        container = spec.container_spec
        own_env = {item.name: item.value for item in container.env}
        args = [*container.args, *trial_args]
        for index in range(spec.replica_count):
            env = {**threads, **own_env, **vertex_env, **clusters[pool, index]}
            log_path = directory / "logs" / f"workerpool{pool}-{index}.log"
            if config.docker and not LOCAL_IMAGE.match(container.image_uri):
                name = f"vtrain-{job_id}-{trial_id or 'job'}-workerpool{pool}-{index}"
                command = docker_command(
                    container.image_uri, list(container.command), args, env, name, config.gcs_dir
                )
                replicas.append(Replica(pool, index, command, inherited, None, log_path, name))
                continue
            command, app_dir = _local_command(config, container.image_uri, container)
            own_path = own_env.get("PYTHONPATH")
            env = {
                **inherited,
                **env,
                "PYTHONPATH": os.pathsep.join(filter(None, [app_dir, own_path])),
            }
            replicas.append(Replica(pool, index, [*command, *args], env, app_dir, log_path))
    return replicas
