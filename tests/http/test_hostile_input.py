"""Hostile HTTP input gets a 4xx, never a 500 (issue 12 item 5).

The real platform app (the county's routes and the city's intake) on a real loopback socket, driven
in-process. Each attack the rules stop has its own test; then hypothesis throws at least 1,000
bodies at every POST/PUT route, with and without credentials: deep, huge, wrong types, bad UTF-8,
lone surrogates, giant integers. No answer is a 5xx or carries a traceback, and the service still
answers afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.http.body import LARGE_BODY_BYTES, MAX_JSON_DEPTH, SMALL_BODY_BYTES, json_depth
from collector.http.city_api import CityConfig
from collector.http.platform_server import make_platform_app
from collector.platform.identity import FIELDS
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.support.services import free_port

TOKEN = "admin-token-0123456789"
COUNTY = "330602"
COUNTY_TOKEN = "county-token-0123456789"
CASE_ID = "missing-case"
ROUTES = [
    ("POST", "/api/v1/rescue-cases", TOKEN),
    ("POST", f"/api/v1/rescue-cases/{CASE_ID}/actions", TOKEN),
    ("PUT", "/api/v1/registry.csv", TOKEN),
    ("POST", "/city/v1/push", COUNTY_TOKEN),
]


@dataclass
class Served:
    runner: asyncio.Runner
    base: str
    session: aiohttp.ClientSession

    def request(self, method: str, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async def go() -> tuple[int, str]:
            async with self.session.request(method, self.base + path, data=data, headers=headers) as r:
                return r.status, await r.text()

        return self.runner.run(go())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db_url = f"sqlite:///{Path(tmp_path_factory.mktemp('hostile')) / 'collector.db'}"
    config = PlatformConfig(city=CityConfig(counties={COUNTY: COUNTY_TOKEN}))
    with asyncio.Runner() as runner:

        async def start() -> tuple[Platform, web.AppRunner, str, aiohttp.ClientSession]:
            async with open_store(db_url):
                pass  # the collector's schema, as `run` leaves it
            platform = await Platform(db_url, config).__aenter__()
            app_runner = web.AppRunner(make_platform_app(platform, TOKEN), access_log=None)
            await app_runner.setup()
            port = free_port()
            await web.TCPSite(app_runner, "127.0.0.1", port).start()
            return platform, app_runner, f"http://127.0.0.1:{port}", aiohttp.ClientSession()

        platform, app_runner, base, session = runner.run(start())
        try:
            yield Served(runner, base, session)
        finally:

            async def stop() -> None:
                await session.close()
                await app_runner.cleanup()
                await platform.__aexit__(None, None, None)

            runner.run(stop())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def assert_4xx(status: int, text: str) -> None:
    assert 400 <= status < 500, (status, text[:300])
    assert "Traceback" not in text, text[:300]


# --- each rule with the attack it stops -------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "token"), ROUTES)
def test_5000_deep_json_is_400_naming_the_nesting(served: Served, method: str, path: str, token: str) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    status, text = served.request(method, path, deep, auth(token))
    if path.endswith(".csv"):  # the registry takes CSV: brackets are just a bad CSV
        assert_4xx(status, text)
        return
    assert status == 400, text
    assert "nests deeper than" in json.loads(text)["error"]


def test_giant_integer_and_lone_surrogate_are_400_naming_the_field(served: Served) -> None:
    status, text = served.request("POST", "/api/v1/rescue-cases", b'{"device_id": ' + b"9" * 5000 + b"}", auth(TOKEN))
    assert status == 400 and "not valid JSON" in text, text
    body = b'{"device_id": "lift-1", "actor": "\\ud800"}'
    status, text = served.request("POST", "/api/v1/rescue-cases", body, auth(TOKEN))
    assert status == 400 and "body.actor" in json.loads(text)["error"], text
    status, text = served.request("POST", "/api/v1/rescue-cases", b'{"device_id": 5, "actor": "x"}', auth(TOKEN))
    assert status == 400 and "device_id" in json.loads(text)["error"], text
    status, text = served.request("POST", "/api/v1/rescue-cases", b'{"device_id": "\xff"}', auth(TOKEN))
    assert status == 400 and "UTF-8" in json.loads(text)["error"], text


async def _raw_headers_only(base: str, path: str, headers: dict[str, str], length: int) -> str:
    """Send a request's headers announcing `length` bytes, never the body; the status line answered."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    try:
        async with asyncio.timeout(5):  # the server answers without waiting for the 50 MB
            return (await reader.readline()).decode()
    finally:
        writer.close()


