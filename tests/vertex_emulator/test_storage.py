"""The embedded storage emulator: google-cloud-storage reaches it through
STORAGE_EMULATOR_HOST, and objects are plain files under <root>/gcs (what --docker mounts at
/gcs)."""

from __future__ import annotations

from vertex_emulator.storage import StorageEmulator


def test_objects_written_through_the_client_are_files_under_the_root(tmp_path, monkeypatch):
    emulator = StorageEmulator(tmp_path).start()
    try:
        assert emulator.url == f"http://127.0.0.1:{emulator.port}" and emulator.port > 0
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.url)
        from google.cloud import storage

        client = storage.Client()
        client.create_bucket("data").blob("a/b.txt").upload_from_string("hello")
        assert emulator.objects_dir == tmp_path / "gcs" / ".cloudstorage"
        assert (emulator.objects_dir / "data" / "a" / "b.txt").read_text() == "hello"
    finally:
        emulator.stop()
    again = StorageEmulator(tmp_path).start()  # data survives a restart
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", again.url)
        from google.cloud import storage

        assert storage.Client().bucket("data").blob("a/b.txt").download_as_text() == "hello"
    finally:
        again.stop()


def test_a_wildcard_host_is_reached_through_loopback(tmp_path):
    assert StorageEmulator(tmp_path, host="0.0.0.0", port=4443).url == "http://127.0.0.1:4443"
