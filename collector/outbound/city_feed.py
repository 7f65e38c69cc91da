"""County -> city: the outbox of items for the city platform and the client that pushes them.

At least once, in order, nothing lost
-------------------------------------
Every change the city must know about is written to `city_outbox` in the same transaction as the
change itself (a rescue step, a registry import) or by the platform worker as it notices it (a new
or cleared alarm, a maintenance session, a status summary). The sender pushes the oldest unsent
items in batches and marks them sent only after the city answered 200, so a city outage or a
restart of either side loses nothing: the items wait in the county's store.

Doubles are harmless
--------------------
Each item has an `idempotency_key` ("COUNTY:INSTANCE:OUTBOX_ID") that is fixed when it is queued
and so the same on every retry; the city stores each key once. Each item also has a `version` (the
outbox id, increasing), and the city keeps per (county, kind, key) only the highest version, so a
late retry never overwrites a newer state.

Backoff
-------
A failed push is retried after `backoff_s(attempts)`: exponential from `retry_base_s` to
`retry_cap_s`, with jitter, persisted on the head item so a restart does not hammer the city.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from collector.config import redact
from collector.errors import CollectorError
from collector.outbound.webhooks import backoff_s
from collector.platform.maintenance import Session
from collector.platform.rescue import STATUS_TITLE, RescueCase, Status, Step
from collector.store import Store
from collector.times import iso
from protocols.events import ADVISORY_TYPES, BY_NAME

log = logging.getLogger("collector.outbound.city_feed")

KINDS = ("elevator", "alarm", "rescue_case", "maintenance_session", "status")
PUSH_PATH = "/city/v1/push"
COUNTY_RE = re.compile(r"^[0-9]{6}$")


class CityFeedError(CollectorError):
    """Bad city feed settings."""


@dataclass(frozen=True, slots=True)
class CityFeedConfig:
    city_url: str  # e.g. https://city.example.cn (the push goes to CITY_URL/city/v1/push)
    county: str  # the county's GB/T 2260 code, e.g. 330602
    token: str
    batch_max: int = 200
    timeout_s: float = 10.0
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.city_url.startswith(("http://", "https://")):
            raise CityFeedError(f"city_feed.city_url: {redact(self.city_url)!r} must start with https:// (or http://)")
        if not COUNTY_RE.fullmatch(self.county):
            raise CityFeedError(f"city_feed.county: {self.county!r} must be the county's 6-digit GB/T 2260 code")
        if len(self.token) < 8:
            raise CityFeedError("city_feed.token: empty or shorter than 8 characters")
        if not 1 <= self.batch_max <= 1000:
            raise CityFeedError(f"city_feed.batch_max must be 1..1000, got {self.batch_max!r}")
        for key in ("timeout_s", "retry_base_s", "retry_cap_s", "poll_s"):
            if getattr(self, key) <= 0:
                raise CityFeedError(f"city_feed.{key} must be positive, got {getattr(self, key)!r}")

    @property
    def push_url(self) -> str:
        return self.city_url.rstrip("/") + PUSH_PATH


# --- item bodies: the city-wide vocabulary (docs/city-interface.md) --------------------------------


def alarm_body(
    alarm_id: int,
    device_id: str,
    type_: str,
    raised_ms: int,
    cleared_ms: int | None,
    floor: int | None,
    fault_code: int | None,
    identity: dict[str, Any] | None,
) -> dict[str, Any]:
    spec = BY_NAME.get(type_)
    return {
        "alarm_id": alarm_id,
        "device_id": device_id,
        "registration_code": (identity or {}).get("registration_code"),
        "area_code": (identity or {}).get("area_code"),
        "type": type_,
        "gbt_code": spec.gbt_code if spec else None,
        "severity": spec.severity.value if spec else None,
        "title": spec.title if spec else type_,
        "raised_at": iso(raised_ms),
        "cleared_at": iso(cleared_ms),
        "raised_ms": raised_ms,
        "cleared_ms": cleared_ms,
        "active": cleared_ms is None,
        "floor": floor,
        "fault_code": fault_code,
    }


_CAR = {1: "up", -1: "down", 0: "stopped"}


def status_body(
    device_id: str,
    online: bool,
    state: dict[str, Any] | None,
    active_alarms: list[str],
    identity: dict[str, Any] | None,
) -> dict[str, Any]:
    """The elevator's running state in GB/T 24476 terms: service mode, car direction, door,
    floor, and the codes of its active faults. No timestamps, so an unchanged elevator produces
    an identical body and is not pushed again."""
    st = state or {}
    return {
        "device_id": device_id,
        "registration_code": (identity or {}).get("registration_code"),
        "area_code": (identity or {}).get("area_code"),
        "online": online,
        "service_mode": st.get("mode"),
        "car_status": None
        if not st
        else ("running_" + _CAR.get(st.get("direction", 0), "stopped"))
        if st.get("running")
        else "stopped",
        "door_status": st.get("door"),
        "floor": st.get("floor"),
        "door_zone": st.get("door_zone"),
        "occupied": st.get("occupied"),
        "active_faults": [
            {"type": t, "gbt_code": BY_NAME[t].gbt_code if t in BY_NAME else None}
            for t in sorted(active_alarms)
            if t not in ADVISORY_TYPES
        ],
        # trend watch (docs/trend-watch.md): a figure drifting is for maintenance, not a fault
        "active_advisories": sorted(t for t in active_alarms if t in ADVISORY_TYPES),
    }


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def enqueue(
    db: Store, cur: Any, kind: str, key: str, body: dict[str, Any], now_ms: int, only_if_changed: bool = False
) -> bool:
    """Queue one item for the city. With `only_if_changed`, an item whose body equals the last one
    queued for (kind, key) is skipped (status summaries). True if queued."""
    if kind not in KINDS:
        raise CityFeedError(f"unknown city item kind {kind!r}")
    d = digest(body)
    if only_if_changed:
        cur.execute(db.q("SELECT digest FROM feed_digest WHERE kind = ? AND item_key = ?"), (kind, key))
        row = cur.fetchone()
        if row is not None and row[0] == d:
            return False
    cur.execute(
        db.q(
            "INSERT INTO feed_digest (kind, item_key, digest) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, item_key) DO UPDATE SET digest = excluded.digest"
        ),
        (kind, key, d),
    )
    cur.execute(
        db.q(
            "INSERT INTO city_outbox (dedupe_key, kind, item_key, body, created_ms, next_attempt_ms) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"
        ),
        (f"{kind}:{key}:{d}:{now_ms}", kind, key, json.dumps(body, ensure_ascii=False), now_ms, now_ms),
    )
    return bool(cur.rowcount)


def instance_id(db: Store, cur: Any) -> str:
    """A random id fixed at the first start of this county store: part of every idempotency key,
    so a rebuilt store cannot collide with the keys of the old one."""
    cur.execute(db.q("SELECT value FROM platform_state WHERE name = ?"), ("feed_instance",))
    row = cur.fetchone()
    if row is not None:
        return str(row[0])
    value = uuid.uuid4().hex[:12]
    cur.execute(
        db.q("INSERT INTO platform_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
        ("feed_instance", value),
    )
    cur.execute(db.q("SELECT value FROM platform_state WHERE name = ?"), ("feed_instance",))
    return str(cur.fetchone()[0])


def _pending(db: Store, cur: Any, limit: int) -> list[tuple[int, str, str, str, int, int]]:
    cur.execute(
        db.q(
            "SELECT id, kind, item_key, body, attempts, next_attempt_ms FROM city_outbox WHERE sent_ms IS NULL "
            "ORDER BY id LIMIT ?"
        ),
        (limit,),
    )
    return [tuple(r) for r in cur.fetchall()]


def _mark_sent(db: Store, cur: Any, ids: list[int], now_ms: int) -> None:
    cur.execute(
        db.q(f"UPDATE city_outbox SET sent_ms = ?, last_error = NULL WHERE id IN ({','.join('?' * len(ids))})"),
        (now_ms, *ids),
    )


def _mark_failed(db: Store, cur: Any, head_id: int, attempts: int, next_ms: int, error: str) -> None:
    cur.execute(
        db.q("UPDATE city_outbox SET attempts = ?, next_attempt_ms = ?, last_error = ? WHERE id = ?"),
        (attempts, next_ms, error[:500], head_id),
    )


def backlog(db: Store, cur: Any) -> dict[str, Any]:
    cur.execute("SELECT COUNT(*), MIN(created_ms), MAX(attempts) FROM city_outbox WHERE sent_ms IS NULL")
    n, oldest, attempts = cur.fetchone()
    cur.execute("SELECT last_error FROM city_outbox WHERE sent_ms IS NULL ORDER BY id LIMIT 1")
    row = cur.fetchone()
    return {
        "pending": int(n),
        "oldest_pending_at": iso(oldest),
        "head_attempts": int(attempts or 0),
        "last_error": row[0] if row else None,
    }


class CityFeedSender:
    """Pushes the outbox to the city in order; `wake()` after queueing to skip the poll delay."""

    def __init__(self, db: Store, config: CityFeedConfig, clock: Callable[[], int]) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self._wake = asyncio.Event()
        self.pushed = 0
        self._outage_logged = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        instance = await self.db.run(lambda cur: instance_id(self.db, cur))
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                wait_s = await self.push_once(session, instance)
                if wait_s <= 0:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=wait_s)
                except TimeoutError:
                    pass

    async def push_once(self, session: aiohttp.ClientSession, instance: str) -> float:
        """Push one batch if one is due; how long to wait before the next try (0 = at once)."""
        cfg = self.config
        batch = await self.db.run(lambda cur: _pending(self.db, cur, cfg.batch_max))
        if not batch:
            return cfg.poll_s
        head_id, _, _, _, head_attempts, head_next = batch[0]
        now = self.clock()
        if head_next > now:
            return min(cfg.poll_s * 10, (head_next - now) / 1000)
        items = [
            {
                "idempotency_key": f"{cfg.county}:{instance}:{row_id}",
                "kind": kind,
                "key": key,
                "version": row_id,
                "body": json.loads(body),
            }
            for row_id, kind, key, body, _, _ in batch
        ]
        payload = json.dumps({"county": cfg.county, "items": items}, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {cfg.token}", "Content-Type": "application/json"}
        error = ""
        try:
            async with session.post(cfg.push_url, data=payload, headers=headers) as resp:
                text = await resp.text()
                if resp.status == 200:
                    ids = [row[0] for row in batch]
                    await self.db.run(lambda cur: _mark_sent(self.db, cur, ids, self.clock()))
                    self.pushed += len(ids)
                    if self._outage_logged:
                        log.info("city platform reachable again at %s", cfg.push_url)
                        self._outage_logged = False
                    return 0.0 if len(batch) == cfg.batch_max else 0.001
                error = f"HTTP {resp.status}: {text[:200]}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts = head_attempts + 1
        delay = backoff_s(attempts, cfg.retry_base_s, cfg.retry_cap_s)
        if not self._outage_logged:
            log.warning("city push to %s failed: %s (retrying with backoff)", cfg.push_url, error)
            self._outage_logged = True
        await self.db.run(
            lambda cur: _mark_failed(self.db, cur, head_id, attempts, self.clock() + round(delay * 1000), error)
        )
        return delay


def case_body(case: RescueCase, escalations: dict[str, int], identity: dict[str, Any] | None) -> dict[str, Any]:
    """A rescue case as the API and the city see it: status code and name, every step, the
    escalations sent, and response / arrival in seconds."""
    return {
        "case_id": case.case_id,
        "device_id": case.device_id,
        "alarm_id": case.alarm_id,
        "registration_code": (identity or {}).get("registration_code"),
        "rescue_code": (identity or {}).get("rescue_code"),
        "area_code": (identity or {}).get("area_code"),
        "address": (identity or {}).get("address"),
        "maintenance_company": (identity or {}).get("maintenance_company"),
        "floor": case.floor,
        "status": case.status.value,
        "status_name": STATUS_TITLE[case.status],
        "closed": case.closed,
        "occurred_at": iso(case.occurred_ms),
        "response_s": case.response_s,
        "arrival_s": case.arrival_s,
        "steps": [
            {
                "status": s.status.value,
                "status_name": STATUS_TITLE[s.status],
                "at": iso(s.at_ms),
                "at_ms": s.at_ms,
                "actor": s.actor,
                "note": s.note,
            }
            for s in case.steps
        ],
        "escalations": [{"kind": k, "sent_at": iso(v)} for k, v in sorted(escalations.items(), key=lambda kv: kv[1])],
    }


def case_from_body(body: dict[str, Any]) -> RescueCase:
    steps = tuple(
        Step(Status(s["status"]), int(s["at_ms"]), str(s["actor"]), str(s.get("note", ""))) for s in body["steps"]
    )
    return RescueCase(str(body["case_id"]), str(body["device_id"]), body.get("alarm_id"), steps, body.get("floor"))


def session_body(s: Session) -> dict[str, Any]:
    return {
        "device_id": s.device_id,
        "start_at": iso(s.start_ms),
        "end_at": iso(s.end_ms),
        "start_ms": s.start_ms,
        "end_ms": s.end_ms,
        "duration_s": s.duration_s,
        "floors_visited": list(s.floors_visited),
        "too_short": s.too_short,
        "counts": s.counts,
    }


def session_from_body(body: dict[str, Any]) -> Session:
    return Session(
        str(body["device_id"]),
        int(body["start_ms"]),
        body.get("end_ms"),
        tuple(body.get("floors_visited", ())),
        bool(body.get("too_short")),
    )
