"""Issue 12's job features in the stack config: persistent resource, reservation affinity,
PSC interface, TPU pools, retries, dashboard, experiments and `specOverrides`. Each bad value
fails before any resource is registered, naming the job and the key."""

from __future__ import annotations

import pytest

from config import catalogue
from config.loader import ConfigError
from tests.harness.engine import run_stack

NS = "vertex-training"
IMAGE = "penguins-cpu"  # dev builds it
STORE = "projects/acme-ml-dev/locations/us-central1/metadataStores/default"
EXPERIMENT = f"{STORE}/contexts/penguins"
RESERVATION = "projects/acme-ml-dev/zones/us-central1-a/reservations/l4-pool"
ATTACHMENT = "projects/acme-ml-dev/regions/us-central1/networkAttachments/training"
NETWORK = "projects/123456789012/global/networks/training-vpc"
PERSISTENT = {
    "resourcePools": [
        {"id": "cpu", "machineType": "n1-standard-8", "replicaCount": 2},
        {
            "id": "scaled",
            "machineType": "n2-standard-16",
            "replicaCount": 2,
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "bootDiskSizeGb": 200,
        },
    ]
}


def _job(**fields):
    return {"name": "j", "image": IMAGE, **fields}


def _pool(**fields):
    return {"machineType": "n1-standard-8", **fields}


def _rejected(jobs, message, **overrides):
    jobs = jobs if isinstance(jobs, list) else [jobs]
    config = {f"{NS}:jobs": jobs, **{f"{NS}:{key}": value for key, value in overrides.items()}}
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", config)
    assert message in str(raised.value)
    assert raised.value.stack_run.resources == []


