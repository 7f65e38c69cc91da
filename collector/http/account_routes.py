"""Sign-in, sign-out, "who am I" and the audit trail over HTTP.

POST /api/v1/login   {"username": ..., "password": ...}
  200 {"username", "role", "company", "csrf_token", "expires_at"} + Set-Cookie elev_session
      (HttpOnly, SameSite=Strict, Path=/; Secure over HTTPS)
  401 wrong name or password; 429 locked out after too many failures (Retry-After)
GET  /api/v1/session  who the cookie or token is, and the CSRF token again (after a page reload)
POST /api/v1/logout   ends the session (with the cookie: send X-CSRF-Token)
GET  /api/v1/audit    ?actor=&kind=&device_id=&since=&until=&limit=  newest first
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.accounts import roles
from collector.accounts.store import AccountStore, LoginRefused
from collector.http.auth import AUTH_KEY, SESSION_COOKIE, principal
from collector.http.body import SMALL_BODY_BYTES, read_json_object
from collector.http.query import limit_param, time_param
from collector.http.routes import Route
from collector.times import iso


def _accounts(request: web.Request) -> AccountStore:
    auth = request.app[AUTH_KEY]
    if auth.accounts is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "this server has no account store"}', content_type="application/json"
        )
    return auth.accounts


async def h_login(request: web.Request) -> web.Response:
    accounts = _accounts(request)  # before the body: nothing to read if nobody can sign in here
    data = await read_json_object(request, SMALL_BODY_BYTES)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return web.json_response({"error": "give 'username' and 'password' as strings"}, status=400)
    now = request.app[AUTH_KEY].clock()
    try:
        session_id, who = await accounts.login(username, password, now)
    except LoginRefused as exc:
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.status == 429 else None
        return web.json_response({"error": exc.reason}, status=exc.status, headers=headers)
    ttl_s = int(accounts.config.session_ttl_s)
    response = web.json_response(
        {
            "username": who.name,
            "role": who.role,
            "company": who.company,
            "csrf_token": who.csrf_token,
            "expires_at": iso(now + ttl_s * 1000),
        }
    )
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=ttl_s, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
    return response


async def h_session(request: web.Request) -> web.Response:
    who = principal(request)
    return web.json_response(
        {"username": who.name, "role": who.role, "company": who.company, "via": who.via, "csrf_token": who.csrf_token}
    )


async def h_logout(request: web.Request) -> web.Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await _accounts(request).logout(session_id)
    response = web.json_response({"signed_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def h_audit(request: web.Request) -> web.Response:
    q = request.query
    rows = await _accounts(request).audit_entries(
        actor=q.get("actor"),
        kind=q.get("kind"),
        device_id=q.get("device_id"),
        since_ms=time_param(request, "since", None),
        until_ms=time_param(request, "until", None),
        limit=limit_param(request),
    )
    return web.json_response(rows)


_S = {"type": "string"}
_S_OR_NULL = {"type": "string", "nullable": True}
SCHEMAS: dict[str, Any] = {
    "Session": {
        "type": "object",
        "required": ["username", "role", "csrf_token"],
        "properties": {
            "username": _S,
            "role": {"type": "string", "enum": list(roles.ROLES)},
            "company": _S_OR_NULL,
            "csrf_token": {**_S_OR_NULL, "description": "send as X-CSRF-Token on POST/PUT with the cookie"},
            "expires_at": {"type": "string", "format": "date-time"},
            "via": {"type": "string", "enum": ["session", "token"]},
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": ["at", "actor", "action"],
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "actor": {**_S, "description": "the signed-in account or the token's name"},
            "role": _S,
            "kind": {**_S, "description": "rescue_case, registry, session, user, token, alarm, settings"},
            "action": _S,
            "device_id": _S_OR_NULL,
            "target": _S_OR_NULL,
            "detail": {"type": "object"},
        },
    },
}
_Q = {"in": "query", "schema": _S}
ROUTES = [
    Route(
        "POST",
        "/api/v1/login",
        h_login,
        frozenset(),
        "sign in: sets the session cookie; answers the CSRF token",
        auth="public",
        tag="accounts",
        body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {"username": _S, "password": {"type": "string", "format": "password"}},
                    }
                }
            },
        },
        response={"$ref": "#/components/schemas/Session"},
        extra_responses={"401": "wrong user name or password", "429": "locked out after repeated failures"},
    ),
    Route(
        "GET",
        "/api/v1/session",
        h_session,
        roles.ANYONE,
        "who the cookie or token is",
        tag="accounts",
        response={"$ref": "#/components/schemas/Session"},
    ),
    Route("POST", "/api/v1/logout", h_logout, roles.ANYONE, "sign out (ends the session)", tag="accounts"),
    Route(
        "GET",
        "/api/v1/audit",
        h_audit,
        roles.AUDIT,
        "the audit trail: every change with its account and time, newest first",
        tag="accounts",
        params=(
            {"name": "actor", **_Q},
            {"name": "kind", **_Q},
            {"name": "device_id", **_Q},
            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
        ),
        response={"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
    ),
]
