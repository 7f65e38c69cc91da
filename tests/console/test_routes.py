"""The console's routes on a real aiohttp server over loopback: the page needs no token, the API
still does, and the platform's app lets the console's browser call it (CORS preflight)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.http.console import add_console_routes, allow_console_origin


async def secret(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/api/v1/thing", secret)
    add_console_routes(app)
    allow_console_origin(app)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


async def test_page_and_assets_served_without_token(server: TestServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/console"), allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/console/"
        async with http.get(server.make_url("/console/")) as r:
            assert r.status == 200 and r.content_type == "text/html"
            page = await r.text()
        assert '<script src="console.js">' in page
        assert 'src="http' not in page and 'href="http' not in page, "nothing may come from the internet"
        for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
            async with http.get(server.make_url(f"/console/{name}")) as r:
                assert r.status == 200 and r.content_type == kind
                assert "https://" not in await r.text(), f"{name} must not load anything from the internet"
        async with http.get(server.make_url("/console/other.js")) as r:
            assert r.status == 404


async def test_cors_preflight_and_headers(server: TestServer) -> None:
    origin = {"Origin": "http://127.0.0.1:8080"}
    async with aiohttp.ClientSession() as http:
        preflight = {**origin, "Access-Control-Request-Method": "POST"}
        preflight["Access-Control-Request-Headers"] = "authorization"
        async with http.options(server.make_url("/api/v1/rescue-cases/RC-1/actions"), headers=preflight) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
        async with http.get(server.make_url("/api/v1/thing"), headers=origin) as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
        async with http.get(server.make_url("/console/"), headers=origin) as r:
            assert "Access-Control-Allow-Origin" not in r.headers  # only the API, not the page
