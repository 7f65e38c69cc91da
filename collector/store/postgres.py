"""The district engine: PostgreSQL through psycopg 3, several collector processes on one database.

A batch is COPY'd into a staging table and goes in as one `INSERT … SELECT … ON CONFLICT DO
NOTHING RETURNING`, so a thousand records cost a few round trips, and the returned keys say which
were new. Processes that
share a subscription commit concurrently: records are inserted in key order (so two batches
holding the same duplicate keys wait on each other in the same order), alarm merging takes a
per-device advisory lock first, and a deadlock or serialization failure reported by the server
retries the whole batch, which is safe because nothing was acknowledged yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors

from collector.errors import StoreError
from collector.model import RecordRow
from collector.store.base import STREAM_COLUMNS, CommitResult, Store

ALARM_CHANNEL = "elev_alarm_commits"
# A dropped connection (the server restarted, an administrator terminated the backend) is
# reconnected: the store's at its next transaction, the LISTEN connection after a backoff that
# doubles from RECONNECT_FIRST_S up to RECONNECT_MAX_S, for as long as it takes.
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 10.0

T = TypeVar("T")
log = logging.getLogger("collector.store")

RECORD_COLUMNS = (
    "device_id",
    "epoch",
    "seq",
    "kind",
    "mono_ms",
    "wall_ms",
    "clock_synced",
    "time_ms",
    "time_source",
    "received_ms",
    "body",
)


class PostgresStore(Store):
    placeholder = "%s"
    greatest = "GREATEST"
    id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    serial_column = "BIGSERIAL PRIMARY KEY"
    engine_errors = (psycopg.Error,)
    engine_name = "PostgreSQL"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._conn_error: str | None = None  # the last transaction failed with the connection lost
        self._listen_error: str | None = None  # the LISTEN connection is down and being retried

    def problem(self) -> str | None:
        if self._conn_error is not None:
            return f"PostgreSQL connection lost: {self._conn_error}"
        if self._listen_error is not None:
            return f"PostgreSQL (listening for alarm commits), reconnecting: {self._listen_error}"
        return None

    def _lost(self) -> bool:
        return self._conn is not None and (self._conn.closed or self._conn.broken)

    def _retryable(self, exc: BaseException) -> bool:
        # A batch whose connection dropped is tried again on a new one (nothing was acknowledged).
        if isinstance(exc, psycopg.OperationalError) and self._lost():
            return True
        return self._retryable_conflict(exc)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            out = await super()._run(fn, *args)
        except (StoreError, psycopg.Error) as exc:
            if self._lost() or str(exc).startswith("cannot connect"):
                self._conn_error = _first_line(exc)
            raise
        self._conn_error = None
        return out

    def _connect(self) -> None:
        try:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot connect to PostgreSQL at {_redact(self.url)}: {first}") from None

    notifies_alarms = True
    reconnects = True

    def _notify_alarms(self, cur: Any) -> None:
        cur.execute("SELECT pg_notify(%s, '')", (ALARM_CHANNEL,))

    async def foreign_alarm_commits(self) -> AsyncIterator[None]:
        """LISTEN on a connection of its own; notifications from this store's own connection
        (its commits were told in process already) are skipped."""
        if self._conn is None:
            raise StoreError("store is closed")
        delay = RECONNECT_FIRST_S
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    await conn.execute(f"LISTEN {ALARM_CHANNEL}")
                    if self._listen_error is not None:
                        log.warning("PostgreSQL: listening for alarm commits again")
                    self._listen_error = None
                    delay = RECONNECT_FIRST_S
                    # Listening (again): what was committed before, or while it was down, is for a
                    # catch-up scan, which this yield asks for.
                    yield
                    async for note in conn.notifies():
                        # Read each time: the store's own connection may have been replaced.
                        own = self._conn
                        own_pid = own.info.backend_pid if own is not None and not self._lost() else None
                        if note.pid != own_pid:
                            yield
            except psycopg.Error as exc:
                self._listen_error = _first_line(exc)
                log.warning(
                    "PostgreSQL (listening for alarm commits): %s; reconnecting in %.1f s", self._listen_error, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _lock_schema(self, cur: Any) -> None:
        # Concurrent first starts of several processes: serialize the migrations on one lock.
        cur.execute("SELECT pg_advisory_xact_lock(7242001)")

    def _has_column(self, cur: Any, table: str, column: str) -> bool:
        cur.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s AND column_name = %s",
            (table, column),
        )
        return cur.fetchone() is not None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        if self._conn is None:
            raise StoreError("store is closed")
        with ExitStack() as stack:
            for attempt in (1, 2):
                if self._lost():
                    log.warning("PostgreSQL connection lost: reconnecting")
                    self._conn.close()
                    self._connect()  # a StoreError naming the server if it does not answer (health says so)
                conn = self._conn
                assert conn is not None
                try:
                    stack.enter_context(conn.transaction())
                except psycopg.OperationalError:
                    # Found dead at BEGIN: nothing of this transaction ran, so once more on a new one.
                    if attempt == 2 or not self._lost():
                        raise
                    continue
                break
            yield stack.enter_context(conn.cursor())

    def _lock_devices(self, cur: Any, device_ids: Sequence[str]) -> None:
        for device_id in device_ids:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (device_id,))

    def _retryable_conflict(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    def _bulk_insert(
        self, cur: Any, table: str, columns: Sequence[str], tail: str, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """COPY the rows into a per-session staging table, then one INSERT … SELECT from it.

        COPY is several times faster than binding arrays for unnest; the staging table empties
        itself at commit (and at rollback), so a retried batch starts clean."""
        if not rows:
            return
        stage = self._stage(cur, table, columns, rows)
        cols = ", ".join(columns)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} {tail}")

    def _stage(self, cur: Any, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
        stage = f"stage_{table}"
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return stage

    def _touch_devices(self, cur: Any, params: Sequence[tuple[int, str | None, str]]) -> None:
        if not params:
            return
        seen, beats, ids = ([list(col) for col in zip(*params, strict=True)] + [[], [], []])[:3]
        cur.execute(
            "UPDATE devices d SET last_seen_ms = GREATEST(COALESCE(d.last_seen_ms, 0), u.seen_ms), online = TRUE, "
            "heartbeat = COALESCE(u.heartbeat, d.heartbeat) "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(seen_ms, heartbeat, device_id) "
            "WHERE d.device_id = u.device_id",
            (seen, beats, ids),
        )

    def _update_streams(self, cur: Any, new: Sequence[RecordRow], res: CommitResult) -> None:
        per = self._stream_rows(new)
        if not per:
            return
        stage = self._stage(cur, "streams", STREAM_COLUMNS, self._stream_values(per))
        cur.execute(
            f"SELECT s.device_id, s.epoch, s.max_seq FROM streams s JOIN {stage} k "
            "ON s.device_id = k.device_id AND s.epoch = k.epoch"
        )
        for device_id, epoch, top in cur.fetchall():
            res.out_of_order += sum(1 for r in per[(device_id, epoch)] if r.seq < top)
        cols = ", ".join(STREAM_COLUMNS)
        cur.execute(f"INSERT INTO streams ({cols}) SELECT {cols} FROM {stage} {self._streams_tail()}")

    def _insert_records(self, cur: Any, rows: Sequence[RecordRow]) -> list[RecordRow]:
        if not rows:
            return []
        values = [
            (
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
            for r in rows
        ]
        self._bulk_insert(
            cur, "records", RECORD_COLUMNS, "ON CONFLICT DO NOTHING RETURNING device_id, epoch, seq", values
        )
        inserted = {(d, e, s) for d, e, s in cur.fetchall()}
        new = []
        for r in rows:  # a key twice in one batch was inserted once
            if r.key in inserted:
                inserted.discard(r.key)
                new.append(r)
        return new


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
