"""The one auth middleware: who is calling, and may they call this route.

It runs before the handler, so credentials are checked before any body is read. Per request:

1. the route must be in the route table (`collector.http.routes`); an undeclared route is refused
   (403), so a route added without stating its roles cannot be reached by accident;
2. "public" and "county" routes pass (the city intake checks county tokens itself);
3. otherwise `Authorization: Bearer T` (the `--api-token-file` token, role admin, or a named token)
   or the `elev_session` cookie of `POST /api/v1/login` must identify someone: else 401;
4. their role must be one the route admits: else 403 with the reason;
5. a state-changing request made with the cookie must carry the session's `X-CSRF-Token` (a
   bearer token is never sent by the browser on its own, so it needs none): else 403.

A `company` account passes the role check of the routes that admit it; what it then sees is
narrowed by the handlers through `visible_devices` (lists filtered, acts on others refused).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from collector.accounts import roles
from collector.accounts.store import AccountStore, Principal, record
from collector.http.routes import Handler, declared
from collector.platform.service import AuditHook

SESSION_COOKIE = "elev_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MACHINE_TOKEN_NAME = "api-token"  # what the audit trail records for the --api-token-file token
PRINCIPAL_KEY = web.RequestKey("principal", Principal)
_DEVICES_KEY = web.RequestKey("visible_devices", frozenset)


class Authenticator:
    """The credentials a request may carry, checked against the machine token and the account store."""

    def __init__(
        self, machine_token: str | None, accounts: AccountStore | None, clock: Callable[[], int] | None = None
    ) -> None:
        self.machine_token = machine_token or ""
        self.accounts = accounts
        self.clock = clock or (lambda: int(time.time() * 1000))

    async def identify(self, request: web.Request) -> Principal | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme:
            value = value.strip()
            if scheme.lower() != "bearer" or not value:
                return None
            if self.machine_token and hmac.compare_digest(value.encode(), self.machine_token.encode()):
                return Principal(MACHINE_TOKEN_NAME, roles.ADMIN)
            if self.accounts is not None:
                return await self.accounts.token(value)
            return None
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id and self.accounts is not None:
            return await self.accounts.session(session_id, self.clock())
        return None

    def nothing_configured(self) -> bool:
        return not self.machine_token and self.accounts is None


AUTH_KEY = web.AppKey("authenticator", Authenticator)


def _refuse(status: int, why: str) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"error": why}, status=status, headers=headers)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = declared(request)
    if route is None:
        if request.match_info.http_exception is not None:
            return await handler(request)  # aiohttp's own 404 / 405
        return _refuse(403, f"{request.method} {request.path} is not in the route table")
    if route.auth != "account":
        return await handler(request)
    auth = request.app.get(AUTH_KEY)
    if auth is None or auth.nothing_configured():
        return _refuse(401, "no API token configured (--api-token-file) and no accounts")
    who = await auth.identify(request)
    if who is None:
        return _refuse(401, "missing, wrong or expired bearer token or session")
    if who.role not in route.roles:
        return _refuse(
            403,
            f"{who.name} (role {who.role}) may not {route.method} {route.path}: "
            f"it admits {', '.join(sorted(route.roles))}",
        )
    if who.via == "session" and request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not who.csrf_token or not hmac.compare_digest(given.encode(), who.csrf_token.encode()):
            return _refuse(403, f"a signed-in {request.method} needs the session's {CSRF_HEADER} header")
    request[PRINCIPAL_KEY] = who
    return await handler(request)


def principal(request: web.Request) -> Principal:
    """Who the middleware let through (on a "public" route: nobody, so this raises)."""
    who: Principal | None = request.get(PRINCIPAL_KEY)
    if who is None:
        raise web.HTTPUnauthorized(text='{"error": "not signed in"}', content_type="application/json")
    return who


async def visible_devices(request: web.Request) -> frozenset[str] | None:
    """The elevators the caller may see: None for all; a company account's own (by the registry)."""
    who = principal(request)
    if who.role != roles.COMPANY:
        return None
    if _DEVICES_KEY not in request:
        auth = request.app[AUTH_KEY]
        assert auth.accounts is not None  # a company principal came from the account store
        request[_DEVICES_KEY] = await auth.accounts.company_devices(who.company or "")
    devices: frozenset[str] = request[_DEVICES_KEY]
    return devices


async def only_visible(request: web.Request, rows: list[Any], key: str = "device_id") -> list[Any]:
    seen = await visible_devices(request)
    if seen is None:
        return rows
    return [r for r in rows if r.get(key) in seen]


async def require_visible(request: web.Request, device_id: str | None) -> None:
    """403 when a company account asks about or acts on an elevator that is not its own."""
    seen = await visible_devices(request)
    if seen is not None and (device_id is None or device_id not in seen):
        who = principal(request)
        why = f"{who.name} (company {who.company}) may only see and act on its own elevators"
        raise web.HTTPForbidden(text=json.dumps({"error": why}), content_type="application/json")


async def audit(
    request: web.Request,
    kind: str,
    action: str,
    device_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a change made by the caller (a no-op where the app has no account store)."""
    auth = request.app.get(AUTH_KEY)
    if auth is None or auth.accounts is None:
        return
    await auth.accounts.audit(principal(request), kind, action, auth.clock(), device_id, target, detail)


AuditEntry = Callable[[Mapping[str, Any]], tuple[str | None, str | None, dict[str, Any]]]


def audit_hook(request: web.Request, kind: str, action: str, entry: AuditEntry) -> AuditHook | None:
    """An audit hook for a `Platform` change made by the caller: written in the change's own
    transaction (the step and its line commit together or not at all). `entry(result)` gives the
    line's device_id, target and detail from the change's result. None where there is no account
    store (nothing is audited then, as for `audit`)."""
    auth = request.app.get(AUTH_KEY)
    if auth is None or auth.accounts is None:
        return None
    who, now, db = principal(request), auth.clock(), auth.accounts.db

    def hook(cur: Any, result: Mapping[str, Any]) -> None:
        device_id, target, detail = entry(result)
        record(db, cur, now, who, kind, action, device_id, target, detail)

    return hook


def install(app: web.Application, machine_token: str | None, accounts: AccountStore | None = None) -> None:
    """Put the middleware on `app` (once) with its credentials; a later call with an account
    store adds it (the platform's routes may be added to an app the collector secured already)."""
    if authenticate not in app.middlewares:
        app.middlewares.append(authenticate)
    current = app.get(AUTH_KEY)
    if current is None:
        app[AUTH_KEY] = Authenticator(machine_token, accounts)
    elif accounts is not None and current.accounts is None:
        current.accounts = accounts
