"""The city role: accept pushes from several counties and answer the same questions city-wide.

Who may write what
------------------
Each county has its own token (`[platform.city.counties]`: county code -> token). The county of a
push is the one its token belongs to; a push naming another county, or carrying an idempotency key
of another county, is refused with 403. A second county therefore cannot write as the first.

Exactly once in effect
----------------------
A push is one transaction: every item's `idempotency_key` is recorded in `city_receipts`; a key
seen before is counted as a duplicate and changes nothing. Per (county, kind, key) the city keeps
the item with the highest `version`, so a late retry of an older state is "stale" and ignored.
A malformed push is refused whole (400) and nothing of it is stored, so the county retries it
unchanged after the fix rather than half of it.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.errors import CollectorError
from collector.outbound.city_feed import COUNTY_RE, KINDS
from collector.store import Store


class CityError(CollectorError):
    """Bad city settings."""


class PushRefused(CollectorError):
    """A push the city will not store; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CityConfig:
    counties: Mapping[str, str] = field(default_factory=dict)  # county code -> token
    max_items: int = 1000

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for county, token in self.counties.items():
            if not COUNTY_RE.fullmatch(county):
                raise CityError(f"city.counties: {county!r} must be a 6-digit GB/T 2260 county code")
            if len(token) < 8:
                raise CityError(f"city.counties.{county}: token empty or shorter than 8 characters")
            if token in seen:
                raise CityError(f"city.counties.{county}: same token as county {seen[token]}; each needs its own")
            seen[token] = county

    def county_of(self, authorization: str) -> str | None:
        """The county whose token is in `Authorization: Bearer TOKEN` (constant-time compare)."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        given = value.strip().encode()
        found = None
        for county, token in self.counties.items():
            if hmac.compare_digest(given, token.encode()):
                found = county
        return found


@dataclass(frozen=True, slots=True)
class PushItem:
    idempotency_key: str
    kind: str
    key: str
    version: int
    body: dict[str, Any]


_INT = (int,)
_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    "elevator": {"device_id": (str,), "registered_ms": _INT},
    "alarm": {"alarm_id": _INT, "device_id": (str,), "type": (str,), "raised_ms": _INT, "active": (bool,)},
    "rescue_case": {"case_id": (str,), "device_id": (str,), "status": (str,), "steps": (list,)},
    "maintenance_session": {"device_id": (str,), "start_ms": _INT, "too_short": (bool,)},
    "status": {"device_id": (str,), "online": (bool,)},
}
_STATUSES = {"00", "01", "02", "04", "05", "06"}  # 06: merged into another case of the car


def body_problem(kind: str, body: dict[str, Any]) -> str | None:
    """What is wrong with an item body, so one county's bug cannot break the city-wide answers."""
    for name, types in _REQUIRED[kind].items():
        value = body.get(name)
        if not isinstance(value, types) or (types is _INT and isinstance(value, bool)):
            return f"body.{name}: missing or not {'/'.join(t.__name__ for t in types)}"
    for name in ("cleared_ms", "end_ms"):
        if (
            name in body
            and body[name] is not None
            and (not isinstance(body[name], int) or isinstance(body[name], bool))
        ):
            return f"body.{name}: must be an integer or null"
    if kind == "rescue_case":
        if body["status"] not in _STATUSES:
            return f"body.status: {body['status']!r} is not one of {', '.join(sorted(_STATUSES))}"
        steps = body["steps"]
        if not steps:
            return "body.steps: a case has at least its 01 step"
        for j, st in enumerate(steps):
            if not (
                isinstance(st, dict)
                and st.get("status") in _STATUSES
                and isinstance(st.get("at_ms"), int)
                and isinstance(st.get("actor"), str)
            ):
                return f"body.steps[{j}]: needs status (00/01/02/04/05/06), at_ms (integer) and actor"
    return None