@pytest.mark.parametrize(("method", "path", "token"), [r for r in ROUTES if r[0] == "POST"])
def test_credentials_are_checked_before_a_50mb_body_is_read(served: Served, method: str, path: str, token: str) -> None:
    line = served.runner.run(_raw_headers_only(served.base, path, {"Content-Type": "application/json"}, 50_000_000))
    assert " 401 " in line, line
    # With the right token the size is refused from Content-Length, still without reading it.
    line = served.runner.run(_raw_headers_only(served.base, path, auth(token), 50_000_000))
    assert " 413 " in line, line


def test_a_body_over_the_route_limit_is_413_even_without_content_length(served: Served) -> None:
    async def chunked() -> Any:
        yield b"{" + b" " * (SMALL_BODY_BYTES + 10) + b"}"

    async def go() -> int:
        url = served.base + "/api/v1/rescue-cases"
        async with served.session.post(url, data=chunked(), headers=auth(TOKEN)) as r:
            return r.status

    assert served.runner.run(go()) == 413


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth('{"a": "[[[[[[[[", "b": [1, [2]]}') == 3
    assert json_depth('"\\"[[["') == 0


# --- fuzz: every POST/PUT route, >= 1,000 cases each -------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_fields = st.sampled_from(
    [
        "device_id",
        "actor",
        "note",
        "action",
        "at",
        "county",
        "items",
        "idempotency_key",
        "kind",
        "key",
        "version",
        "body",
    ]
)
_HUGE = b"[" + b"0," * (LARGE_BODY_BYTES // 2) + b"0]"


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    kinds = ["typed", "json", "deep", "binary", "surrogate", "bigint", "csv", "push"]
    kind = draw(st.sampled_from([*kinds, *kinds, "huge"]))  # an 8 MB body in one case of 17: fast enough
    if kind == "typed":  # the route's own field names with values of any type
        return json.dumps(draw(st.dictionaries(_fields, _json, max_size=6))).encode()
    if kind == "json":
        return json.dumps(draw(_json)).encode()
    if kind == "deep":
        n = draw(st.integers(MAX_JSON_DEPTH - 2, 20_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = "1" if opener != "[" else ""
        return (opener * n + inner + closer * draw(st.integers(0, n))).encode()
    if kind == "binary":
        return draw(st.binary(max_size=300))
    if kind == "surrogate":
        field = draw(_fields)
        return f'{{"{field}": "\\ud8{draw(st.integers(0, 0xFF)):02x}", "actor": "x\\u0000"}}'.encode()
    if kind == "bigint":
        return ('{"version": ' + "7" * draw(st.integers(4000, 6000)) + "}").encode()
    if kind == "huge":
        return _HUGE
    if kind == "csv":
        rows = draw(st.lists(st.lists(st.text(max_size=30), min_size=1, max_size=9), max_size=5))
        return (",".join(FIELDS) + "\n" + "\n".join(",".join(r) for r in rows)).encode("utf-8", "surrogatepass")
    items = draw(st.lists(st.dictionaries(_fields, _json, max_size=6), max_size=3))
    county = draw(st.sampled_from([COUNTY, "110101", 330602, None]))
    return json.dumps({"county": county, "items": items}).encode()


@pytest.mark.parametrize(("method", "path", "token"), ROUTES)
def test_fuzz_no_5xx_no_traceback_and_still_answering(served: Served, method: str, path: str, token: str) -> None:
    seen = {"with": 0, "without": 0}

    @settings(max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=hostile_bodies(), credentials=st.sampled_from(["right", "none", "wrong"]))
    def one(body: bytes, credentials: str) -> None:
        headers = {"Content-Type": "application/json"}
        if credentials != "none":
            headers.update(auth(token if credentials == "right" else "wrong-token-0123456789"))
        seen["with" if credentials == "right" else "without"] += 1
        status, text = served.request(method, path, body, headers)
        assert status < 500, (status, body[:200], text[:300])
        assert "Traceback" not in text, text[:300]
        if credentials != "right":
            assert status == 401, (status, text[:300])

    one()
    assert seen["with"] > 100 and seen["without"] > 100, seen
    status, text = served.request("GET", "/healthz", b"", {})
    assert status == 200, text
