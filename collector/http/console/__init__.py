"""The operator console: a static page for the district duty officer, served at `/console/`.

The page is plain HTML, CSS and JavaScript shipped as package data (no build step, nothing from the
internet: the control room may have none). It needs no token to load; it asks the officer for the
API token once and sends it as `Authorization: Bearer` to `/api/v1/...`, polling every 1.5 s.

Rescue cases, maintenance and statistics come from the platform (`collector.platform.service`). When
the platform runs inside the collector the page finds them on its own origin; when it runs as its
own process (`elev-collector platform --http ...`), the page is told its address (`?platform=URL`
or the sign-in form) and calls it directly, which needs `allow_console_origin` on that app.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

_FILES = {
    "index.html": "text/html",
    "console.js": "text/javascript",
    "console.css": "text/css",
}
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def add_console_routes(app: web.Application) -> None:
    """Serve the console's files at `/console/` (and redirect `/console` there). No token: the
    page holds no data; every request it makes for data carries the officer's token."""
    bodies = {name: _read(name) for name in _FILES}  # read once: a missing file fails at start, not later

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if name not in bodies:
            raise web.HTTPNotFound(text=f"no console file {name!r}")
        return web.Response(body=bodies[name], content_type=_FILES[name], charset="utf-8", headers=_NO_CACHE)

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound("/console/")

    app.router.add_get("/console", redirect)
    app.router.add_get("/console/", page)
    app.router.add_get("/console/{name}", page)


def allow_console_origin(app: web.Application) -> None:
    """Let a console served by another process (the collector) call this app's `/api/v1/` from the
    browser (CORS). Safe for a bearer-token API: the browser sends no ambient credentials, so a
    foreign page gets nothing without the token; this only lets the officer's own page through."""

    async def preflight(_: web.Request) -> web.Response:
        return web.Response(status=204)

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/api/v1/") and "Origin" in request.headers:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"

    app.router.add_route("OPTIONS", "/api/v1/{tail:.*}", preflight)
    app.on_response_prepare.append(headers)