BAD = {
    # ---- TPU worker pools
    "TPU without topology": (
        _job(workerPools=[_pool(machineType="ct5lp-hightpu-4t")]),
        "jobs[0].workerPools[0]: machineType 'ct5lp-hightpu-4t' runs on TPUs; "
        "set tpuTopology '2x2'",
    ),
    "TPU topology of another machine type": (
        _job(workerPools=[_pool(machineType="ct5lp-hightpu-8t", tpuTopology="2x2")]),
        "tpuTopology '2x2' does not fit 'ct5lp-hightpu-8t'; it takes '2x4'",
    ),
    "multi-host TPU slice": (
        _job(workerPools=[_pool(machineType="ct5lp-hightpu-4t", tpuTopology="4x4")]),
        "tpuTopology '4x4' is a multi-host TPU slice, not supported yet",
    ),
    "TPU with accelerator keys": (
        _job(
            workerPools=[
                _pool(
                    machineType="ct5lp-hightpu-1t",
                    tpuTopology="1x1",
                    acceleratorType="NVIDIA_L4",
                    acceleratorCount=1,
                )
            ]
        ),
        "machineType 'ct5lp-hightpu-1t' comes with its TPU chips; remove acceleratorType",
    ),
    "topology on a CPU machine": (
        _job(workerPools=[_pool(tpuTopology="2x2")]),
        "jobs[0].workerPools[0]: tpuTopology applies to TPU machine types only",
    ),
    "TPU v2/v3": (
        _job(workerPools=[_pool(machineType="cloud-tpu")]),
        "machineType 'cloud-tpu' (TPU v2/v3) is not supported",
    ),
    # ---- reservation affinity
    "SPECIFIC without values": (
        _job(workerPools=[_pool(reservationAffinity={"type": "SPECIFIC"})]),
        "jobs[0].workerPools[0].reservationAffinity: reservationAffinity type SPECIFIC needs "
        "key and values",
    ),
    "ANY with values": (
        _job(workerPools=[_pool(reservationAffinity={"type": "ANY", "values": ["x"]})]),
        "reservationAffinity type ANY takes no key or values",
    ),
    "reservation by short name": (
        _job(
            workerPools=[
                _pool(
                    reservationAffinity={
                        "type": "SPECIFIC",
                        "key": catalogue.RESERVATION_NAME_KEY,
                        "values": ["l4-pool"],
                    }
                )
            ]
        ),
        "reservationAffinity value 'l4-pool' is not a reservation's full resource name",
    ),
    "reservation in another region": (
        _job(
            workerPools=[
                _pool(
                    reservationAffinity={
                        "type": "SPECIFIC",
                        "key": catalogue.RESERVATION_NAME_KEY,
                        "values": [RESERVATION.replace("us-central1-a", "europe-west4-b")],
                    }
                )
            ]
        ),
        "jobs[0].workerPools[0].reservationAffinity.values: reservation zone 'europe-west4-b' "
        "is not in the stack's region 'us-central1'",
    ),
    "unknown affinity type": (
        _job(workerPools=[_pool(reservationAffinity={"type": "SOME"})]),
        "jobs[0].workerPools[0].reservationAffinity.type",
    ),
    # ---- PSC interface
    "PSC interface and network": (
        _job(network=NETWORK, pscInterfaceConfig={"networkAttachment": ATTACHMENT}),
        "jobs[0]: set network (VPC Network Peering) or pscInterfaceConfig",
    ),
    "network attachment in another region": (
        _job(
            pscInterfaceConfig={"networkAttachment": ATTACHMENT.replace("us-central1", "us-east1")}
        ),
        "jobs[0].pscInterfaceConfig.networkAttachment: region 'us-east1' is not in the stack's "
        "region 'us-central1'",
    ),
    "malformed network attachment": (
        _job(pscInterfaceConfig={"networkAttachment": "regions/us-central1/training"}),
        "networkAttachment 'regions/us-central1/training' must be a network attachment name",
    ),
    # ---- retries, experiments
    "disableRetries with restartJobOnWorkerRestart": (
        _job(disableRetries=True, restartJobOnWorkerRestart=True),
        "disableRetries: true turns restartJobOnWorkerRestart off",
    ),
    "run without experiment": (
        _job(experimentRun=f"{EXPERIMENT}-run-1"),
        "jobs[0]: experimentRun needs experiment",
    ),
    "experiment by short name": (
        _job(experiment="penguins"),
        "experiment 'penguins' must be projects/<p>/locations/<region>/metadataStores/",
    ),
    "run of another experiment": (
        _job(experiment=EXPERIMENT, experimentRun=f"{STORE}/contexts/other-run-1"),
        f"experimentRun '{STORE}/contexts/other-run-1' must be {EXPERIMENT}-<run name>",
    ),
    "experiment in another region": (
        _job(experiment=EXPERIMENT.replace("us-central1", "europe-west4")),
        "jobs[0].experiment: region 'europe-west4' is not in the stack's region",
    ),
    # ---- specOverrides
    "unknown override field": (
        _job(name="smoke", specOverrides={"enableWebAcess": True}),
        "vertex-training:jobs[0]: job 'smoke': specOverrides.enableWebAcess: unknown field of "
        "google.cloud.aiplatform.v1.CustomJobSpec; did you mean 'enableWebAccess'?",
    ),
    "unknown nested override field": (
        _job(specOverrides={"workerPoolSpecs": [{"machineSpec": {"gpuPartitonSize": "1g"}}]}),
        "specOverrides.workerPoolSpecs[0].machineSpec.gpuPartitonSize: unknown field of "
        "google.cloud.aiplatform.v1.MachineSpec",
    ),
    "override of the wrong type": (
        _job(specOverrides={"scheduling": {"timeout": 60}}),
        "specOverrides: not valid CustomJobSpec proto3 JSON",
    ),
    "override of the service account": (
        _job(specOverrides={"serviceAccount": "x@p.iam.gserviceaccount.com"}),
        "specOverrides.serviceAccount: not overridable (jobs always run as the stack's "
        "training service account)",
    ),
    "override of the image": (
        _job(specOverrides={"workerPoolSpecs": [{"containerSpec": {"imageUri": "python:3"}}]}),
        "specOverrides.workerPoolSpecs[0].containerSpec.imageUri: not overridable",
    ),
    "override with a modelled key": (
        _job(specOverrides={"network": NETWORK}),
        "specOverrides.network: not overridable (use the job key network)",
    ),
    "field given twice": (
        _job(specOverrides={"reservedIpRanges": ["a"], "reserved_ip_ranges": ["b"]}),
        "specOverrides.reserved_ip_ranges: 'reserved_ip_ranges' is set twice",
    ),
    # ---- persistent resource
    "job on a missing persistent resource": (
        _job(persistentResource=True),
        "jobs[0].persistentResource: true, but the stack has no vertex-training:persistentResource",
    ),
}


@pytest.mark.parametrize("job, message", BAD.values(), ids=BAD.keys())
def test_bad_job_feature_is_rejected_before_any_resource(job, message):
    _rejected(job, message)


