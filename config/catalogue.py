"""Facts about Google Cloud and Vertex AI, stated once for the config model and the providers.

Each fact cites where Google documents it. Nothing here reads config or calls an API; the
job providers import this module inside the dynamic-provider host, so it stays light
(standard library only) and free of import-time side effects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

# ---- locations -------------------------------------------------------------------------

# Regions where Vertex AI custom training runs (cloud.google.com/vertex-ai/docs/general/locations).
VERTEX_AI_REGIONS = frozenset(
    {
        "africa-south1",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-southeast1",
        "asia-southeast2",
        "australia-southeast1",
        "australia-southeast2",
        "europe-central2",
        "europe-north1",
        "europe-southwest1",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west4",
        "europe-west6",
        "europe-west8",
        "europe-west9",
        "europe-west12",
        "me-central1",
        "me-central2",
        "me-west1",
        "northamerica-northeast1",
        "northamerica-northeast2",
        "southamerica-east1",
        "southamerica-west1",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-east5",
        "us-south1",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
    }
)

# Vertex AI's regional API host (cloud.google.com/vertex-ai/docs/reference/rest#service-endpoint).
REGIONAL_ENDPOINT_PATTERN = re.compile(r"^(?P<region>[a-z0-9-]+)-aiplatform\.googleapis\.com$")
# A host name with an optional port: a regional host or a Private Service Connect endpoint.
API_ENDPOINT_PATTERN = re.compile(r"^(?P<host>[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?$")


def regional_endpoint(region: str) -> str:
    return f"{region}-aiplatform.googleapis.com"


# ---- names -----------------------------------------------------------------------------

# cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin
PROJECT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
PROJECT_NUMBER_PATTERN = re.compile(r"^[0-9]+$")
# cloud.google.com/artifact-registry/docs/repositories/create-repos (repository names)
REPOSITORY_ID_PATTERN = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# cloud.google.com/kms/docs/resource-hierarchy#keys
KMS_KEY_PATTERN = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/keyRings/(?P<ring>[^/]+)/cryptoKeys/(?P<key>[^/]+)$"
)
# CustomJobSpec.network: projects/{project number}/global/networks/{network}
NETWORK_PATTERN = re.compile(r"^projects/[0-9]+/global/networks/[a-z][a-z0-9-]*$")
# CustomJobSpec.tensorboard: projects/{project}/locations/{location}/tensorboards/{id}
TENSORBOARD_PATTERN = re.compile(
    r"^projects/[^/]+/locations/(?P<location>[^/]+)/tensorboards/[0-9]+$"
)
# CustomJob.display_name: "can be up to 128 characters long and can consist of any UTF-8".
DISPLAY_NAME_MAX_LENGTH = 128

# ---- labels (cloud.google.com/resource-manager/docs/labels-overview#requirements) -------

LABEL_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_PATTERN = re.compile(r"^[a-z0-9_-]{0,63}$")
MAX_LABELS = 64
# A label key a Vertex list filter can name: `labels.key=value` in the AIP-160 grammar
# (google.aip.dev/160), where `-` is the negation operator and `.` traversal, so only keys of
# letters, digits and `_` are documented forms (customJobs.list `filter`,
# cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs/list).
FILTERABLE_LABEL_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def label_problem(key: object, value: object) -> str | None:
    """Why Google would reject the label `key: value`, or None."""
    if not (isinstance(key, str) and LABEL_KEY_PATTERN.match(key)):
        return (
            f"label key {key!r} is invalid (lowercase letters, digits, '_' and '-', "
            "starting with a letter, at most 63)"
        )
    if not (isinstance(value, str) and LABEL_VALUE_PATTERN.match(value)):
        return (
            f"label {key!r} has value {value!r}; values are lowercase letters, digits, "
            "'_' and '-', at most 63"
        )
    return None


# ---- IAM principals (cloud.google.com/iam/docs/principal-identifiers) -------------------

MEMBER_PREFIXES = ("user:", "group:", "serviceAccount:", "principal://", "principalSet://")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
COMPUTE_DEFAULT_SERVICE_ACCOUNT_SUFFIX = "-compute@developer.gserviceaccount.com"

# "Access change propagation" (cloud.google.com/iam/docs/access-change-propagation): a change
# to an allow policy "typically" propagates in 2 minutes, "potentially 7 minutes or longer".
# A grant made in the same `pulumi up` as the first job (serviceAccountUser on the training
# account) can still be denied when the job is created: how long create keeps retrying.
IAM_PROPAGATION_S = 420.0
# What creating a job takes: act-as on the job's service account (CustomJobSpec.service_account:
# "Users submitting jobs must have act-as permission on this run-as account";
# roles/iam.serviceAccountUser grants it) and the create permission of its kind
# (cloud.google.com/vertex-ai/docs/general/access-control).
ACT_AS_PERMISSION = "iam.serviceAccounts.actAs"
VERTEX_JOB_CREATE_PERMISSIONS = {
    "CustomJob": "aiplatform.customJobs.create",
    "HyperparameterTuningJob": "aiplatform.hyperparameterTuningJobs.create",
}

# ---- machines and accelerators ---------------------------------------------------------
# Vertex AI custom training, "Configure compute resources for custom training":
# https://cloud.google.com/vertex-ai/docs/training/configure-compute (the same page is also
# served under docs.cloud.google.com/gemini-enterprise-agent-platform/machine-learning/).
# Its "Machine types" list is every machineType a WorkerPoolSpec may name; its "GPUs" section
# lists the accelerators and, in the compatibility table, the acceleratorCount each machine
# type takes. The page marks region availability elsewhere; regions are not checked here.

# Series -> sizes, exactly as the "Machine types" list has them: "<series>-<size>"
# (n1-standard-4); series built around accelerators end the size in a unit (_SIZE_UNIT).
TRAINING_MACHINE_SERIES: dict[str, tuple[int, ...]] = {
    "e2-standard": (4, 8, 16, 32),
    "e2-highmem": (2, 4, 8, 16),
    "e2-highcpu": (16, 32),
    "n4-standard": (2, 4, 8, 16, 32, 48, 64, 80),
    "n4-highmem": (2, 4, 8, 16, 32, 48, 64, 80),
    "n4-highcpu": (2, 4, 8, 16, 32, 48, 64, 80),
    "n2-standard": (4, 8, 16, 32, 48, 64, 80),
    "n2-highmem": (2, 4, 8, 16, 32, 48, 64, 80),
    "n2-highcpu": (16, 32, 48, 64, 80),
    "n1-standard": (4, 8, 16, 32, 64, 96),
    "n1-highmem": (2, 4, 8, 16, 32, 64, 96),
    "n1-highcpu": (16, 32, 64, 96),
    "c2-standard": (4, 8, 16, 30, 60),
    "m1-ultramem": (40, 80, 160),
    "m1-megamem": (96,),
    "g2-standard": (4, 8, 12, 16, 24, 32, 48, 96),
    "g4-standard": (48, 96, 192, 384),
    "a2-highgpu": (1, 2, 4, 8),
    "a2-megagpu": (16,),
    "a2-ultragpu": (1, 2, 4, 8),
    "a3-highgpu": (1, 2, 4, 8),
    "a3-megagpu": (8,),
    "a3-ultragpu": (8,),
    "a4-highgpu": (8,),
    "a4x-highgpu": (4,),
    "ct5lp-hightpu": (1, 4, 8),
}
_SIZE_UNIT = {"gpu": "g", "tpu": "t"}  # a2-highgpu-4g: 4 GPUs; ct5lp-hightpu-4t: 4 TPU chips
TRAINING_MACHINE_TYPES = frozenset(
    f"{series}-{size}{_SIZE_UNIT.get(series[-3:], '')}"
    for series, sizes in TRAINING_MACHINE_SERIES.items()
    for size in sizes
) | {"cloud-tpu"}

# Accelerator -> the machine series it attaches to (the compatibility table's columns).
ACCELERATOR_MACHINE_PREFIXES = {
    "NVIDIA_TESLA_T4": ("n1-",),
    "NVIDIA_TESLA_V100": ("n1-",),
    "NVIDIA_TESLA_P4": ("n1-",),
    "NVIDIA_TESLA_P100": ("n1-",),
    "NVIDIA_L4": ("g2-",),
    "NVIDIA_RTX_PRO_6000": ("g4-",),
    "NVIDIA_TESLA_A100": ("a2-highgpu-", "a2-megagpu-"),
    "NVIDIA_A100_80GB": ("a2-ultragpu-",),
    "NVIDIA_H100_80GB": ("a3-highgpu-",),
    "NVIDIA_H100_MEGA_80GB": ("a3-megagpu-",),
    "NVIDIA_H200_141GB": ("a3-ultragpu-",),
    "NVIDIA_B200": ("a4-highgpu-",),
    "NVIDIA_GB200": ("a4x-highgpu-",),
}


# The acceleratorCount values each N1 machine type takes per GPU, row by row as the table has
# them; a GPU with no counts is not available on that machine type (the page: 4 P100s provide
# at most 64 vCPUs and 208 GB).
def _n1_row(*counts: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    gpus = ("NVIDIA_TESLA_P4", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100")
    return {gpu: allowed for gpu, allowed in zip(gpus, counts, strict=True) if allowed}


N1_ACCELERATOR_COUNTS: dict[str, dict[str, tuple[int, ...]]] = {
    #                           P4         P100       T4         V100
    "n1-standard-4": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (1, 2, 4, 8)),
    "n1-standard-8": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (1, 2, 4, 8)),
    "n1-standard-16": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (2, 4, 8)),
    "n1-standard-32": _n1_row((2, 4), (2, 4), (2, 4), (4, 8)),
    "n1-standard-64": _n1_row((4,), (), (4,), (8,)),
    "n1-standard-96": _n1_row((4,), (), (4,), (8,)),
    "n1-highmem-2": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (1, 2, 4, 8)),
    "n1-highmem-4": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (1, 2, 4, 8)),
    "n1-highmem-8": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (1, 2, 4, 8)),
    "n1-highmem-16": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (2, 4, 8)),
    "n1-highmem-32": _n1_row((2, 4), (2, 4), (2, 4), (4, 8)),
    "n1-highmem-64": _n1_row((4,), (), (4,), (8,)),
    "n1-highmem-96": _n1_row((4,), (), (4,), (8,)),
    "n1-highcpu-16": _n1_row((1, 2, 4), (1, 2, 4), (1, 2, 4), (2, 4, 8)),
    "n1-highcpu-32": _n1_row((2, 4), (2, 4), (2, 4), (4, 8)),
    "n1-highcpu-64": _n1_row((4,), (4,), (4,), (8,)),
    "n1-highcpu-96": _n1_row((4,), (), (4,), (8,)),
}
# G-series machines come with a fixed number of GPUs that their name does not give.
G2_L4_COUNTS = {
    "g2-standard-4": 1,
    "g2-standard-8": 1,
    "g2-standard-12": 1,
    "g2-standard-16": 1,
    "g2-standard-32": 1,
    "g2-standard-24": 2,
    "g2-standard-48": 4,
    "g2-standard-96": 8,
}
G4_RTX_PRO_6000_COUNTS = {
    "g4-standard-48": 1,
    "g4-standard-96": 2,
    "g4-standard-192": 4,
    "g4-standard-384": 8,
}
# Machine series that always come with GPUs, and those that come with TPUs.
GPU_MACHINE_PREFIXES = ("a2-", "a3-", "a4-", "a4x-", "g2-", "g4-")
TPU_MACHINE_PREFIXES = ("ct5lp-", "cloud-tpu")
# A2/A3/A4 machine types name their GPU count: a2-highgpu-4g has 4, a2-megagpu-16g 16.
_GPU_COUNT_IN_NAME = re.compile(r"^a[0-9]+x?-[a-z]+gpu-(?P<count>[0-9]+)g$")


def fixed_accelerator_count(machine_type: str) -> int | None:
    """The GPU count an A or G machine type comes with (the only count it takes), or None."""
    if machine_type.startswith(("g2-", "g4-")):
        return {**G2_L4_COUNTS, **G4_RTX_PRO_6000_COUNTS}.get(machine_type)
    match = _GPU_COUNT_IN_NAME.match(machine_type)
    return int(match["count"]) if match else None


# ---- TPUs, reservations, private networking, persistent resources ----------------------

# MachineSpec.tpu_topology: "The topology of the TPUs. Corresponds to the TPU topologies
# available from GKE" (aiplatform v1 machine_resources.proto). The TPU v5e machine types of the
# training list above, with the one single-host slice each holds: GKE's "Plan TPUs in GKE"
# (cloud.google.com/kubernetes-engine/docs/concepts/plan-tpus) and Cloud TPU's v5e slice shapes
# (cloud.google.com/tpu/docs/v5e, "Configurations": 1x1 is 1 chip, 2x2 is 4, 2x4 is 8; "Each
# TPU VM in a v5e TPU slice contains 1, 4 or 8 chips"). The multi-host slices (more chips than
# one VM holds: the larger shapes of that table, on ct5lp-hightpu-4t VMs) are not modelled:
# how Vertex maps their hosts to a worker pool's replicas is not in the pages cited here.
TPU_SINGLE_HOST_TOPOLOGY = {
    "ct5lp-hightpu-1t": "1x1",
    "ct5lp-hightpu-4t": "2x2",
    "ct5lp-hightpu-8t": "2x4",
}
TPU_V5E_MULTI_HOST_TOPOLOGIES = ("4x4", "4x8", "8x8", "8x16", "16x16")

# ReservationAffinity.Type (aiplatform v1 reservation_affinity.proto) by config spelling.
RESERVATION_AFFINITY_TYPES = {
    "ANY": "ANY_RESERVATION",
    "SPECIFIC": "SPECIFIC_RESERVATION",
    "NONE": "NO_RESERVATION",
}
# ReservationAffinity.key: "To target a SPECIFIC_RESERVATION by name, use
# compute.googleapis.com/reservation-name as the key"; values: "This must be the full resource
# name of the reservation" (projects/{project}/zones/{zone}/reservations/{name},
# cloud.google.com/compute/docs/reference/rest/v1/reservations).
RESERVATION_NAME_KEY = "compute.googleapis.com/reservation-name"
RESERVATION_PATTERN = re.compile(
    r"^projects/[^/]+/zones/(?P<zone>(?P<region>[a-z]+-[a-z]+[0-9]+)-[a-z])/reservations/"
    r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
)
# PscInterfaceConfig.network_attachment: "The name of the Compute Engine network attachment to
# attach to the resource within the region and user project": a name, or the full resource name
# projects/{project}/regions/{region}/networkAttachments/{name} (Compute's networkAttachments,
# cloud.google.com/compute/docs/reference/rest/v1/networkAttachments; names are RFC 1035).
NETWORK_ATTACHMENT_PATTERN = re.compile(
    r"^(projects/[^/]+/regions/(?P<region>[^/]+)/networkAttachments/)?"
    r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
)
# CreatePersistentResourceRequest.persistent_resource_id: "The maximum length is 63 characters,
# and valid characters are /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/".
PERSISTENT_RESOURCE_ID_PATTERN = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# CustomJobSpec.experiment: projects/{project}/locations/{location}/metadataStores/{store}/
# contexts/{experiment-name}; experiment_run: .../contexts/{experiment-name}-{run-name}. A
# context ID "Must be 4-128 characters in length. Valid characters are /[a-z][0-9]-/"
# (CreateContextRequest.context_id).
EXPERIMENT_CONTEXT_PATTERN = re.compile(
    r"^projects/[^/]+/locations/(?P<location>[^/]+)/metadataStores/(?P<store>[^/]+)"
    r"/contexts/(?P<context>[a-z0-9-]{4,128})$"
)

# ---- jobs ------------------------------------------------------------------------------

# JobState values after which a job never runs again (aiplatform v1 JobState; PAUSED,
# UPDATING and the rest are not terminal).
TERMINAL_JOB_STATES = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)


def trial_count_problems(
    counts: Mapping[str, int], spell: Callable[[str], str] = str
) -> list[tuple[str, str]]:
    """A tuning job's trial counts against each other: `[(field, problem)]`.

    `counts` has `max_trial_count`, `parallel_trial_count` and `max_failed_trial_count`;
    `spell` renders a field name in the caller's convention (config keys are camelCase).
    """
    total = counts["max_trial_count"]
    return [
        (field, f"{spell(field)} {counts[field]} exceeds {spell('max_trial_count')} {total}")
        for field in ("parallel_trial_count", "max_failed_trial_count")
        if counts[field] > total
    ]
