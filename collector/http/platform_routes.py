"""The platform's HTTP handlers: thin, each parses its request and calls the `Platform` façade."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from collector.accounts.roles import ACT, ADMIN, ADMINS, ANYONE, DISTRICT, DUTY_OFFICER
from collector.http.auth import audit_hook, install, only_visible, principal, require_visible, visible_devices
from collector.http.body import LARGE_BODY_BYTES, SMALL_BODY_BYTES, decode_utf8, read_bytes, read_json, read_json_object
from collector.http.city_api import PushRefused
from collector.http.query import bool_param, limit_param, time_param, window
from collector.http.routes import Route, register
from collector.outbound import city_feed, webhooks
from collector.platform import identity, statistics
from collector.platform.identity import IdentityError
from collector.platform.maintenance import Session
from collector.platform.rescue import RefusedTransition, RescueCase, RescueError
from collector.platform.service import Platform, overdue_json
from collector.times import iso, parse_iso

PLATFORM_KEY = web.AppKey("platform", Platform)
# CSV downloads start with a UTF-8 BOM: without it Excel on a Chinese Windows PC reads the file as
# GBK and the addresses come out garbled. The registry import accepts the BOM back.
CSV_BOM = "\ufeff"


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _p(request: web.Request) -> Platform:
    return request.app[PLATFORM_KEY]


async def h_cases(request: web.Request) -> web.Response:
    device = request.query.get("device_id")
    rows = await _p(request).cases(bool_param(request, "open"), device, limit_param(request))
    return web.json_response(await only_visible(request, rows))


async def h_case(request: web.Request) -> web.Response:
    body = await _p(request).case(request.match_info["case_id"])
    if body is None:
        return _error(404, f"no rescue case {request.match_info['case_id']!r}")
    await require_visible(request, body.get("device_id"))
    return web.json_response(body)


async def _json_body(request: web.Request) -> dict[str, Any]:
    return await read_json_object(request, SMALL_BODY_BYTES)


async def h_case_action(request: web.Request) -> web.Response:
    data = await _json_body(request)
    # The actor is who signed in (or the token's name); an `actor` in the body is not trusted.
    action, note, at = data.get("action"), data.get("note", ""), data.get("at")
    if not isinstance(action, str) or not isinstance(note, str):
        return _error(400, "give 'action' (respond, arrive, complete, false_alarm) as a string")
    at_ms = None
    if at is not None:
        try:
            if not isinstance(at, str):
                raise ValueError("at: must be an ISO 8601 time string")
            at_ms = parse_iso(at, "at")
        except ValueError as exc:
            return _error(400, str(exc))
    case_id = request.match_info["case_id"]
    before = await _p(request).case(case_id)
    if before is None:
        return _error(404, f"no rescue case {case_id!r}")
    await require_visible(request, before.get("device_id"))
    actor = principal(request).name
    hook = audit_hook(
        request,
        "rescue_case",
        action,
        lambda c: (c["device_id"], case_id, {"from": c["previous_status"], "to": c["status"], "note": note}),
    )
    try:
        after = await _p(request).act(case_id, action, actor, note, at_ms, audit=hook)
    except KeyError:
        return _error(404, f"no rescue case {case_id!r}")
    except RefusedTransition as exc:
        return _error(409, str(exc))
    except RescueError as exc:
        return _error(400, str(exc))
    return web.json_response(after)


async def h_case_open(request: web.Request) -> web.Response:
    data = await _json_body(request)
    dev, note = data.get("device_id"), data.get("note", "")
    if not isinstance(dev, str) or not isinstance(note, str):
        return _error(400, "give 'device_id' as a string")
    await require_visible(request, dev)
    hook = audit_hook(request, "rescue_case", "open", lambda c: (dev, c["case_id"], {"note": note}))
    try:
        case = await _p(request).open_manual(dev, principal(request).name, note, audit=hook)
    except KeyError:
        return _error(404, f"no elevator {dev!r}")
    except RefusedTransition as exc:  # the car has an open case: one car, one case
        return _error(409, str(exc))
    except RescueError as exc:
        return _error(400, str(exc))
    return web.json_response(case, status=201)


# Merging is the duty room's call (it decides which crew goes): not a company's, not a regulator's.
MERGERS = frozenset({DUTY_OFFICER, ADMIN})


async def h_case_merge(request: web.Request) -> web.Response:
    data = await _json_body(request)
    into, note = data.get("into"), data.get("note", "")
    if not isinstance(into, str) or not into or not isinstance(note, str):
        return _error(400, "give 'into' (the case to keep) as a string")
    case_id = request.match_info["case_id"]
    hook = audit_hook(
        request,
        "rescue_case",
        "merge",
        lambda c: (c["device_id"], case_id, {"into": into, "status": c["status"], "note": note}),
    )
    try:
        kept = await _p(request).merge(case_id, into, principal(request).name, note, audit=hook)
    except KeyError as exc:
        return _error(404, f"no rescue case {exc.args[0]!r}")
    except RefusedTransition as exc:
        return _error(409, str(exc))
    except RescueError as exc:
        return _error(400, str(exc))
    return web.json_response(kept)


async def h_sessions(request: web.Request) -> web.Response:
    since = time_param(request, "since", None)
    rows = await _p(request).sessions(request.query.get("device_id"), since)
    return web.json_response(await only_visible(request, rows))


async def h_last(request: web.Request) -> web.Response:
    return web.json_response(await only_visible(request, await _p(request).last_maintenance()))


async def h_overdue(request: web.Request) -> web.Response:
    return web.json_response(await only_visible(request, await _p(request).overdue()))


async def h_compliance(request: web.Request) -> web.Response:
    since, until = window(request, _p(request).clock())
    return web.json_response(await _p(request).compliance(since, until))


def _stats_response(request: web.Request, figs: list[statistics.Figures], since: int, until: int) -> web.Response:
    scope = request.query.get("scope")
    scopes = None if scope is None else scope.split(",")
    allowed = {"elevator", "district", "company", "all"}
    if scopes is not None and not set(scopes) <= allowed:
        return _error(400, f"scope: {scope!r}: use one or more of {', '.join(sorted(allowed))}")
    if request.query.get("format") == "csv":
        return web.Response(text=CSV_BOM + statistics.to_csv(figs, scopes), content_type="text/csv", charset="utf-8")
    rows = [f.as_dict() for f in figs if scopes is None or f.scope in scopes]
    return web.json_response({"since": iso(since), "until": iso(until), "figures": rows})


async def h_statistics(request: web.Request) -> web.Response:
    since, until = window(request, _p(request).clock())
    return _stats_response(request, await _p(request).statistics(since, until), since, until)


async def h_registry(request: web.Request) -> web.Response:
    return web.json_response([i.as_dict() for i in await _visible_registry(request)])


async def _visible_registry(request: web.Request) -> list[identity.ElevatorIdentity]:
    seen = await visible_devices(request)
    return [i for i in await _p(request).registry() if seen is None or i.device_id in seen]


async def h_registry_history(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    await require_visible(request, device_id)
    versions = await _p(request).registry_history(device_id)
    if not versions:
        return _error(404, f"elevator {device_id!r} has no registry history (it was never registered)")
    return web.json_response(versions)


async def h_registry_csv(request: web.Request) -> web.Response:
    text = CSV_BOM + identity.to_csv(await _visible_registry(request))
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="elevators.csv"'},
    )


async def h_registry_import(request: web.Request) -> web.Response:
    valid_from_ms = None
    if "valid_from" in request.query:
        try:
            valid_from_ms = identity.parse_valid_from(request.query["valid_from"])
        except ValueError as exc:
            return _error(400, f"query parameter valid_from: {exc}")
    text = decode_utf8(await read_bytes(request, LARGE_BODY_BYTES), "the CSV")
    size = len(text.encode())
    hook = audit_hook(request, "registry", "import", lambda out: (None, None, {**out, "bytes": size}))
    try:
        out = await _p(request).import_registry(text, valid_from_ms, audit=hook)
    except IdentityError as exc:
        return _error(400, "the CSV was not imported", problems=exc.problems)
    return web.json_response(out)


async def h_webhooks(request: web.Request) -> web.Response:
    p = _p(request)
    failed, limit = bool_param(request, "failed"), limit_param(request)
    rows = await p.db.run(lambda cur: webhooks.list_deliveries(p.db, cur, failed, limit))
    for r in rows:
        for k in ("created_ms", "sent_ms", "failed_ms"):
            r[k.replace("_ms", "_at")] = iso(r.pop(k))
    return web.json_response(rows)


async def h_feed(request: web.Request) -> web.Response:
    p = _p(request)
    info = await p.db.run(lambda cur: city_feed.backlog(p.db, cur))
    cfg = p.config.city_feed
    info["configured"] = cfg is not None
    if cfg is not None:
        info["city_url"] = cfg.push_url
        info["county"] = cfg.county
    return web.json_response(info)


async def h_push(request: web.Request) -> web.Response:
    authorization = request.headers.get("Authorization", "")
    try:
        if _p(request).config.city.county_of(authorization) is None:  # the token before the body
            raise PushRefused(401, "missing or unknown county token")
        payload = await read_json(request, LARGE_BODY_BYTES)
        out = await _p(request).accept_push(authorization, payload)
    except PushRefused as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return web.json_response({"error": str(exc)}, status=exc.status, headers=headers)
    return web.json_response(out)


def _county_param(request: web.Request) -> str | None:
    return request.query.get("county")


async def h_city_counties(request: web.Request) -> web.Response:
    return web.json_response(await _p(request).city_counties())


async def h_city_elevators(request: web.Request) -> web.Response:
    p = _p(request)
    county = _county_param(request)
    elevators = await p.city_items("elevator", county)
    status = {(s["county"], s["device_id"]): s for s in await p.city_items("status", county)}
    area = request.query.get("area_code")
    out = []
    for e in elevators:
        if area is not None and e.get("area_code") != area:
            continue
        s = status.get((e["county"], e["device_id"]), {})
        out.append({**e, "online": s.get("online"), "status": s or None})
    return web.json_response(out)


async def h_city_alarms(request: web.Request) -> web.Response:
    active = bool_param(request, "active")
    rows = await _p(request).city_items("alarm", _county_param(request))
    rows = [{**a, "id": a.get("alarm_id")} for a in rows if active is None or a.get("active") is active]
    rows.sort(key=lambda a: a.get("raised_ms") or 0, reverse=True)
    return web.json_response(rows)


async def h_city_cases(request: web.Request) -> web.Response:
    open_ = bool_param(request, "open")
    rows = await _p(request).city_items("rescue_case", _county_param(request))
    rows = [c for c in rows if open_ is None or (not c.get("closed")) is open_]
    rows.sort(key=lambda c: c["steps"][0]["at_ms"], reverse=True)
    return web.json_response(rows)


async def _city_registered(
    p: Platform, county: str | None
) -> tuple[dict[str, int], dict[str, str | None], dict[str, dict[str, Any]]]:
    elevators = await p.city_items("elevator", county)
    key = {e["device_id"]: e for e in elevators}
    registered = {f"{e['county']}/{e['device_id']}": int(e.get("registered_ms") or 0) for e in elevators}
    company = {f"{e['county']}/{e['device_id']}": e.get("maintenance_company") for e in elevators}
    return registered, company, key


async def h_city_sessions(request: web.Request) -> web.Response:
    return web.json_response(await _p(request).city_items("maintenance_session", _county_param(request)))


async def h_city_overdue(request: web.Request) -> web.Response:
    p = _p(request)
    county = _county_param(request)
    registered, company, _ = await _city_registered(p, county)
    sessions = []
    for b in await p.city_items("maintenance_session", county):
        s = city_feed.session_from_body(b)
        sessions.append(Session(f"{b['county']}/{s.device_id}", s.start_ms, s.end_ms, s.floors_visited, s.too_short))
    rows = overdue_json(sessions, registered, company, p.clock(), p.config.maintenance)
    for r in rows:
        r["county"], r["device_id"] = r["device_id"].split("/", 1)
    return web.json_response(rows)


async def h_city_statistics(request: web.Request) -> web.Response:
    p = _p(request)
    since, until = window(request, p.clock())
    county = _county_param(request)
    elevators = await p.city_items("elevator", county)
    refs = [
        statistics.ElevatorRef(
            f"{e['county']}/{e['device_id']}",
            e.get("area_code"),
            e.get("maintenance_company"),
            int(e.get("registered_ms") or 0),
        )
        for e in elevators
    ]
    alarms = [
        statistics.AlarmFact(f"{a['county']}/{a['device_id']}", a["type"], int(a["raised_ms"]), a.get("cleared_ms"))
        for a in await p.city_items("alarm", county)
    ]
    cases = []
    for c in await p.city_items("rescue_case", county):
        case = city_feed.case_from_body(c)
        cases.append(RescueCase(case.case_id, f"{c['county']}/{case.device_id}", case.alarm_id, case.steps, case.floor))
    figs = statistics.compute(refs, alarms, cases, since, until, p.config.rescue.arrival_limit_s)
    return _stats_response(request, figs, since, until)


_S: dict[str, Any] = {"type": "string"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_OBJ = {"type": "object"}
_LIST = {"type": "array", "items": {"type": "object"}}
_DEVICE_Q = {"name": "device_id", "in": "query", "schema": _S}
_LIMIT_Q = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}}
_WINDOW_Q = (
    {"name": "since", "in": "query", "schema": _TIME, "description": "default: until - 30 days"},
    {"name": "until", "in": "query", "schema": _TIME, "description": "default: now"},
)
_STATS_Q = (
    *_WINDOW_Q,
    {"name": "scope", "in": "query", "schema": _S, "description": "elevator,district,company,all (comma-separated)"},
    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
)
_COUNTY_Q = {"name": "county", "in": "query", "schema": _S}
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": _S}


def _json_body_of(required: list[str], **props: Any) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": props}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ROUTES = [
    Route(
        "GET",
        "/api/v1/rescue-cases",
        h_cases,
        ANYONE,
        "rescue cases, newest first",
        tag="rescue",
        params=({"name": "open", "in": "query", "schema": _BOOL}, _DEVICE_Q, _LIMIT_Q),
        response=_LIST,
    ),
    Route(
        "POST",
        "/api/v1/rescue-cases",
        h_case_open,
        ACT,
        "open a rescue case by hand (hotline)",
        tag="rescue",
        status=201,
        response=_OBJ,
        body=_json_body_of(["device_id"], device_id=_S, note=_S),
        notes="The actor recorded is the caller's account or token name. One car, one case: while the car "
        "has an open case (opened by the detector or by an earlier call) the answer is 409 naming it; an "
        "entrapment the detector raises on a car whose case was opened by phone joins that case.",
        extra_responses={"404": "no such elevator", "409": "the car already has an open case (named)"},
    ),
    Route(
        "GET",
        "/api/v1/rescue-cases/{case_id}",
        h_case,
        ANYONE,
        "one rescue case with its steps",
        tag="rescue",
        params=(_CASE_ID,),
        response=_OBJ,
        extra_responses={"404": "no such case"},
    ),
    Route(
        "POST",
        "/api/v1/rescue-cases/{case_id}/merge",
        h_case_merge,
        MERGERS,
        "merge this open case into another open case of the same car (one car, one case, one crew)",
        tag="rescue",
        params=(_CASE_ID,),
        response=_OBJ,
        body=_json_body_of(["into"], into=_S, note=_S),
        notes="The case named by `into` survives with both timelines' steps in time order and the earliest "
        "occurrence; this case is closed as 06 merged, its last step 'merged into <into>'. Both must be open "
        "and of the same car (else 409 with the reason). Audited as kind rescue_case, action merge.",
        extra_responses={"404": "no such case", "409": "closed, the same case, or cases of different cars"},
    ),
    Route(
        "POST",
        "/api/v1/rescue-cases/{case_id}/actions",
        h_case_action,
        ACT,
        "advance a rescue case: respond, arrive, complete, false_alarm",
        tag="rescue",
        params=(_CASE_ID,),
        response=_OBJ,
        body=_json_body_of(
            ["action"],
            action={"type": "string", "enum": ["respond", "arrive", "complete", "false_alarm"]},
            note=_S,
            at=_TIME,
        ),
        notes="The actor recorded is the caller's account or token name; an `actor` in the body is ignored.",
        extra_responses={"404": "no such case", "409": "the case's state refuses this step"},
    ),
    Route(
        "GET",
        "/api/v1/maintenance/sessions",
        h_sessions,
        ANYONE,
        "maintenance sessions (inspection mode)",
        tag="maintenance",
        params=(_DEVICE_Q, {"name": "since", "in": "query", "schema": _TIME}),
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/maintenance/last",
        h_last,
        ANYONE,
        "last maintenance per elevator",
        tag="maintenance",
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/maintenance/overdue",
        h_overdue,
        ANYONE,
        "elevators overdue for maintenance",
        tag="maintenance",
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/maintenance/compliance",
        h_compliance,
        DISTRICT,
        "maintenance compliance per company",
        tag="maintenance",
        params=_WINDOW_Q,
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/statistics",
        h_statistics,
        DISTRICT,
        "district statistics (JSON or CSV)",
        tag="statistics",
        params=_STATS_Q,
        response=_OBJ,
    ),
    Route(
        "GET", "/api/v1/registry", h_registry, ANYONE, "the elevator identity registry", tag="registry", response=_LIST
    ),
    Route(
        "GET",
        "/api/v1/registry/{device_id}/history",
        h_registry_history,
        ANYONE,
        "one elevator's registry versions, oldest first, each with valid_from/valid_until (a company: its own)",
        tag="registry",
        params=({"name": "device_id", "in": "path", "required": True, "schema": _S},),
        response=_LIST,
        extra_responses={"404": "never registered"},
    ),
    Route(
        "GET",
        "/api/v1/registry.csv",
        h_registry_csv,
        ANYONE,
        "the registry as CSV",
        tag="registry",
        content_type="text/csv",
    ),
    Route(
        "PUT",
        "/api/v1/registry.csv",
        h_registry_import,
        ADMINS,
        "import the registry from CSV (all or nothing); each changed elevator gets a new version, "
        "valid from the row's valid_from column, else the valid_from parameter, else now",
        tag="registry",
        params=({"name": "valid_from", "in": "query", "schema": _S},),
        response=_OBJ,
        body={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
    ),
    Route(
        "GET",
        "/api/v1/webhooks",
        h_webhooks,
        DISTRICT,
        "webhook deliveries",
        tag="outbound",
        params=({"name": "failed", "in": "query", "schema": _BOOL}, _LIMIT_Q),
        response=_LIST,
    ),
    Route(
        "GET", "/api/v1/city-feed", h_feed, DISTRICT, "the county -> city feed's backlog", tag="outbound", response=_OBJ
    ),
    Route(
        "GET",
        "/api/v1/city/counties",
        h_city_counties,
        DISTRICT,
        "city: counties and their last push",
        tag="city",
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/city/elevators",
        h_city_elevators,
        DISTRICT,
        "city: every county's elevators",
        tag="city",
        params=(_COUNTY_Q, {"name": "area_code", "in": "query", "schema": _S}),
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/city/alarms",
        h_city_alarms,
        DISTRICT,
        "city: alarms",
        tag="city",
        params=(_COUNTY_Q, {"name": "active", "in": "query", "schema": _BOOL}),
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/city/rescue-cases",
        h_city_cases,
        DISTRICT,
        "city: rescue cases",
        tag="city",
        params=(_COUNTY_Q, {"name": "open", "in": "query", "schema": _BOOL}),
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/city/maintenance/sessions",
        h_city_sessions,
        DISTRICT,
        "city: maintenance sessions",
        tag="city",
        params=(_COUNTY_Q,),
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/city/maintenance/overdue",
        h_city_overdue,
        DISTRICT,
        "city: overdue elevators",
        tag="city",
        params=(_COUNTY_Q,),
        response=_LIST,
    ),
    Route(
        "GET",
        "/api/v1/city/statistics",
        h_city_statistics,
        DISTRICT,
        "city: statistics",
        tag="city",
        params=(_COUNTY_Q, *_STATS_Q),
        response=_OBJ,
    ),
    Route(
        "POST",
        city_feed.PUSH_PATH,
        h_push,
        frozenset(),
        "city: a county's push (its county token)",
        tag="city",
        auth="county",
        response=_OBJ,
        body={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    ),
]


def add_platform_routes(
    app: web.Application, platform: Platform, api_token: str | None, run_tasks: bool = True
) -> None:
    """Add the platform's routes to `app` (the collector's, or the standalone one) and, with
    `run_tasks`, run its worker and senders for as long as the app runs. An app without the auth
    middleware gets it, with `api_token` as its only credential."""
    app[PLATFORM_KEY] = platform
    install(app, api_token)
    register(app, ROUTES)
    if run_tasks:

        async def tasks(_: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(platform.run(), name="platform")
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(tasks)
