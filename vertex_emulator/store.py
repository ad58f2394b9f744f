"""Jobs (with their trials), delete operations and live process groups in SQLite under --root.

Every job is stored as its serialized proto (CustomJob / HyperparameterTuningJob, trials
included), so get/list after a restart return exactly what they returned before. The
process groups of running replicas are recorded too: an emulator that died (SIGKILL, a
crash) leaves them behind, and the next start kills them before marking their jobs FAILED.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.longrunning import operations_pb2

from vertex_emulator.rules import CUSTOM, TUNING, Kind

KINDS_BY_COLLECTION = {kind.collection: kind for kind in (CUSTOM, TUNING)}
# Vertex job ids are 19-digit numbers; the first id of a new root.
FIRST_ID = 1_000_000_000_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY, collection TEXT NOT NULL, parent TEXT NOT NULL,
    seq INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS operations (name TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS processes (
    pgid INTEGER PRIMARY KEY, start_ticks TEXT NOT NULL, job TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class JobGone(KeyError):
    """The job is not (or no longer) in the store."""


class Store:
    """Thread-safe: one connection, one lock. ``update`` is the only way a job changes."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- ids ---------------------------------------------------------------------------

    def next_id(self) -> int:
        with self.transaction() as db:
            row = db.execute("SELECT value FROM counters WHERE name = 'id'").fetchone()
            value = row[0] + 1 if row else FIRST_ID
            db.execute("INSERT OR REPLACE INTO counters VALUES ('id', ?)", (value,))
            return value

    # ---- jobs --------------------------------------------------------------------------

    def insert_job(self, kind: Kind, parent: str, job: Any, seq: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?)",
                (job.name, kind.collection, parent, seq, kind.message.serialize(job)),
            )

    def get_job(self, name: str) -> tuple[Kind, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT collection, body FROM jobs WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return None
        kind = KINDS_BY_COLLECTION[row[0]]
        return kind, kind.message.deserialize(row[1])

    def list_jobs(self, kind: Kind, parent: str | None = None) -> list[Any]:
        """Jobs of ``kind`` (under ``parent`` if given), oldest first."""
        query = "SELECT body FROM jobs WHERE collection = ?"
        args: tuple[Any, ...] = (kind.collection,)
        if parent is not None:
            query, args = query + " AND parent = ?", (*args, parent)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [kind.message.deserialize(row[0]) for row in rows]

    def update(self, name: str, change: Callable[[Any], Any]) -> Any:
        """Load job ``name``, apply ``change(job)`` (which mutates it, or raises to leave it
        unchanged), save it and return it. JobGone when the job is not there."""
        with self.transaction() as db:
            row = db.execute("SELECT collection, body FROM jobs WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise JobGone(name)
            kind = KINDS_BY_COLLECTION[row[0]]
            job = kind.message.deserialize(row[1])
            change(job)
            db.execute(
                "UPDATE jobs SET body = ? WHERE name = ?", (kind.message.serialize(job), name)
            )
            return job

    def delete_job(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM jobs WHERE name = ?", (name,))

    # ---- operations --------------------------------------------------------------------

    def put_operation(self, operation: operations_pb2.Operation) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO operations VALUES (?, ?)",
                (operation.name, operation.SerializeToString()),
            )

    def get_operation(self, name: str) -> operations_pb2.Operation | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM operations WHERE name = ?", (name,)).fetchone()
        return None if row is None else operations_pb2.Operation.FromString(row[0])

    def delete_operation(self, name: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM operations WHERE name = ?", (name,)).rowcount > 0

    # ---- process groups of running replicas -------------------------------------------

    def add_process(self, pgid: int, start_ticks: str, job: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO processes VALUES (?, ?, ?)", (pgid, start_ticks, job)
            )

    def remove_process(self, pgid: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM processes WHERE pgid = ?", (pgid,))

    def processes(self) -> list[tuple[int, str, str]]:
        with self._lock:
            return self._db.execute("SELECT pgid, start_ticks, job FROM processes").fetchall()
