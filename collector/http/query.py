"""Query-string parsing shared by every route: a bad value is a 400 naming the parameter, never a 500."""

from __future__ import annotations

import json

from aiohttp import web

from collector.times import parse_iso

DAY_MS = 86_400_000


def bool_param(request: web.Request, name: str) -> bool | None:
    value = request.query.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise web.HTTPBadRequest(
        text=json.dumps({"error": f"{name}: {value!r} must be true or false"}), content_type="application/json"
    )


def time_param(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if value is None:
        return default
    try:
        return parse_iso(value, name)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": str(exc)}), content_type="application/json") from None


def window(request: web.Request, now_ms: int) -> tuple[int, int]:
    until = time_param(request, "until", now_ms)
    assert until is not None
    since = time_param(request, "since", until - 30 * DAY_MS)
    assert since is not None
    if since >= until:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "since must be before until"}), content_type="application/json"
        )
    return since, until


def limit_param(request: web.Request) -> int:
    value = request.query.get("limit", "1000")
    if not value.isdigit() or not 1 <= int(value) <= 10000:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"limit: {value!r} must be 1..10000"}), content_type="application/json"
        )
    return int(value)
