"""The outbox: every record the agent produces, on disk until the collector says it stored it.

SQLite in WAL mode with `synchronous=FULL`, one connection owned by one writer thread (a
single-worker executor), so the asyncio loop never blocks on the SD card.

- An event is committed before `put_event` returns: once the agent counts it as produced it
  survives a crash, a kill -9 or a power cut.
- Status and heartbeat records wait in memory for at most `status_flush_s` (or until the next
  event) and go to disk in one transaction, which spares the SD card most of the writes of a
  10 Hz poll loop. A crash loses at most that window of status, never an event; sequence numbers
  are given at commit time, so the stream stays gap-free.
- A record is deleted only by `ack()`, i.e. an AckFrame from the collector after its durable
  commit; the broker is never trusted with the only copy. The deletes ride along with the next
  status commit (or go on their own after `ACK_FLUSH_S`), so acknowledgements cost the SD card
  no extra commits; a crash before that only means records are sent again, which the collector
  de-duplicates.
- Size: the file cannot grow past `max_mb` (SQLite `max_page_count`) nor hold more than
  `max_records`. At the cap the oldest status records are evicted first; an event is never
  evicted. A full disk: `outbox.db.reserve` (RESERVE_BYTES of written zeros beside the file) is
  given up for events, with one WARNING; from then on status is dropped (counted in
  `dropped_status`) and the WAL is checkpointed after each commit so events reuse its pages; the
  reserve is taken back, with one WARNING, once the disk has twice its size free. Only if even
  that room is gone are events held in memory and retried (CRITICAL: lost if the agent dies then).
- Stream epoch: a random 32-bit number chosen when the file is created. If the file is lost or
  found corrupt, a new file gets a new epoch and sequence numbers start again at 1, so the
  collector never confuses the two streams.

- Active set: the events raised and not yet cleared, one row per type, written in the
  transaction that commits the event (a raise adds its row, a clear removes it), so after a
  kill -9 the restarted agent knows exactly which alarms it still owes a clear (`active_events`).

    records(seq INTEGER PRIMARY KEY AUTOINCREMENT, prio, kind, mono_ms, wall_ms, synced, body, codec)
    prio 0 = event (sent first), 1 = status / heartbeat
    codec 1: body = protocols.frames.wire_body, the body fields as a batch frame carries them, encoded
             once at the commit; the uplink packs frames from these bytes (encode_wire_batch) without
             decoding or encoding a body again
    codec 0: body = msgpack of the outbox's own row (encode_body), as the previous release wrote it;
             such rows (a file from before an upgrade) are converted when they are sent
    records_events: partial index (seq) WHERE prio = 0 (the index on (prio, seq) of earlier files is dropped)
    active(type PRIMARY KEY, seq, t_ms, fault_code): raised, not cleared (seq of the raise)
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgpack

from edge_agent.config import AgentError, OutboxConfig
from protocols.events import Action, Event
from protocols.frames import (
    Body,
    DoorCycle,
    FrameError,
    Heartbeat,
    Record,
    RecordKind,
    StopQuality,
    Trip,
    WireRecord,
    decode_wire_body,
    wire_body,
)
from protocols.signals import Door, Mode, SignalSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    prio INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    mono_ms INTEGER NOT NULL,
    wall_ms INTEGER NOT NULL,
    synced INTEGER NOT NULL,
    body BLOB NOT NULL,
    codec INTEGER NOT NULL DEFAULT 0
);
DROP INDEX IF EXISTS records_prio_seq;
CREATE INDEX IF NOT EXISTS records_events ON records (seq) WHERE prio = 0;
CREATE TABLE IF NOT EXISTS active (
    type TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    fault_code INTEGER
) WITHOUT ROWID;
"""
# Literal prio values, so the planner takes the partial index for events and the rowid order for status
# (status rows need no index of their own: one page fewer rewritten per status commit).
_FETCH_EVENTS = (
    "SELECT seq, kind, mono_ms, wall_ms, synced, body, codec FROM records WHERE prio = 0 AND seq > ? "
    "ORDER BY seq LIMIT ?"
)
_FETCH_STATUS = (
    "SELECT seq, kind, mono_ms, wall_ms, synced, body, codec FROM records WHERE prio = 1 AND seq > ? "
    "ORDER BY seq LIMIT ?"
)
_COUNTERS = ("evicted_status", "dropped_status", "disk_full_events")
PAGE_SIZE = 1024  # of a new outbox file (bytes)
RESERVE_BYTES = 256 * 1024  # a file beside the outbox, given up for events when the disk fills
ACK_FLUSH_S = 120.0  # acknowledged records are deleted at the latest this long after their ack
ACK_PENDING_MAX = 512  # ...or as soon as this many ack ranges are waiting