def validate_push(payload: Any, county: str, max_items: int) -> list[PushItem]:
    """The items of a push by `county` (from its token); PushRefused says what is wrong."""
    if not isinstance(payload, dict):
        raise PushRefused(400, "the body must be a JSON object with 'county' and 'items'")
    claimed = payload.get("county")
    if claimed != county:
        raise PushRefused(403, f"this token belongs to county {county}; it cannot write as county {claimed!r}")
    items = payload.get("items")
    if not isinstance(items, list):
        raise PushRefused(400, "'items' must be a list")
    if len(items) > max_items:
        raise PushRefused(413, f"{len(items)} items in one push; at most {max_items}")
    out = []
    for i, it in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(it, dict):
            raise PushRefused(400, f"{where}: must be an object")
        key = it.get("idempotency_key")
        if not isinstance(key, str) or not 1 <= len(key) <= 200:
            raise PushRefused(400, f"{where}.idempotency_key: must be a string of 1-200 characters")
        if not key.startswith(county + ":"):
            raise PushRefused(403, f"{where}.idempotency_key: {key!r} is not one of county {county}'s keys")
        kind = it.get("kind")
        if kind not in KINDS:
            raise PushRefused(400, f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        ikey = it.get("key")
        if not isinstance(ikey, str) or not ikey:
            raise PushRefused(400, f"{where}.key: must be a non-empty string")
        version = it.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise PushRefused(400, f"{where}.version: must be a non-negative integer")
        body = it.get("body")
        if not isinstance(body, dict):
            raise PushRefused(400, f"{where}.body: must be an object")
        problem = body_problem(str(kind), body)
        if problem is not None:
            raise PushRefused(400, f"{where}.{problem}")
        out.append(PushItem(key, str(kind), ikey, version, body))
    return out


def accept(db: Store, cur: Any, county: str, items: list[PushItem], now_ms: int) -> dict[str, int]:
    """Store a validated push in the caller's transaction; counts of accepted/duplicate/stale."""
    counts = {"accepted": 0, "duplicates": 0, "stale": 0}
    for it in items:
        cur.execute(
            db.q(
                "INSERT INTO city_receipts (idempotency_key, county, received_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO NOTHING"
            ),
            (it.idempotency_key, county, now_ms),
        )
        if cur.rowcount == 0:
            counts["duplicates"] += 1
            continue
        cur.execute(
            db.q(
                "INSERT INTO city_items (county, kind, item_key, version, body, received_ms) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (county, kind, item_key) DO UPDATE SET version = excluded.version, body = excluded.body, "
                "received_ms = excluded.received_ms WHERE city_items.version < excluded.version"
            ),
            (county, it.kind, it.key, it.version, json.dumps(it.body, ensure_ascii=False), now_ms),
        )
        counts["accepted" if cur.rowcount else "stale"] += 1
    return counts


def items(db: Store, cur: Any, kind: str, county: str | None = None) -> list[dict[str, Any]]:
    """Every stored item of `kind` (of one county or all), each body with its `county` added."""
    sql = "SELECT county, body FROM city_items WHERE kind = ?"
    args: list[Any] = [kind]
    if county is not None:
        sql += " AND county = ?"
        args.append(county)
    cur.execute(db.q(sql + " ORDER BY county, item_key"), args)
    out = []
    for c, body in cur.fetchall():
        d = json.loads(body)
        d["county"] = c
        out.append(d)
    return out


def counties(db: Store, cur: Any, configured: list[str]) -> list[dict[str, Any]]:
    cur.execute("SELECT county, kind, COUNT(*), MAX(received_ms) FROM city_items GROUP BY county, kind")
    per: dict[str, dict[str, Any]] = {c: {"county": c, "items": {}, "last_received_ms": None} for c in configured}
    for c, kind, n, last in cur.fetchall():
        d = per.setdefault(c, {"county": c, "items": {}, "last_received_ms": None})
        d["items"][kind] = int(n)
        d["last_received_ms"] = max(d["last_received_ms"] or 0, int(last))
    return [per[c] for c in sorted(per)]
