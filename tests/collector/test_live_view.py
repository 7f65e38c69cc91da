"""Live view (issue 14): POST .../live reaches the agent over its command topic; full rate ends by itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiomqtt

from collector.outbound import live_view
from collector.platform.service import PlatformConfig
from edge_agent.agent import Agent
from edge_agent.config import Overrides, build
from edge_agent.outbox import Outbox
from protocols.events import Action
from protocols.frames import LiveViewFrame, RecordKind, decode_command
from protocols.signals import Door, Mode, SignalSnapshot
from protocols.topics import command_topic
from tests.collector.conftest import TOKEN, Running, make_config, wait_until
from tests.collector.publisher import Publisher, event, status
from tests.support.services import Broker

DEVICE = "lift-live"
RUNNING = SignalSnapshot(0, 3, 1, True, 800, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)


def post(url: str, body: Any, token: str | None = TOKEN) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Clock:
    def __init__(self) -> None:
        self.t_ms = 5_000_000

    def __call__(self) -> int:
        return self.t_ms


class NoBus:
    """The agent's seams, unused here: this test drives the reporter, not the poll loop."""

    async def read_holding(self, unit_id: int, start: int, count: int) -> tuple[int, ...]:
        raise OSError("not wired")

    async def close(self) -> None:
        return None


class NoInputs:
    ready = False

    def levels(self) -> dict[str, bool]:
        return {}

    def close(self) -> None:
        return None


def speed_only_changes(agent: Agent, clock: Clock) -> list[RecordKind]:
    """Two snapshots of a running car that differ only in speed: status only at full rate."""
    out = []
    for speed in (800, 900):
        clock.t_ms += 100
        out += [k for k, _ in agent.reporter.step(RUNNING._replace(t_ms=clock.t_ms, speed_mm_s=speed))]
    return out


async def test_live_view_switches_on_and_off_by_itself(broker: Broker, sqlite_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=(DEVICE,))
    flags = Overrides(DEVICE, broker.url, "127.0.0.1:1", None, str(token_file.parent / "agent"), None)
    cfg = build({"elevator": {"lowest_floor": 1, "highest_floor": 8}}, "<test>", flags)
    clock = Clock()
    url = f"{col.api}/api/v1/elevators/{DEVICE}/live"
    try:
        async with Outbox(cfg.data_dir / "outbox.db", cfg.outbox, 0) as ob:
            agent = Agent(cfg, NoBus(), NoInputs(), ob, now_ms=clock)  # type: ignore[arg-type]
            task = asyncio.create_task(agent.uplink.run())
            try:
                await wait_until(lambda: agent.uplink.subscribed, 10, "the agent's uplink to subscribe")
                agent.reporter.step(RUNNING._replace(t_ms=clock.t_ms))
                assert speed_only_changes(agent, clock) == [], "budget policy: a speed change alone is not sent"
                code, body = await asyncio.to_thread(post, url, {"seconds": 2})
                assert code == 202 and body["device_id"] == DEVICE and body["seconds"] == 2
                await wait_until(lambda: agent.uplink.counters.commands >= 1, 10, "the live-view command")
                assert agent.reporter.is_live(clock.t_ms)
                kinds = speed_only_changes(agent, clock)
                assert kinds == [RecordKind.STATUS, RecordKind.STATUS], "live: every state change"
                assert agent.uplink.hold_s() == 0.0, "live: nothing waits for a frame to share"
                clock.t_ms += 2_000  # the view's time is up: nobody has to turn it off
                assert speed_only_changes(agent, clock) == [] and not agent.reporter.is_live(clock.t_ms)
                assert agent.uplink.hold_s() == cfg.uplink.summary_hold_s
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await col.close()


async def test_live_view_request_refusals(broker: Broker, sqlite_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=(DEVICE,))
    base = f"{col.api}/api/v1/elevators"
    try:
        assert (await asyncio.to_thread(post, f"{base}/{DEVICE}/live", {"seconds": 5}, None))[0] == 401
        code, body = await asyncio.to_thread(post, f"{base}/nobody/live", {"seconds": 5})
        assert code == 404 and "nobody" in body["error"]
        for bad in ({"seconds": 0}, {"seconds": 601}, {"seconds": "5"}, {"seconds": True}, {"minutes": 5}):
            code, body = await asyncio.to_thread(post, f"{base}/{DEVICE}/live", bad)
            assert code == 400 and body["error"], bad
        code, body = await asyncio.to_thread(post, f"{base}/{DEVICE}/live", None)
        assert code == 202 and body["seconds"] == 120, "no body: the default period"
    finally:
        await col.close()


async def test_an_open_rescue_case_keeps_its_elevator_in_live_view(
    broker: Broker, sqlite_url: str, token_file: Path
) -> None:
    col = Running(make_config(broker, sqlite_url, token_file))
    col.collector.platform_config = replace(PlatformConfig(), poll_s=300.0)
    await col.start(devices=("lift-r", "lift-quiet"))
    got: list[tuple[str, LiveViewFrame]] = []

    async def listen(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="live-view-test") as c:
            await c.subscribe(command_topic("lift-r"), qos=1)
            await c.subscribe(command_topic("lift-quiet"), qos=1)
            ready.set()
            async for m in c.messages:
                assert isinstance(m.payload, bytes)
                got.append((str(m.topic), decode_command(m.payload)))

    ready = asyncio.Event()
    task = asyncio.create_task(listen(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with Publisher(broker.port, "lift-r", batch=2) as p:
            await p.send([status(1, 1000, floor=3), event(2, 2000, "entrapment", Action.RAISE, floor=3)])
            await p.resend_until_acked(10)
        await wait_until(lambda: got, 10, "a live-view request for the trapped car's case")
        assert got[0] == (command_topic("lift-r"), LiveViewFrame(live_view.RESCUE_LIVE_S))
        assert all(topic == command_topic("lift-r") for topic, _ in got), "only the car with the case"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await col.close()
