# Over 400 lines: every create, state and filter rule Google documents for JobService, cited.
"""What Vertex AI documents about its JobService, enforced by the emulator (server.py) and by
the test fake (tests/harness/fake_job_service.py) alike.

Job states (`job_state.proto`), locations, what a create must satisfy and the list filter
grammar, each rule beside the Google documentation it follows. Nothing here comes from the
provider (vertex_jobs/) or from `config`: the emulator and the fake must be able to disagree
with them.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from google.cloud.aiplatform_v1.types import (
    custom_job,
    hyperparameter_tuning_job,
    job_state,
    study,
)

JobState = job_state.JobState

# ---- job states ------------------------------------------------------------------------
#
# Written from `google/cloud/aiplatform/v1/job_state.proto` (googleapis/googleapis) and its
# rendering in the client references (e.g. cloud.google.com/ruby/docs/reference/
# google-cloud-ai_platform-v1/latest/Google-Cloud-AIPlatform-V1-JobState). The enum has:
#   UNSPECIFIED "The job state is unspecified." - QUEUED "just created or resumed and
#   processing has not yet begun" - PENDING "The service is preparing to run the job." -
#   RUNNING "in progress" - SUCCEEDED "completed successfully" - FAILED "The job failed." -
#   CANCELLING "From this state the job may only go to either JOB_STATE_SUCCEEDED,
#   JOB_STATE_FAILED or JOB_STATE_CANCELLED." - CANCELLED "has been cancelled" - PAUSED
#   "has been stopped, and can be resumed." - EXPIRED "The job has expired." - UPDATING
#   "Only jobs in the RUNNING state can be updated. After updating, the job goes back to the
#   RUNNING state." - PARTIALLY_SUCCEEDED "some results may be missing due to errors".
# So a job is finished ("terminal") in SUCCEEDED, FAILED, CANCELLED (the states CANCELLING
# ends in), EXPIRED and PARTIALLY_SUCCEEDED; it is NOT finished in PAUSED (it can be resumed,
# to QUEUED), UPDATING (it goes back to RUNNING) or UNSPECIFIED (nothing is known of it), nor
# in QUEUED/PENDING/RUNNING/CANCELLING.
TERMINAL = frozenset(
    {
        JobState.JOB_STATE_SUCCEEDED,
        JobState.JOB_STATE_FAILED,
        JobState.JOB_STATE_CANCELLED,
        JobState.JOB_STATE_EXPIRED,
        JobState.JOB_STATE_PARTIALLY_SUCCEEDED,
    }
)
# CustomJob.end_time / HyperparameterTuningJob.end_time: "Time when the CustomJob entered any
# of the following states: JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, JOB_STATE_CANCELLED."
END_TIME_STATES = frozenset(
    {JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED}
)
# Where a state may be left for (documented constraints only; `advance` enforces them).
_ONLY_TO = {
    JobState.JOB_STATE_CANCELLING: frozenset(
        {JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED}
    ),
    JobState.JOB_STATE_UPDATING: frozenset({JobState.JOB_STATE_RUNNING}),
}
_ONLY_FROM = {JobState.JOB_STATE_UPDATING: frozenset({JobState.JOB_STATE_RUNNING})}

# ---- locations -----------------------------------------------------------------------
#
# "Vertex AI doesn't support a global location." "You specify the location for a Vertex AI
# API request by using the appropriate regional endpoint", e.g. europe-west4-aiplatform.
# googleapis.com (cloud.google.com/vertex-ai/docs/general/locations). The regions below are
# those confirmed under "Vertex AI is available in the following regions" on that page (and,
# for me-central1/me-central2, its Generative AI sibling .../generative-ai/docs/learn/
# locations) in the copies read for this fake. A region missing here is INVALID_ARGUMENT;
# if the page lists it (e.g. Osaka, Jakarta, Melbourne, Turin, Johannesburg were not
# confirmed), add it.
# A request to one regional endpoint naming another region's location is INVALID_ARGUMENT:
# "1.Field: parent; Message: The provided location ID doesn't match the endpoint. The valid
# location ID is `us-central1`." (googleapis/python-aiplatform#1684).
VERTEX_AI_REGIONS = frozenset(
    {
        # United States
        "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
        "us-west1", "us-west2", "us-west3", "us-west4",
        # Canada, South America
        "northamerica-northeast1", "northamerica-northeast2",
        "southamerica-east1", "southamerica-west1",
        # Europe
        "europe-central2", "europe-north1", "europe-southwest1", "europe-west1",
        "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
        "europe-west9",
        # Asia Pacific
        "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast3", "asia-south1",
        "asia-southeast1", "australia-southeast1",
        # Middle East
        "me-central1", "me-central2", "me-west1",
    }
)  # fmt: skip
PARENT_PATTERN = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)$")
NAME_PATTERN = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/(?P<collection>[A-Za-z]+)/"
    r"(?P<id>[^/]+)$"
)
MACHINE_TYPE_PATTERN = re.compile(r"^(n1|n2|n2d|e2|c2|c3|a2|a3|g2|m1|ct5lp|cloud-tpu)-[a-z0-9-]+$")


@dataclass(frozen=True)
class Kind:
    message: type  # proto-plus message class
    collection: str  # "customJobs"
    rpc: str  # "CustomJob"
    field: str  # request/response field name, e.g. "custom_job"
    list_field: str  # e.g. "custom_jobs"


CUSTOM = Kind(custom_job.CustomJob, "customJobs", "CustomJob", "custom_job", "custom_jobs")
TUNING = Kind(
    hyperparameter_tuning_job.HyperparameterTuningJob,
    "hyperparameterTuningJobs",
    "HyperparameterTuningJob",
    "hyperparameter_tuning_job",
    "hyperparameter_tuning_jobs",
)


class Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_state(value: Any) -> JobState:
    if isinstance(value, JobState):
        return value
    name = str(value).upper()
    return JobState[name if name.startswith("JOB_STATE_") else f"JOB_STATE_{name}"]


def transition_problem(current: JobState, target: JobState) -> str | None:
    """Why job_state.proto rules out moving from ``current`` to ``target``, or None."""
    if current == target:
        return None
    if current in TERMINAL:
        return f"{current.name} is terminal: a finished job never goes to {target.name}"
    allowed = _ONLY_TO.get(current)
    if allowed is not None and target not in allowed:
        names = ", ".join(sorted(state.name for state in allowed))
        return f"from {current.name} a job may only go to {names}, not {target.name}"
    sources = _ONLY_FROM.get(target)
    if sources is not None and current not in sources:
        names = ", ".join(sorted(state.name for state in sources))
        return f"only a job in {names} can go to {target.name}, not one in {current.name}"
    return None


def check_cancellable(kind: Kind, name: str, state: JobState) -> None:
    """CancelCustomJob/CancelHyperparameterTuningJob on a finished job: FAILED_PRECONDITION,
    "the system is not in a state required for the operation's execution"
    (google/rpc/code.proto); any other state may be cancelled (job_service.proto)."""
    if state in TERMINAL:
        raise Abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f'{kind.rpc} "{name}" is in state {state.name} and cannot be cancelled.',
        )


def check_deletable(kind: Kind, name: str, state: JobState) -> None:
    """Only a finished job can be deleted: job_service.proto says it of the sibling
    DeleteBatchPredictionJob ("Can only be called on jobs that already finished"), and Vertex
    answers a delete of a live CustomJob/HyperparameterTuningJob with FAILED_PRECONDITION.
    PAUSED, UPDATING and UNSPECIFIED are not finished."""
    if state not in TERMINAL:
        raise Abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f'{kind.rpc} "{name}" is in state {state.name}; '
            "only jobs in a terminal state can be deleted.",
        )


# ---- create validation ------------------------------------------------------------------
#
# What CreateCustomJob / CreateHyperparameterTuningJob reject with INVALID_ARGUMENT, from the
# v1 reference (custom_job.proto, hyperparameter_tuning_job.proto, study.proto,
# machine_resources.proto in googleapis/googleapis; the REST pages
# cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec and .../StudySpec) and
# the guides cited at each rule. "Required" fields (google.api.field_behavior = REQUIRED)
# left at their proto3 default are missing. Messages follow Vertex's own shape:
# "List of found errors:\t1.Field: <path>; Message: <what>\t".


def invalid(field_path: str, message: str) -> Abort:
    return Abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"List of found errors:\t1.Field: {field_path}; Message: {message}\t",
    )


def check_location(field_name: str, location: str, served_region: str | None = None) -> None:
    """A request's location must be a Vertex AI region, and the endpoint's own region when
    ``served_region`` says which (see "locations" above)."""
    if location not in VERTEX_AI_REGIONS:
        raise invalid(
            field_name,
            f"Location `{location}` is not a Vertex AI region (there is no global location).",
        )
    if served_region is not None and location != served_region:
        raise invalid(
            field_name,
            "The provided location ID doesn't match the endpoint. The valid location ID is "
            f"`{served_region}`.",
        )


def check_parent(parent: str, served_region: str | None = None) -> None:
    match = PARENT_PATTERN.match(parent)
    if match is None:
        raise invalid("parent", f"{parent!r} is not projects/{{project}}/locations/{{location}}.")
    check_location("parent", match["location"], served_region)


def check_job_name(kind: Kind, name: str, served_region: str | None = None) -> None:
    match = NAME_PATTERN.match(name)
    if match is None or match["collection"] != kind.collection:
        raise invalid("name", f"{name!r} is not a {kind.rpc} resource name.")
    check_location("name", match["location"], served_region)


# CustomJob.labels / HyperparameterTuningJob.labels: "Label keys and values can be no longer
# than 64 characters (Unicode codepoints), can only contain lowercase letters, numeric
# characters, underscores and dashes. International characters are allowed. See
# https://goo.gl/xmQnxf" - the Resource Manager "Requirements for labels": "up to a maximum
# of 64" labels per resource; "Keys have a minimum length of 1 character and a maximum
# length of 63 characters"; "Values can be empty, and have a maximum length of 63
# characters"; "Keys must start with a lowercase letter or international character"
# (cloud.google.com/resource-manager/docs/labels-overview#requirements). The stricter 63 of
# the two documented lengths applies.
MAX_LABELS = 64
MAX_LABEL_LENGTH = 63


def _label_char(char: str) -> bool:
    # lowercase letters (Ll), international letters without case and their marks (Lo, Lm,
    # Mn, Mc: e.g. CJK, kana, Devanagari), digits (Nd), '_' and '-'; never uppercase (Lu)
    return unicodedata.category(char) in ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd") or char in "_-"


def _label_problem(key: str, value: str) -> str | None:
    if not 1 <= len(key) <= MAX_LABEL_LENGTH:
        return f"label key {key!r} must be 1 to {MAX_LABEL_LENGTH} characters"
    if unicodedata.category(key[0]) not in ("Ll", "Lo"):
        return f"label key {key!r} must start with a lowercase letter"
    if not all(_label_char(char) for char in key):
        return f"label key {key!r} may contain only lowercase letters, digits, '_' and '-'"
    if len(value) > MAX_LABEL_LENGTH:
        return f"label {key!r}: the value must be at most {MAX_LABEL_LENGTH} characters"
    if not all(_label_char(char) for char in value):
        return f"label {key!r}: the value may contain only lowercase letters, digits, '_', '-'"
    return None


def validate_job(kind: Kind, job: Any) -> None:
    """Raise INVALID_ARGUMENT (``Abort``) for the first documented rule ``job`` breaks."""
    root = kind.field
    # display_name: "Required. The display name of the CustomJob. The name can be up to 128
    # characters long and can consist of any UTF-8 characters."
    if not job.display_name:
        raise invalid(f"{root}.display_name", "display_name is required.")
    if len(job.display_name) > 128:
        raise invalid(f"{root}.display_name", "The name can be up to 128 characters long.")
    if len(job.labels) > MAX_LABELS:
        raise invalid(f"{root}.labels", f"At most {MAX_LABELS} labels, got {len(job.labels)}.")
    for key, value in job.labels.items():
        problem = _label_problem(key, value)
        if problem:
            raise invalid(f"{root}.labels", problem)
    if kind is CUSTOM:
        _validate_job_spec(f"{root}.job_spec", job.job_spec)
    else:
        _validate_job_spec(f"{root}.trial_job_spec", job.trial_job_spec)
        _validate_tuning(root, job)


def _validate_job_spec(where: str, spec: Any) -> None:
    pools = list(spec.worker_pool_specs)
    # CustomJobSpec.worker_pool_specs: "Required. The spec of the worker pools including
    # machine type and Docker image. All worker pools except the first one are optional and
    # can be skipped by providing an empty value."
    if not pools or _empty(pools[0]):
        raise invalid(f"{where}.worker_pool_specs", "The first worker pool is required.")
    for index, pool in enumerate(pools):
        at = f"{where}.worker_pool_specs[{index}]"
        if index and _empty(pool):
            continue
        # MachineSpec.machine_type: "For BatchPredictionJob or as part of WorkerPoolSpec
        # this field is required." (machine_resources.proto); the known families of
        # cloud.google.com/vertex-ai/docs/training/configure-compute#machine-types.
        machine = pool.machine_spec.machine_type
        if not machine:
            raise invalid(f"{at}.machine_spec.machine_type", "machine_type is required.")
        if not MACHINE_TYPE_PATTERN.match(machine):
            raise invalid(
                f"{at}.machine_spec.machine_type", f'Machine type "{machine}" is not supported.'
            )
        # WorkerPoolSpec `task` is a oneof: ContainerSpec.image_uri "Required. The URI of a
        # container image in the Container Registry that is to be run on each worker
        # replica."; PythonPackageSpec.executor_image_uri, package_uris and python_module
        # are each "Required".
        task = type(pool).pb(pool).WhichOneof("task")
        if task == "python_package_spec":
            package = pool.python_package_spec
            for name in ("executor_image_uri", "package_uris", "python_module"):
                if not getattr(package, name):
                    raise invalid(f"{at}.python_package_spec.{name}", f"{name} is required.")
        elif not pool.container_spec.image_uri:
            raise invalid(f"{at}.container_spec.image_uri", "image_uri is required.")
        # "Primary replica: Exactly one replica is designated the primary replica."; the
        # first worker pool is the primary's, the others hold "One or more" replicas each
        # (cloud.google.com/vertex-ai/docs/training/distributed-training).
        if index == 0 and pool.replica_count != 1:
            raise invalid(
                f"{at}.replica_count",
                f"The primary worker pool must have exactly 1 replica, got {pool.replica_count}.",
            )
        if pool.replica_count < 1:
            raise invalid(f"{at}.replica_count", "replica_count must be at least 1.")
        _check_machine_features(f"{at}.machine_spec", pool.machine_spec)
    _check_spec_features(where, spec)


def _empty(pool: Any) -> bool:
    return type(pool).pb(pool).ByteSize() == 0


# ---- persistent resource, reservations, TPUs, PSC interface, experiments ---------------
#
# Each rule is what the v1 reference states for the field (custom_job.proto,
# machine_resources.proto, reservation_affinity.proto, service_networking.proto,
# persistent_resource_service.proto, metadata_service.proto).

# MachineSpec.tpu_topology: "Corresponds to the TPU topologies available from GKE. (Example:
# tpu_topology: "2x2x1")": two or three chip counts joined by "x".
TPU_TOPOLOGY_PATTERN = re.compile(r"^[1-9][0-9]*(x[1-9][0-9]*){1,2}$")
# ReservationAffinity.values: "This must be the full resource name of the reservation"
# (Compute Engine: projects/{project}/zones/{zone}/reservations/{reservation}).
RESERVATION_NAME_KEY = "compute.googleapis.com/reservation-name"
RESERVATION_PATTERN = re.compile(r"^projects/[^/]+/zones/[^/]+/reservations/[^/]+$")
# CreatePersistentResourceRequest.persistent_resource_id: "The maximum length is 63
# characters, and valid characters are /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/."
PERSISTENT_RESOURCE_ID_PATTERN = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# CustomJobSpec.experiment: "projects/{project}/locations/{location}/metadataStores/
# {metadataStores}/contexts/{experiment-name}"; experiment_run: ".../contexts/
# {experiment-name}-{experiment-run-name}". A context ID "Must be 4-128 characters in length.
# Valid characters are /[a-z][0-9]-/" (CreateContextRequest.context_id).
CONTEXT_PATTERN = re.compile(
    r"^projects/[^/]+/locations/[^/]+/metadataStores/[^/]+/contexts/[a-z0-9-]{4,128}$"
)
# PscInterfaceConfig.network_attachment: "The name of the Compute Engine network attachment to
# attach to the resource within the region and user project": a name, or its resource name
# projects/{project}/regions/{region}/networkAttachments/{name}.
NETWORK_ATTACHMENT_PATTERN = re.compile(
    r"^(projects/[^/]+/regions/[^/]+/networkAttachments/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
)


def _check_machine_features(at: str, machine: Any) -> None:
    if machine.tpu_topology and not TPU_TOPOLOGY_PATTERN.match(machine.tpu_topology):
        raise invalid(f"{at}.tpu_topology", f'TPU topology "{machine.tpu_topology}" is invalid.')
    if not type(machine).pb(machine).HasField("reservation_affinity"):
        return
    affinity = machine.reservation_affinity
    kind = type(affinity).Type
    # reservation_affinity_type: "Required. Specifies the reservation affinity type."
    if affinity.reservation_affinity_type == kind.TYPE_UNSPECIFIED:
        raise invalid(
            f"{at}.reservation_affinity.reservation_affinity_type",
            "reservation_affinity_type is required.",
        )
    # key: "To target a SPECIFIC_RESERVATION by name, use compute.googleapis.com/
    # reservation-name as the key and specify the name of your reservation as its value."
    if affinity.reservation_affinity_type == kind.SPECIFIC_RESERVATION:
        if not affinity.key or not affinity.values:
            raise invalid(
                f"{at}.reservation_affinity",
                "SPECIFIC_RESERVATION needs a key and the reservations as values.",
            )
        if affinity.key == RESERVATION_NAME_KEY:
            for value in affinity.values:
                if not RESERVATION_PATTERN.match(value):
                    raise invalid(
                        f"{at}.reservation_affinity.values",
                        f'"{value}" is not the full resource name of a reservation.',
                    )


def _check_spec_features(where: str, spec: Any) -> None:
    resource_id = spec.persistent_resource_id
    if resource_id and not PERSISTENT_RESOURCE_ID_PATTERN.match(resource_id):
        raise invalid(
            f"{where}.persistent_resource_id", f'"{resource_id}" is not a persistent resource ID.'
        )
    attachment = spec.psc_interface_config.network_attachment
    if attachment and not NETWORK_ATTACHMENT_PATTERN.match(attachment):
        raise invalid(
            f"{where}.psc_interface_config.network_attachment",
            f'"{attachment}" is not a network attachment name.',
        )
    for name in ("experiment", "experiment_run"):
        value = getattr(spec, name)
        if value and not CONTEXT_PATTERN.match(value):
            raise invalid(f"{where}.{name}", f'"{value}" is not a metadata context name.')
    if spec.experiment_run and not spec.experiment_run.startswith(f"{spec.experiment}-"):
        raise invalid(
            f"{where}.experiment_run",
            "The experiment run must be a context named {experiment-name}-{run-name} of the "
            "job's experiment.",
        )


def _validate_tuning(root: str, job: Any) -> None:
    # HyperparameterTuningJob: max_trial_count "Required. The desired total number of
    # Trials."; parallel_trial_count "Required. The desired number of Trials to run in
    # parallel."; max_failed_trial_count "If set to 0, Vertex AI decides how many Trials must
    # fail". No documented relation between the counts: none is checked.
    if job.max_trial_count < 1:
        raise invalid(f"{root}.max_trial_count", "max_trial_count is required (at least 1).")
    if job.parallel_trial_count < 1:
        raise invalid(
            f"{root}.parallel_trial_count", "parallel_trial_count is required (at least 1)."
        )
    if job.max_failed_trial_count < 0:
        raise invalid(f"{root}.max_failed_trial_count", "must not be negative.")
    where = f"{root}.study_spec"
    study_spec = job.study_spec
    # StudySpec.metrics "Required. Metric specs for the Study."; MetricSpec.metric_id
    # "Required. ... Must not contain whitespaces and must be unique amongst all
    # MetricSpecs."; MetricSpec.goal "Required. The optimization goal of the metric."
    if not study_spec.metrics:
        raise invalid(f"{where}.metrics", "At least one metric is required.")
    _check_ids(f"{where}.metrics", [metric.metric_id for metric in study_spec.metrics])
    for index, metric in enumerate(study_spec.metrics):
        if metric.goal == study.StudySpec.MetricSpec.GoalType.GOAL_TYPE_UNSPECIFIED:
            raise invalid(f"{where}.metrics[{index}].goal", "goal is required.")
    # StudySpec.parameters "Required. The set of parameters to tune."; ParameterSpec.
    # parameter_id as metric_id above; one of the value specs.
    if not study_spec.parameters:
        raise invalid(f"{where}.parameters", "At least one parameter is required.")
    _check_ids(f"{where}.parameters", [param.parameter_id for param in study_spec.parameters])
    grid = study_spec.algorithm == study.StudySpec.Algorithm.GRID_SEARCH
    for index, param in enumerate(study_spec.parameters):
        _check_parameter(f"{where}.parameters[{index}]", param, grid)


def _check_ids(where: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if not value or any(char.isspace() for char in value):
            raise invalid(f"{where}[{index}]", f"The ID {value!r} is empty or has whitespace.")
        if value in seen:
            raise invalid(f"{where}[{index}]", f"The ID {value!r} is not unique.")
        seen.add(value)


def _check_parameter(where: str, param: Any, grid: bool) -> None:
    spec_type = study.StudySpec.ParameterSpec
    which = spec_type.pb(param).WhichOneof("parameter_value_spec")
    if which is None:
        raise invalid(where, "A value spec (double, integer, categorical, discrete) is required.")
    # Algorithm.GRID_SEARCH: "To use grid search, all parameters must be INTEGER,
    # CATEGORICAL, or DISCRETE."
    if grid and which == "double_value_spec":
        raise invalid(
            where, "To use grid search, all parameters must be INTEGER, CATEGORICAL, or DISCRETE."
        )
    # UNIT_LOG_SCALE / UNIT_REVERSE_LOG_SCALE: "The entire feasible space must be strictly
    # positive."
    log_scale = param.scale_type in (
        spec_type.ScaleType.UNIT_LOG_SCALE,
        spec_type.ScaleType.UNIT_REVERSE_LOG_SCALE,
    )
    low = high = None
    if which in ("double_value_spec", "integer_value_spec"):
        # min_value / max_value: "Required. Inclusive minimum (maximum) value of the parameter."
        value_spec = getattr(param, which)
        low, high = value_spec.min_value, value_spec.max_value
        if low > high:
            raise invalid(f"{where}.{which}", f"min_value {low} exceeds max_value {high}.")
    elif which == "categorical_value_spec":
        # CategoricalValueSpec.values: "Required. The list of possible categories."
        if not param.categorical_value_spec.values:
            raise invalid(f"{where}.categorical_value_spec.values", "values are required.")
    else:
        # DiscreteValueSpec.values: "Required. A list of possible values. The list should be
        # in increasing order and at least 1e-10 apart. ... should not contain more than
        # 1,000 values."
        values = list(param.discrete_value_spec.values)
        if not values or len(values) > 1000:
            raise invalid(f"{where}.discrete_value_spec.values", "1 to 1000 values are required.")
        if any(later - earlier < 1e-10 for earlier, later in itertools.pairwise(values)):
            raise invalid(
                f"{where}.discrete_value_spec.values",
                "The values must be increasing and at least 1e-10 apart.",
            )
        low = values[0]
    if log_scale and low is not None and low <= 0:
        raise invalid(
            f"{where}.scale_type", "A log scale needs a strictly positive feasible space."
        )


# ---- list filters ---------------------------------------------------------------------
#
# Vertex documents ListCustomJobs/ListHyperparameterTuningJobs `filter` as "the standard list
# filter" (AIP-160, google.aip.dev/160) with these fields: display_name (=, !=, : wildcard),
# state (=, !=), create_time (=, !=, <, <=, >, >=) and "labels supports general map functions
# that is: labels.key=value - key:value equality, labels.key:* - key existence"; examples
# `state!="JOB_STATE_FAILED" OR display_name="my_job"`, `labels.keyA=valueA`
# (cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs/list).
# AIP-160: `OR` binds tighter than `AND`; `-` is the negation operator (like `NOT`) and `.`
# the traversal operator, so neither can be part of a bare name: `labels.my-key` is not the
# key "my-key" (Google's reference lexer, the one in einride/aip-go filtering, splits it into
# `my`, `-`, `key`); and "a non-compliant filter query must error with INVALID_ARGUMENT".
#
# The fake implements: `state`, `display_name` and `labels.<key>` (key: a bare name of
# letters, digits and `_`) compared with `=` or `!=` to a quoted string (or a bare name),
# joined by `AND`/`OR`, grouped by parentheses. Everything else is INVALID_ARGUMENT: the
# undocumented forms because the real service can refuse them, and the documented ones the
# fake does not implement (NOT, `:`, wildcards, create_time) so that a test relying on them
# fails loudly rather than passing on a fake that ignores them.
# The emulator (`full_grammar=True`) takes the whole documented grammar besides: `NOT` and
# `-` before a term; `display_name` with `:` and `*` wildcards (any run of characters, in
# `=`, `!=` and `:`); `labels.<key>:<value>` (equality) and `labels.<key>:*` (existence);
# `create_time` compared (=, !=, <, <=, >, >=) with an RFC 3339 timestamp in quotes.

_FILTER_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|[=<>:().,*-])
      | (?P<name>[A-Za-z0-9_]+)
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
_FILTER_FIELDS = ("state", "display_name", "labels")
_FULL_FILTER_OPERATORS = {
    "state": ("=", "!="),
    "display_name": ("=", "!=", ":"),
    "labels": ("=", "!=", ":"),
    "create_time": ("=", "!=", "<", "<=", ">", ">="),
}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_FILTER_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def _filter_error(filter_text: str, problem: str) -> Abort:
    return Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter {filter_text!r}: {problem}")


def parse_filter(filter_text: str, *, full_grammar: bool = False) -> Callable[[Any], bool]:
    """Parse a list filter into a predicate on a job message (see above); an empty filter
    matches everything. ``full_grammar``: the emulator's whole documented grammar."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = filter_text.rstrip()
    while position < len(text):
        match = _FILTER_TOKEN.match(text, position)
        assert match is not None  # `other` matches any non-space character
        kind = match.lastgroup or "other"
        value = match.group(kind)
        if kind == "other":
            raise _filter_error(filter_text, f"unexpected {value!r}")
        if kind == "name" and value in ("AND", "OR", "NOT"):
            kind = value
        tokens.append((kind, value))
        position = match.end()
    if not tokens:
        return lambda job: True
    index = 0

    def peek() -> tuple[str, str]:
        return tokens[index] if index < len(tokens) else ("end", "")

    def take(*kinds: str, what: str) -> str:
        nonlocal index
        kind, value = peek()
        if kind not in kinds:
            found = "the end" if kind == "end" else repr(value)
            raise _filter_error(filter_text, f"expected {what}, found {found}")
        index += 1
        return value

    def expression() -> Callable[[Any], bool]:  # factor {AND factor}
        parts = [factor()]
        while peek()[0] == "AND":
            take("AND", what="AND")
            parts.append(factor())
        return lambda job: all(part(job) for part in parts)

    def factor() -> Callable[[Any], bool]:  # term {OR term}: OR binds tighter than AND
        parts = [term()]
        while peek()[0] == "OR":
            take("OR", what="OR")
            parts.append(term())
        return lambda job: any(part(job) for part in parts)

    def term() -> Callable[[Any], bool]:  # [NOT | -] ( ( expression ) | restriction )
        nonlocal index
        if full_grammar and (peek()[0] == "NOT" or peek() == ("op", "-")):
            index += 1
            negated = term()
            return lambda job: not negated(job)
        if peek() != ("op", "("):
            return restriction()
        take("op", what="'('")
        inner = expression()
        if peek() != ("op", ")"):
            take(what="')'")  # raises
        take("op", what="')'")
        return inner

    def restriction() -> Callable[[Any], bool]:
        fields = tuple(_FULL_FILTER_OPERATORS) if full_grammar else _FILTER_FIELDS
        field_name = take("name", what=f"one of {', '.join(fields)}")
        if field_name not in fields:
            raise _filter_error(filter_text, f"unsupported field {field_name!r}")
        key = None
        if field_name == "labels":
            if peek() != ("op", "."):
                raise _filter_error(filter_text, "expected labels.<key>")
            take("op", what="'.'")
            key = take("name", what="a label key")
            if not _FILTER_LABEL_KEY.match(key) or peek() == ("op", "-"):
                raise _filter_error(
                    filter_text,
                    f"invalid label key after {key!r}: a key is a name of lowercase letters, "
                    "digits and '_' ('-' is the negation operator)",
                )
        operators = _FULL_FILTER_OPERATORS[field_name] if full_grammar else ("=", "!=")
        operator = take("op", what=" or ".join(repr(op) for op in operators))
        if operator not in operators:
            raise _filter_error(filter_text, f"unsupported operator {operator!r}")
        if field_name == "labels" and operator == ":" and peek() == ("op", "*"):
            take("op", what="'*'")
            return lambda job: key in job.labels  # labels.key:* - key existence
        raw = take("string", "name", what="a value")
        wanted = _unquote(raw) if raw.startswith('"') else raw
        if field_name == "create_time":
            try:
                when = datetime.fromisoformat(wanted)
            except ValueError:
                raise _filter_error(filter_text, f"{wanted!r} is not an RFC 3339 time") from None
            compare = _COMPARISONS[operator]
            return lambda job: compare(job.create_time, when)
        if "*" in wanted and not (full_grammar and field_name == "display_name"):
            raise _filter_error(filter_text, "wildcards are not implemented by this fake")
        if field_name == "state" and wanted not in JobState.__members__:
            raise _filter_error(filter_text, f"unknown state {wanted!r}")

        def actual(job: Any) -> str:
            if field_name == "state":
                return job.state.name
            if field_name == "display_name":
                return job.display_name
            return job.labels.get(key, "")

        pattern = re.compile(".*".join(re.escape(part) for part in wanted.split("*")))
        if operator in ("=", ":"):
            return lambda job: pattern.fullmatch(actual(job)) is not None
        return lambda job: pattern.fullmatch(actual(job)) is None

    predicate = expression()
    if index != len(tokens):
        raise _filter_error(filter_text, f"unexpected {tokens[index][1]!r}")
    return predicate


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])
