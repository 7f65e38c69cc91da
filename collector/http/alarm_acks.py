"""Acknowledging and assigning an alarm (issue 15): who has seen it and who takes it.

    POST /api/v1/alarms/{alarm_id}/ack   {"assign_to": "crew-3", "note": "..."}  (both optional)

The acknowledgement is kept beside the alarm (`alarm_acks`, one row per alarm; a later one by
someone else replaces it, say to reassign) and written to the audit trail in the same
transaction. `GET /api/v1/alarms` shows `acknowledged_by`, `acknowledged_at` and `assigned_to`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from collector.accounts.roles import ACT
from collector.accounts.store import record
from collector.http.auth import AUTH_KEY, principal, require_visible
from collector.http.body import SMALL_BODY_BYTES, read_json_object
from collector.http.routes import Route
from collector.store import Store
from collector.times import iso

_CHUNK = 500
UPSERT = (  # the same on SQLite (>= 3.24) and PostgreSQL
    "INSERT INTO alarm_acks (alarm_id, device_id, acked_by, acked_ms, assigned_to, note) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (alarm_id) DO UPDATE SET acked_by = excluded.acked_by, "
    "acked_ms = excluded.acked_ms, assigned_to = excluded.assigned_to, note = excluded.note"
)


def _store(request: web.Request) -> Store:
    from collector.http.api import STORE_KEY  # the app's store (api.py owns the key)

    return request.app[STORE_KEY]


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def h_ack(request: web.Request) -> web.Response:
    raw = request.match_info["alarm_id"]
    if not raw.isdigit():
        raise _bad(f"alarm_id: {raw!r} is not a number")
    alarm_id = int(raw)
    store = _store(request)
    found = await store.run(_fetch_one, store.q("SELECT device_id FROM alarms WHERE id = ?"), (alarm_id,))
    if found is None:
        return web.json_response({"error": f"no alarm {alarm_id}"}, status=404)
    device_id = found[0]
    await require_visible(request, device_id)
    data = await read_json_object(request, SMALL_BODY_BYTES) if request.can_read_body else {}
    assign_to, note = data.get("assign_to"), data.get("note", "")
    if assign_to is not None and (not isinstance(assign_to, str) or not 0 < len(assign_to) <= 128):
        raise _bad("assign_to: give a name of 1-128 characters")
    if not isinstance(note, str) or len(note) > 2000:
        raise _bad("note: give a string of at most 2000 characters")
    who = principal(request)
    now = request.app[AUTH_KEY].clock()

    def tx(cur: Any) -> None:
        cur.execute(
            store.q(UPSERT),
            (alarm_id, device_id, who.name, now, assign_to, note),
        )
        detail = {"alarm_id": alarm_id, "assign_to": assign_to, "note": note}
        record(store, cur, now, who, "alarm", "ack", device_id, str(alarm_id), detail)

    await store.run(tx)
    return web.json_response(
        {
            "alarm_id": alarm_id,
            "device_id": device_id,
            "acknowledged_by": who.name,
            "acknowledged_at": iso(now),
            "assigned_to": assign_to,
        }
    )


def _fetch_one(cur: Any, sql: str, args: tuple[Any, ...]) -> Any:
    cur.execute(sql, args)
    return cur.fetchone()


async def add_acks(store: Store, alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`alarms` (the API's alarm objects) with their acknowledgement fields."""
    ids = [a["id"] for a in alarms]
    if not ids:
        return alarms

    def tx(cur: Any) -> dict[int, tuple[Any, ...]]:
        out: dict[int, tuple[Any, ...]] = {}
        for i in range(0, len(ids), _CHUNK):
            part = ids[i : i + _CHUNK]
            marks = ", ".join("?" for _ in part)
            cur.execute(
                store.q(
                    f"SELECT alarm_id, acked_by, acked_ms, assigned_to FROM alarm_acks WHERE alarm_id IN ({marks})"
                ),
                tuple(part),
            )
            for row in cur.fetchall():
                out[int(row[0])] = tuple(row)
        return out

    acks = await store.run(tx)
    for a in alarms:
        ack = acks.get(a["id"])
        a["acknowledged_by"] = ack[1] if ack else None
        a["acknowledged_at"] = iso(ack[2]) if ack else None
        a["assigned_to"] = ack[3] if ack else None
    return alarms


ROUTES = [
    Route(
        "POST",
        "/api/v1/alarms/{alarm_id}/ack",
        h_ack,
        ACT,
        "acknowledge an alarm (and assign it): recorded with the caller's name and in the audit trail",
        params=({"name": "alarm_id", "in": "path", "required": True, "schema": {"type": "integer"}},),
        body={
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"assign_to": {"type": "string"}, "note": {"type": "string"}},
                    }
                }
            },
        },
        response={"type": "object"},
        extra_responses={"404": "no such alarm"},
    ),
]