class OutboxError(AgentError):
    """The outbox cannot be opened or written (other than a full disk, which is handled)."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A record produced but not yet given a sequence number (committed)."""

    kind: RecordKind
    mono_ms: int
    wall_ms: int
    synced: bool
    body: SignalSnapshot | Event | Heartbeat


@dataclass(frozen=True, slots=True)
class ActiveEvent:
    """An event raised and not yet cleared, as the outbox committed it."""

    type: str
    seq: int  # of the raise
    t_ms: int  # the raise's moment (monotonic ms of the boot that raised it)
    fault_code: int | None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    epoch: int
    depth: int  # records on disk, not yet acknowledged
    events: int  # of which events
    buffered: int  # status records still in memory
    unstored_events: int  # events the full disk refused, held in memory
    oldest_seq: int | None
    oldest_wall_ms: int | None
    oldest_mono_ms: int | None
    last_seq: int
    evicted_status: int
    dropped_status: int
    disk_full_events: int
    file_bytes: int

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


def encode_body(body: Body) -> bytes:
    row: list[Any]
    if isinstance(body, Trip | DoorCycle):
        row = list(astuple(body))
    elif isinstance(body, SignalSnapshot):
        row = list(body)
        row[5] = body.door.value
        row[12] = body.mode.value
    elif isinstance(body, Event):
        row = [body.t_ms, body.type, body.action.value, body.floor, body.fault_code]
        if body.after_restart:
            row.append(1)
    else:
        row = [body.uptime_s, body.outbox_depth, body.comms_ok]
    return msgpack.packb(row)


def decode_body(kind: RecordKind, data: bytes) -> Body:
    row = msgpack.unpackb(data)
    if kind is RecordKind.TRIP:
        start_ms, stop_ms, from_floor, to_floor, peak, quality, *stats = row  # stats: the trend-watch fields
        return Trip(start_ms, stop_ms, from_floor, to_floor, peak, StopQuality(quality), *stats)
    if kind is RecordKind.DOOR_CYCLE:
        return DoorCycle(*row)
    if kind is RecordKind.STATUS:
        row[5] = Door(row[5])
        row[12] = Mode(row[12])
        return SignalSnapshot(*row)
    if kind is RecordKind.EVENT:
        return Event(row[0], row[1], Action(row[2]), row[3], row[4], len(row) > 5 and bool(row[5]))
    return Heartbeat(*row)


def _free_bytes(directory: Path) -> int:
    try:
        fs = os.statvfs(directory)
    except OSError:
        return 0
    return fs.f_bavail * fs.f_frsize


def _no_room(exc: sqlite3.Error) -> bool:
    """An open that failed for want of space (or a failing card), not because the file is bad."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    return primary in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN) or _is_full(exc)


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


def _subtract(rng: tuple[int, int], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of the inclusive range `rng` not covered by any range in `taken`."""
    parts = [rng]
    for t_lo, t_hi in taken:
        nxt = []
        for lo, hi in parts:
            if t_hi < lo or t_lo > hi:
                nxt.append((lo, hi))
                continue
            if lo < t_lo:
                nxt.append((lo, t_lo - 1))
            if hi > t_hi:
                nxt.append((t_hi + 1, hi))
        parts = nxt
    return parts


