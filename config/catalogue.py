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

# ---- machines and accelerators (cloud.google.com/vertex-ai/docs/training/configure-compute)

MACHINE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")
# Accelerator -> the machine family it attaches to.
ACCELERATOR_MACHINE_PREFIXES = {
    "NVIDIA_TESLA_T4": ("n1-",),
    "NVIDIA_TESLA_V100": ("n1-",),
    "NVIDIA_TESLA_P4": ("n1-",),
    "NVIDIA_TESLA_P100": ("n1-",),
    "NVIDIA_L4": ("g2-",),
    "NVIDIA_TESLA_A100": ("a2-highgpu-", "a2-megagpu-"),
    "NVIDIA_A100_80GB": ("a2-ultragpu-",),
    "NVIDIA_H100_80GB": ("a3-highgpu-",),
    "NVIDIA_H100_MEGA_80GB": ("a3-megagpu-",),
    "NVIDIA_H200_141GB": ("a3-ultragpu-",),
}
# The counts Vertex accepts on N1.
N1_ACCELERATOR_COUNTS = {
    "NVIDIA_TESLA_T4": (1, 2, 4),
    "NVIDIA_TESLA_V100": (1, 2, 4, 8),
    "NVIDIA_TESLA_P4": (1, 2, 4),
    "NVIDIA_TESLA_P100": (1, 2, 4),
}
# G2 machines come with a fixed number of L4 GPUs.
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
# Machine families that always come with GPUs.
GPU_MACHINE_PREFIXES = ("a2-", "a3-", "g2-")


def fixed_accelerator_count(machine_type: str) -> int | None:
    """A2/A3 machines name their GPU count (`a2-highgpu-4g`); G2 ones have a fixed count."""
    if machine_type.startswith("g2-"):
        return G2_L4_COUNTS.get(machine_type)
    match = re.search(r"-([0-9]+)g$", machine_type)
    return int(match[1]) if match and machine_type.startswith(("a2-", "a3-")) else None


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
