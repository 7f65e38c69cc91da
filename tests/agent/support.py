"""Test helpers for the agent: an in-test acknowledger standing in for the collector, and bounded waits.

The acknowledger is deliberately tiny: subscribe to every uplink topic, decode each frame with
protocols.frames, remember what arrived (in arrival order) and publish an AckFrame for it, like the
collector does after its durable commit. `acking = False` makes it a collector that stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomqtt

from protocols.frames import AckFrame, PresenceFrame, Record, decode_presence, decode_uplink, encode_ack
from protocols.topics import ack_topic, parse_topic


@dataclass
class Acker:
    port: int
    acking: bool = True
    arrivals: list[tuple[str, int, Record]] = field(default_factory=list)  # (device, epoch, record)
    presence: list[tuple[str, PresenceFrame, bool]] = field(default_factory=list)  # (device, frame, retained)
    frames: int = 0
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> Acker:
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def _run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, identifier=f"acker-{id(self)}") as client:
            await client.subscribe("elev/v1/+/up", qos=1)
            await client.subscribe("elev/v1/+/presence", qos=1)
            self._ready.set()
            async for msg in client.messages:
                device, channel = parse_topic(str(msg.topic))
                assert isinstance(msg.payload, bytes)
                if channel == "presence":
                    self.presence.append((device, decode_presence(msg.payload), bool(msg.retain)))
                    continue
                frame = decode_uplink(msg.payload)
                self.frames += 1
                for r in frame.records:
                    self.arrivals.append((device, frame.epoch, r))
                if self.acking:
                    seqs = sorted(r.seq for r in frame.records)
                    ack = AckFrame(frame.epoch, tuple(_ranges(seqs)))
                    await client.publish(ack_topic(device), encode_ack(ack), qos=1)

    def seqs(self, device: str | None = None) -> list[int]:
        return [r.seq for d, _, r in self.arrivals if device is None or d == device]


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s in seqs:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


async def until(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> None:
    """Await a condition with a bounded wait (polls; never a fixed sleep to let things settle)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        await asyncio.sleep(0.02)


async def until_async(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        await asyncio.sleep(0.05)
