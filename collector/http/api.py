"""The HTTP API (aiohttp): health and metrics for the machines, /api/v1 for people and the city.

`/healthz`, `/metrics`, `/openapi.json` and the console's files are open; everything under
`/api/v1/` needs a bearer token or the sign-in cookie and one of the roles its route admits (see
`collector.http.auth` and the route table, `ROUTES` here and in the other route modules).
List endpoints answer plain JSON lists. Times are ISO 8601 UTC with milliseconds.
"""

from __future__ import annotations

import importlib.metadata
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from collector.accounts.roles import ANYONE
from collector.accounts.store import AccountStore
from collector.http import account_routes, alarm_acks, routes
from collector.http.auth import install, only_visible, require_visible
from collector.http.body import CLIENT_MAX_SIZE
from collector.http.console import add_console_routes
from collector.http.routes import Route
from collector.ingest.pipeline import Ingest
from collector.metrics import CONTENT_TYPE, Exposition, Metrics
from collector.outbound import live_view
from collector.store import Alarm, Store
from protocols import topics

log = logging.getLogger("collector.http.api")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STORE_KEY = web.AppKey("store", Store)
METRICS_KEY = web.AppKey("metrics", Metrics)
INGEST_KEY = web.AppKey("ingest", Ingest)
EXPOSITION_KEY = web.AppKey("exposition", Exposition)


