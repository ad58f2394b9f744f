"""Where input data is found: local paths and patterns, gs:// URIs and wildcards through
the /gcs FUSE mount or listed and downloaded through the Cloud Storage API (a real
emulator, as the local stack runs one), and the error for a location without data."""

from pathlib import Path

import pytest

from tests.harness.trainer import SAMPLE_TRAIN, SAMPLE_VAL, GcsEmulator
from trainer import storage
from trainer.errors import TrainerError

pytestmark = pytest.mark.usefixtures("metrics_file")

HEADER = SAMPLE_TRAIN.read_text().splitlines()[0]


@pytest.mark.parametrize("route", ["fuse mount", "storage API"])
def test_a_gs_wildcard_matches_the_same_objects_through_the_mount_and_the_api(
    tmp_path: Path, gcs: GcsEmulator, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    names = ["d/train-1.csv", "d/x/train-2.csv", "d/x/y/train-3.csv", "d/val.csv", "e/train-4.csv"]
    if route == "fuse mount":
        for name in names:
            (tmp_path / "gcs" / "route-bucket" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "gcs" / "route-bucket" / name).write_text(HEADER)
        monkeypatch.setattr(storage, "GCS_FUSE_ROOT", tmp_path / "gcs")
    else:
        gcs.upload("route-bucket", {name: HEADER.encode() for name in names})
    for pattern, expected in [
        ("d/train-*", ["d/train-1.csv"]),
        ("d/*/train-?.csv", ["d/x/train-2.csv"]),
        ("d/**train-*.csv", ["d/train-1.csv", "d/x/train-2.csv", "d/x/y/train-3.csv"]),
        ("d/**/train-*.csv", ["d/x/train-2.csv", "d/x/y/train-3.csv"]),
    ]:
        files = storage.localize_inputs(f"gs://route-bucket/{pattern}", tmp_path)
        assert [file.source for file in files] == [f"gs://route-bucket/{n}" for n in expected]
        assert all(file.local.read_text() == HEADER for file in files)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("d/train-*", ["d/train-1.csv", "d/train-"], ["d/x/train-1.csv", "d/val-1.csv"]),
        ("d/**.csv", ["d/a.csv", "d/x/y/a.csv"], ["d/a.csvx", "e/a.csv"]),
        ("d/part-?[0-4].csv", ["d/part-a3.csv"], ["d/part-a5.csv", "d/part-/3.csv"]),
        ("d/[!a]*", ["d/b"], ["d/a", "d/b/c"]),
    ],
)
def test_gs_wildcards_mean_what_gcloud_storage_means(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    regex = storage.gcs_pattern(pattern)
    assert [name for name in matches + misses if regex.fullmatch(name)] == matches


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("{tmp}/train-*.csv", "no files match {tmp}/train-*.csv"),
        ("{tmp}/train.csv", "data file not found: {tmp}/train.csv"),
        ("gs://empty-bucket/train-*.csv", "no objects match gs://empty-bucket/train-*.csv"),
        ("gs://empty-bucket/train.csv", "cannot download gs://empty-bucket/train.csv: 404"),
        ("gs://b*/train.csv", "wildcards are allowed in the object name only"),
        ("bq://project.dataset.table", "BigQuery tables are not supported"),
    ],
)
def test_locations_without_data_are_refused_by_name(
    tmp_path: Path, gcs: GcsEmulator, location: str, message: str
) -> None:
    gcs.upload("empty-bucket", {"val.csv": SAMPLE_VAL.read_bytes()})
    location, message = location.format(tmp=tmp_path), message.format(tmp=tmp_path)
    with pytest.raises(TrainerError) as raised:
        storage.localize_inputs(location, tmp_path)
    assert message in str(raised.value)
