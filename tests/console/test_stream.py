"""The console's server push (`ConsoleHub`) on a real aiohttp server over loopback: a `ready`
event first, one event per changed kind (a kind pending twice is sent once), heartbeat comments,
a bound on open streams, and the stream's end forgotten by the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.http.console.stream import ConsoleHub


@pytest.fixture
async def hub_server() -> AsyncIterator[tuple[ConsoleHub, TestServer]]:
    hub = ConsoleHub(heartbeat_s=0.3, max_clients=2)
    app = web.Application()
    app.router.add_get("/api/v1/stream", hub.handle)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield hub, srv


async def next_block(resp: aiohttp.ClientResponse) -> str:
    """One SSE block (up to the blank line), within a bounded time."""
    lines = []
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), timeout=5)).decode()
        if line == "\n":
            return "".join(lines)
        lines.append(line)


async def until(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_ready_then_one_event_per_changed_kind(hub_server: tuple[ConsoleHub, TestServer]) -> None:
    hub, srv = hub_server
    async with aiohttp.ClientSession() as http, http.get(srv.make_url("/api/v1/stream")) as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert "event: ready" in await next_block(resp)
        await until(lambda: hub.clients == 1, "the stream to be registered")
        hub.changed("alarms")
        hub.changed("alarms")  # pending twice before the write: one fetch serves both
        hub.changed("cases")
        blocks = [await next_block(resp), await next_block(resp)]
        assert sorted(b.strip() for b in blocks) == ["event: alarms\ndata: {}", "event: cases\ndata: {}"]
        hub.changed("cases")
        assert (await next_block(resp)).startswith("event: cases")


async def test_heartbeat_comments_keep_an_idle_stream_alive(hub_server: tuple[ConsoleHub, TestServer]) -> None:
    _, srv = hub_server
    async with aiohttp.ClientSession() as http, http.get(srv.make_url("/api/v1/stream")) as resp:
        await next_block(resp)  # ready
        assert await next_block(resp) == ": heartbeat\n"


async def test_open_streams_are_bounded_and_a_closed_one_is_forgotten(
    hub_server: tuple[ConsoleHub, TestServer],
) -> None:
    hub, srv = hub_server
    async with aiohttp.ClientSession() as http:
        first = await http.get(srv.make_url("/api/v1/stream"))
        second = await http.get(srv.make_url("/api/v1/stream"))
        await next_block(first)
        await next_block(second)
        async with http.get(srv.make_url("/api/v1/stream")) as third:
            assert third.status == 503 and "too many console streams" in (await third.json())["error"]
        first.close()
        # the server notices at its next write (a change or a heartbeat) and lets the stream go
        await until(lambda: (hub.changed("alarms"), hub.clients)[1] == 1, "the closed stream to be dropped")
        async with http.get(srv.make_url("/api/v1/stream")) as again:
            assert again.status == 200
        second.close()


def test_unknown_kinds_are_refused() -> None:
    hub = ConsoleHub()
    with pytest.raises(ValueError, match="unknown change kind 'floors'"):
        hub.changed("floors")
    with pytest.raises(ValueError, match="known: alarms, cases"):
        hub.listener("floors")


async def test_close_ends_open_streams_so_the_service_can_stop(hub_server: tuple[ConsoleHub, TestServer]) -> None:
    # An open stream never ends by itself: without close() a collector with a console tab open
    # took two minutes to stop on SIGTERM (the server's clean-up waited for the stream).
    hub, srv = hub_server
    async with aiohttp.ClientSession() as http, http.get(srv.make_url("/api/v1/stream")) as resp:
        assert "event: ready" in await next_block(resp)
        await until(lambda: hub.clients == 1, "the stream to be registered")
        hub.close()
        rest = await asyncio.wait_for(resp.content.read(), timeout=5)  # the body ends: EOF
        assert b"event:" not in rest
        await until(lambda: hub.clients == 0, "the stream to be forgotten")
        async with http.get(srv.make_url("/api/v1/stream")) as late:
            assert late.status == 503 and "stopping" in (await late.json())["error"]
