"""The route table: every HTTP route declared once, with the roles it admits and its documentation.

The same declarations register the aiohttp routes (`register`), drive the auth middleware
(`collector.http.auth`, which refuses a route the table does not know) and generate the OpenAPI
document (`openapi`), so what is served, who may call it and what is documented cannot drift.

    Route("GET", "/api/v1/alarms", alarms, ANYONE, "alarms, newest first", params=(ACTIVE_Q, ...))

`auth` says who checks credentials: "account" (the middleware: a bearer token or the sign-in
cookie, and one of `roles`), "public" (nobody: health, metrics, the console's files, sign-in),
"county" (the city's push intake checks its county tokens itself, before reading the body).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["account", "public", "county"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler | None  # None: registered by its own module (the console's static files)
    roles: frozenset[str]
    summary: str
    auth: Auth = "account"
    params: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None  # OpenAPI requestBody
    response: dict[str, Any] | None = None  # OpenAPI schema of the 200/201 answer (JSON)
    content_type: str = "application/json"
    status: int = 200
    tag: str = "collector"
    notes: str = ""
    extra_responses: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """What aiohttp's matched resource calls it (`resource.canonical`: `{tail:.*}` is `{tail}`)."""
        return self.method, _openapi_path(self.path)


TABLE_KEY = web.AppKey("route_table", dict)


def table(app: web.Application) -> dict[tuple[str, str], Route]:
    if TABLE_KEY not in app:
        app[TABLE_KEY] = {}
    out: dict[tuple[str, str], Route] = app[TABLE_KEY]
    return out


def register(app: web.Application, routes: Iterable[Route]) -> None:
    """Declare `routes` on `app` and add the aiohttp route of each that has a handler."""
    known = table(app)
    for r in routes:
        if r.key in known:
            raise ValueError(f"route {r.method} {r.path} declared twice")
        if r.auth == "account" and not r.roles:
            raise ValueError(f"route {r.method} {r.path} admits no role")
        known[r.key] = r
        if r.handler is not None:
            app.router.add_route(r.method, r.path, r.handler)


def declared(request: web.Request) -> Route | None:
    """The table's entry for the route aiohttp matched, or None (no match, or undeclared)."""
    info = request.match_info
    if info.http_exception is not None:
        return None
    resource = info.route.resource
    if resource is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    known: dict[tuple[str, str], Route] = request.app.get(TABLE_KEY, {})
    return known.get((method, resource.canonical))


# --- OpenAPI ------------------------------------------------------------------------------------

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "the --api-token-file token (role admin) or a named token (`elev-collector tokens add`)",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "elev_session",
        "description": "set by POST /api/v1/login; a state-changing request also sends X-CSRF-Token",
    },
    "county": {"type": "http", "scheme": "bearer", "description": "a county's push token (city role)"},
}


def openapi(app: web.Application, schemas: dict[str, Any], title: str = "smart-elevator collector") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in sorted(table(app).values(), key=lambda r: (r.path, r.method)):
        op: dict[str, Any] = {"summary": r.summary, "tags": [r.tag]}
        if r.notes:
            op["description"] = r.notes
        if r.params:
            op["parameters"] = list(r.params)
        if r.body is not None:
            op["requestBody"] = r.body
        ok: dict[str, Any] = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {r.content_type: {"schema": r.response}}
        elif r.content_type != "application/json":
            ok["content"] = {r.content_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(r.status): ok}
        if r.params or r.body is not None:
            responses["400"] = {"description": "bad parameter or body (the answer's `error` names it)"}
        if r.auth == "account":
            op["security"] = [{"bearer": []}, {"session": []}]
            op["x-roles"] = sorted(r.roles)
            responses["401"] = {"description": "no, wrong or expired credentials"}
            responses["403"] = {
                "description": f"signed in, but the role is not one of {', '.join(sorted(r.roles))} "
                "(or a company's request for another company's elevator, or a missing CSRF token)"
            }
        elif r.auth == "county":
            op["security"] = [{"county": []}]
            responses["401"] = {"description": "missing or unknown county token"}
        for code, text in r.extra_responses.items():
            responses[code] = {"description": text}
        op["responses"] = responses
        paths.setdefault(r.key[1], {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": "2",
            "description": "Alarms, events, presence and latest state of a district's elevators, and the "
            "platform's rescue cases, maintenance, statistics and registry. Times are ISO 8601 UTC with "
            "milliseconds. Generated from the route table the server uses; `x-roles` lists the roles a "
            "route admits.",
        },
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": schemas},
        "paths": paths,
    }


def _openapi_path(path: str) -> str:
    """aiohttp's `{tail:.*}` is OpenAPI's `{tail}`."""
    out, depth, skip = [], 0, False
    for ch in path:
        if ch == "{":
            depth += 1
            skip = False
        elif ch == "}":
            depth -= 1
            skip = False
        elif ch == ":" and depth:
            skip = True
            continue
        if not skip:
            out.append(ch)
    return "".join(out)
