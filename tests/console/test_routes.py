"""The console's routes on a real aiohttp server over loopback: the page, its vendored chart library
and its settings need no token, the API still does, and the platform's app lets the console's
browser call it (CORS preflight). The platform's `time_zone` reaches the page; a bad one is refused
at start with the key named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.errors import ConfigError
from collector.http.console import ConsoleSettings, add_console_routes, allow_console_origin, set_console_settings
from collector.platform.service import load_config


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
        own = (("console.js", "text/javascript"), ("i18n.js", "text/javascript"), ("console.css", "text/css"))
        for name, kind in own:
            async with http.get(server.make_url(f"/console/{name}")) as r:
                assert r.status == 200 and r.content_type == kind
                assert "https://" not in await r.text(), f"{name} must not load anything from the internet"
        async with http.get(server.make_url("/console/other.js")) as r:
            assert r.status == 404
        for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"):  # shipped, not from a CDN
            async with http.get(server.make_url(f"/console/{name}")) as r:
                assert r.status == 200 and len(await r.read()) > 500, name
        assert '<script src="uPlot.iife.min.js">' in page
        async with http.get(server.make_url("/console/vendor/uPlot.LICENSE")) as r:
            assert r.status == 404  # one path segment: nothing else of the package is reachable
        async with http.get(server.make_url("/console/settings.json")) as r:
            assert r.status == 200
            assert (await r.json())["time_zone"] == "Asia/Shanghai"  # the default: a Chinese duty room


async def test_settings_carry_the_platforms_time_zone_and_limits(tmp_path: Path) -> None:
    conf = tmp_path / "platform.toml"
    conf.write_text('[platform]\ntime_zone = "Asia/Urumqi"\n[platform.rescue]\nresponse_limit_s = 60\n')
    pc = load_config(str(conf))
    app = web.Application()
    add_console_routes(app)
    set_console_settings(app, ConsoleSettings(pc.time_zone, pc.rescue.response_limit_s, pc.rescue.arrival_limit_s))
    async with (
        TestServer(app, host="127.0.0.1") as srv,
        aiohttp.ClientSession() as http,
        http.get(srv.make_url("/console/settings.json")) as r,
    ):
        body = await r.json()
    assert body == {"time_zone": "Asia/Urumqi", "response_limit_s": 60, "arrival_limit_s": 1800, "stale_after_s": 60}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"Mars/Olympus"', "platform.time_zone = 'Mars/Olympus' is not a known IANA time zone"),
        ('"../etc/passwd"', "is not a known IANA time zone"),
        ("8", "platform.time_zone = 8 must be a string"),
    ],
)
def test_a_bad_time_zone_is_refused_naming_file_and_key(tmp_path: Path, value: str, message: str) -> None:
    conf = tmp_path / "platform.toml"
    conf.write_text(f"[platform]\ntime_zone = {value}\n")
    with pytest.raises(ConfigError, match=None) as info:
        load_config(str(conf))
    assert str(conf) in str(info.value) and message in str(info.value)


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
