"""The platform functions on top of the collector's record: rescue cases, maintenance supervision,
statistics, the identity registry, webhooks, and the county -> city feed (and the city's intake).

This module is the façade the HTTP handlers call (`collector.http.platform_routes`); it serves
nothing itself. Two ways to run it, same code: inside the collector (`collector.daemon`), or as its
own process on the same database and as the city platform (`collector.http.platform_server`).

The worker (`Platform.tick`) acts on what the collector stored: an `entrapment` alarm opens a
rescue case and notifies; a trend-watch advisory raised or cleared is told to the elevator's
maintenance company only (no case, no rescue centre: docs/trend-watch.md); due escalations go
out; `inspection` events become maintenance sessions; new and cleared alarms, rescue steps,
sessions and changed status summaries are queued for the city. Each step is one transaction
that also records what it has seen, so a restart neither misses nor repeats anything.

How it learns of alarms: on the ingest's own store (one process) the store tells it, right after
each commit, which alarms that commit opened and closed (`alarms_changed`), and the worker acts on
those rows at once: a rescue case opens in the same second as its alarm's commit. The alarms table
is scanned only to catch up: at start-up (what was committed while the platform was not running,
or told and not yet handled when it stopped), and on PostgreSQL when the database notifies a
commit of alarms by another process (collectors sharing one subscription, the others run with
`--no-platform`). A platform with its own store (its own process next
to a collector) is told nothing and scans at every pass, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tomllib
import uuid
import zoneinfo
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from collector.config import shown
from collector.errors import CollectorError, ConfigError, StoreError
from collector.http import city_api
from collector.http.city_api import CityConfig, PushRefused
from collector.outbound import city_feed, webhooks
from collector.outbound.city_feed import CityFeedConfig, CityFeedSender
from collector.outbound.webhooks import WebhookConfig, WebhookSender
from collector.platform import identity, maintenance, rescue, statistics
from collector.platform.identity import ElevatorIdentity, IdentityError
from collector.platform.maintenance import InspectionEvent, MaintenanceConfig, Session, StatusPoint
from collector.platform.rescue import RefusedTransition, RescueCase, RescueConfig, RescueError, Status, Step
from collector.store import AlarmChange, Store, open_store
from collector.times import iso
from protocols.events import ADVISORY_TYPES

log = logging.getLogger("collector.platform")
# A platform loop that failed on the store starts again after this, doubling up to the max.
RESTART_FIRST_S = 0.5
RESTART_MAX_S = 10.0

DAY_MS = 86_400_000
LOOKBACK_IDS = 10_000  # rows of other writers may commit below the highest id seen; look back this far
SCAN_PAGE = 1000  # rows per catch-up scan; a full page means another scan follows
TOLD_MAX = 10_000  # alarm changes told and not yet handled; beyond, they are caught up by a scan


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    poll_s: float = 1.0
    summary_interval_s: float = 60.0
    # An entrapment found already cleared and older than this (history in a database the platform
    # starts on for the first time) is not turned into a rescue case: nobody can act on it any more.
    backfill_s: float = 86_400.0
    # The zone the console shows times in (the API stays UTC): the duty room reads local clocks.
    time_zone: str = "Asia/Shanghai"
    rescue: RescueConfig = field(default_factory=RescueConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    city_feed: CityFeedConfig | None = None
    city: CityConfig = field(default_factory=CityConfig)

    def __post_init__(self) -> None:
        for key in ("poll_s", "summary_interval_s", "backfill_s"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"platform.{key} must be positive, got {getattr(self, key)!r}")
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            raise ConfigError(
                f"platform.time_zone = {self.time_zone!r} is not a known IANA time zone (e.g. Asia/Shanghai)"
            ) from None


def _read_token(path: str, what: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{what}: {path}: {exc.strerror}") from None
    if len(token) < 8:
        raise ConfigError(f"{what}: {path}: token is empty or shorter than 8 characters")
    return token


def _section(cls: Any, table: Any, where: str, extra: Mapping[str, Any] | None = None) -> Any:
    """A config dataclass from a TOML table: unknown keys and wrong types name `where.key`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = dict(extra or {})
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        kind = str(known[key].type)
        if "float" in kind and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = (
            ("float" in kind and isinstance(value, float))
            or (kind.startswith("int") and isinstance(value, int) and not isinstance(value, bool))
            or ("str" in kind and isinstance(value, str))
            or ("Mapping" in kind and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
        )
        if not ok:
            raise ConfigError(f"{where}.{key} = {shown(key, value)} has the wrong type (expected {kind})")
        values[key] = value
    try:
        return cls(**values)
    except CollectorError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_config(path: str | None) -> PlatformConfig:
    """The `[platform]` table of a TOML file (the collector's file may hold it too); defaults if None."""
    if path is None:
        return PlatformConfig()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    table = dict(data.get("platform", {}))
    src = f"{path}: platform"
    kw: dict[str, Any] = {}
    for key in ("poll_s", "summary_interval_s", "backfill_s"):
        if key in table:
            value = table.pop(key)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(f"{src}.{key} = {shown(key, value)} must be a number")
            kw[key] = float(value)
    if "time_zone" in table:
        value = table.pop("time_zone")
        if not isinstance(value, str):
            raise ConfigError(f"{src}.time_zone = {shown('time_zone', value)} must be a string (e.g. Asia/Shanghai)")
        try:
            zoneinfo.ZoneInfo(value)
        except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            raise ConfigError(
                f"{src}.time_zone = {value!r} is not a known IANA time zone (e.g. Asia/Shanghai)"
            ) from None
        kw["time_zone"] = value
    if "rescue" in table:
        kw["rescue"] = _section(RescueConfig, table.pop("rescue"), f"{src}.rescue")
    if "maintenance" in table:
        kw["maintenance"] = _section(MaintenanceConfig, table.pop("maintenance"), f"{src}.maintenance")
    if "webhooks" in table:
        kw["webhooks"] = _section(WebhookConfig, table.pop("webhooks"), f"{src}.webhooks")
    if "city_feed" in table:
        feed = dict(table.pop("city_feed"))
        token_file = feed.pop("token_file", None)
        if not isinstance(token_file, str):
            raise ConfigError(f"{src}.city_feed.token_file: the file holding this county's token is required")
        token = _read_token(token_file, f"{src}.city_feed.token_file")
        kw["city_feed"] = _section(CityFeedConfig, feed, f"{src}.city_feed", {"token": token})
    if "city" in table:
        city = dict(table.pop("city"))
        files = city.pop("county_token_files", {})
        if not isinstance(files, dict):
            raise ConfigError(f"{src}.city.county_token_files must be a table of county code = token file")
        tokens = {str(c): _read_token(str(p), f"{src}.city.county_token_files.{c}") for c, p in files.items()}
        kw["city"] = _section(CityConfig, city, f"{src}.city", {"counties": tokens})
    if table:
        raise ConfigError(f"{src}: unknown key(s) {', '.join(sorted(table))}")
    return PlatformConfig(**kw)


# --- database steps (run on the platform's database thread, one transaction each) ----------------


def _state(db: Store, cur: Any, name: str, default: int = 0) -> int:
    cur.execute(db.q("SELECT value FROM platform_state WHERE name = ?"), (name,))
    row = cur.fetchone()
    return default if row is None else int(row[0])


def _set_state(db: Store, cur: Any, name: str, value: int) -> None:
    cur.execute(
        db.q(
            "INSERT INTO platform_state (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        ),
        (name, str(value)),
    )


def _identities(db: Store, cur: Any) -> dict[str, ElevatorIdentity]:
    cur.execute("SELECT " + ", ".join(identity.ALL_FIELDS) + " FROM elevator_identity")
    return {row[0]: ElevatorIdentity(*row) for row in cur.fetchall()}


def _company_periods(cur: Any) -> dict[str, tuple[tuple[int, str], ...]]:
    """Per elevator, (valid_from_ms, maintenance company) of each registry version, in time order."""
    cur.execute(
        "SELECT device_id, valid_from_ms, maintenance_company FROM elevator_identity_versions "
        "ORDER BY device_id, valid_from_ms, version"
    )
    out: dict[str, list[tuple[int, str]]] = {}
    for d, at, company in cur.fetchall():
        out.setdefault(d, []).append((int(at), company))
    return {d: tuple(p) for d, p in out.items()}


def _identity_of(db: Store, cur: Any, device_id: str) -> dict[str, Any] | None:
    cur.execute(
        db.q("SELECT " + ", ".join(identity.ALL_FIELDS) + " FROM elevator_identity WHERE device_id = ?"),
        (device_id,),
    )
    row = cur.fetchone()
    return None if row is None else ElevatorIdentity(*row).as_dict()


def _load_case(db: Store, cur: Any, case_id: str) -> tuple[RescueCase, dict[str, int]] | None:
    cur.execute(db.q("SELECT device_id, alarm_id, floor FROM rescue_cases WHERE case_id = ?"), (case_id,))
    row = cur.fetchone()
    if row is None:
        return None
    cur.execute(db.q("SELECT status, at_ms, actor, note FROM rescue_steps WHERE case_id = ? ORDER BY n"), (case_id,))
    steps = tuple(Step(Status(s), int(at), a, n) for s, at, a, n in cur.fetchall())
    cur.execute(db.q("SELECT kind, sent_ms FROM rescue_escalations WHERE case_id = ?"), (case_id,))
    sent = {k: int(ms) for k, ms in cur.fetchall()}
    return RescueCase(case_id, row[0], row[1], steps, row[2]), sent


def _load_cases(
    db: Store, cur: Any, where: str, args: tuple[Any, ...], tail: str = ""
) -> list[tuple[RescueCase, dict[str, int]]]:
    """Many cases in three queries (cases, their steps, their escalations), in the cases' order."""
    cur.execute(db.q(f"SELECT case_id, device_id, alarm_id, floor FROM rescue_cases WHERE {where} {tail}"), args)
    heads = cur.fetchall()
    if not heads:
        return []
    sub = f"SELECT case_id FROM rescue_cases WHERE {where}"
    steps: dict[str, list[Step]] = defaultdict(list)
    cur.execute(
        db.q(f"SELECT case_id, status, at_ms, actor, note FROM rescue_steps WHERE case_id IN ({sub}) ORDER BY n"),
        args,
    )
    for cid, st, at, actor, note in cur.fetchall():
        steps[cid].append(Step(Status(st), int(at), actor, note))
    sent: dict[str, dict[str, int]] = defaultdict(dict)
    cur.execute(db.q(f"SELECT case_id, kind, sent_ms FROM rescue_escalations WHERE case_id IN ({sub})"), args)
    for cid, kind, ms in cur.fetchall():
        sent[cid][kind] = int(ms)
    return [
        (RescueCase(cid, dev, alarm_id, tuple(steps[cid]), floor), sent[cid])
        for cid, dev, alarm_id, floor in heads
        if steps[cid]
    ]


def _save_step(db: Store, cur: Any, case: RescueCase, now_ms: int) -> None:
    n = len(case.steps) - 1
    s = case.steps[-1]
    cur.execute(
        db.q("INSERT INTO rescue_steps (case_id, n, status, at_ms, actor, note) VALUES (?, ?, ?, ?, ?, ?)"),
        (case.case_id, n, s.status.value, s.at_ms, s.actor, s.note),
    )
    cur.execute(
        db.q("UPDATE rescue_cases SET status = ?, updated_ms = ? WHERE case_id = ?"),
        (case.status.value, now_ms, case.case_id),
    )


# A person's change is audited inside its own transaction: the façade calls the hook with the
# transaction's cursor and the change's result (the case body, the import's counts) just before it
# commits, and the hook appends the audit entry there. If the hook raises, the change is rolled back
# with it: a step is never committed without its audit line, nor a line without its step (an audit
# written after the commit, in a transaction of its own, was lost by a crash in between).
AuditHook = Callable[[Any, Mapping[str, Any]], None]


@dataclass(slots=True)
class TickResult:
    cases_opened: int = 0
    escalations: int = 0
    city_items: int = 0
    webhooks: int = 0
    sessions: int = 0
    next_deadline_ms: int | None = None


class Platform:
    """The platform over one database. `async with Platform(db_url, config) as p:`; `p.run()` is the
    worker and the senders (run as tasks); the other methods answer the API."""

    def __init__(self, db: str | Store, config: PlatformConfig, clock: Callable[[], int] | None = None) -> None:
        """`db`: the store the ingest uses, when both run in one process (`elev-collector run`:
        one connection, one thread, one schema); or a database URL, and the platform opens and
        closes its own store (the city role, tests)."""
        self.config = config
        self._owns_db = isinstance(db, str)
        self.db: Store = open_store(db) if isinstance(db, str) else db
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.webhook_sender = WebhookSender(self.db, config.webhooks, self.clock)
        self.feed_sender = CityFeedSender(self.db, config.city_feed, self.clock) if config.city_feed else None
        self._last_summary_ms = 0
        self._wake = asyncio.Event()
        # Told, in process, after a commit that opened, moved or escalated a rescue case (the
        # console's stream pushes it to the duty room at once instead of being polled).
        self.case_listeners: list[Callable[[], None]] = []
        self.cases_opened = 0  # by this process's worker, for /metrics (counted here, never queried)
        self.escalations_sent = 0
        # Told by the store (see module doc); until the first catch-up scan, and after an overflow
        # of `_told`, the worker scans.
        self.told = False
        self._told: deque[AlarmChange] = deque()
        self._scan_due = {"alarms": True, "events": True}

    async def __aenter__(self) -> Platform:
        if self._owns_db:
            await self.db.__aenter__()
        else:
            self.db.alarm_listeners.append(self.alarms_changed)
            self.told = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.told:
            self.db.alarm_listeners.remove(self.alarms_changed)
            self.told = False
        if self._owns_db:
            await self.db.__aexit__(*exc)

    def alarms_changed(self, changes: Sequence[AlarmChange]) -> None:
        """The store's listener: alarms a commit opened or closed (bounded: past `TOLD_MAX`
        waiting, the rest are left to a catch-up scan, which finds them in the table)."""
        room = TOLD_MAX - len(self._told)
        self._told.extend(changes[:room])
        if len(changes) > room:
            self._scan_due["alarms"] = True
        if any(c.type == "inspection" for c in changes):
            self._scan_due["events"] = True
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    # --- the worker -----------------------------------------------------------------------
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._keep("worker", self._worker), name="platform-worker")
            if self.told and self.db.notifies_alarms:
                tg.create_task(self._keep("alarm listener", self._foreign_commits), name="platform-foreign-commits")
            tg.create_task(self._keep("webhooks", self.webhook_sender.run), name="platform-webhooks")
            if self.feed_sender is not None:
                tg.create_task(self._keep("city feed", self.feed_sender.run), name="platform-city-feed")

    async def _keep(self, what: str, start: Callable[[], Any]) -> None:
        """Run a loop of the platform; a failing store (a dropped PostgreSQL connection, a server
        restarting) restarts it after a backoff instead of ending the daemon: what it was doing is
        in the database (outboxes, seen marks, the escalations sent), so the restart picks it up.
        Meanwhile /healthz says why (Store.problem)."""
        delay = RESTART_FIRST_S
        failures: tuple[type[BaseException], ...] = (StoreError, *self.db.engine_errors)
        while True:
            began = time.monotonic()
            try:
                await start()
                return
            except failures as exc:
                if not self.db.reconnects:
                    raise  # SQLite: a failing local file is not a dropped link; the daemon says so and exits
                if time.monotonic() - began > 60:
                    delay = RESTART_FIRST_S  # it had been working: a new failure, not the same one
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("platform %s: %s; restarting in %.1f s", what, first, delay)
                self._scan_due["alarms"] = self._scan_due["events"] = True  # told changes may be lost
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_MAX_S)

    async def _foreign_commits(self) -> None:
        """Collectors sharing this database and its subscription (run with --no-platform) commit
        alarms this platform is not told of in process: the database says when, and the next
        pass scans for them."""
        async for _ in self.db.foreign_alarm_commits():
            self._scan_due["alarms"] = True
            self._scan_due["events"] = True
            self.wake()

    async def _worker(self) -> None:
        while True:
            # Cleared before the pass, not after: a wake-up that comes during a pass (alarms told
            # after it looked) makes the next pass start at once instead of being lost.
            self._wake.clear()
            res = await self.tick()
            wait_s = self.config.poll_s
            if res.next_deadline_ms is not None:
                wait_s = min(wait_s, max(0.0, (res.next_deadline_ms - self.clock()) / 1000))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait_s, 0.01))
            except TimeoutError:
                pass

    async def tick(self) -> TickResult:
        """One pass over what is new; each part is its own transaction."""
        res = TickResult()
        if self._scan_due["alarms"] or not self.told:
            self._scan_due["alarms"] = False
            if await self.db.run(self._scan_alarms, self.clock(), res) >= SCAN_PAGE:
                self._scan_due["alarms"] = True
                self.wake()
        if self._told:
            changes = list(self._told)
            await self.db.run(self._apply_alarms, changes, self.clock(), res)
            for _ in changes:  # forgotten once acted on (a failed pass leaves them for the next)
                self._told.popleft()
        if self._scan_due["events"] or not self.told:
            self._scan_due["events"] = False
            if await self.db.run(self._scan_inspections, self.clock(), res) >= SCAN_PAGE:
                self._scan_due["events"] = True
                self.wake()
        await self.db.run(self._escalate, self.clock(), res)
        self.cases_opened += res.cases_opened
        self.escalations_sent += res.escalations
        now = self.clock()
        if now - self._last_summary_ms >= self.config.summary_interval_s * 1000:
            await self.db.run(self._summaries, now, res)
            self._last_summary_ms = now
        if res.webhooks:
            self.webhook_sender.wake()
        if res.city_items and self.feed_sender is not None:
            self.feed_sender.wake()
        if res.cases_opened or res.escalations:
            self._tell_case_listeners()
        return res

    def _tell_case_listeners(self) -> None:
        for listener in self.case_listeners:
            listener()

    def _unseen(self, cur: Any, source: str, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows of a collector table (id first) not yet handled, oldest first."""
        db = self.db
        top = _state(db, cur, f"top:{source}")
        cur.execute(
            db.q(
                sql + " AND id > ? AND NOT EXISTS (SELECT 1 FROM platform_seen s WHERE s.source = ? AND s.row_id = id) "
                f"ORDER BY id LIMIT {SCAN_PAGE}"
            ),
            (*args, top - LOOKBACK_IDS, source),
        )
        return [tuple(r) for r in cur.fetchall()]

    def _seen(self, cur: Any, source: str, marks: list[tuple[int, bool]]) -> None:
        """Record rows as handled (`open` = to be looked at again when it changes)."""
        if not marks:
            return
        db = self.db
        cur.executemany(
            db.q(
                "INSERT INTO platform_seen (source, row_id, open) VALUES (?, ?, ?) "
                "ON CONFLICT (source, row_id) DO UPDATE SET open = excluded.open"
            ),
            [(source, row_id, open_) for row_id, open_ in marks],
        )
        top = _state(db, cur, f"top:{source}")
        highest = max(row_id for row_id, _ in marks)
        if highest > top:
            _set_state(db, cur, f"top:{source}", highest)
            if highest // LOOKBACK_IDS != top // LOOKBACK_IDS:
                # Rows this far below the top are never looked at again: forget the closed ones.
                cur.execute(
                    db.q("DELETE FROM platform_seen WHERE source = ? AND NOT open AND row_id < ?"),
                    (source, highest - 2 * LOOKBACK_IDS),
                )

    def _scan_alarms(self, cur: Any, now_ms: int, res: TickResult) -> int:
        """Catch up: alarms not yet handled, and handled open ones found closed; the rows read."""
        new = self._unseen(
            cur,
            "alarms",
            "SELECT id, device_id, type, raised_ms, cleared_ms, floor, fault_code FROM alarms WHERE 1 = 1",
            (),
        )
        cur.execute(
            "SELECT a.id, a.device_id, a.type, a.raised_ms, a.cleared_ms, a.floor, a.fault_code FROM alarms a "
            "JOIN platform_seen s ON s.source = 'alarms' AND s.row_id = a.id WHERE s.open AND a.cleared_ms IS NOT NULL"
        )
        closed = cur.fetchall()
        self._apply_alarms(cur, [AlarmChange.of(r) for r in new + closed], now_ms, res)
        return len(new)

    def _apply_alarms(self, cur: Any, changes: Sequence[AlarmChange], now_ms: int, res: TickResult) -> None:
        """Act on alarms as committed (told or scanned; acting twice on one does nothing more):
        the city gets each new state; an entrapment opens its rescue case, unless it is history
        the platform starts on (cleared and older than `backfill_s`)."""
        db = self.db
        idents: dict[str, dict[str, Any] | None] = {}

        def ident(dev: str) -> dict[str, Any] | None:
            if dev not in idents:
                idents[dev] = _identity_of(db, cur, dev)
            return idents[dev]

        marks: dict[int, bool] = {}
        for a in changes:
            res.city_items += city_feed.enqueue(
                db,
                cur,
                "alarm",
                str(a.id),
                city_feed.alarm_body(
                    a.id, a.device_id, a.type, a.raised_ms, a.cleared_ms, a.floor, a.fault_code, ident(a.device_id)
                ),
                now_ms,
                only_if_changed=True,
            )
            if a.type in ADVISORY_TYPES:
                self._advise(cur, a, ident(a.device_id), now_ms, res)
            elif a.type == "entrapment":
                if a.cleared_ms is not None and now_ms - a.raised_ms > self.config.backfill_s * 1000:
                    log.info(
                        "entrapment alarm %d on %s (%s) is old and cleared: no rescue case",
                        a.id,
                        a.device_id,
                        iso(a.raised_ms),
                    )
                elif (joined := self._join_open_case(cur, a.device_id, a.id, a.floor)) is not None:
                    log.warning("entrapment alarm %d on %s joins the open case %s", a.id, a.device_id, joined)
                else:
                    self._open_case(
                        cur, f"RC-{a.id}", a.device_id, a.raised_ms, a.id, a.floor, now_ms, ident(a.device_id), res
                    )
            marks[a.id] = a.cleared_ms is None
        self._seen(cur, "alarms", sorted(marks.items()))

    def _open_case_of(self, cur: Any, dev: str) -> str | None:
        """The car's open rescue case, if it has one (one car, one case, one crew)."""
        cur.execute(
            self.db.q(
                "SELECT case_id FROM rescue_cases WHERE device_id = ? AND status IN ('01', '02', '04') "
                "ORDER BY occurred_ms LIMIT 1"
            ),
            (dev,),
        )
        row = cur.fetchone()
        return None if row is None else str(row[0])

    def _join_open_case(self, cur: Any, dev: str, alarm_id: int, floor: int | None) -> str | None:
        """An entrapment on a car whose case is already open (opened by a 96333 call, or still open
        from an earlier raise) belongs to that case: a case opened by phone takes the alarm (and its
        floor) as its own; no second case is opened."""
        case_id = self._open_case_of(cur, dev)
        if case_id is not None:
            cur.execute(
                self.db.q(
                    "UPDATE rescue_cases SET alarm_id = ?, floor = COALESCE(floor, ?) "
                    "WHERE case_id = ? AND alarm_id IS NULL"
                ),
                (alarm_id, floor, case_id),
            )
        return case_id

    def _advise(self, cur: Any, a: AlarmChange, ident: dict[str, Any] | None, now_ms: int, res: TickResult) -> None:
        """A trend-watch advisory raised or cleared: a webhook to the elevator's maintenance
        company and to nobody else (never the rescue centre, never a case: a drifting figure is
        maintenance work). One notification per alarm and state (`ADV-{id}:raised`, `:cleared`),
        so seeing the alarm again sends nothing more; a clear seen first also sends its raise.
        History the platform starts on (cleared longer ago than `backfill_s`) is not sent."""
        if a.cleared_ms is not None and now_ms - a.cleared_ms > self.config.backfill_s * 1000:
            return
        company = (ident or {}).get("maintenance_company")
        targets = self.config.webhooks.company_targets(company)
        if not targets:
            return
        states: list[tuple[str, int | None]] = [("raised", None)]
        if a.cleared_ms is not None:
            states.append(("cleared", a.cleared_ms))
        for state, cleared_ms in states:
            body = city_feed.alarm_body(
                a.id, a.device_id, a.type, a.raised_ms, cleared_ms, a.floor, a.fault_code, ident
            )
            for key in ("rescue_code", "address", "using_unit", "maintenance_company"):
                body[key] = (ident or {}).get(key)
            payload = {"event": f"advisory.{state}", "advisory": body}
            res.webhooks += webhooks.enqueue(
                self.db, cur, self.config.webhooks, company, f"ADV-{a.id}:{state}", payload, now_ms, targets
            )

    def _open_case(
        self,
        cur: Any,
        case_id: str,
        dev: str,
        occurred_ms: int,
        alarm_id: int | None,
        floor: int | None,
        now_ms: int,
        ident: dict[str, Any] | None,
        res: TickResult,
        actor: str = rescue.SYSTEM_ACTOR,
        note: str = "entrapment",
    ) -> RescueCase | None:
        db = self.db
        case = rescue.open_case(case_id, dev, occurred_ms, alarm_id, floor, actor)
        if note != "entrapment":
            case = RescueCase(case.case_id, dev, alarm_id, (Step(Status.OCCURRED, occurred_ms, actor, note),), floor)
        cur.execute(
            db.q(
                "INSERT INTO rescue_cases (case_id, device_id, alarm_id, floor, status, occurred_ms, updated_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
            ),
            (case_id, dev, alarm_id, floor, case.status.value, occurred_ms, now_ms),
        )
        if cur.rowcount == 0:
            return None
        s = case.steps[0]
        cur.execute(
            db.q("INSERT INTO rescue_steps (case_id, n, status, at_ms, actor, note) VALUES (?, 0, ?, ?, ?, ?)"),
            (case_id, s.status.value, s.at_ms, s.actor, s.note),
        )
        res.cases_opened += 1
        self._schedule(cur, case, {})
        self._notify(cur, case, {}, ident, "rescue.opened", f"{case_id}:opened", now_ms, res)
        log.warning("rescue case %s opened: entrapment on %s", case_id, dev)
        return case

    def _notify(
        self,
        cur: Any,
        case: RescueCase,
        sent: dict[str, int],
        ident: dict[str, Any] | None,
        event: str,
        dedupe: str,
        now_ms: int,
        res: TickResult,
        extra: dict[str, Any] | None = None,
    ) -> None:
        db = self.db
        body = city_feed.case_body(case, sent, ident)
        payload = {"event": event, "case": body, **(extra or {})}
        company = (ident or {}).get("maintenance_company")
        res.webhooks += webhooks.enqueue(db, cur, self.config.webhooks, company, dedupe, payload, now_ms)
        res.city_items += city_feed.enqueue(db, cur, "rescue_case", case.case_id, body, now_ms)

    def _escalate(self, cur: Any, now_ms: int, res: TickResult) -> None:
        """Send the escalations that fell due. Each case stores when its next one falls due
        (`next_escalation_ms`, from the pure rules), so only due cases are loaded."""
        db = self.db
        cur.execute(
            db.q("SELECT case_id FROM rescue_cases WHERE next_escalation_ms <= ? ORDER BY next_escalation_ms"),
            (now_ms,),
        )
        for (case_id,) in cur.fetchall():
            loaded = _load_case(db, cur, case_id)
            if loaded is None:
                continue
            case, sent = loaded
            for kind in rescue.due_escalations(case, sent, now_ms, self.config.rescue):
                cur.execute(
                    db.q(
                        "INSERT INTO rescue_escalations (case_id, kind, sent_ms) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    (case_id, kind.value, now_ms),
                )
                if cur.rowcount == 0:
                    continue
                sent[kind.value] = now_ms
                res.escalations += 1
                log.warning("rescue case %s escalated: %s", case_id, kind.value)
                self._notify(
                    cur,
                    case,
                    sent,
                    _identity_of(db, cur, case.device_id),
                    "rescue.escalation",
                    f"{case_id}:escalation:{kind.value}",
                    now_ms,
                    res,
                    {"escalation": kind.value},
                )
            self._schedule(cur, case, sent)
        cur.execute("SELECT MIN(next_escalation_ms) FROM rescue_cases")
        row = cur.fetchone()
        res.next_deadline_ms = None if row is None or row[0] is None else int(row[0])

    def _schedule(self, cur: Any, case: RescueCase, sent: Mapping[str, int]) -> None:
        nxt = rescue.next_deadline_ms(case, sent, self.config.rescue)
        cur.execute(self.db.q("UPDATE rescue_cases SET next_escalation_ms = ? WHERE case_id = ?"), (nxt, case.case_id))

    def _scan_inspections(self, cur: Any, now_ms: int, res: TickResult) -> int:
        """Inspection events not yet turned into sessions (told: when an inspection alarm changed);
        the events read."""
        db = self.db
        new = self._unseen(cur, "events", "SELECT id, device_id, time_ms FROM events WHERE type = 'inspection'", ())
        if not new:
            return 0
        earliest: dict[str, int] = {}
        for _, dev, t in new:
            earliest[dev] = min(earliest.get(dev, t), t)
        self._seen(cur, "events", [(eid, False) for eid, _, _ in new])
        for dev, t in earliest.items():
            since = t - 7 * DAY_MS
            cur.execute(
                db.q(
                    "SELECT action, time_ms FROM events WHERE device_id = ? AND type = 'inspection' AND time_ms >= ? "
                    "ORDER BY time_ms"
                ),
                (dev, since),
            )
            evs = [InspectionEvent(dev, a, int(tm)) for a, tm in cur.fetchall()]
            cur.execute(
                db.q("SELECT time_ms, body FROM records WHERE device_id = ? AND kind = 'status' AND time_ms >= ?"),
                (dev, since),
            )
            points = [StatusPoint(dev, int(tm), json.loads(b).get("floor")) for tm, b in cur.fetchall()]
            for s in maintenance.build_sessions(evs, points, self.config.maintenance):
                cur.execute(
                    db.q(
                        "SELECT end_ms, floors, too_short FROM maintenance_sessions "
                        "WHERE device_id = ? AND start_ms = ?"
                    ),
                    (dev, s.start_ms),
                )
                old = cur.fetchone()
                floors = json.dumps(list(s.floors_visited))
                if old is not None and (old[0], old[1], bool(old[2])) == (s.end_ms, floors, s.too_short):
                    continue
                cur.execute(
                    db.q(
                        "INSERT INTO maintenance_sessions (device_id, start_ms, end_ms, floors, too_short) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, start_ms) DO UPDATE SET "
                        "end_ms = excluded.end_ms, "
                        "floors = excluded.floors, too_short = excluded.too_short"
                    ),
                    (dev, s.start_ms, s.end_ms, floors, s.too_short),
                )
                res.sessions += 1
                res.city_items += city_feed.enqueue(
                    db, cur, "maintenance_session", f"{dev}:{s.start_ms}", city_feed.session_body(s), now_ms
                )
        return len(new)

    def _summaries(self, cur: Any, now_ms: int, res: TickResult) -> None:
        db = self.db
        idents = _identities(db, cur)
        cur.execute(
            "SELECT d.device_id, d.online, d.created_ms, l.state FROM devices d "
            "LEFT JOIN latest_status l ON l.device_id = d.device_id ORDER BY d.device_id"
        )
        devs = cur.fetchall()
        cur.execute("SELECT device_id, type FROM alarms WHERE cleared_ms IS NULL")
        active: dict[str, list[str]] = defaultdict(list)
        for dev, typ in cur.fetchall():
            active[dev].append(typ)
        cur.execute("SELECT kind, item_key, digest FROM feed_digest WHERE kind IN ('elevator', 'status')")
        known = {(k, key): d for k, key, d in cur.fetchall()}
        for dev, online, created, state in devs:
            ident = idents.get(dev)
            ident_d = ident.as_dict() if ident else None
            elevator = {
                "device_id": dev,
                "registered_ms": int(created),
                "registered_at": iso(int(created)),
                **(ident_d or {}),
            }
            if known.get(("elevator", dev)) != city_feed.digest(elevator):
                res.city_items += city_feed.enqueue(db, cur, "elevator", dev, elevator, now_ms)
            body = city_feed.status_body(dev, bool(online), json.loads(state) if state else None, active[dev], ident_d)
            if known.get(("status", dev)) != city_feed.digest(body):
                res.city_items += city_feed.enqueue(db, cur, "status", dev, body, now_ms)

    # --- rescue API -----------------------------------------------------------------------
    async def cases(self, open_: bool | None, device_id: str | None, limit: int) -> list[dict[str, Any]]:
        def q(cur: Any) -> list[dict[str, Any]]:
            db = self.db
            where, args = [], []
            if open_ is True:
                where.append("status IN ('01', '02', '04')")
            elif open_ is False:
                where.append("status IN ('00', '05', '06')")
            if device_id is not None:
                where.append("device_id = ?")
                args.append(device_id)
            cur.execute(
                db.q(
                    "SELECT case_id FROM rescue_cases"
                    + (" WHERE " + " AND ".join(where) if where else "")
                    + " ORDER BY occurred_ms DESC LIMIT ?"
                ),
                (*args, limit),
            )
            ids = [cid for (cid,) in cur.fetchall()]
            if not ids:
                return []
            idents = {d: i.as_dict() for d, i in _identities(db, cur).items()}
            loaded = _load_cases(
                db, cur, f"case_id IN ({','.join('?' * len(ids))})", tuple(ids), "ORDER BY occurred_ms DESC"
            )
            return [city_feed.case_body(c, sent, idents.get(c.device_id)) for c, sent in loaded]

        return await self.db.run(q)

    async def case(self, case_id: str) -> dict[str, Any] | None:
        def q(cur: Any) -> dict[str, Any] | None:
            loaded = _load_case(self.db, cur, case_id)
            if loaded is None:
                return None
            return city_feed.case_body(loaded[0], loaded[1], _identity_of(self.db, cur, loaded[0].device_id))

        return await self.db.run(q)

    async def act(
        self,
        case_id: str,
        action: str,
        actor: str,
        note: str,
        at_ms: int | None = None,
        audit: AuditHook | None = None,
    ) -> dict[str, Any]:
        """Apply a person's step, now or at `at_ms` (a step reported late: "the rescuer arrived at
        15:02"); RescueError (refused) or KeyError (no such case). `audit` is told in the step's
        transaction (see AuditHook)."""

        def tx(cur: Any) -> tuple[dict[str, Any], TickResult]:
            db = self.db
            loaded = _load_case(db, cur, case_id)
            if loaded is None:
                raise KeyError(case_id)
            case, sent = loaded
            now = self.clock()
            if at_ms is not None and at_ms > now + 60_000:
                raise RescueError(f"at: {iso(at_ms)} is in the future")
            new = rescue.transition(case, action, now if at_ms is None else at_ms, actor, note)
            _save_step(db, cur, new, now)
            self._schedule(cur, new, sent)
            res = TickResult()
            ident = _identity_of(db, cur, new.device_id)
            self._notify(cur, new, sent, ident, "rescue.status", f"{case_id}:step:{len(new.steps) - 1}", now, res)
            body = city_feed.case_body(new, sent, ident)
            if audit is not None:
                audit(cur, {**body, "previous_status": case.status.value})
            return body, res

        body, res = await self.db.run(tx)
        log.info("rescue case %s: %s by %s -> %s", case_id, action, actor, body["status"])
        self._after(res)
        return body

    async def open_manual(
        self, device_id: str, actor: str, note: str, audit: AuditHook | None = None
    ) -> dict[str, Any]:
        """A case reported by phone (96333) rather than by the detector; `audit` as for `act`."""
        if not actor.strip() or actor.strip() == rescue.SYSTEM_ACTOR:
            raise RescueError("an actor is required: say who took the call")

        def tx(cur: Any) -> tuple[dict[str, Any], TickResult]:
            db = self.db
            cur.execute(db.q("SELECT 1 FROM devices WHERE device_id = ?"), (device_id,))
            if cur.fetchone() is None and _identity_of(db, cur, device_id) is None:
                raise KeyError(device_id)
            already = self._open_case_of(cur, device_id)
            if already is not None:
                raise RefusedTransition(
                    f"case {already} is already open for {device_id}: one car, one case, one crew (add to that case)"
                )
            res = TickResult()
            now = self.clock()
            ident = _identity_of(db, cur, device_id)
            case = self._open_case(
                cur,
                f"RM-{uuid.uuid4().hex[:10]}",
                device_id,
                now,
                None,
                None,
                now,
                ident,
                res,
                actor.strip(),
                note or "reported by phone",
            )
            assert case is not None
            body = city_feed.case_body(case, {}, ident)
            if audit is not None:
                audit(cur, body)
            return body, res

        body, res = await self.db.run(tx)
        self._after(res)
        return body

    async def merge(
        self, case_id: str, into_id: str, actor: str, note: str = "", audit: AuditHook | None = None
    ) -> dict[str, Any]:
        """Fold open case `case_id` into open case `into_id` of the same car (rescue.merge); the
        surviving case's body. RescueError (refused) or KeyError (no such case); `audit` as for `act`."""

        def tx(cur: Any) -> tuple[dict[str, Any], TickResult]:
            db = self.db
            loaded_away, loaded_into = _load_case(db, cur, case_id), _load_case(db, cur, into_id)
            if loaded_away is None:
                raise KeyError(case_id)
            if loaded_into is None:
                raise KeyError(into_id)
            (away, away_sent), (into, into_sent) = loaded_away, loaded_into
            now = self.clock()
            kept, gone = rescue.merge(into, away, now, actor, note)
            # the alarm moves first: rescue_cases.alarm_id is unique
            cur.execute(
                db.q("UPDATE rescue_cases SET alarm_id = ?, next_escalation_ms = NULL WHERE case_id = ?"),
                (gone.alarm_id, gone.case_id),
            )
            _save_step(db, cur, gone, now)
            cur.execute(db.q("DELETE FROM rescue_steps WHERE case_id = ?"), (kept.case_id,))
            for n, st in enumerate(kept.steps):
                cur.execute(
                    db.q("INSERT INTO rescue_steps (case_id, n, status, at_ms, actor, note) VALUES (?, ?, ?, ?, ?, ?)"),
                    (kept.case_id, n, st.status.value, st.at_ms, st.actor, st.note),
                )
            cur.execute(
                db.q(
                    "UPDATE rescue_cases SET alarm_id = ?, floor = ?, status = ?, occurred_ms = ?, updated_ms = ? "
                    "WHERE case_id = ?"
                ),
                (kept.alarm_id, kept.floor, kept.status.value, kept.occurred_ms, now, kept.case_id),
            )
            # an escalation either case already sent is not sent again for the merged one
            sent = dict(into_sent)
            for kind, ms in away_sent.items():
                if kind not in sent:
                    cur.execute(
                        db.q("INSERT INTO rescue_escalations (case_id, kind, sent_ms) VALUES (?, ?, ?)"),
                        (kept.case_id, kind, ms),
                    )
                    sent[kind] = ms
            self._schedule(cur, kept, sent)
            res = TickResult()
            ident = _identity_of(db, cur, kept.device_id)
            self._notify(cur, gone, away_sent, ident, "rescue.status", f"{gone.case_id}:merged", now, res)
            self._notify(cur, kept, sent, ident, "rescue.status", f"{kept.case_id}:merge:{gone.case_id}", now, res)
            body = city_feed.case_body(kept, sent, ident)
            if audit is not None:
                audit(cur, body)
            return body, res

        body, res = await self.db.run(tx)
        log.info("rescue case %s merged into %s by %s", case_id, into_id, actor)
        self._after(res)
        return body

    def _after(self, res: TickResult) -> None:
        if res.webhooks:
            self.webhook_sender.wake()
        if res.city_items and self.feed_sender is not None:
            self.feed_sender.wake()
        self._tell_case_listeners()
        self.wake()

    # --- maintenance API ------------------------------------------------------------------
    async def _sessions_and_devices(self) -> tuple[list[Session], dict[str, int], dict[str, str | None]]:
        def q(cur: Any) -> tuple[list[Session], dict[str, int], dict[str, str | None]]:
            cur.execute("SELECT device_id, start_ms, end_ms, floors, too_short FROM maintenance_sessions")
            sessions = [
                Session(d, int(s), None if e is None else int(e), tuple(json.loads(f)), bool(t))
                for d, s, e, f, t in cur.fetchall()
            ]
            cur.execute("SELECT device_id, created_ms FROM devices")
            registered = {d: int(c) for d, c in cur.fetchall()}
            idents = _identities(self.db, cur)
            for d in idents:
                registered.setdefault(d, 0)
            company = {d: (idents[d].maintenance_company if d in idents else None) for d in registered}
            return sessions, registered, company

        return await self.db.run(q)

    async def sessions(self, device_id: str | None, since_ms: int | None) -> list[dict[str, Any]]:
        sessions, _, _ = await self._sessions_and_devices()
        out = [
            s
            for s in sessions
            if (device_id is None or s.device_id == device_id) and (since_ms is None or s.start_ms >= since_ms)
        ]
        return [city_feed.session_body(s) for s in sorted(out, key=lambda s: (s.start_ms, s.device_id), reverse=True)]

    async def last_maintenance(self) -> list[dict[str, Any]]:
        sessions, registered, company = await self._sessions_and_devices()
        last = maintenance.last_maintenance(sessions)
        return [
            {
                "device_id": d,
                "maintenance_company": company.get(d),
                "last_maintenance": city_feed.session_body(last[d]) if d in last else None,
            }
            for d in sorted(registered)
        ]

    async def overdue(self) -> list[dict[str, Any]]:
        sessions, registered, company = await self._sessions_and_devices()
        return overdue_json(sessions, registered, company, self.clock(), self.config.maintenance)

    async def compliance(self, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        sessions, registered, company = await self._sessions_and_devices()
        over = maintenance.overdue(
            registered, maintenance.last_maintenance(sessions), until_ms, self.config.maintenance
        )
        return [r.as_dict() for r in maintenance.compliance_report(company, sessions, over, since_ms, until_ms)]

    # --- statistics -----------------------------------------------------------------------
    async def statistics(self, since_ms: int, until_ms: int) -> list[statistics.Figures]:
        def q(cur: Any) -> tuple[list[statistics.ElevatorRef], list[statistics.AlarmFact], list[RescueCase]]:
            db = self.db
            idents = _identities(db, cur)
            periods = _company_periods(cur)
            cur.execute("SELECT device_id, created_ms FROM devices")
            refs = []
            for d, created in cur.fetchall():
                i = idents.get(d)
                refs.append(
                    statistics.ElevatorRef(
                        d,
                        i.area_code if i else None,
                        i.maintenance_company if i else None,
                        int(created),
                        periods.get(d, ()),
                    )
                )
            cur.execute(
                db.q(
                    "SELECT device_id, type, raised_ms, cleared_ms FROM alarms WHERE raised_ms < ? "
                    "AND (cleared_ms IS NULL OR cleared_ms >= ?)"
                ),
                (until_ms, since_ms),
            )
            alarms = [
                statistics.AlarmFact(d, t, int(r), None if c is None else int(c)) for d, t, r, c in cur.fetchall()
            ]
            loaded = _load_cases(db, cur, "occurred_ms >= ? AND occurred_ms < ?", (since_ms, until_ms))
            return refs, alarms, [c for c, _ in loaded]

        refs, alarms, cases = await self.db.run(q)
        return statistics.compute(refs, alarms, cases, since_ms, until_ms, self.config.rescue.arrival_limit_s)

    # --- registry -------------------------------------------------------------------------
    async def registry(self) -> list[ElevatorIdentity]:
        idents = await self.db.run(lambda cur: _identities(self.db, cur))
        return [idents[d] for d in sorted(idents)]

    async def registry_history(self, device_id: str) -> list[dict[str, Any]]:
        """Every version of one elevator's registry entry, oldest first (empty: never registered)."""

        def q(cur: Any) -> list[dict[str, Any]]:
            cols = ", ".join(identity.ALL_FIELDS)
            cur.execute(
                self.db.q(
                    f"SELECT version, valid_from_ms, recorded_ms, {cols} FROM elevator_identity_versions "
                    "WHERE device_id = ? ORDER BY version"
                ),
                (device_id,),
            )
            rows = cur.fetchall()
            out = []
            for n, row in enumerate(rows):
                version, valid_from, recorded = int(row[0]), int(row[1]), int(row[2])
                until = int(rows[n + 1][1]) if n + 1 < len(rows) else None
                out.append(
                    {
                        "version": version,
                        "valid_from": iso(valid_from),
                        "valid_until": None if until is None else iso(until),
                        "recorded": iso(recorded),
                        **ElevatorIdentity(*row[3:]).as_dict(),
                    }
                )
            return out

        return await self.db.run(q)

    async def import_registry(
        self, text: str, valid_from_ms: int | None = None, audit: AuditHook | None = None
    ) -> dict[str, int]:
        """Replace-or-add the CSV's elevators in one transaction; IdentityError lists the problems;
        `audit` as for `act`.

        Each elevator whose fields changed gets a new version in its history, valid from the
        row's `valid_from`, else `valid_from_ms`, else now (docs/registry.md). History is only
        appended to: a version may not take effect before the elevator's latest one."""
        dated = identity.parse_csv_dated(text)
        parsed = [i for i, _ in dated]

        def tx(cur: Any) -> dict[str, int]:
            db = self.db
            existing = _identities(db, cur)
            incoming = {i.device_id for i in parsed}
            # A code may move from one elevator to another within the file: check against the rest.
            kept = [(f"registry elevator {d}", i) for d, i in existing.items() if d not in incoming]
            problems = identity.check_unique(kept + [(f"CSV elevator {i.device_id}", i) for i in parsed])
            if problems:
                raise IdentityError(problems)
            now = self.clock()
            cur.execute(
                "SELECT device_id, MAX(version), MAX(valid_from_ms) FROM elevator_identity_versions GROUP BY device_id"
            )
            latest = {d: (int(v), int(f)) for d, v, f in cur.fetchall()}
            changes = [(i, when) for i, when in dated if existing.get(i.device_id) != i]
            for i, when in changes:
                effective = when if when is not None else valid_from_ms if valid_from_ms is not None else now
                last = latest.get(i.device_id)
                if last is not None and effective < last[1]:
                    problems.append(
                        f"CSV elevator {i.device_id}: field valid_from: {iso(effective)} is before its version "
                        f"{last[0]}, valid from {iso(last[1])} (history is only appended to)"
                    )
            if problems:
                raise IdentityError(problems)
            for i, _ in changes:
                cur.execute(db.q("DELETE FROM elevator_identity WHERE device_id = ?"), (i.device_id,))
            cols = ", ".join(identity.ALL_FIELDS)
            marks = ", ".join("?" * len(identity.ALL_FIELDS))
            for i, when in changes:
                values = tuple(getattr(i, f) for f in identity.ALL_FIELDS)
                cur.execute(
                    db.q(f"INSERT INTO elevator_identity ({cols}, updated_ms) VALUES ({marks}, ?)"), (*values, now)
                )
                effective = when if when is not None else valid_from_ms if valid_from_ms is not None else now
                version = latest.get(i.device_id, (0, 0))[0] + 1
                cur.execute(
                    db.q(
                        f"INSERT INTO elevator_identity_versions ({cols}, version, valid_from_ms, recorded_ms) "
                        f"VALUES ({marks}, ?, ?, ?)"
                    ),
                    (*values, version, effective, now),
                )
            out = {"elevators": len(parsed), "changed": len(changes)}
            if audit is not None:
                audit(cur, out)
            return out

        out = await self.db.run(tx)
        self._last_summary_ms = 0  # push the changed identities with the next tick
        self.wake()
        return out

    # --- city role ------------------------------------------------------------------------
    async def accept_push(self, authorization: str, payload: Any) -> dict[str, Any]:
        cfg = self.config.city
        county = cfg.county_of(authorization)
        if county is None:
            raise PushRefused(401, "missing or unknown county token")
        items = city_api.validate_push(payload, county, cfg.max_items)
        counts = await self.db.run(lambda cur: city_api.accept(self.db, cur, county, items, self.clock()))
        return {"county": county, **counts}

    async def city_items(self, kind: str, county: str | None = None) -> list[dict[str, Any]]:
        return await self.db.run(lambda cur: city_api.items(self.db, cur, kind, county))

    async def city_counties(self) -> list[dict[str, Any]]:
        rows = await self.db.run(lambda cur: city_api.counties(self.db, cur, sorted(self.config.city.counties)))
        for r in rows:
            r["last_received_at"] = iso(r.pop("last_received_ms"))
        return rows


def overdue_json(
    sessions: list[Session],
    registered: dict[str, int],
    company: Mapping[str, str | None],
    now_ms: int,
    config: MaintenanceConfig,
) -> list[dict[str, Any]]:
    over = maintenance.overdue(registered, maintenance.last_maintenance(sessions), now_ms, config)
    return [
        {
            "device_id": o.device_id,
            "maintenance_company": company.get(o.device_id),
            "last_maintenance_at": iso(o.last_maintenance_ms),
            "due_at": iso(o.due_ms),
            "overdue_days": round(o.overdue_days, 2),
        }
        for o in over
    ]
