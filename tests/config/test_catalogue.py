"""The catalogue's machine and accelerator tables against Google's page, as pure data.

The literals here are transcribed from "Configure compute resources for custom training"
(https://cloud.google.com/vertex-ai/docs/training/configure-compute): its "Machine types"
list, its list of GPU types and its GPU compatibility table. The rules that use the tables
are tested through the engine in tests/config/test_jobs.py.
"""

from __future__ import annotations

import pytest

from config import catalogue

# "Machine types", in the page's order.
DOC_MACHINE_TYPES = """
    a4x-highgpu-4g a4-highgpu-8g a3-ultragpu-8g a3-megagpu-8g
    a3-highgpu-1g a3-highgpu-2g a3-highgpu-4g a3-highgpu-8g
    a2-ultragpu-1g a2-ultragpu-2g a2-ultragpu-4g a2-ultragpu-8g
    a2-highgpu-1g a2-highgpu-2g a2-highgpu-4g a2-highgpu-8g a2-megagpu-16g
    e2-standard-4 e2-standard-8 e2-standard-16 e2-standard-32
    e2-highmem-2 e2-highmem-4 e2-highmem-8 e2-highmem-16 e2-highcpu-16 e2-highcpu-32
    n4-standard-2 n4-standard-4 n4-standard-8 n4-standard-16
    n4-standard-32 n4-standard-48 n4-standard-64 n4-standard-80
    n4-highmem-2 n4-highmem-4 n4-highmem-8 n4-highmem-16
    n4-highmem-32 n4-highmem-48 n4-highmem-64 n4-highmem-80
    n4-highcpu-2 n4-highcpu-4 n4-highcpu-8 n4-highcpu-16
    n4-highcpu-32 n4-highcpu-48 n4-highcpu-64 n4-highcpu-80
    n2-standard-4 n2-standard-8 n2-standard-16 n2-standard-32
    n2-standard-48 n2-standard-64 n2-standard-80
    n2-highmem-2 n2-highmem-4 n2-highmem-8 n2-highmem-16
    n2-highmem-32 n2-highmem-48 n2-highmem-64 n2-highmem-80
    n2-highcpu-16 n2-highcpu-32 n2-highcpu-48 n2-highcpu-64 n2-highcpu-80
    n1-standard-4 n1-standard-8 n1-standard-16 n1-standard-32 n1-standard-64 n1-standard-96
    n1-highmem-2 n1-highmem-4 n1-highmem-8 n1-highmem-16
    n1-highmem-32 n1-highmem-64 n1-highmem-96
    n1-highcpu-16 n1-highcpu-32 n1-highcpu-64 n1-highcpu-96
    c2-standard-4 c2-standard-8 c2-standard-16 c2-standard-30 c2-standard-60
    ct5lp-hightpu-1t ct5lp-hightpu-4t ct5lp-hightpu-8t
    m1-ultramem-40 m1-ultramem-80 m1-ultramem-160 m1-megamem-96
    g2-standard-4 g2-standard-8 g2-standard-12 g2-standard-16
    g2-standard-24 g2-standard-32 g2-standard-48 g2-standard-96
    g4-standard-48 g4-standard-96 g4-standard-192 g4-standard-384
    cloud-tpu
""".split()
# Those the page marks "must be used with certain ... TPUs".
DOC_TPU_MACHINE_TYPES = {"ct5lp-hightpu-1t", "ct5lp-hightpu-4t", "ct5lp-hightpu-8t", "cloud-tpu"}

