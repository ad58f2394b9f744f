# Over 400 lines: whole stacks' jobs, in the engine and through the provider host and the fake.
"""TrainingJobs: the stack's configured jobs, launched, refreshed and destroyed for real.

The last tests run whole stacks through Pulumi's dynamic-provider host against the fake
Vertex JobService: the real aiplatform client, real gRPC, the provider as the CLI runs it.
"""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from tests.components.test_images import TWO_APPS
from tests.conftest import CLOUD_STACKS
from tests.harness.engine import run_stack
from vertex_jobs.contract import CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE

NS = "vertex-training"
JOB_TYPES = (CUSTOM_JOB_TYPE, HYPERPARAMETER_TUNING_JOB_TYPE)


def _jobs(run) -> dict[str, dict]:
    return {job.name: job.plain_inputs for job_type in JOB_TYPES for job in run.of_type(job_type)}


def test_each_configured_job_becomes_one_resource(stack_runs):
    assert set(_jobs(stack_runs["dev"])) == {"penguins-baseline"}
    staging = stack_runs["staging"]
    assert [j.name for j in staging.of_type(CUSTOM_JOB_TYPE)] == ["penguins-baseline"]
    assert [j.name for j in staging.of_type(HYPERPARAMETER_TUNING_JOB_TYPE)] == ["penguins-tuning"]
    (component,) = staging.of_type("vtrain:jobs:TrainingJobs")
    for job_type in JOB_TYPES:
        assert all(job.parent == component.urn for job in staging.of_type(job_type))


def test_job_runs_the_stack_image_by_digest_as_the_training_account(stack_run):
    outputs = stack_run.plain_outputs
    for name, job in _jobs(stack_run).items():
        spec = job["job_spec"]
        gpus = spec["worker_pool_specs"][0]["machine_spec"].get("accelerator_type")
        image = "penguins-gpu" if gpus else "penguins-cpu"
        for pool in spec["worker_pool_specs"]:
            assert pool["container_spec"]["image_uri"] == outputs["imageDigests"][image]
            assert "@sha256:" in pool["container_spec"]["image_uri"]
        assert spec["service_account"] == outputs["trainingServiceAccount"]
        prefix = spec["base_output_directory"]["output_uri_prefix"]
        assert prefix == f"gs://{outputs['outputBucket']}/jobs/{name}/"
        assert job["project"] == outputs["project"] and job["region"] == outputs["region"]
        assert {"vtrain-stack", "vtrain-project"} <= set(job["labels"])
        assert job["labels"]["vtrain-job"] == name


def test_trainer_flags_carry_the_data_and_the_job_args(stack_runs):
    outputs = stack_runs["dev"].plain_outputs
    job = _jobs(stack_runs["dev"])["penguins-baseline"]
    args = job["job_spec"]["worker_pool_specs"][0]["container_spec"]["args"]
    assert args == [
        f"--train-data={outputs['sampleTrainDataUri']}",
        f"--val-data={outputs['sampleValDataUri']}",
        "--epochs=30",
        "--learning-rate=0.01",
    ]
    assert job["job_spec"]["scheduling"]["timeout"] == "1800s"
    assert job["labels"]["purpose"] == "smoke-test"


def test_own_data_replaces_the_sample_data():
    jobs = [
        {
            "name": "own",
            "image": "penguins-cpu",
            "args": {"train-data": "gs://mine/t.csv", "val-data": "gs://mine/v.csv"},
        }
    ]
    run = run_stack("dev", {f"{NS}:jobs": jobs, f"{NS}:uploadSampleData": False})
    args = _jobs(run)["own"]["job_spec"]["worker_pool_specs"][0]["container_spec"]["args"]
    assert args == ["--train-data=gs://mine/t.csv", "--val-data=gs://mine/v.csv"]


