"""The district engine: PostgreSQL through psycopg 3, several collector processes on one database.

A batch goes in as one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING`, so
a thousand records cost one round trip, and the returned keys say which were new. Processes that
share a subscription commit concurrently: records are inserted in key order (so two batches
holding the same duplicate keys wait on each other in the same order), alarm merging takes a
per-device advisory lock first, and a deadlock or serialization failure reported by the server
retries the whole batch, which is safe because nothing was acknowledged yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from collector.errors import StoreError
from collector.model import RecordRow
from collector.store.base import Store

INSERT_RECORDS = (
    "INSERT INTO records (device_id, epoch, seq, kind, mono_ms, wall_ms, clock_synced, time_ms, time_source, "
    "received_ms, body) SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::bigint[], "
    "%s::bigint[], %s::boolean[], %s::bigint[], %s::text[], %s::bigint[], %s::text[]) "
    "ON CONFLICT DO NOTHING RETURNING device_id, epoch, seq"
)


class PostgresStore(Store):
    placeholder = "%s"
    greatest = "GREATEST"
    id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> None:
        try:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot connect to PostgreSQL at {_redact(self.url)}: {first}") from None

    def _create_schema(self) -> None:
        # Concurrent first starts of several processes: serialize the CREATEs on one lock.
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(7242001)")
            for stmt in self._schema():
                cur.execute(stmt)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        if self._conn is None:
            raise StoreError("store is closed")
        with self._conn.transaction(), self._conn.cursor() as cur:
            yield cur

    def _lock_devices(self, cur: Any, device_ids: Sequence[str]) -> None:
        for device_id in device_ids:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (device_id,))

    def _retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    def _insert_records(self, cur: Any, rows: Sequence[RecordRow]) -> list[RecordRow]:
        if not rows:
            return []
        cols: list[list[Any]] = [[] for _ in range(11)]
        for r in rows:
            vals = (
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
                json.dumps(r.body, separators=(",", ":")),
            )
            for col, v in zip(cols, vals, strict=True):
                col.append(v)
        cur.execute(INSERT_RECORDS, cols)
        inserted = {(d, e, s) for d, e, s in cur.fetchall()}
        new = []
        for r in rows:  # a key twice in one batch was inserted once
            if r.key in inserted:
                inserted.discard(r.key)
                new.append(r)
        return new


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
