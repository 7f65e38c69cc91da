"""The embedded engine: one SQLite file in WAL mode, fsync'd on every commit.

WAL lets the API read while the ingest writes; `synchronous=FULL` makes a commit survive a power
cut, which is what the acknowledgement to the agent promises. Batching many frames into one
transaction pays for the fsync once per batch instead of once per frame.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collector.errors import StoreError
from collector.model import RecordRow
from collector.store.base import Store

INSERT_RECORD = (
    "INSERT INTO records (device_id, epoch, seq, kind, mono_ms, wall_ms, clock_synced, time_ms, time_source, "
    "received_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


class SqliteStore(Store):
    engine_errors = (sqlite3.Error,)
    engine_name = "SQLite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = url.removeprefix("sqlite:///")
        if not self.path:
            raise StoreError(f"{url!r}: no file path after sqlite:///")
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> None:
        parent = Path(self.path).parent
        if not parent.is_dir():
            raise StoreError(f"{self.url}: directory {parent} does not exist")
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.url}: {exc}") from None
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        if self._conn is None:
            raise StoreError("store is closed")
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def _has_column(self, cur: Any, table: str, column: str) -> bool:
        cur.execute(f"PRAGMA table_info({table})")
        return any(row[1] == column for row in cur.fetchall())

    def _insert_records(self, cur: Any, rows: Sequence[RecordRow]) -> list[RecordRow]:
        new = []
        for r in rows:
            cur.execute(INSERT_RECORD, _values(r))
            if cur.rowcount == 1:
                new.append(r)
        return new


def _values(r: RecordRow) -> tuple[Any, ...]:

    return (
        r.device_id,
        r.epoch,
        r.seq,
        r.kind.value,
        r.mono_ms,
        r.wall_ms,
        r.clock_synced,
        r.time_ms,
        r.time_source,
        r.received_ms,
        r.body_json,
    )