def iso(ms: int | None) -> str | None:
    """Unix ms -> '2026-11-29T15:21:11.123Z' (exact: integer arithmetic, no float rounding)."""
    if ms is None:
        return None
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str) -> int:
    """ISO 8601 -> Unix ms; a time without zone is UTC. ValueError names the problem."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValueError(f"since: {text!r} is not an ISO 8601 time (e.g. 2026-11-29T15:00:00.000Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def alarm_json(a: Alarm) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "device_id": a.device_id,
        "type": a.type,
        "raised_at": iso(a.raised_ms),
        "cleared_at": iso(a.cleared_ms),
        "received_at": iso(a.received_ms),
        "active": a.cleared_ms is None,
    }
    if a.floor is not None:
        out["floor"] = a.floor
    if a.fault_code is not None:
        out["fault_code"] = a.fault_code
    if a.cleared_ms is not None:
        out["cleared_after_restart"] = a.cleared_after_restart
    return out


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f'{{"error": "{message}"}}', content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    """From the ingest's in-memory state (broker link, last store results): no query, so it answers
    at once under a flood or with a wedged store, which is when it is asked."""
    ingest = request.app[INGEST_KEY]
    ok, reason = ingest.health()
    if ok and (problem := request.app[STORE_KEY].problem()) is not None:
        ok, reason = False, problem
    if not ok:
        return web.json_response({"status": "unhealthy", "reason": reason}, status=503)
    return web.json_response({"status": "ok", "mqtt_connected": ingest.connected.is_set()})


async def metrics(request: web.Request) -> web.Response:
    """Renders what is in memory (the store's figures are read by the ingest's gauge task)."""
    body = request.app[EXPOSITION_KEY].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def elevators(request: web.Request) -> web.Response:
    out = []
    for e in await only_visible(request, await request.app[STORE_KEY].elevators()):
        out.append(
            {
                "device_id": e["device_id"],
                "online": e["online"],
                "last_seen": iso(e["last_seen_ms"]),
                "state": e["state"],
                "state_at": iso(e["state_ms"]),
                "heartbeat": e["heartbeat"],
                "active_alarms": e["active_alarms"],
            }
        )
    return web.json_response(out)


def _bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise _bad_request(f"{name}: {raw!r} is not true or false")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "1000")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise _bad_request("limit must be 1..100000")
    return int(raw)


def _device_param(request: web.Request, required: bool) -> str | None:
    raw = request.query.get("device_id")
    if raw is None:
        if required:
            raise _bad_request("device_id is required")
        return None
    try:
        return topics.validate_device_id(raw)
    except topics.TopicError as exc:
        raise _bad_request(str(exc).replace('"', "'")) from None


async def alarms(request: web.Request) -> web.Response:
    device_id = _device_param(request, False)
    if device_id is not None:
        await require_visible(request, device_id)
    rows = await request.app[STORE_KEY].alarms(_bool_param(request, "active"), device_id, _limit(request))
    shown = await only_visible(request, [alarm_json(a) for a in rows])
    return web.json_response(await alarm_acks.add_acks(request.app[STORE_KEY], shown))


async def events(request: web.Request) -> web.Response:
    device_id = _device_param(request, True)
    assert device_id is not None
    await require_visible(request, device_id)
    since = request.query.get("since")
    try:
        since_ms = parse_iso(since) if since else None
    except ValueError as exc:
        raise _bad_request(str(exc).replace('"', "'")) from None
    rows = await request.app[STORE_KEY].events(device_id, since_ms, _limit(request))
    out = []
    for r in rows:
        item = {
            "device_id": device_id,
            "type": r["type"],
            "action": r["action"],
            "at": iso(r["time_ms"]),
            "received_at": iso(r["received_ms"]),
            "epoch": r["epoch"],
            "seq": r["seq"],
            "after_restart": r["after_restart"],
        }
        if r["floor"] is not None:
            item["floor"] = r["floor"]
        if r["fault_code"] is not None:
            item["fault_code"] = r["fault_code"]
        out.append(item)
    return web.json_response(out)


async def streams(request: web.Request) -> web.Response:
    rows = await only_visible(request, await request.app[STORE_KEY].streams(_device_param(request, False)))
    for r in rows:
        r["first_received_at"] = iso(r.pop("first_received_ms"))
        r["last_received_at"] = iso(r.pop("last_received_ms"))
    return web.json_response(rows)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(routes.openapi(request.app, SCHEMAS))


def make_app(
    store: Store, metrics_: Metrics, ingest: Ingest, token: str | None, accounts: AccountStore | None = None
) -> web.Application:
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    app[STORE_KEY] = store
    app[METRICS_KEY] = metrics_
    app[INGEST_KEY] = ingest
    app[EXPOSITION_KEY] = Exposition(
        metrics_, version=importlib.metadata.version("smart-elevator"), store_engine=store.engine_name
    )
    install(app, token, accounts)
    routes.register(app, ROUTES)
    routes.register(app, account_routes.ROUTES)
    routes.register(app, alarm_acks.ROUTES)
    add_console_routes(app)  # the duty officer's page at /console/ (static; its data requests carry credentials)
    routes.register(app, CONSOLE_ROUTES)
    return app


_LIVE_SECONDS = {"type": "integer", "minimum": 1, "maximum": live_view.MAX_S}
_TIME = {"type": "string", "format": "date-time", "example": "2026-11-29T15:21:11.123Z"}
_TIME_OR_NULL = {"type": "string", "format": "date-time", "nullable": True}
_DEVICE_Q = {"name": "device_id", "in": "query", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
_LIMIT_Q = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}}

SCHEMAS: dict[str, Any] = {
    **account_routes.SCHEMAS,
    "Elevator": {
        "type": "object",
        "required": ["device_id", "online", "last_seen", "state"],
        "properties": {
            "device_id": {"type": "string"},
            "online": {"type": "boolean"},
            "last_seen": _TIME_OR_NULL,
            "state": {"type": "object", "nullable": True, "description": "latest status record's signals"},
            "state_at": _TIME_OR_NULL,
            "heartbeat": {"type": "object", "nullable": True},
            "active_alarms": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Alarm": {
        "type": "object",
        "required": ["id", "device_id", "type", "raised_at", "cleared_at", "received_at"],
        "properties": {
            "id": {"type": "integer"},
            "device_id": {"type": "string"},
            "type": {"type": "string", "description": "event name from detection.md, or device_offline"},
            "raised_at": _TIME,
            "cleared_at": _TIME_OR_NULL,
            "received_at": _TIME,
            "active": {"type": "boolean"},
            "floor": {"type": "integer"},
            "fault_code": {"type": "integer"},
            "acknowledged_by": {"type": "string", "nullable": True},
            "acknowledged_at": {"type": "string", "format": "date-time", "nullable": True},
            "assigned_to": {"type": "string", "nullable": True},
            "cleared_after_restart": {
                "type": "boolean",
                "description": "present once cleared: the agent found the condition ended on its first "
                "look after a restart (it may have ended while the agent was down)",
            },
        },
    },
    "Event": {
        "type": "object",
        "required": ["device_id", "type", "action", "at", "received_at"],
        "properties": {
            "device_id": {"type": "string"},
            "type": {"type": "string"},
            "action": {"type": "string", "enum": ["raise", "clear"]},
            "at": _TIME,
            "received_at": _TIME,
            "epoch": {"type": "integer"},
            "seq": {"type": "integer"},
            "floor": {"type": "integer"},
            "fault_code": {"type": "integer"},
            "after_restart": {
                "type": "boolean",
                "description": "a clear the agent decided on its first observations after a restart",
            },
        },
    },
    "Stream": {
        "type": "object",
        "properties": {
            "device_id": {"type": "string"},
            "epoch": {"type": "integer"},
            "max_seq": {"type": "integer"},
            "stored": {"type": "integer"},
            "missing": {"type": "integer", "description": "gaps: records below max_seq not stored"},
            "contiguous_seq": {"type": "integer", "description": "highest n with 1..n all stored"},
            "first_received_at": _TIME,
            "last_received_at": _TIME,
        },
    },
}

_ACTIVE_Q = {"name": "active", "in": "query", "schema": {"type": "boolean"}}
_SINCE_Q = {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}}
_PUBLIC = frozenset[str]()
ROUTES = [
    Route(
        "GET",
        "/healthz",
        healthz,
        _PUBLIC,
        "health: 503 with a reason when the broker or the store fails",
        auth="public",
        tag="operations",
        extra_responses={"503": "unhealthy: `reason` says why"},
    ),
    Route(
        "GET",
        "/metrics",
        metrics,
        _PUBLIC,
        "Prometheus text metrics",
        auth="public",
        tag="operations",
        content_type="text/plain",
    ),
    Route(
        "GET",
        "/openapi.json",
        openapi,
        _PUBLIC,
        "this document",
        auth="public",
        tag="operations",
        response={"type": "object"},
    ),
    Route(
        "GET",
        "/api/v1/elevators",
        elevators,
        ANYONE,
        "every registered elevator: presence and latest state",
        response={"type": "array", "items": {"$ref": "#/components/schemas/Elevator"}},
    ),
    Route(
        "GET",
        "/api/v1/alarms",
        alarms,
        ANYONE,
        "alarms, newest first; a raise and its clear are one record",
        params=(_ACTIVE_Q, _DEVICE_Q, _LIMIT_Q),
        response={"type": "array", "items": {"$ref": "#/components/schemas/Alarm"}},
    ),
    Route(
        "GET",
        "/api/v1/events",
        events,
        ANYONE,
        "event history of one elevator, oldest first",
        params=({**_DEVICE_Q, "required": True}, _SINCE_Q, _LIMIT_Q),
        response={"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
    ),
    Route(
        "GET",
        "/api/v1/streams",
        streams,
        ANYONE,
        "per stream (device, epoch): highest seq, gaps, highest contiguous seq",
        params=(_DEVICE_Q,),
        response={"type": "array", "items": {"$ref": "#/components/schemas/Stream"}},
    ),
]
ROUTES.append(
    Route(
        "POST",
        live_view.PATH,
        live_view.make_handler(INGEST_KEY),
        frozenset(live_view.ROLES),
        "live view: the agent sends full-rate status for `seconds` (default 120), then stops by itself",
        tag="live",
        status=202,
        params=({"name": "device_id", "in": "path", "required": True, "schema": {"type": "string"}},),
        body={
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"seconds": _LIVE_SECONDS},
                        "additionalProperties": False,
                    }
                }
            },
        },
        extra_responses={"404": "unknown device", "503": "broker not connected"},
    )
)


def stream_route(hub: Any) -> Route:
    """The console's server push (`collector.http.console.stream.ConsoleHub.handle`): it sends only
    which kinds changed, never data, so every role may hold one open; the page then asks the API."""
    return Route(
        "GET",
        "/api/v1/stream",
        hub.handle,
        ANYONE,
        "server push (text/event-stream): the kinds that changed (alarms, cases); then fetch them",
        tag="console",
        content_type="text/event-stream",
        extra_responses={"503": "too many console streams open"},
    )


CONSOLE_ROUTES = [
    Route("GET", path, None, _PUBLIC, summary, auth="public", tag="console", content_type="text/html")
    for path, summary in (
        ("/console", "redirects to /console/"),
        ("/console/", "the operator console (holds no data; signs in with POST /api/v1/login)"),
        ("/console/{name}", "the console's script and style sheet"),
    )
]
