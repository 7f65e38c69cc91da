"""The platform's tables (registry, rescue cases, maintenance sessions, outboxes, city intake) and
the connection that reads and writes them, on SQLite and on PostgreSQL.

The platform shares the collector's database (same URL) but keeps its own connection on its own
worker thread, so it never touches the collector's ingest transaction and the collector's code
needs no change. It reads the collector's tables (`devices`, `alarms`, `events`, `records`,
`latest_status`; created by opening the collector's store first) and writes only the tables below.

    PlatformDB(url)  ->  async with db:  await db.run(fn, *args)   # fn(cur, *args) in one transaction

SQL is written with `?` placeholders; `q()` turns them into `%s` for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from collector.errors import StoreError

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(ms: int | None) -> str | None:
    """Unix ms -> '2026-11-29T15:21:11.123Z', the API's time format."""
    if ms is None:
        return None
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str, what: str) -> int:
    """ISO 8601 -> Unix ms (no zone = UTC); ValueError names `what`."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-11-29T15:00:00.000Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


SCHEMA = """
CREATE TABLE IF NOT EXISTS platform_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS elevator_identity (
    device_id TEXT PRIMARY KEY,
    registration_code TEXT NOT NULL UNIQUE,
    rescue_code TEXT NOT NULL UNIQUE,
    area_code TEXT NOT NULL,
    address TEXT NOT NULL,
    using_unit TEXT NOT NULL,
    maintenance_company TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rescue_cases (
    case_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    alarm_id BIGINT UNIQUE,
    floor INTEGER,
    status TEXT NOT NULL,
    occurred_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    next_escalation_ms BIGINT
);
CREATE INDEX IF NOT EXISTS rescue_cases_by_status ON rescue_cases (status, occurred_ms);
CREATE INDEX IF NOT EXISTS rescue_cases_due ON rescue_cases (next_escalation_ms);
CREATE TABLE IF NOT EXISTS rescue_steps (
    case_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    status TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (case_id, n)
);
CREATE TABLE IF NOT EXISTS rescue_escalations (
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_ms BIGINT NOT NULL,
    PRIMARY KEY (case_id, kind)
);
CREATE TABLE IF NOT EXISTS maintenance_sessions (
    device_id TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT,
    floors TEXT NOT NULL,
    too_short BOOLEAN NOT NULL,
    PRIMARY KEY (device_id, start_ms)
);
CREATE TABLE IF NOT EXISTS platform_seen (
    source TEXT NOT NULL,
    row_id BIGINT NOT NULL,
    open BOOLEAN NOT NULL,
    PRIMARY KEY (source, row_id)
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id {id},
    dedupe_key TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    failed_ms BIGINT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (sent_ms, failed_ms, next_attempt_ms);
CREATE TABLE IF NOT EXISTS city_outbox (
    id {id},
    dedupe_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS city_outbox_pending ON city_outbox (sent_ms, id);
CREATE TABLE IF NOT EXISTS feed_digest (
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (kind, item_key)
);
CREATE TABLE IF NOT EXISTS city_items (
    county TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (county, kind, item_key)
);
CREATE TABLE IF NOT EXISTS city_receipts (
    idempotency_key TEXT PRIMARY KEY,
    county TEXT NOT NULL,
    received_ms BIGINT NOT NULL
);
"""


def statements(text: str, id_column: str) -> list[str]:
    return [s.strip() for s in text.format(id=id_column).split(";") if s.strip()]


class PlatformDB:
    """One connection to the shared database on a dedicated thread; `run(fn)` = one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            self.engine = "sqlite"
            self.path = url.removeprefix("sqlite:///")
        elif url.startswith(("postgresql://", "postgres://")):
            self.engine = "postgres"
            self.path = ""
        else:
            raise StoreError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")
        self._conn: Any = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def id_column(self) -> str:
        return "INTEGER PRIMARY KEY" if self.engine == "sqlite" else "BIGSERIAL PRIMARY KEY"

    def q(self, sql: str) -> str:
        return sql if self.engine == "sqlite" else sql.replace("?", "%s")

    async def __aenter__(self) -> PlatformDB:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="platform-db")
        try:
            await self._call(self._connect)
            await self.run(self._create_schema)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._executor is not None:
            await self._call(self._close)
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("platform database is not open (use `async with`)")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(cursor, *args)` inside one transaction on the database thread."""
        return await self._call(self._in_tx, fn, *args)

    def _in_tx(self, fn: Callable[..., T], *args: Any) -> T:
        with self._tx() as cur:
            return fn(cur, *args)

    def _connect(self) -> None:
        if self.engine == "sqlite":
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
        else:
            import psycopg

            try:
                self._conn = psycopg.connect(self.url, autocommit=False)
            except psycopg.Error as exc:
                raise StoreError(f"{self.url.split('@')[-1]}: {str(exc).strip().splitlines()[0]}") from None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        if self._conn is None:
            raise StoreError("platform database is closed")
        if self.engine == "sqlite":
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        else:
            try:
                with self._conn.cursor() as cur:
                    yield cur
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    def _create_schema(self, cur: Any) -> None:
        if self.engine == "postgres":
            # Several processes may start at once; serialize the CREATEs.
            cur.execute("SELECT pg_advisory_xact_lock(7240017)")
        for stmt in statements(SCHEMA, self.id_column):
            cur.execute(stmt)