def test_each_app_gets_its_own_image_flags_and_metric():
    """Two apps in one stack: each job runs its own app's image by digest; only the app that
    owns the sample data gets it; the tuning job on the second app optimises the metric its
    manifest declares."""
    run = run_stack("dev", TWO_APPS)
    outputs, jobs = run.plain_outputs, _jobs(run)
    images = {job["image"] for job in TWO_APPS[f"{NS}:jobs"]}
    assert images == {"penguins-cpu", "linreg-cpu"}
    for job in TWO_APPS[f"{NS}:jobs"]:
        (pool,) = jobs[job["name"]]["job_spec"]["worker_pool_specs"]
        assert pool["container_spec"]["image_uri"] == outputs["imageDigests"][job["image"]]
    args = {
        name: job["job_spec"]["worker_pool_specs"][0]["container_spec"]["args"]
        for name, job in jobs.items()
    }
    assert args["penguins-baseline"] == [
        f"--train-data={outputs['sampleTrainDataUri']}",
        f"--val-data={outputs['sampleValDataUri']}",
        "--epochs=5",
    ]
    assert args["linreg-train"] == ["--steps=50"]
    assert args["linreg-tuning"] == []
    study = jobs["linreg-tuning"]["study_spec"]
    assert study["metrics"] == [{"metric_id": "mse", "goal": "MINIMIZE"}]
    assert [p["parameter_id"] for p in study["parameters"]] == [
        "learning-rate",
        "steps",
        "schedule",
    ]


def test_specs_parse_as_the_real_vertex_messages(stack_run):
    for job in _jobs(stack_run).values():
        spec = json_format.ParseDict(job["job_spec"], aiplatform_v1.CustomJobSpec.pb()())
        assert spec.worker_pool_specs[0].container_spec.image_uri
        if "study_spec" in job:
            study = json_format.ParseDict(job["study_spec"], aiplatform_v1.StudySpec.pb()())
            assert study.metrics[0].metric_id == "accuracy"


def test_study_spec_is_translated_from_the_config(stack_runs):
    job = _jobs(stack_runs["staging"])["penguins-tuning"]
    study = job["study_spec"]
    assert study["metrics"] == [{"metric_id": "accuracy", "goal": "MAXIMIZE"}]
    assert study["algorithm"] == "RANDOM_SEARCH"
    assert study["measurement_selection_type"] == "BEST_MEASUREMENT"
    learning_rate, hidden_units, dropout = study["parameters"]
    assert learning_rate == {
        "parameter_id": "learning-rate",
        "double_value_spec": {"min_value": 0.0001, "max_value": 0.1},
        "scale_type": "UNIT_LOG_SCALE",
    }
    assert hidden_units["integer_value_spec"] == {"min_value": "16", "max_value": "128"}
    assert dropout["discrete_value_spec"] == {"values": [0.0, 0.1, 0.3]}
    assert (job["max_trial_count"], job["parallel_trial_count"]) == (12, 3)
    assert job["max_failed_trial_count"] == 2


def test_prod_jobs_use_gpus_cmek_and_spot_where_configured(stack_runs):
    jobs = _jobs(stack_runs["prod"])
    train, tuning = jobs["penguins-train"], jobs["penguins-tuning"]
    machine = train["job_spec"]["worker_pool_specs"][0]["machine_spec"]
    assert machine == {
        "machine_type": "g2-standard-8",
        "accelerator_type": "NVIDIA_L4",
        "accelerator_count": 1,
    }
    assert train["job_spec"]["scheduling"]["restart_job_on_worker_restart"] is True
    assert tuning["job_spec"]["scheduling"]["strategy"] == "SPOT"
    for job in jobs.values():
        assert job["encryption_kms_key"].endswith("/cryptoKeys/training-data")


def test_jobs_wait_for_data_grants_and_images(stack_runs):
    run = stack_runs["staging"]
    training_member = f"serviceAccount:{run.plain_outputs['trainingServiceAccount']}"
    needed = {
        resource.urn
        for resource in run.resources
        if resource.type in ("gcp:storage/bucketObject:BucketObject", "docker:index/image:Image")
        or resource.plain_inputs.get("member") == training_member
    }
    for job_type in JOB_TYPES:
        for job in run.of_type(job_type):
            assert needed <= set(job.dependencies), job.name