# The GPU types the page lists for training.
DOC_GPUS = {
    "NVIDIA_GB200",
    "NVIDIA_B200",
    "NVIDIA_H100_MEGA_80GB",
    "NVIDIA_H100_80GB",
    "NVIDIA_H200_141GB",
    "NVIDIA_A100_80GB",
    "NVIDIA_TESLA_A100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_V100",
    "NVIDIA_L4",
    "NVIDIA_RTX_PRO_6000",
}
N1_GPUS = {"NVIDIA_TESLA_P4", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100"}

# The compatibility table's A and G rows: each has one GPU type and one valid count.
DOC_FIXED_GPUS = {
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
    "a3-highgpu-1g": ("NVIDIA_H100_80GB", 1),
    "a3-highgpu-2g": ("NVIDIA_H100_80GB", 2),
    "a3-highgpu-4g": ("NVIDIA_H100_80GB", 4),
    "a3-highgpu-8g": ("NVIDIA_H100_80GB", 8),
    "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
    "a4-highgpu-8g": ("NVIDIA_B200", 8),
    "a4x-highgpu-4g": ("NVIDIA_GB200", 4),
    "a2-ultragpu-1g": ("NVIDIA_A100_80GB", 1),
    "a2-ultragpu-2g": ("NVIDIA_A100_80GB", 2),
    "a2-ultragpu-4g": ("NVIDIA_A100_80GB", 4),
    "a2-ultragpu-8g": ("NVIDIA_A100_80GB", 8),
    "a2-highgpu-1g": ("NVIDIA_TESLA_A100", 1),
    "a2-highgpu-2g": ("NVIDIA_TESLA_A100", 2),
    "a2-highgpu-4g": ("NVIDIA_TESLA_A100", 4),
    "a2-highgpu-8g": ("NVIDIA_TESLA_A100", 8),
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    "g2-standard-4": ("NVIDIA_L4", 1),
    "g2-standard-8": ("NVIDIA_L4", 1),
    "g2-standard-12": ("NVIDIA_L4", 1),
    "g2-standard-16": ("NVIDIA_L4", 1),
    "g2-standard-24": ("NVIDIA_L4", 2),
    "g2-standard-32": ("NVIDIA_L4", 1),
    "g2-standard-48": ("NVIDIA_L4", 4),
    "g2-standard-96": ("NVIDIA_L4", 8),
    "g4-standard-48": ("NVIDIA_RTX_PRO_6000", 1),
    "g4-standard-96": ("NVIDIA_RTX_PRO_6000", 2),
    "g4-standard-192": ("NVIDIA_RTX_PRO_6000", 4),
    "g4-standard-384": ("NVIDIA_RTX_PRO_6000", 8),
}


def _attaches(accelerator: str, machine_type: str) -> bool:
    return machine_type.startswith(catalogue.ACCELERATOR_MACHINE_PREFIXES[accelerator])


def test_training_machine_types_are_the_pages_list():
    assert catalogue.TRAINING_MACHINE_TYPES == set(DOC_MACHINE_TYPES)


def test_accelerators_are_the_pages_gpu_types():
    assert set(catalogue.ACCELERATOR_MACHINE_PREFIXES) == DOC_GPUS


def test_each_machine_type_attaches_exactly_the_tables_gpus():
    def expected(machine_type: str) -> set[str]:
        if machine_type in DOC_FIXED_GPUS:
            return {DOC_FIXED_GPUS[machine_type][0]}
        # N1 rows: narrowed per machine type by N1_ACCELERATOR_COUNTS (below).
        return N1_GPUS if machine_type.startswith("n1-") else set()

    attaches = {m: {gpu for gpu in DOC_GPUS if _attaches(gpu, m)} for m in DOC_MACHINE_TYPES}
    assert attaches == {m: expected(m) for m in DOC_MACHINE_TYPES}


def test_fixed_gpu_count_is_the_tables():
    counts = {m: catalogue.fixed_accelerator_count(m) for m in DOC_MACHINE_TYPES}
    assert counts == {m: DOC_FIXED_GPUS.get(m, (None, None))[1] for m in DOC_MACHINE_TYPES}


def test_gpu_and_tpu_machine_prefixes_cover_the_marked_machine_types():
    gpu_machines = {m for m in DOC_MACHINE_TYPES if m.startswith(catalogue.GPU_MACHINE_PREFIXES)}
    tpu_machines = {m for m in DOC_MACHINE_TYPES if m.startswith(catalogue.TPU_MACHINE_PREFIXES)}
    assert gpu_machines == set(DOC_FIXED_GPUS)
    assert tpu_machines == DOC_TPU_MACHINE_TYPES


def test_g2_l4_counts_are_the_tables():
    assert catalogue.G2_L4_COUNTS == {
        machine: count for machine, (gpu, count) in DOC_FIXED_GPUS.items() if gpu == "NVIDIA_L4"
    }


def test_n1_table_has_a_row_per_n1_training_machine_type():
    n1_machines = {m for m in DOC_MACHINE_TYPES if m.startswith("n1-")}
    assert set(catalogue.N1_ACCELERATOR_COUNTS) == n1_machines
    for row in catalogue.N1_ACCELERATOR_COUNTS.values():
        assert set(row) <= N1_GPUS
        assert all(counts and set(counts) <= {1, 2, 4, 8} for counts in row.values())


@pytest.mark.parametrize(
    "machine_type, gpu, counts",
    [
        # "you can use 2 or 4 NVIDIA_TESLA_T4 GPUs on a VM, but not 3"
        ("n1-standard-4", "NVIDIA_TESLA_T4", (1, 2, 4)),
        # "you must use at least 4 GPUs for each n1-standard-32 VM" (V100)
        ("n1-standard-32", "NVIDIA_TESLA_V100", (4, 8)),
        ("n1-standard-16", "NVIDIA_TESLA_V100", (2, 4, 8)),
        ("n1-highcpu-32", "NVIDIA_TESLA_P4", (2, 4)),
        # "4 NVIDIA_TESLA_P100 GPUs only provides up to 64 virtual CPUS and up to 208 GB"
        ("n1-highcpu-64", "NVIDIA_TESLA_P100", (4,)),
        ("n1-standard-64", "NVIDIA_TESLA_P100", None),
        ("n1-highmem-64", "NVIDIA_TESLA_P100", None),
        ("n1-highcpu-96", "NVIDIA_TESLA_P100", None),
        ("n1-standard-96", "NVIDIA_TESLA_V100", (8,)),
    ],
)
def test_n1_counts_are_the_tables(machine_type, gpu, counts):
    assert catalogue.N1_ACCELERATOR_COUNTS[machine_type].get(gpu) == counts


def test_an_n1_row_reads_the_tables_columns_in_order_and_leaves_out_empty_cells():
    # The table's columns: P4, P100, T4, V100.
    assert catalogue._n1_row((4,), (1, 2), (2, 4), (8,)) == {
        "NVIDIA_TESLA_P4": (4,),
        "NVIDIA_TESLA_P100": (1, 2),
        "NVIDIA_TESLA_T4": (2, 4),
        "NVIDIA_TESLA_V100": (8,),
    }
    assert catalogue._n1_row((4,), (), (4,), (8,)) == {
        "NVIDIA_TESLA_P4": (4,),
        "NVIDIA_TESLA_T4": (4,),
        "NVIDIA_TESLA_V100": (8,),
    }


def test_an_n1_row_with_a_cell_missing_is_refused_not_shifted():
    with pytest.raises(ValueError):
        catalogue._n1_row((1,), (2,), (4,))


def test_a_regional_endpoint_is_the_regions_aiplatform_host():
    host = catalogue.regional_endpoint("europe-west4")
    assert host == "europe-west4-aiplatform.googleapis.com"
    assert catalogue.REGIONAL_ENDPOINT_PATTERN.match(host)["region"] == "europe-west4"


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("team", "ml-platform", None),
        ("cost_center", "", None),
        (
            "Team",
            "ml",
            "label key 'Team' is invalid (lowercase letters, digits, '_' and '-', "
            "starting with a letter, at most 63)",
        ),
        ("a" * 64, "x", f"label key {'a' * 64!r} is invalid"),
        (1, "x", "label key 1 is invalid"),
        (
            "team",
            "ML",
            "label 'team' has value 'ML'; values are lowercase letters, digits, '_' and '-', "
            "at most 63",
        ),
        ("team", "x" * 64, f"label 'team' has value {'x' * 64!r}"),
        ("team", 3, "label 'team' has value 3"),
    ],
)
def test_label_problem_says_why_google_would_refuse_the_label(key, value, problem):
    found = catalogue.label_problem(key, value)
    assert found is None if problem is None else found.startswith(problem)


def test_trial_counts_over_the_maximum_are_named_in_the_callers_spelling():
    counts = {"max_trial_count": 4, "parallel_trial_count": 5, "max_failed_trial_count": 9}
    assert catalogue.trial_count_problems(counts) == [
        ("parallel_trial_count", "parallel_trial_count 5 exceeds max_trial_count 4"),
        ("max_failed_trial_count", "max_failed_trial_count 9 exceeds max_trial_count 4"),
    ]
    assert catalogue.trial_count_problems(counts, spell=str.upper)[0] == (
        "parallel_trial_count",
        "PARALLEL_TRIAL_COUNT 5 exceeds MAX_TRIAL_COUNT 4",
    )


def test_trial_counts_may_equal_the_maximum():
    counts = {"max_trial_count": 4, "parallel_trial_count": 4, "max_failed_trial_count": 4}
    assert catalogue.trial_count_problems(counts) == []
