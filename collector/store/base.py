"""Schema and the ingest transaction shared by both engines.

Every blocking database call runs on one dedicated worker thread per store (SQLite connections
belong to one thread; a PostgreSQL connection does one thing at a time), so the event loop never
waits on the disk or the network.

The ingest transaction (`commit`) for a batch of records, all or nothing:

1. insert the records; the primary key (device_id, epoch, seq) refuses a record already stored,
   which is how duplicates are found: only newly inserted records have effects below;
2. per stream (device, epoch): highest seq and number stored, so the gaps are visible;
3. per device: last_seen, online, last heartbeat, and the `device_offline` alarm cleared;
4. latest state per elevator (only if newer than the one kept): status records, with the facts of
   newer trip and door-cycle records folded in;
5. events into the history, and raises/clears merged into alarm records (see `_merge_alarm`).

Every record of the batch, new or duplicate, is durably stored once it returns, so the caller may
acknowledge all of them. Times are integer Unix milliseconds in the store; the API formats them.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from collector.errors import StoreError
from collector.model import Kind, RecordRow
from collector.store import schema

log = logging.getLogger("collector.store")

T = TypeVar("T")

OFFLINE_ALARM = "device_offline"

STREAM_COLUMNS = ("device_id", "epoch", "max_seq", "stored", "first_received_ms", "last_received_ms")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    username: str
    created_ms: int
    last_seen_ms: int | None
    online: bool


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    device_id: str
    type: str
    raised_ms: int
    cleared_ms: int | None
    received_ms: int
    floor: int | None
    fault_code: int | None
    cleared_after_restart: bool = False  # its clear came from the agent's first look after a restart


RETURNING_ALARM = "RETURNING id, device_id, type, raised_ms, cleared_ms, floor, fault_code"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm as a commit left it, opened (`cleared_ms` None) or closed: what the store tells
    whoever acts on alarms (the platform), right after the commit, in process."""

    id: int
    device_id: str
    type: str
    raised_ms: int
    cleared_ms: int | None
    floor: int | None
    fault_code: int | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> AlarmChange:
        i, dev, typ, raised, cleared, floor, fault = row
        return cls(int(i), dev, typ, int(raised), None if cleared is None else int(cleared), floor, fault)


AlarmListener = Callable[[Sequence[AlarmChange]], None]


@dataclass(slots=True)
class CommitResult:
    new: int = 0
    duplicates: int = 0
    stored: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # (device, epoch) -> seqs
    alarms_raised: int = 0
    alarms_cleared: int = 0
    orphan_clears: int = 0
    out_of_order: int = 0  # new records below their stream's highest seq at commit time
    alarm_changes: list[AlarmChange] = field(default_factory=list)  # opened or closed, in commit order