def test_command_and_env_reach_the_container():
    jobs = [
        {
            "name": "custom-entry",
            "image": "penguins-cpu",
            "command": ["python", "-m", "trainer.task"],
            "env": {"TORCH_LOGS": "recompiles"},
        }
    ]
    run = run_stack("dev", {f"{NS}:jobs": jobs})
    container = _jobs(run)["custom-entry"]["job_spec"]["worker_pool_specs"][0]["container_spec"]
    assert container["command"] == ["python", "-m", "trainer.task"]
    assert container["env"] == [{"name": "TORCH_LOGS", "value": "recompiles"}]
    default = _jobs(run_stack("dev"))["penguins-baseline"]["job_spec"]["worker_pool_specs"][0]
    assert "command" not in default["container_spec"]


def test_api_endpoint_and_wait_reach_the_job():
    jobs = [
        {
            "name": "smoke",
            "image": "penguins-cpu",
            "wait": {"untilTerminal": True, "timeoutSeconds": 300},
        }
    ]
    run = run_stack("dev", {f"{NS}:jobs": jobs, f"{NS}:apiEndpoint": "vertex.p.googleapis.com"})
    job = _jobs(run)["smoke"]
    assert job["api_endpoint"] == "vertex.p.googleapis.com"
    assert job["wait"] == {"until_terminal": True, "timeout_seconds": 300}


# ---- the whole stack through the provider host and the fake Vertex service --------------


def _run_for_real(stack, host):
    handler = host.engine_handler()
    return run_stack(stack, resource_handlers={t: handler for t in JOB_TYPES})


def test_up_submits_each_job_once_and_exports_its_state(hosted):
    fake, host = hosted
    run = _run_for_real("staging", host)
    assert len(fake.job_names()) == 2
    exported = run.plain_outputs["jobs"]
    assert set(exported) == {"penguins-baseline", "penguins-tuning"}
    for summary in exported.values():
        assert summary["name"] in fake.job_names()
        assert summary["state"] in ("JOB_STATE_QUEUED", "JOB_STATE_PENDING")
        job_id = summary["name"].rsplit("/", 1)[-1]
        assert summary["console_url"] == (
            "https://console.cloud.google.com/agent-platform/locations/us-central1/training/"
            f"{job_id}?project=acme-ml-staging"
        )
        assert summary["logs_url"] == (
            "https://console.cloud.google.com/logs/query;query=resource.type%3D%22ml_job%22"
            f"%20AND%20resource.labels.job_id%3D%22{job_id}%22?project=acme-ml-staging"
        )
    submitted = fake.job(exported["penguins-baseline"]["name"])
    assert submitted.job_spec.service_account == run.plain_outputs["trainingServiceAccount"]
    assert submitted.labels["vtrain-stack"] == "staging"


def test_up_submits_the_jobs_of_two_apps_as_vertex_accepts_them(hosted):
    fake, host = hosted
    handler = host.engine_handler()
    run = run_stack("dev", TWO_APPS, resource_handlers={t: handler for t in JOB_TYPES})
    exported = run.plain_outputs["jobs"]
    assert set(exported) == {"penguins-baseline", "linreg-train", "linreg-tuning"}
    assert sorted(fake.job_names()) == sorted(summary["name"] for summary in exported.values())
    tuning = fake.job(exported["linreg-tuning"]["name"])
    assert [m.metric_id for m in tuning.study_spec.metrics] == ["mse"]
    container = tuning.trial_job_spec.worker_pool_specs[0].container_spec
    assert container.image_uri == run.plain_outputs["imageDigests"]["linreg-cpu"]


def test_refresh_reads_the_best_trial_and_destroy_leaves_nothing(hosted):
    fake, host = hosted
    run = _run_for_real("staging", host)
    (tuning,) = run.of_type(HYPERPARAMETER_TUNING_JOB_TYPE)
    name = tuning.id
    fake.advance(name, "RUNNING")
    fake.add_trial(name, {"learning-rate": 0.01, "hidden-units": 64, "dropout": 0.1}, 0.91)
    fake.add_trial(name, {"learning-rate": 0.05, "hidden-units": 32, "dropout": 0.3}, 0.97)
    fake.add_trial(
        name, {"learning-rate": 0.09, "hidden-units": 16, "dropout": 0.0}, None, "INFEASIBLE"
    )

    refreshed = host.read(tuning.urn, name, tuning.outputs)["properties"]
    assert refreshed["state"] == "JOB_STATE_RUNNING"
    assert refreshed["best_trial"]["id"] == "2"
    assert refreshed["best_trial"]["metric_value"] == pytest.approx(0.97)
    assert len(refreshed["trials"]) == 3

    for job_type in JOB_TYPES:
        for job in run.of_type(job_type):
            host.delete(job.urn, job.id, job.outputs)
    assert fake.job_names() == [] and fake.live_jobs() == []