ON_PERSISTENT = {
    "machine no pool has": (
        _job(
            name="big", persistentResource=True, workerPools=[_pool(machineType="n1-standard-16")]
        ),
        "jobs[0].workerPools[0]: job 'big': machine and disk match no resource pool of the "
        "persistent resource",
    ),
    "disk no pool has": (
        _job(persistentResource=True, workerPools=[_pool(bootDiskSizeGb=500)]),
        "its pools: cpu (n1-standard-8, pd-ssd 100 GB), scaled (n2-standard-16, pd-ssd 200 GB)",
    ),
    "more replicas than the pool": (
        _job(persistentResource=True, workerPools=[_pool(), _pool(replicaCount=3)]),
        "jobs[0].workerPools[1]: job 'j': replicaCount 3 is above the 2 of resource pool cpu",
    ),
    "more replicas than autoscaling allows": (
        _job(
            persistentResource=True,
            workerPools=[
                _pool(),
                _pool(machineType="n2-standard-16", bootDiskSizeGb=200, replicaCount=5),
            ],
        ),
        "replicaCount 5 is above the 4 of resource pool scaled",
    ),
    "network the resource does not have": (
        _job(persistentResource=True, network=NETWORK, workerPools=[_pool()]),
        "jobs[0].network: job 'j': '" + NETWORK + "' differs from the persistent resource's "
        "network None",
    ),
}


@pytest.mark.parametrize("job, message", ON_PERSISTENT.values(), ids=ON_PERSISTENT.keys())
def test_job_that_does_not_fit_the_persistent_resource_is_rejected(job, message):
    _rejected(job, message, persistentResource=PERSISTENT)


BAD_PERSISTENT = {
    "no pools": ({"resourcePools": []}, "persistentResource.resourcePools: [] is not allowed"),
    "bad id": ({**PERSISTENT, "id": "Training"}, "persistentResource: id 'Training': 1-63"),
    "repeated pool ids": (
        {"resourcePools": [_pool(id="a"), _pool(id="a", machineType="n1-standard-16")]},
        "resourcePools ids repeat: ['a', 'a']",
    ),
    "min above replicas": (
        {"resourcePools": [_pool(id="a", minReplicaCount=3, maxReplicaCount=4)]},
        "resource pool 'a': needs minReplicaCount <= replicaCount <= maxReplicaCount, got "
        "3 <= 1 <= 4",
    ),
    "only max": (
        {"resourcePools": [_pool(id="a", maxReplicaCount=4)]},
        "set both minReplicaCount and maxReplicaCount",
    ),
    "TPU pool": (
        {"resourcePools": [_pool(id="a", machineType="ct5lp-hightpu-1t", tpuTopology="1x1")]},
        "resource pool 'a': tpuTopology and reservationAffinity are not supported on a "
        "persistent resource",
    ),
    "GPU pool without GPUs": (
        {"resourcePools": [_pool(id="a", machineType="g2-standard-8")]},
        "persistentResource.resourcePools[0]: machineType 'g2-standard-8' comes with GPUs",
    ),
    "attachment elsewhere": (
        {
            **PERSISTENT,
            "pscInterfaceConfig": {"networkAttachment": ATTACHMENT.replace("us-", "eu-")},
        },
        "persistentResource.pscInterfaceConfig.networkAttachment: region 'eu-central1'",
    ),
}


@pytest.mark.parametrize("resource, message", BAD_PERSISTENT.values(), ids=BAD_PERSISTENT.keys())
def test_bad_persistent_resource_is_rejected_before_any_resource(resource, message):
    _rejected([], message, persistentResource=resource)


def test_valid_features_are_accepted():
    """Each feature at its documented values passes, on one stack."""
    jobs = [
        _job(
            name="tpu",
            workerPools=[_pool(machineType=machine, tpuTopology=topology)],
            disableRetries=True,
        )
        for machine, topology in catalogue.TPU_SINGLE_HOST_TOPOLOGY.items()
    ]
    jobs = [{**job, "name": f"tpu-{i}"} for i, job in enumerate(jobs)]
    jobs.append(
        _job(
            name="on-persistent",
            persistentResource=True,
            workerPools=[
                _pool(),
                _pool(machineType="n2-standard-16", bootDiskSizeGb=200, replicaCount=4),
            ],
            pscInterfaceConfig={"networkAttachment": "training"},
            experiment=EXPERIMENT,
            experimentRun=f"{EXPERIMENT}-run-1",
            enableDashboardAccess=True,
            specOverrides={"reservedIpRanges": ["vertex-range"]},
        )
    )
    persistent = {**PERSISTENT, "pscInterfaceConfig": {"networkAttachment": "training"}}
    run = run_stack("dev", {f"{NS}:jobs": jobs, f"{NS}:persistentResource": persistent})
    names = {job.name for job in run.of_type("pulumi-python:dynamic/vtrain/jobs:CustomJob")}
    assert names == {"tpu-0", "tpu-1", "tpu-2", "on-persistent"}
