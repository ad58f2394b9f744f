"""CLUSTER_SPEC as Vertex sets it becomes a torch rank and a rendezvous address; variables
torchrun sets win. The two-process run is in test_distributed.py."""

import json

import pytest

import tests.harness.trainer  # noqa: F401 (puts images/penguins on sys.path)
from trainer.distributed import ProcessGroupSpec, parse_cluster_spec, resolve_process_group_spec
from trainer.errors import TrainerError


def cluster_spec(task_type: str, index: int, **pools: list[str]) -> str:
    return json.dumps({"cluster": pools, "task": {"type": task_type, "index": index}})


def test_cluster_spec_with_one_replica_is_a_single_process_run() -> None:
    spec_json = cluster_spec("workerpool0", 0, workerpool0=["chief:2222"])
    assert parse_cluster_spec(spec_json) == ProcessGroupSpec("chief", 2222, 1, 0)
    assert resolve_process_group_spec({"CLUSTER_SPEC": spec_json}) is None
    assert resolve_process_group_spec({}) is None


def test_cluster_spec_ranks_follow_pools_and_skip_the_reduction_server() -> None:
    pools = {
        "workerpool0": ["chief:3333"],
        "workerpool1": ["w0:3333", "w1:3333"],
        "workerpool2": ["extra:3333"],
        "workerpool3": ["reducer0:3333", "reducer1:3333"],
    }
    ranks = {
        (task_type, index): parse_cluster_spec(cluster_spec(task_type, index, **pools))
        for task_type, index in [
            ("workerpool0", 0),
            ("workerpool1", 0),
            ("workerpool1", 1),
            ("workerpool2", 0),
        ]  # fmt: skip
    }
    assert {key: spec.rank for key, spec in ranks.items()} == {
        ("workerpool0", 0): 0,
        ("workerpool1", 0): 1,
        ("workerpool1", 1): 2,
        ("workerpool2", 0): 3,
    }
    assert {(spec.master_addr, spec.master_port, spec.world_size) for spec in ranks.values()} == {
        ("chief", 3333, 4)
    }
    with pytest.raises(TrainerError, match="not a torch worker pool"):
        parse_cluster_spec(cluster_spec("workerpool3", 0, **pools))


def test_torchrun_variables_win_over_cluster_spec() -> None:
    environ = {
        "MASTER_ADDR": "10.0.0.9",
        "MASTER_PORT": "29500",
        "WORLD_SIZE": "8",
        "RANK": "5",
        "CLUSTER_SPEC": cluster_spec("workerpool0", 0, workerpool0=["a:1"], workerpool1=["b:1"]),
    }
    assert resolve_process_group_spec(environ) == ProcessGroupSpec("10.0.0.9", 29500, 8, 5)


def test_malformed_cluster_spec_is_a_clear_error() -> None:
    with pytest.raises(TrainerError, match="malformed CLUSTER_SPEC"):
        parse_cluster_spec('{"cluster": {}}')