class Store(abc.ABC):
    """The collector's record. Use as `async with open_store(url) as store:`."""

    placeholder = "?"
    greatest = "max"
    id_column = "INTEGER PRIMARY KEY"
    serial_column = "INTEGER PRIMARY KEY"  # the platform's tables (see schema.py)

    def __init__(self, url: str) -> None:
        self.url = url
        # Told after each transaction that opened or closed alarms, on the event loop, with the
        # alarms as committed: how the platform learns of them without reading the table.
        self.alarm_listeners: list[AlarmListener] = []
        self._executor: ThreadPoolExecutor | None = None
        self._tops: dict[tuple[str, int], int] = {}

    # --- engine hooks (run on the store's thread) -------------------------------------------
    @abc.abstractmethod
    def _connect(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Any]:
        """A transaction; yields a cursor; commits on success, rolls back on error."""

    @abc.abstractmethod
    def _insert_records(self, cur: Any, rows: Sequence[RecordRow]) -> list[RecordRow]:
        """Insert, skipping keys already stored; return the rows that were new."""

    def _lock_devices(self, cur: Any, device_ids: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Serialize alarm merging per device across processes (engines with concurrent writers)."""

    def _retryable(self, exc: BaseException) -> bool:
        return False

    reconnects = False  # a lost connection is reopened (a server engine), so callers may retry

    def problem(self) -> str | None:
        """Why the store is not working right now, for /healthz (None: it is, or nobody knows yet)."""
        return None

    notifies_alarms = False  # other processes on the database learn of alarm commits (see below)

    def _notify_alarms(self, cur: Any) -> None:  # noqa: B027 - optional hook
        """Inside a transaction that changed alarms: tell the other processes on this database
        (engines with several writers), delivered when it commits."""

    async def foreign_alarm_commits(self) -> AsyncIterator[None]:
        """Once per commit that changed alarms made by another process on this database (several
        collectors sharing one subscription), for engines where `notifies_alarms`."""
        raise NotImplementedError(f"{self.engine_name} does not tell other processes")
        yield  # pragma: no cover - makes this an async generator

    def _lock_schema(self, cur: Any) -> None:  # noqa: B027 - optional hook
        """Serialize migrations of processes starting at once (engines with concurrent writers)."""

    def q(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    # --- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Store:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        try:
            await self._run(self._connect)
            await self._run(self._migrate)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._executor is not None:
            await self._run(self._close)
            self._executor.shutdown(wait=True)
            self._executor = None

    engine_errors: tuple[type[Exception], ...] = ()
    engine_name = "store"

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run on the store's thread; an engine error that will not be retried becomes a one-line
        StoreError (the daemon exits and systemd restarts it; nothing unstored was acknowledged)."""
        if self._executor is None:
            raise RuntimeError("store is not open (use `async with`)")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except self.engine_errors as exc:
            if self._retryable(exc):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"{self.engine_name}: {first}") from exc

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(cursor, *args)` in one transaction on the store's thread: the one transaction helper
        for code outside this class (the platform's steps and queries, the outboxes)."""
        return await self._run(self._in_tx, fn, *args)

    def _in_tx(self, fn: Callable[..., T], *args: Any) -> T:
        with self._tx() as cur:
            return fn(cur, *args)

    def _migrate(self) -> list[int]:
        """Bring the schema to `schema.LATEST` (see schema.py); the versions applied."""
        with self._tx() as cur:
            self._lock_schema(cur)
            cur.execute(schema.VERSION_TABLE)
            cur.execute("SELECT version FROM schema_version")
            steps = schema.pending([int(v) for (v,) in cur.fetchall()])
            now_ms = time.time_ns() // 1_000_000
            for m in steps:
                for stmt in m.statements(self.id_column, self.serial_column):
                    cur.execute(stmt)
                for table, column, definition in m.columns:
                    if not self._has_column(cur, table, column):
                        cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                cur.execute(
                    self.q("INSERT INTO schema_version (version, applied_ms, why) VALUES (?, ?, ?)"),
                    (m.version, now_ms, m.why),
                )
        if steps:
            log.info(
                "schema: applied migration(s) %s, now version %d",
                ", ".join(str(m.version) for m in steps),
                schema.LATEST,
            )
        return [m.version for m in steps]

    @abc.abstractmethod
    def _has_column(self, cur: Any, table: str, column: str) -> bool: ...

    async def schema_versions(self) -> list[int]:
        """The migration steps this database has had, in order."""
        return await self.run(_versions)

    # --- registry --------------------------------------------------------------------------
    async def add_device(self, device_id: str, username: str, now_ms: int) -> bool:
        """Register a device; False if it already was."""
        return await self._run(self._add_device, device_id, username, now_ms)

    def _add_device(self, device_id: str, username: str, now_ms: int) -> bool:
        with self._tx() as cur:
            cur.execute(
                self.q("INSERT INTO devices (device_id, username, created_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                (device_id, username, now_ms),
            )
            return bool(cur.rowcount == 1)

    async def add_devices(self, device_ids: Sequence[str], now_ms: int) -> int:
        """Register many devices in one transaction (a district's import); returns how many were new."""
        return await self._run(self._add_devices, list(device_ids), now_ms)

    def _add_devices(self, device_ids: list[str], now_ms: int) -> int:
        with self._tx() as cur:
            before = self._count(cur, "devices")
            cur.executemany(
                self.q("INSERT INTO devices (device_id, username, created_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                [(d, d, now_ms) for d in device_ids],
            )
            return self._count(cur, "devices") - before

    @staticmethod
    def _count(cur: Any, table: str) -> int:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cur.fetchone()[0])

    async def remove_device(self, device_id: str) -> bool:
        return await self._run(self._remove_device, device_id)

    def _remove_device(self, device_id: str) -> bool:
        with self._tx() as cur:
            cur.execute(self.q("DELETE FROM devices WHERE device_id = ?"), (device_id,))
            return bool(cur.rowcount == 1)

    async def devices(self) -> list[DeviceInfo]:
        return await self._run(self._devices)

    def _devices(self) -> list[DeviceInfo]:
        with self._tx() as cur:
            cur.execute("SELECT device_id, username, created_ms, last_seen_ms, online FROM devices ORDER BY device_id")
            return [DeviceInfo(r[0], r[1], r[2], r[3], bool(r[4])) for r in cur.fetchall()]

    async def device_ids(self) -> frozenset[str]:
        return await self._run(self._device_ids)

    def _device_ids(self) -> frozenset[str]:
        with self._tx() as cur:
            cur.execute("SELECT device_id FROM devices")
            return frozenset(r[0] for r in cur.fetchall())

    # --- ingest ----------------------------------------------------------------------------
    async def commit(self, rows: Sequence[RecordRow]) -> CommitResult:
        """Store a batch in one transaction (see module doc); retried on engine-reported conflicts."""
        ordered = sorted(rows, key=lambda r: r.key)
        for attempt in range(5):
            try:
                res = await self._run(self._commit, ordered)
            except Exception as exc:  # noqa: BLE001 - only engine conflicts are retried, the rest re-raised
                if attempt == 4 or not self._retryable(exc):
                    raise
            else:
                self._tell(res.alarm_changes)
                return res
        raise AssertionError("unreachable")

    def _tell(self, changes: Sequence[AlarmChange]) -> None:
        """Hand the committed alarm changes to the listeners (the last state of each alarm)."""
        if not changes:
            return
        last = list({c.id: c for c in changes}.values())
        for listener in self.alarm_listeners:
            listener(last)

    def _commit(self, rows: Sequence[RecordRow]) -> CommitResult:
        res = CommitResult()
        with self._tx() as cur:
            self._lock_devices(cur, sorted({r.device_id for r in rows if r.kind is Kind.EVENT}))
            new = self._insert_records(cur, rows)
            res.new = len(new)
            res.duplicates = len(rows) - len(new)
            stored: dict[tuple[str, int], list[int]] = defaultdict(list)
            for r in rows:
                stored[(r.device_id, r.epoch)].append(r.seq)
            res.stored = dict(stored)
            self._update_streams(cur, new, res)
            self._update_devices(cur, rows, res)
            self._update_latest(cur, new)
            events = [r for r in new if r.kind is Kind.EVENT and r.event is not None]
            if events:
                cur.executemany(
                    self.q(
                        "INSERT INTO events (device_id, epoch, seq, type, action, floor, fault_code, time_ms, "
                        "received_ms, after_restart) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [(r.device_id, r.epoch, r.seq, *_event_columns(r)) for r in events],
                )
                for r in events:
                    self._merge_alarm(cur, r, res)
            if res.alarm_changes:
                self._notify_alarms(cur)
        return res

    def _bulk_insert(
        self, cur: Any, table: str, columns: Sequence[str], tail: str, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """`INSERT INTO table (columns) VALUES (…) tail` for every row; engines with round trips
        override this to send the rows at once."""
        cols = ", ".join(columns)
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))}) {tail}", rows)

    def _touch_devices(self, cur: Any, params: Sequence[tuple[int, str | None, str]]) -> None:
        """(seen_ms, heartbeat JSON or None, device_id): last_seen, online, last heartbeat."""
        cur.executemany(
            self.q(
                f"UPDATE devices SET last_seen_ms = {self.greatest}(COALESCE(last_seen_ms, 0), ?), online = TRUE, "
                "heartbeat = COALESCE(?, heartbeat) WHERE device_id = ?"
            ),
            params,
        )

    def _stream_rows(self, new: Sequence[RecordRow]) -> dict[tuple[str, int], list[RecordRow]]:
        per: dict[tuple[str, int], list[RecordRow]] = defaultdict(list)
        for r in new:
            per[(r.device_id, r.epoch)].append(r)
        return per

    @staticmethod
    def _stream_values(per: dict[tuple[str, int], list[RecordRow]]) -> list[tuple[Any, ...]]:
        out = []
        for d, e in sorted(per):
            rs = per[(d, e)]
            rx = [r.received_ms for r in rs]
            out.append((d, e, max(r.seq for r in rs), len(rs), min(rx), max(rx)))
        return out

    def _streams_tail(self) -> str:
        g = self.greatest
        return (
            "ON CONFLICT (device_id, epoch) DO UPDATE SET "
            f"max_seq = {g}(streams.max_seq, excluded.max_seq), stored = streams.stored + excluded.stored, "
            f"last_received_ms = {g}(streams.last_received_ms, excluded.last_received_ms)"
        )

    def _update_streams(self, cur: Any, new: Sequence[RecordRow], res: CommitResult) -> None:
        """Highest seq and number stored per stream; counts records stored below the previous top."""
        per = self._stream_rows(new)
        if not per:
            return
        # The embedded engine has one writer: this process's view of each stream's top is the truth
        # (after a restart the first batch of a stream is not compared).
        if len(self._tops) > 500_000:
            self._tops.clear()
        for key, rs in per.items():
            top = self._tops.get(key)
            high = max(r.seq for r in rs)
            if top is not None:
                res.out_of_order += sum(1 for r in rs if r.seq < top)
            self._tops[key] = high if top is None else max(top, high)
        self._bulk_insert(cur, "streams", STREAM_COLUMNS, self._streams_tail(), self._stream_values(per))

    def _update_devices(self, cur: Any, rows: Sequence[RecordRow], res: CommitResult) -> None:
        seen: dict[str, int] = {}
        beats: dict[str, RecordRow] = {}
        for r in rows:
            seen[r.device_id] = max(seen.get(r.device_id, 0), r.received_ms)
            if r.heartbeat is not None and (r.device_id not in beats or r.seq > beats[r.device_id].seq):
                beats[r.device_id] = r
        params = []
        for device_id in sorted(seen):  # one lock order for every process
            hb = beats.get(device_id)
            params.append((seen[device_id], json.dumps(hb.heartbeat) if hb is not None else None, device_id))
        self._touch_devices(cur, params)
        cur.execute(
            self.q(
                "SELECT id, device_id, type, raised_ms, cleared_ms, floor, fault_code FROM alarms "
                "WHERE type = ? AND cleared_ms IS NULL AND raise_epoch IS NULL"
            ),
            (OFFLINE_ALARM,),
        )
        back = sorted((AlarmChange.of(row) for row in cur.fetchall() if row[1] in seen), key=lambda a: a.device_id)
        if back:
            cur.executemany(
                self.q(
                    "UPDATE alarms SET cleared_ms = ? WHERE device_id = ? AND type = ? AND cleared_ms IS NULL "
                    "AND raise_epoch IS NULL"
                ),
                [(seen[a.device_id], a.device_id, OFFLINE_ALARM) for a in back],
            )
            res.alarm_changes += [replace(a, cleared_ms=seen[a.device_id]) for a in back]

    def _update_latest(self, cur: Any, new: Sequence[RecordRow]) -> None:
        """The latest state per elevator: a status record replaces it; a trip or door-cycle record
        newer than it folds its facts in (see `fold_fact`), because under the agent's reporting
        policy status records come only when the shown state changes, not after every trip."""
        per: dict[str, list[RecordRow]] = defaultdict(list)
        for r in new:
            if r.kind in LATEST_KINDS:
                per[r.device_id].append(r)
        if not per:
            return
        kept: dict[str, tuple[int, dict[str, Any]]] = {}
        folding = sorted(d for d, rs in per.items() if any(r.kind is not Kind.STATUS for r in rs))
        if folding:
            cur.execute(
                self.q(
                    f"SELECT device_id, time_ms, state FROM latest_status WHERE device_id IN "
                    f"({', '.join('?' * len(folding))})"
                ),
                folding,
            )
            kept = {d: (int(t), json.loads(state)) for d, t, state in cur.fetchall()}
        latest: dict[str, tuple[RecordRow, dict[str, Any]]] = {}
        for device_id in sorted(per):
            time_ms, state = kept.get(device_id, (None, None))
            last: RecordRow | None = None
            for r in sorted(per[device_id], key=lambda r: (r.time_ms, r.kind is Kind.STATUS, r.epoch, r.seq)):
                if time_ms is not None and r.time_ms < time_ms:
                    continue  # older than what is kept
                if r.kind is Kind.STATUS:
                    state = r.body
                elif state is not None:
                    state = fold_fact(state, r.kind, r.body)
                else:
                    continue  # no status yet to fold a trip into: its facts alone are not a state
                time_ms, last = r.time_ms, r
            if last is not None and state is not None:
                latest[device_id] = (last, state)
        if not latest:
            return
        self._bulk_insert(
            cur,
            "latest_status",
            ("device_id", "epoch", "seq", "time_ms", "received_ms", "state"),
            "ON CONFLICT (device_id) DO UPDATE SET epoch = excluded.epoch, "
            "seq = excluded.seq, time_ms = excluded.time_ms, received_ms = excluded.received_ms, "
            "state = excluded.state WHERE excluded.time_ms >= latest_status.time_ms",
            [
                (r.device_id, r.epoch, r.seq, r.time_ms, r.received_ms, _dumps(state))
                for r, state in (latest[d] for d in sorted(latest))
            ],
        )

    def _merge_alarm(self, cur: Any, r: RecordRow, res: CommitResult) -> None:
        """Each raise is one alarm record; the next event of the same type in the same stream (in
        seq order) closes it: its clear, or, should the detector raise again first, that raise.

        Defined on seq order, not arrival order, so frames committed out of order (re-sends, gaps,
        several collectors) give the same alarms: whichever of a raise and its clear is stored
        second finds the other in the event history. A raise or clear from a newer stream of the
        device also closes what an older stream left open (its clear was lost with that outbox);
        a raise never does: a new stream appearing says nothing about the condition (a gateway whose
        outbox was replaced may raise the same, still ongoing entrapment again), and closing the
        open alarm then would mark passengers rescued while they are still inside.
        """
        e = r.event
        assert e is not None
        key = (r.device_id, r.epoch, e.type)
        cur.execute(
            self.q(
                "SELECT seq, action, time_ms FROM events WHERE device_id = ? AND epoch = ? AND type = ? "
                "AND seq < ? ORDER BY seq DESC LIMIT 1"
            ),
            (*key, r.seq),
        )
        prev = cur.fetchone()
        if prev is not None and prev[1] == "raise":
            # this event closes the alarm of the raise before it (unless a nearer event already did)
            cur.execute(
                self.q(
                    "UPDATE alarms SET cleared_ms = ?, clear_seq = ?, cleared_after_restart = ? WHERE device_id = ? "
                    "AND raise_epoch = ? AND type = ? AND raise_seq = ? AND (clear_seq IS NULL OR clear_seq > ?) "
                    + RETURNING_ALARM
                ),
                (r.event_ms, r.seq, e.after_restart, *key, prev[0], r.seq),
            )
            closed = [AlarmChange.of(row) for row in cur.fetchall()]
            res.alarm_changes += closed
            res.alarms_cleared += len(closed) if e.action == "clear" else 0
        elif e.action == "clear":
            res.orphan_clears += 1  # its raise is not stored yet; the raise will find this clear
        if e.action != "raise":
            cur.execute(
                self.q(
                    "UPDATE alarms SET cleared_ms = ?, cleared_after_restart = ? WHERE device_id = ? AND type = ? "
                    "AND cleared_ms IS NULL AND raise_epoch IS NOT NULL AND raise_epoch <> ? AND raised_ms <= ? "
                    + RETURNING_ALARM
                ),
                (r.event_ms, e.after_restart, r.device_id, e.type, r.epoch, r.event_ms),
            )
            res.alarm_changes += [AlarmChange.of(row) for row in cur.fetchall()]
            return
        cur.execute(
            self.q(
                "SELECT seq, time_ms, action, after_restart FROM events WHERE device_id = ? AND epoch = ? "
                "AND type = ? AND seq > ? ORDER BY seq LIMIT 1"
            ),
            (*key, r.seq),
        )
        nxt = cur.fetchone()
        cur.execute(
            self.q(
                "INSERT INTO alarms (device_id, type, raised_ms, cleared_ms, received_ms, raise_epoch, raise_seq, "
                "clear_seq, floor, fault_code, cleared_after_restart) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING " + RETURNING_ALARM
            ),
            (
                r.device_id,
                e.type,
                r.event_ms,
                nxt[1] if nxt else None,
                r.received_ms,
                r.epoch,
                r.seq,
                nxt[0] if nxt else None,
                e.floor,
                e.fault_code,
                bool(nxt is not None and nxt[2] == "clear" and nxt[3]),
            ),
        )
        opened = [AlarmChange.of(row) for row in cur.fetchall()]
        res.alarm_changes += opened
        res.alarms_raised += len(opened)
        if nxt is not None and opened:
            res.alarms_cleared += 1

    # --- presence --------------------------------------------------------------------------
    async def presence(self, device_id: str, online: bool, at_ms: int) -> None:
        self._tell(await self._run(self._presence, device_id, online, at_ms))

    def _presence(self, device_id: str, online: bool, at_ms: int) -> list[AlarmChange]:
        g = self.greatest
        changes: list[AlarmChange] = []
        with self._tx() as cur:
            if online:
                cur.execute(
                    self.q(
                        f"UPDATE devices SET online = TRUE, presence_ms = ?, "
                        f"last_seen_ms = {g}(COALESCE(last_seen_ms, 0), ?) WHERE device_id = ?"
                    ),
                    (at_ms, at_ms, device_id),
                )
                cur.execute(
                    self.q(
                        "UPDATE alarms SET cleared_ms = ? WHERE device_id = ? AND type = ? AND cleared_ms IS NULL "
                        + RETURNING_ALARM
                    ),
                    (at_ms, device_id, OFFLINE_ALARM),
                )
                changes = [AlarmChange.of(row) for row in cur.fetchall()]
                if changes:
                    self._notify_alarms(cur)
            else:
                cur.execute(
                    self.q("UPDATE devices SET online = FALSE, presence_ms = ? WHERE device_id = ?"),
                    (at_ms, device_id),
                )
        return changes

    async def raise_offline(self, now_ms: int, silence_ms: int, since_ms: int) -> list[str]:
        """Raise `device_offline` for devices silent for `silence_ms` (counted from `since_ms` at
        the earliest, the collector's start, so its own downtime is not blamed on the devices)."""
        raised = await self._run(self._raise_offline, now_ms, silence_ms, since_ms)
        self._tell(raised)
        return [a.device_id for a in raised]

    def _raise_offline(self, now_ms: int, silence_ms: int, since_ms: int) -> list[AlarmChange]:
        g = self.greatest
        raised: list[AlarmChange] = []
        with self._tx() as cur:
            cur.execute(
                self.q(
                    f"SELECT device_id, {g}(COALESCE(last_seen_ms, created_ms), ?) AS ref FROM devices "
                    f"WHERE {g}(COALESCE(last_seen_ms, created_ms), ?) < ?"
                ),
                (since_ms, since_ms, now_ms - silence_ms),
            )
            for device_id, ref in cur.fetchall():
                cur.execute(self.q("UPDATE devices SET online = FALSE WHERE device_id = ?"), (device_id,))
                cur.execute(
                    self.q(
                        "INSERT INTO alarms (device_id, type, raised_ms, received_ms) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (device_id, type) WHERE cleared_ms IS NULL AND raise_epoch IS NULL DO NOTHING "
                        + RETURNING_ALARM
                    ),
                    (device_id, OFFLINE_ALARM, ref + silence_ms, now_ms),
                )
                raised += [AlarmChange.of(row) for row in cur.fetchall()]
            if raised:
                self._notify_alarms(cur)
        return raised

    # --- queries for the API ---------------------------------------------------------------
    async def elevators(self) -> list[dict[str, Any]]:
        return await self._run(self._elevators)

    def _elevators(self) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                "SELECT d.device_id, d.online, d.last_seen_ms, d.heartbeat, l.state, l.time_ms "
                "FROM devices d LEFT JOIN latest_status l ON l.device_id = d.device_id ORDER BY d.device_id"
            )
            devs = cur.fetchall()
            cur.execute("SELECT device_id, type FROM alarms WHERE cleared_ms IS NULL ORDER BY raised_ms")
            active: dict[str, list[str]] = defaultdict(list)
            for device_id, typ in cur.fetchall():
                active[device_id].append(typ)
        return [
            {
                "device_id": d[0],
                "online": bool(d[1]),
                "last_seen_ms": d[2],
                "heartbeat": json.loads(d[3]) if d[3] else None,
                "state": json.loads(d[4]) if d[4] else None,
                "state_ms": d[5],
                "active_alarms": active.get(d[0], []),
            }
            for d in devs
        ]

    async def alarms(self, active: bool | None = None, device_id: str | None = None, limit: int = 1000) -> list[Alarm]:
        return await self._run(self._alarms, active, device_id, limit)

    def _alarms(self, active: bool | None, device_id: str | None, limit: int) -> list[Alarm]:
        where, args = [], []
        if active is True:
            where.append("cleared_ms IS NULL")
        elif active is False:
            where.append("cleared_ms IS NOT NULL")
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        sql = (
            "SELECT id, device_id, type, raised_ms, cleared_ms, received_ms, floor, fault_code, cleared_after_restart "
            "FROM alarms"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY raised_ms DESC, id DESC LIMIT ?"
        with self._tx() as cur:
            cur.execute(self.q(sql), (*args, limit))
            return [
                Alarm(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], cleared_after_restart=bool(r[8]))
                for r in cur.fetchall()
            ]

    async def events(self, device_id: str, since_ms: int | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        return await self._run(self._events, device_id, since_ms, limit)

    def _events(self, device_id: str, since_ms: int | None, limit: int) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                self.q(
                    "SELECT epoch, seq, type, action, floor, fault_code, time_ms, received_ms, after_restart "
                    "FROM events WHERE device_id = ? AND time_ms >= ? ORDER BY time_ms, epoch, seq LIMIT ?"
                ),
                (device_id, since_ms if since_ms is not None else -(2**62), limit),
            )
            keys = ("epoch", "seq", "type", "action", "floor", "fault_code", "time_ms", "received_ms")
            return [{**dict(zip(keys, row[:8], strict=True)), "after_restart": bool(row[8])} for row in cur.fetchall()]

    async def streams(self, device_id: str | None = None) -> list[dict[str, Any]]:
        return await self._run(self._streams, device_id)

    def _streams(self, device_id: str | None) -> list[dict[str, Any]]:
        out = []
        with self._tx() as cur:
            sql = "SELECT device_id, epoch, max_seq, stored, first_received_ms, last_received_ms FROM streams"
            if device_id is not None:
                cur.execute(self.q(sql + " WHERE device_id = ? ORDER BY epoch"), (device_id,))
            else:
                cur.execute(sql + " ORDER BY device_id, epoch")
            for dev, epoch, max_seq, stored, first_ms, last_ms in cur.fetchall():
                out.append(
                    {
                        "device_id": dev,
                        "epoch": epoch,
                        "max_seq": max_seq,
                        "stored": stored,
                        "missing": max_seq - stored,
                        "contiguous_seq": max_seq if stored == max_seq else self._contiguous(cur, dev, epoch),
                        "first_received_ms": first_ms,
                        "last_received_ms": last_ms,
                    }
                )
        return out

    def _contiguous(self, cur: Any, device_id: str, epoch: int) -> int:
        """Highest seq n such that 1..n are all stored (0 when seq 1 is missing)."""
        cur.execute(self.q("SELECT 1 FROM records WHERE device_id = ? AND epoch = ? AND seq = 1"), (device_id, epoch))
        if cur.fetchone() is None:
            return 0
        cur.execute(
            self.q(
                "SELECT MIN(r.seq) FROM records r WHERE r.device_id = ? AND r.epoch = ? AND NOT EXISTS "
                "(SELECT 1 FROM records n WHERE n.device_id = r.device_id AND n.epoch = r.epoch AND n.seq = r.seq + 1)"
            ),
            (device_id, epoch),
        )
        row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def stats(self) -> dict[str, int]:
        """Figures for /metrics: devices, online devices, missing records and streams with gaps."""
        return await self._run(self._stats)

    def _stats(self) -> dict[str, int]:
        with self._tx() as cur:
            cur.execute("SELECT COUNT(*), COALESCE(SUM(CASE WHEN online THEN 1 ELSE 0 END), 0) FROM devices")
            total, online = cur.fetchone()
            cur.execute(
                "SELECT COALESCE(SUM(max_seq - stored), 0), "
                "COALESCE(SUM(CASE WHEN max_seq > stored THEN 1 ELSE 0 END), 0) FROM streams"
            )
            missing, gappy = cur.fetchone()
            cur.execute("SELECT COUNT(*) FROM alarms WHERE cleared_ms IS NULL")
            (active,) = cur.fetchone()
        return {
            "devices": int(total),
            "devices_online": int(online),
            "records_missing": int(missing),
            "streams_with_gaps": int(gappy),
            "alarms_active": int(active),
        }

    async def count_records(self, device_id: str | None = None) -> int:
        return await self._run(self._count_records, device_id)

    def _count_records(self, device_id: str | None) -> int:
        with self._tx() as cur:
            if device_id is None:
                cur.execute("SELECT COUNT(*) FROM records")
            else:
                cur.execute(self.q("SELECT COUNT(*) FROM records WHERE device_id = ?"), (device_id,))
            (n,) = cur.fetchone()
        return int(n)

    async def ping(self) -> None:
        await self._run(self._ping)

    def _ping(self) -> None:
        with self._tx() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()


LATEST_KINDS = frozenset({Kind.STATUS, Kind.TRIP, Kind.DOOR_CYCLE})
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def fold_fact(state: dict[str, Any], kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    """The shown state after a trip (the car stopped at `to_floor`) or a door cycle (the doors,
    at `floor`, closed again at its end). Pure; the other fields (mode, faults, power…) stay
    as the last status record said: the agent sends a status whenever one of those changes."""
    out = dict(state)
    out.update(running=False, direction=0, speed_mm_s=0)
    if kind is Kind.TRIP:
        out["floor"] = body["to_floor"]
        out["t_ms"] = body["stop_ms"]
    elif kind is Kind.DOOR_CYCLE:
        out["floor"] = body["floor"]
        out["door"] = "closed"
        out["t_ms"] = body["end_ms"]
    return out


def _versions(cur: Any) -> list[int]:
    cur.execute("SELECT version FROM schema_version ORDER BY version")
    return [int(v) for (v,) in cur.fetchall()]


def _event_columns(r: RecordRow) -> tuple[Any, ...]:
    e = r.event
    assert e is not None
    return (e.type, e.action, e.floor, e.fault_code, r.event_ms, r.received_ms, e.after_restart)