def _refresh_then_up(stack, host, first):
    """`pulumi refresh` (Read of every job from the fake), then `pulumi up` of the unchanged
    program: each job is checked and diffed against its refreshed state, as the engine does;
    with nothing to change the engine keeps the refreshed outputs, which is what the program's
    `jobs` output is then built from."""
    refreshed = {}
    for job_type in JOB_TYPES:
        for job in first.of_type(job_type):
            read = host.read(job.urn, job.id, job.outputs)
            assert read["id"] == job.id, job.name
            refreshed[job.name] = (job, read["properties"])

    def keep_refreshed(args):
        job, properties = refreshed[args.name]
        checked = host.check(job.urn, job.outputs, args.inputs)
        assert checked["failures"] == []
        diff = host.diff(job.urn, job.id, properties, checked["inputs"])
        assert diff["changes"] == "DIFF_NONE", (args.name, diff)
        return job.id, properties

    return run_stack(
        stack,
        resource_handlers={t: keep_refreshed for t in JOB_TYPES},
        previous_outputs=first.plain_outputs,
    )


def test_jobs_output_after_refresh_has_the_failure_and_the_trials(hosted):
    fake, host = hosted
    first = _run_for_real("staging", host)
    (baseline,) = first.of_type(CUSTOM_JOB_TYPE)
    (tuning,) = first.of_type(HYPERPARAMETER_TUNING_JOB_TYPE)
    failure = "The replica workerpool0-0 exited with a non-zero status of 1."
    fake.advance(baseline.id, "RUNNING")
    fake.finish(baseline.id, succeeded=False, message=failure)
    fake.advance(tuning.id, "RUNNING")
    fake.add_trial(tuning.id, {"learning-rate": 0.01, "hidden-units": 64, "dropout": 0.1}, 0.91)
    fake.add_trial(tuning.id, {"learning-rate": 0.05, "hidden-units": 32, "dropout": 0.3}, 0.97)
    fake.add_trial(
        tuning.id, {"learning-rate": 0.09, "hidden-units": 16, "dropout": 0.0}, 0.99, "INFEASIBLE"
    )
    fake.finish(tuning.id)

    exported = _refresh_then_up("staging", host, first).plain_outputs["jobs"]

    assert len(fake.job_names()) == 2  # the second run submitted nothing
    failed = exported["penguins-baseline"]
    assert failed["name"] == baseline.id
    assert failed["state"] == "JOB_STATE_FAILED"
    assert failed["error"] == {"code": 13, "message": failure}
    assert failed["console_url"].endswith(
        f"/training/{baseline.id.rsplit('/', 1)[-1]}?project=acme-ml-staging"
    )
    tuned = exported["penguins-tuning"]
    assert tuned["name"] == tuning.id
    assert tuned["state"] == "JOB_STATE_SUCCEEDED"
    assert tuned.get("error") is None  # a None output is dropped on the wire
    assert tuned["best_trial"] == {
        "id": "2",
        "parameters": {"learning-rate": 0.05, "hidden-units": 32, "dropout": 0.3},
        "metric_id": "accuracy",
        "metric_value": pytest.approx(0.97),
    }
    assert [
        (t["id"], t["state"], t["parameters"]["hidden-units"], t["final_metric_value"])
        for t in tuned["trials"]
    ] == [
        ("1", "SUCCEEDED", 64, pytest.approx(0.91)),
        ("2", "SUCCEEDED", 32, pytest.approx(0.97)),
        ("3", "INFEASIBLE", 16, pytest.approx(0.99)),
    ]


