"""Shared helpers: a manual clock, records the way an agent sends them, a loopback HTTP receiver."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from collector.model import Clocks, RecordRow
from protocols import frames
from protocols.events import Action, Event
from protocols.signals import Door, Mode, SignalSnapshot

T0 = 1_764_400_000_000  # wall time of mono 0 for the synthetic gateway


class Clock:
    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += round(seconds * 1000)


def ev(seq: int, at_s: float, type_: str, action: str, floor: int = 3, t0: int = T0) -> frames.Record:
    """An event `at_s` after the gateway's boot, which happened at wall time `t0`."""
    mono = round(at_s * 1000)
    e = Event(mono, type_, Action(action), floor, None)
    return frames.Record(frames.RecordKind.EVENT, seq, mono, t0 + mono, True, e)


def st(seq: int, at_s: float, floor: int, mode: Mode = Mode.NORMAL, t0: int = T0) -> frames.Record:
    mono = round(at_s * 1000)
    snap = SignalSnapshot(mono, floor, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, mode, 0)
    return frames.Record(frames.RecordKind.STATUS, seq, mono, t0 + mono, True, snap)


def rows(device: str, records: Sequence[frames.Record], epoch: int = 1) -> list[RecordRow]:
    last = max(r.wall_ms for r in records)
    return Clocks().rows(device, frames.UplinkFrame(epoch, tuple(records)), last + 50)


@dataclass
class Receiver:
    """A loopback HTTP endpoint that records what it gets; `fail_next` answers 503 that many times."""

    fail_next: int = 0
    got: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="busy")
        self.got.append((dict(request.headers), body))
        return web.json_response({"ok": True})

    async def start(self, port: int) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.port = port
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
