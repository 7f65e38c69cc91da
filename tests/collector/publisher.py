"""A test publisher that behaves like the edge agent's uplink: an outbox of records per stream,
frames sent with QoS 1, records dropped only when an AckFrame covers them, the rest re-sent.

Records are synthesized with `protocols.frames` types, so the collector sees exactly what a real
agent would send.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable, Sequence

import aiomqtt

from protocols import frames, topics
from protocols.events import Action, Event
from protocols.signals import Door, Mode, SignalSnapshot

# The simulated gateways booted 10 s before the tests were imported: wall = BOOT_MS + mono_ms.
BOOT_MS = time.time_ns() // 1_000_000 - 10_000


def status(seq: int, mono_ms: int, floor: int = 1, synced: bool = True, wall0_ms: int | None = None) -> frames.Record:
    wall0 = wall0_ms if wall0_ms is not None else BOOT_MS
    snap = SignalSnapshot(mono_ms, floor, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)
    return frames.Record(frames.RecordKind.STATUS, seq, mono_ms, wall0 + mono_ms, synced, snap)


def event(seq: int, mono_ms: int, type_: str, action: Action, floor: int | None = 1) -> frames.Record:
    wall = BOOT_MS + mono_ms
    ev = Event(mono_ms, type_, action, floor, 4100 if type_ == "controller_fault" else None)
    return frames.Record(frames.RecordKind.EVENT, seq, mono_ms, wall, True, ev)


def heartbeat(seq: int, mono_ms: int, depth: int = 0) -> frames.Record:
    wall = BOOT_MS + mono_ms
    beat = frames.Heartbeat(mono_ms // 1000, depth, True)
    return frames.Record(frames.RecordKind.HEARTBEAT, seq, mono_ms, wall, True, beat)


def statuses(n: int, start_seq: int = 1, mono0_ms: int = 10_000) -> list[frames.Record]:
    return [status(start_seq + i, mono0_ms + 100 * i, floor=1 + i % 10) for i in range(n)]


def encode(records: Sequence[frames.Record], epoch: int, device_id: str | None = None) -> bytes:
    return frames.encode_uplink(frames.UplinkFrame(epoch, tuple(records), device_id))


class Publisher:
    """One simulated gateway: `async with Publisher(port, "lift-1") as p: await p.send(records)`."""

    def __init__(self, port: int, device_id: str, epoch: int | None = None, batch: int = 1) -> None:
        self.port = port
        self.device_id = device_id
        self.epoch = epoch if epoch is not None else random.getrandbits(32)
        self.batch = batch
        self.outbox: dict[int, frames.Record] = {}
        self.acked: set[int] = set()
        self.acks_received = 0
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._progress = asyncio.Event()

    async def __aenter__(self) -> Publisher:
        self._reader = asyncio.create_task(self._run())
        async with asyncio.timeout(10):
            await self._connected.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, aiomqtt.MqttError):
                pass

    async def _run(self) -> None:
        """Reconnecting reader of the ack topic (the broker may be restarted by a test)."""
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier=f"pub-{self.device_id}-{uuid.uuid4().hex[:6]}",
                    max_inflight_messages=2000,
                    max_concurrent_outgoing_calls=200,
                ) as client:
                    client.pending_calls_threshold = 1_000_000
                    await client.subscribe(topics.ack_topic(self.device_id), qos=1)
                    self._client = client
                    self._connected.set()
                    async for m in client.messages:
                        ack = frames.decode_ack(bytes(m.payload))
                        if ack.epoch != self.epoch:
                            continue
                        self.acks_received += 1
                        for lo, hi in ack.ranges:
                            for s in range(lo, hi + 1):
                                if s in self.outbox:
                                    self.acked.add(s)
                                    del self.outbox[s]
                        self._progress.set()
            except aiomqtt.MqttError:
                self._client = None
                self._connected.clear()
                await asyncio.sleep(0.2)

    @property
    def unacked(self) -> list[int]:
        return sorted(self.outbox)

    async def send(self, records: Iterable[frames.Record]) -> None:
        """Put records in the outbox and publish them (in frames of `batch` records)."""
        recs = list(records)
        for r in recs:
            self.outbox[r.seq] = r
        await self._publish(recs)

    async def _publish(self, recs: Sequence[frames.Record]) -> None:
        async with asyncio.timeout(20):
            await self._connected.wait()
        client = self._client
        assert client is not None
        frames_ = [recs[i : i + self.batch] for i in range(0, len(recs), self.batch)]
        device = self.device_id if self.batch > 1 else None
        topic = topics.uplink_topic(self.device_id)
        try:
            await asyncio.gather(*(client.publish(topic, encode(f, self.epoch, device), qos=1) for f in frames_))
        except aiomqtt.MqttError:
            pass  # the broker went away; resend_until_acked sends them again

    async def resend_until_acked(self, timeout_s: float = 30.0, quiet_s: float = 1.0) -> None:
        """Re-send the unacknowledged records whenever no ack arrived for `quiet_s`, until none is left."""
        deadline = time.monotonic() + timeout_s
        while self.outbox:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.device_id}: {len(self.outbox)} records never acknowledged")
            self._progress.clear()
            try:
                async with asyncio.timeout(quiet_s):
                    await self._progress.wait()
                continue
            except TimeoutError:
                pass
            if self.outbox:
                await self._publish([self.outbox[s] for s in sorted(self.outbox)])

    async def publish_raw(self, topic: str, payloads: Sequence[bytes], retain: bool = False) -> None:
        async with asyncio.timeout(20):
            await self._connected.wait()
        assert self._client is not None
        await asyncio.gather(*(self._client.publish(topic, p, qos=1, retain=retain) for p in payloads))


def mixed(n: int, start_seq: int = 1, mono0_ms: int = 10_000) -> list[frames.Record]:
    """Status records with an alarm_button raise and its clear every 40 records."""
    out = []
    for i in range(n):
        seq, mono = start_seq + i, mono0_ms + 100 * i
        if seq % 40 == 5:
            out.append(event(seq, mono, "alarm_button", Action.RAISE))
        elif seq % 40 == 25:
            out.append(event(seq, mono, "alarm_button", Action.CLEAR))
        else:
            out.append(status(seq, mono, floor=1 + seq % 10))
    return out