# ---- issue 12: accelerator hours before `up`, tuning features, where to look -----------


def test_accelerator_hours_are_each_jobs_worst_case(stack_runs):
    """prod: penguins-train, 1 L4 x 4 h; penguins-tuning, 1 L4 x 6 h x 40 trials. The CPU
    stacks use none."""
    assert stack_runs["prod"].plain_outputs["acceleratorHours"] == {
        "total": 244,
        "byJob": {"penguins-train": 4, "penguins-tuning": 240},
    }
    for stack in ("dev", "staging"):
        hours = stack_runs[stack].plain_outputs["acceleratorHours"]
        assert hours["total"] == 0 and set(hours["byJob"]) == set(_jobs(stack_runs[stack]))


def test_accelerator_hours_are_known_at_the_first_preview(preview_runs, stack_runs):
    for stack in CLOUD_STACKS:  # the local stack runs on this machine and exports none
        hours = preview_runs[stack].plain_outputs["acceleratorHours"]
        assert hours == stack_runs[stack].plain_outputs["acceleratorHours"], stack


TUNED = {
    "name": "penguins-tuning",
    "image": "penguins-cpu",
    "timeout": "1h",
    "study": {
        "metric": {"id": "accuracy", "goal": "MAXIMIZE"},
        "parameters": [
            {
                "id": "batch-size",
                "type": "discrete",
                "values": [32, 64],
                "conditional": [
                    {
                        "parentValues": [64],
                        "parameter": {"id": "epochs", "type": "integer", "min": 5, "max": 20},
                    }
                ],
            }
        ],
        "earlyStopping": {"rule": "decay-curve"},
        "stopping": {"maxTrials": 5, "maxTrialsNoProgress": 3},
        "maxTrialCount": 6,
    },
}


def test_a_tuned_job_with_every_study_feature_runs_through_the_host(hosted):
    """Config -> engine -> dynamic-provider host -> fake Vertex: the study's conditional
    parameter, decay-curve early stopping and stopping rules reach the submitted job; a
    refresh reads each trial with the console and logs links of its own CustomJob, and the
    `jobs` output has the job's links."""
    fake, host = hosted
    handler = host.engine_handler()
    run = run_stack(
        "dev", {f"{NS}:jobs": [TUNED]}, resource_handlers={t: handler for t in JOB_TYPES}
    )
    (tuning,) = run.of_type(HYPERPARAMETER_TUNING_JOB_TYPE)
    submitted = fake.job(tuning.id).study_spec
    assert "decay_curve_stopping_spec" in submitted
    assert submitted.study_stopping_config.max_num_trials == 5
    assert submitted.study_stopping_config.max_num_trials_no_progress == 3
    (condition,) = submitted.parameters[0].conditional_parameter_specs
    assert list(condition.parent_discrete_values.values) == [64.0]
    summary = run.plain_outputs["jobs"]["penguins-tuning"]
    job_id = tuning.id.rsplit("/", 1)[-1]
    assert summary["logs_url"].endswith(f"job_id%3D%22{job_id}%22?project=acme-ml-dev")
    assert run.plain_outputs["acceleratorHours"] == {"total": 0, "byJob": {"penguins-tuning": 0}}

    fake.advance(tuning.id, "RUNNING")
    fake.add_trial(tuning.id, {"batch-size": 64.0, "epochs": 12.0}, 0.93)
    fake.add_trial(tuning.id, {"batch-size": 32.0}, 0.88)
    refreshed = host.read(tuning.urn, tuning.id, tuning.outputs)["properties"]
    assert refreshed["best_trial"]["id"] == "1"
    assert refreshed["best_trial"]["parameters"] == {"batch-size": 64.0, "epochs": 12}
    assert "pareto_trials" not in refreshed  # one metric: None, dropped on the wire
    for trial in refreshed["trials"]:
        trial_job = f"{job_id}{trial['id']}"  # the fake's id for the trial's CustomJob
        assert trial["console_url"].endswith(f"/training/{trial_job}?project=acme-ml-dev")
        assert f"job_id%3D%22{trial_job}%22" in trial["logs_url"]
