"""The embedded Cloud Storage emulator (the `gcp-storage-emulator` package), data under
<root>/gcs, so that `gs://` works for every replica through google-cloud-storage.

google-cloud-storage sends every request to `STORAGE_EMULATOR_HOST` when it is set
(cloud.google.com/python/docs/reference/storage/latest: "the client will use the emulator
host instead of the production endpoint"), and the emulator gives each replica that
variable. Objects live as plain files under <root>/gcs/.cloudstorage/<bucket>/<object>
(the package's layout), which --docker mounts at /gcs.
"""

from __future__ import annotations

from pathlib import Path

from gcp_storage_emulator.server import create_server
from gcp_storage_emulator.settings import STORAGE_DIR


class StorageEmulator:
    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0):
        self.data_dir = root / "gcs"
        self.host, self.port = host, port
        self._server = None

    @property
    def objects_dir(self) -> Path:
        """Where bucket objects are files: <root>/gcs/.cloudstorage."""
        return self.data_dir / STORAGE_DIR

    @property
    def url(self) -> str:
        """STORAGE_EMULATOR_HOST for clients on this machine."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> StorageEmulator:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = create_server(self.host, self.port, in_memory=False, data_dir=str(self.data_dir))
        server.start()
        # Port 0 picks a free port; the package keeps its HTTPServer on the API thread.
        self.port = server._api._httpd.server_port
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
