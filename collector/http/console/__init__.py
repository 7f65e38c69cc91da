"""The operator console: a static page for the district duty officer, served at `/console/`.

The page is plain HTML, CSS and JavaScript shipped as package data (no build step, nothing from the
internet: the control room may have none; the one library, uPlot for the 24 h chart, is vendored
under `vendor/` with its licence). It needs no token to load; its data requests carry the
officer's credentials. It is in Chinese unless the officer picks English (`i18n.js`), shows times
in the platform's time zone (`settings.json`, from `[platform] time_zone`), and is told of changes
by server push (`stream.py`, `GET /api/v1/stream`) instead of polling.

Rescue cases, maintenance and statistics come from the platform (`collector.platform.service`). When
the platform runs inside the collector the page finds them on its own origin; when it runs as its
own process (`elev-collector platform --http ...`), the page is told its address (`?platform=URL`
or the sign-in form) and calls it directly, which needs `allow_console_origin` on that app.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources

from aiohttp import web

# URL name -> (package file, content type). Every file is one path segment under /console/ (the
# vendored ones too), so the console has exactly three routes: /console, /console/, /console/{name}.
_FILES = {
    "index.html": ("index.html", "text/html"),
    "console.js": ("console.js", "text/javascript"),
    "i18n.js": ("i18n.js", "text/javascript"),
    "console.css": ("console.css", "text/css"),
    "uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", "text/javascript"),
    "uPlot.min.css": ("vendor/uPlot.min.css", "text/css"),
    "uPlot.LICENSE": ("vendor/uPlot.LICENSE", "text/plain"),
}
SETTINGS_NAME = "settings.json"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """What the page needs from the platform's configuration (nothing secret: served without token)."""

    time_zone: str = "Asia/Shanghai"
    response_limit_s: float = 45.0
    arrival_limit_s: float = 30 * 60.0
    stale_after_s: float = 60.0  # "last seen" older than this is shown as stale data


SETTINGS_KEY = web.AppKey("console_settings", ConsoleSettings)
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _read(name: str) -> bytes:
    node = resources.files(__package__)
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()


def set_console_settings(app: web.Application, settings: ConsoleSettings) -> None:
    """Give the page the platform's time zone and deadlines (before the app starts)."""
    app[SETTINGS_KEY] = settings


def add_console_routes(app: web.Application) -> None:
    """Serve the console's files at `/console/` (and redirect `/console` there). No token: the
    page holds no data; every request it makes for data carries the officer's credentials."""
    bodies = {name: _read(path) for name, (path, _) in _FILES.items()}  # a missing file fails at start

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if name == SETTINGS_NAME:
            chosen = request.app.get(SETTINGS_KEY) or ConsoleSettings()
            return web.Response(text=json.dumps(asdict(chosen)), content_type="application/json", headers=_NO_CACHE)
        if name not in bodies:
            raise web.HTTPNotFound(text=f"no console file {name!r}")
        return web.Response(body=bodies[name], content_type=_FILES[name][1], charset="utf-8", headers=_NO_CACHE)

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