class Outbox:
    """`async with Outbox(path, cfg) as ob:` then put_event / put_status / fetch / ack."""

    def __init__(self, path: str | Path, cfg: OutboxConfig = OutboxConfig(), status_flush_s: float = 5.0) -> None:
        self.path = Path(path)
        self.cfg = cfg
        self.status_flush_s = status_flush_s
        self.epoch = 0
        self.created = False  # this open created the file (new stream epoch)
        self._db: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._buffer: list[Pending] = []
        self._unstored: list[Pending] = []
        self._oldest_buffered = 0.0
        self._counters = dict.fromkeys(_COUNTERS, 0)
        self._last_seq = 0
        self._full_logged = False
        self._unstored_logged = False
        self._wlock = asyncio.Lock()
        # Acknowledged, not yet deleted (touched only by the writer thread): ranges, rows, event rows.
        self._acked: list[tuple[int, int]] = []
        self._acked_rows = 0
        self._acked_events = 0
        self._acked_since = 0.0
        self.changed = asyncio.Event()  # set when records reach the disk (the uplink wakes up)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Outbox:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self._run(self._open)
        log.info(
            "outbox %s: epoch %08x%s, %d records waiting",
            self.path,
            self.epoch,
            " (new stream)" if self.created else "",
            (await self.stats()).depth,
        )

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect_with_room()
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error("outbox %s is unreadable (%s): moved to %s, starting a new stream", self.path, exc, aside)
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    src.rename(Path(str(aside) + suffix))
            self._db = self._connect()
        if not self._full_logged and not self._make_reserve():
            # Started on a (nearly) full disk (a restart after the card filled): events only from
            # the start, and one line saying so, as when the disk fills under a running agent.
            log.warning(
                "outbox %s: disk full (%d kB free): no room for the %d kB event reserve; dropping status "
                "records until there is room again",
                self.path,
                _free_bytes(self.path.parent) // 1024,
                RESERVE_BYTES // 1024,
            )
            self._full_logged = True

    @property
    def reserve_path(self) -> Path:
        return self.path.with_name(self.path.name + ".reserve")

    def _make_reserve(self) -> bool:
        """Hold RESERVE_BYTES of real blocks (zeros written) that only events may use: a full disk
        frees it, so the next event still commits at once. False if the disk has no room for it."""
        path = self.reserve_path
        try:
            if path.exists() and path.stat().st_size >= RESERVE_BYTES:
                return True
            if _free_bytes(path.parent) < 2 * RESERVE_BYTES:
                return False  # the disk is (still) nearly full: taking the reserve back would refill it
            with open(path, "wb") as f:
                f.write(bytes(RESERVE_BYTES))
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            path.unlink(missing_ok=True)
            return False
        return True

    def _release_reserve(self) -> bool:
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _connect_with_room(self) -> sqlite3.Connection:
        """Open the file; a disk too full to open it is never taken for a corrupt file.

        SQLite creates the -wal and -shm files on open (a clean stop removed them), so a full disk
        fails the open itself, with SQLITE_FULL or SQLITE_IOERR. Moving the file aside then, as for
        corruption, would set every unsent event aside. The reserve gives the open its room; without
        one the agent stops with one clear line and the file stays as it is.
        """
        try:
            return self._connect()
        except sqlite3.OperationalError as exc:
            if not _no_room(exc):
                raise
            if self._release_reserve():
                log.warning(
                    "outbox %s: disk full (%s): released the %d kB reserve to open the outbox; dropping status "
                    "records until there is room again",
                    self.path,
                    exc,
                    RESERVE_BYTES // 1024,
                )
                self._full_logged = True
                try:
                    return self._connect()
                except sqlite3.OperationalError as again:
                    if not _no_room(again):
                        raise
            raise OutboxError(
                f"outbox {self.path}: disk full ({_free_bytes(self.path.parent) // 1024} kB free), cannot open it "
                f"({exc}); its records are kept: free space in {self.path.parent}"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        existed = self.path.exists() and self.path.stat().st_size > 0
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if not existed:
                # Before the first table: a commit rewrites a few whole pages (table leaf, sqlite_sequence)
                # into the WAL, so small pages are fewer bytes on the SD card per commit. A file made
                # with 4 KB pages (the earlier release) keeps them.
                db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.execute(f"PRAGMA journal_size_limit={min(4 << 20, int(self.cfg.max_mb * (1 << 20)) // 4)}")
            db.executescript(_SCHEMA)
            if "codec" not in {row[1] for row in db.execute("PRAGMA table_info(records)")}:
                db.execute(
                    "ALTER TABLE records ADD COLUMN codec INTEGER NOT NULL DEFAULT 0"
                )  # a previous release's file
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA max_page_count={max(16, int(self.cfg.max_mb * 1024 * 1024 / page_size))}")
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if "epoch" not in meta:
                epoch = secrets.randbits(32)
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO meta VALUES ('epoch', ?), ('schema', ?)", (epoch, SCHEMA_VERSION))
                db.execute("INSERT INTO meta VALUES ('created_ms', ?)", (int(time.time() * 1000),))
                for name in _COUNTERS:
                    db.execute("INSERT INTO meta VALUES (?, 0)", (name,))
                db.execute("COMMIT")
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                self.created = True
                if existed:
                    log.warning("outbox %s had no stream epoch: new stream %08x", self.path, epoch)
            self.epoch = int(meta["epoch"])
            for name in _COUNTERS:
                self._counters[name] = int(meta.get(name, 0))
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='records'").fetchone()
            self._last_seq = int(row[0]) if row else 0
        except BaseException:
            db.close()
            raise
        return db

    async def close(self) -> None:
        if self._db is None:
            return
        try:
            await self.flush()
            await self._run(self._flush_acks)
        finally:
            await self._run(self._close)
            self._pool.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- producing ------------------------------------------------------------------------------

    async def put_event(self, mono_ms: int, wall_ms: int, synced: bool, event: Event) -> int:
        """Commit an event (with any buffered status before it, in order); returns its sequence number.

        0 means the disk was full: the event is held in memory and retried on every flush.
        """
        item = Pending(RecordKind.EVENT, mono_ms, wall_ms, synced, event)
        async with self._wlock:
            batch, self._buffer = self._buffer, []
            seqs = await self._run(self._write, [*self._unstored, *batch, item])
        self.changed.set()
        return int(seqs.get(id(item), 0))

    def put_status(self, kind: RecordKind, mono_ms: int, wall_ms: int, synced: bool, body: Any) -> None:
        """Buffer a status or heartbeat record; it reaches the disk within `status_flush_s`."""
        if not self._buffer:
            self._oldest_buffered = time.monotonic()
        self._buffer.append(Pending(kind, mono_ms, wall_ms, synced, body))

    @property
    def flush_due(self) -> bool:
        now = time.monotonic()
        return (
            bool(self._unstored)
            or (bool(self._buffer) and now - self._oldest_buffered >= self.status_flush_s)
            or (bool(self._acked) and now - self._acked_since >= ACK_FLUSH_S)
        )

    async def flush(self) -> None:
        """Commit buffered status (and pending ack deletes with it); deletes alone once they are due."""
        async with self._wlock:
            if not self._buffer and not self._unstored:
                if self._acked and time.monotonic() - self._acked_since >= ACK_FLUSH_S:
                    await self._run(self._flush_acks)
                return
            batch, self._buffer = self._buffer, []
            await self._run(self._write, [*self._unstored, *batch])
        self.changed.set()

    def _write(self, items: Sequence[Pending]) -> dict[int, int]:
        """Commit items in order; on a full file evict old status, and as a last resort drop status."""
        assert self._db is not None
        held_before = {id(i) for i in self._unstored}
        self._unstored = []
        if self._full_logged:
            if self._make_reserve():
                log.warning("outbox %s: room again, writing normally (reserve restored)", self.path)
                self._full_logged = self._unstored_logged = False
            else:
                # The disk is still full: what is left of the reserve is for events only.
                events = [i for i in items if i.kind is RecordKind.EVENT]
                if len(events) < len(items):
                    self._bump("dropped_status", len(items) - len(events))
                items = events
        for attempt in range(4):
            try:
                seqs = self._insert(items)
            except sqlite3.OperationalError as exc:
                self._rollback()
                if not _is_full(exc):
                    raise OutboxError(f"outbox {self.path}: {exc}") from None
                if not self._full_logged and self._release_reserve():
                    log.warning(
                        "outbox %s: disk full: released the %d kB reserve for events; dropping status records "
                        "until there is room again",
                        self.path,
                        RESERVE_BYTES // 1024,
                    )
                    self._full_logged = True
                    continue  # with the reserve's room
                if attempt < 3 and self._evict(max(64, len(items) * 2), "file full"):
                    continue
                return self._write_when_full(items, held_before)
            if self._full_logged:
                # Write the WAL back now so the next commit reuses its pages instead of growing it.
                self._db.execute("PRAGMA wal_checkpoint(RESTART)")
            self._enforce_count_cap()
            return seqs
        return {}  # pragma: no cover - the loop always returns

    def _write_when_full(self, items: Sequence[Pending], held_before: set[int]) -> dict[int, int]:
        """Nothing left to evict: drop the status, store as many events as fit, hold the rest in memory."""
        events = [i for i in items if i.kind is RecordKind.EVENT]
        dropped = len(items) - len(events)
        if dropped:
            self._bump("dropped_status", dropped)
        seqs: dict[int, int] = {}
        stored = 0
        for start in range(0, len(events), 16):
            chunk = events[start : start + 16]
            try:
                seqs.update(self._insert(chunk))
            except sqlite3.OperationalError as exc:
                self._rollback()
                if not _is_full(exc):
                    raise OutboxError(f"outbox {self.path}: {exc}") from None
                break
            stored += len(chunk)
        self._unstored = events[stored:]
        self._counters["disk_full_events"] += sum(1 for i in self._unstored if id(i) not in held_before)
        if self._unstored and not self._unstored_logged:
            self._unstored_logged = True
            log.critical(
                "outbox %s: disk full even after the reserve: %d event(s) NOT on disk, held in memory and retried "
                "(lost if the agent dies now); %d status records dropped so far",
                self.path,
                len(self._unstored),
                self._counters["dropped_status"],
            )
        self._full_logged = True
        return seqs

    def _insert(self, items: Sequence[Pending]) -> dict[int, int]:
        assert self._db is not None
        db = self._db
        seqs: dict[int, int] = {}
        encoded = [self._encode(it) for it in items]  # before the transaction: a bad body leaves none open
        db.execute("BEGIN IMMEDIATE")
        self._delete_acked()
        for it, (body, codec) in zip(items, encoded, strict=True):
            cur = db.execute(
                "INSERT INTO records (prio, kind, mono_ms, wall_ms, synced, body, codec) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    0 if it.kind is RecordKind.EVENT else 1,
                    int(it.kind),
                    it.mono_ms,
                    it.wall_ms,
                    int(it.synced),
                    body,
                    codec,
                ),
            )
            seqs[id(it)] = int(cur.lastrowid or 0)
            if it.kind is RecordKind.EVENT:
                self._track_active(it.body, seqs[id(it)])  # type: ignore[arg-type]
        db.execute("COMMIT")
        self._acks_committed()
        if seqs:
            self._last_seq = max(self._last_seq, *seqs.values())
        return seqs

    def _encode(self, it: Pending) -> tuple[bytes, int]:
        """The body's wire encoding, once (codec 1); a body the wire format refuses keeps the row format."""
        try:
            return wire_body(it.kind, it.mono_ms, it.body), 1
        except FrameError as exc:
            log.error(
                "outbox %s: %s record at %d ms not encodable for the wire (%s)",
                self.path,
                it.kind.name,
                it.mono_ms,
                exc,
            )
            return encode_body(it.body), 0

    def _track_active(self, event: Event, seq: int) -> None:
        """Inside the event's transaction: a raise enters the active set, a clear leaves it."""
        assert self._db is not None
        if event.action is Action.RAISE:
            self._db.execute(
                "INSERT OR REPLACE INTO active (type, seq, t_ms, fault_code) VALUES (?, ?, ?, ?)",
                (event.type, seq, event.t_ms, event.fault_code),
            )
        else:
            self._db.execute("DELETE FROM active WHERE type = ?", (event.type,))

    async def active_events(self) -> dict[str, ActiveEvent]:
        """The events raised and not cleared, as committed (the detector's state to restore on start)."""
        return await self._run(self._active_events)

    def _active_events(self) -> dict[str, ActiveEvent]:
        assert self._db is not None
        rows = self._db.execute("SELECT type, seq, t_ms, fault_code FROM active ORDER BY seq").fetchall()
        return {t: ActiveEvent(t, seq, t_ms, code) for t, seq, t_ms, code in rows}

    def _rollback(self) -> None:
        assert self._db is not None
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _bump(self, name: str, n: int) -> None:
        assert self._db is not None
        self._counters[name] += n
        try:
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = ?", (n, name))
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise

    def _evict(self, n: int, why: str) -> int:
        """Delete the `n` oldest status/heartbeat records; returns how many went (never an event)."""
        assert self._db is not None
        db = self._db
        if self._acked:
            self._flush_acks()
            return self._acked_rows == 0 and n  # deleting acknowledged records made room first
        rows = db.execute("SELECT seq FROM records WHERE prio = 1 ORDER BY seq LIMIT ?", (n,)).fetchall()
        if not rows:
            return 0
        first, last = rows[0][0], rows[-1][0]
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM records WHERE prio = 1 AND seq BETWEEN ? AND ?", (first, last))
            db.execute("UPDATE meta SET value = value + ? WHERE key = 'evicted_status'", (len(rows),))
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            if not _is_full(exc):
                raise OutboxError(f"outbox {self.path}: {exc}") from None
            return 0  # a full disk cannot even take the delete (its WAL pages): nothing evicted
        self._counters["evicted_status"] += len(rows)
        log.warning(
            "outbox %s: %s: evicted %d unacknowledged status records (seq %d..%d, epoch %08x)",
            self.path,
            why,
            len(rows),
            first,
            last,
            self.epoch,
        )
        return len(rows)

    def _enforce_count_cap(self) -> None:
        assert self._db is not None
        (count,) = self._db.execute("SELECT count(*) FROM records").fetchone()
        if count > self.cfg.max_records:
            over = count - self.cfg.max_records
            if not self._evict(over + self.cfg.max_records // 100, "record cap reached"):
                log.error("outbox %s: %d records, all events, above the cap: keeping them", self.path, count)

    # --- draining -------------------------------------------------------------------------------

    async def fetch(self, after_seq: int, events: bool, limit: int) -> list[Record]:
        """Up to `limit` unacknowledged records of one class (events or status) with seq > after_seq."""
        return await self._run(self._fetch, after_seq, events, limit)

    def _fetch(self, after_seq: int, events: bool, limit: int) -> list[Record]:
        assert self._db is not None
        out: list[Record] = []
        while len(out) < limit:
            rows = self._db.execute(_FETCH_EVENTS if events else _FETCH_STATUS, (after_seq, limit)).fetchall()
            for seq, kind, mono, wall, synced, body, codec in rows:
                if self._is_acked(seq):
                    continue
                k = RecordKind(kind)
                decoded = decode_wire_body(k, mono, body) if codec == 1 else decode_body(k, body)
                out.append(Record(k, seq, mono, wall, bool(synced), decoded))
                if len(out) == limit:
                    break
            if len(rows) < limit:
                break
            after_seq = rows[-1][0]
        return out

    async def fetch_wire(self, after_seq: int, events: bool, limit: int) -> list[WireRecord]:
        """As `fetch`, with the bodies in wire form, ready for `encode_wire_batch` (what the uplink sends)."""
        return await self._run(self._fetch_wire, after_seq, events, limit)

    def _fetch_wire(self, after_seq: int, events: bool, limit: int) -> list[WireRecord]:
        assert self._db is not None
        out: list[WireRecord] = []
        while len(out) < limit:
            rows = self._db.execute(_FETCH_EVENTS if events else _FETCH_STATUS, (after_seq, limit)).fetchall()
            for seq, kind, mono, wall, synced, body, codec in rows:
                if self._is_acked(seq):
                    continue
                k = RecordKind(kind)
                if codec != 1:  # a row of the previous release: converted once, here
                    body = wire_body(k, mono, decode_body(k, body))
                out.append(WireRecord(k, seq, mono, wall, bool(synced), body))
                if len(out) == limit:
                    break
            if len(rows) < limit:
                break
            after_seq = rows[-1][0]
        return out

    def _is_acked(self, seq: int) -> bool:
        return any(lo <= seq <= hi for lo, hi in self._acked)

    async def ack(self, epoch: int, ranges: Iterable[tuple[int, int]]) -> int:
        """Mark acknowledged records gone (returns how many); an ack for another stream epoch is ignored."""
        if epoch != self.epoch:
            return 0
        return await self._run(self._ack, list(ranges))

    def _ack(self, ranges: list[tuple[int, int]]) -> int:
        assert self._db is not None
        db = self._db
        n = 0
        for lo, hi in ranges:
            # Only rows not already acknowledged count (a resent frame is acknowledged again).
            for s_lo, s_hi in _subtract((lo, hi), self._acked):
                rows, evs = db.execute(
                    "SELECT count(*), coalesce(sum(prio = 0), 0) FROM records WHERE seq BETWEEN ? AND ?", (s_lo, s_hi)
                ).fetchone()
                if rows:
                    if not self._acked:
                        self._acked_since = time.monotonic()
                    self._acked.append((s_lo, s_hi))
                    self._acked_rows += rows
                    self._acked_events += evs
                    n += rows
        if len(self._acked) > ACK_PENDING_MAX:
            self._flush_acks()
        return n

    def _delete_acked(self) -> None:
        """Inside an open transaction: delete the acknowledged records."""
        assert self._db is not None
        for lo, hi in self._acked:
            self._db.execute("DELETE FROM records WHERE seq BETWEEN ? AND ?", (lo, hi))

    def _acks_committed(self) -> None:
        self._acked.clear()
        self._acked_rows = self._acked_events = 0

    def _flush_acks(self) -> None:
        assert self._db is not None
        if not self._acked:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._delete_acked()
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            if _is_full(exc):
                return  # kept pending: the next commit tries again
            raise OutboxError(f"outbox {self.path}: {exc}") from None
        self._acks_committed()

    async def stats(self) -> OutboxStats:
        return await self._run(self._stats)

    def _stats(self) -> OutboxStats:
        assert self._db is not None
        db = self._db
        (depth,) = db.execute("SELECT count(*) FROM records").fetchone()
        (events,) = db.execute("SELECT count(*) FROM records WHERE prio = 0").fetchone()
        depth -= self._acked_rows
        events -= self._acked_events
        oldest = None
        for row in db.execute("SELECT seq, wall_ms, mono_ms FROM records ORDER BY seq"):
            if not self._is_acked(row[0]):
                oldest = row
                break
        size = sum(os.path.getsize(str(self.path) + s) for s in ("", "-wal") if os.path.exists(str(self.path) + s))
        return OutboxStats(
            epoch=self.epoch,
            depth=depth,
            events=events,
            buffered=len(self._buffer),
            unstored_events=len(self._unstored),
            oldest_seq=oldest[0] if oldest else None,
            oldest_wall_ms=oldest[1] if oldest else None,
            oldest_mono_ms=oldest[2] if oldest else None,
            last_seq=self._last_seq,
            evicted_status=self._counters["evicted_status"],
            dropped_status=self._counters["dropped_status"],
            disk_full_events=self._counters["disk_full_events"],
            file_bytes=size,
        )
