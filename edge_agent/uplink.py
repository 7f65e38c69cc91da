"""The MQTT uplink: drain the outbox to the collector and apply its acknowledgements.

One aiomqtt client per connection, inside an explicit outer reconnect loop with jittered
exponential backoff (an outage is logged once, its end once). On every connection:

1. publish `PresenceFrame(online=True)` retained; the connection's last will is the same frame
   with `online=False`, so the broker announces a dead gateway by itself;
2. subscribe to `elev/v1/{device}/ack`; every AckFrame deletes the records it covers from the
   outbox (the collector sends it only after its durable commit); and to `elev/v1/{device}/cmd`,
   where a live-view request (protocols.frames.LiveViewFrame) turns on full-rate status;
3. send unacknowledged records in batch frames, QoS 1: events first, always (an alarm never
   waits behind a status backlog), then status and heartbeats, each class in sequence order. At
   most `window_batches` frames wait for their ack; a backlog drains at `batches_per_s`.
   Trip, door-cycle and heartbeat records (`HELD`) are committed as fast as any status, but wait
   on disk for a frame to share: the next status or event frame carries them, or they leave
   together `summary_hold_s` after the last frame (or the oldest of them), or when a batch is full.
   With a heartbeat after `heartbeat_s` of quiet, a frame leaves at least every `summary_hold_s`,
   which stays under the collector's offline_after_s. On a metered
   link each frame costs ~30 B of MQTT framing plus the PUBACK of its ack, more than the record
   (~13 B in a batch); `hold_s` returns 0 while an operator watches the live view.

A frame whose ack does not come back within `ack_timeout_s`, and every frame after a reconnect,
is sent again from the oldest unacknowledged record: the collector de-duplicates by
(device, epoch, seq), so resending is always safe and losing is never possible.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomqtt

from edge_agent.config import AgentConfig
from edge_agent.hw import cancellation_point
from edge_agent.outbox import Outbox
from protocols.frames import (
    FrameError,
    PresenceFrame,
    RecordKind,
    WireRecord,
    decode_ack,
    decode_command,
    encode_presence,
    encode_wire_batch,
)
from protocols.topics import ack_topic, command_topic, presence_topic, uplink_topic

log = logging.getLogger(__name__)

WallClock = Callable[[], tuple[int, bool]]  # -> (wall_ms, clock_synced)
PIGGYBACK_MAX = 20  # status-class records an event frame carries along at most
HELD = frozenset({RecordKind.TRIP, RecordKind.DOOR_CYCLE, RecordKind.HEARTBEAT})  # may wait for a frame to share


def _mono_ms() -> int:
    return int(time.monotonic() * 1000)


@dataclass(slots=True)
class UplinkCounters:
    connects: int = 0
    connect_failures: int = 0
    frames_sent: int = 0
    records_sent: int = 0
    resends: int = 0
    acks: int = 0
    records_acked: int = 0
    bad_acks: int = 0
    commands: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class _InFlight:
    seqs: set[int]
    sent_at: float
    events: bool


@dataclass(slots=True)
class _Cursor:
    events: int = 0
    status: int = 0
    inflight: list[_InFlight] = field(default_factory=list)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the broker against the given CA (or the system store); never an unverified link."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class Uplink:
    def __init__(
        self,
        cfg: AgentConfig,
        outbox: Outbox,
        wall_clock: WallClock,
        *,
        now_ms: Callable[[], int] = _mono_ms,
        hold_s: Callable[[], float] | None = None,
        on_live: Callable[[int], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.wall_clock = wall_clock
        self.now_ms = now_ms  # the records' monotonic clock (the agent's), to age held records
        self.hold_s = hold_s or (lambda: cfg.uplink.summary_hold_s)
        self.on_live = on_live  # a live-view request from the collector: full rate for that many seconds
        # wake() asks the sender for one more pass; settled_gen says which request it has finished
        # (a bench on simulated time waits on it instead of on the wall clock).
        self._wake = asyncio.Event()
        self._wake_gen = 0
        self.settled_gen = 0
        self._last_pub_ms = 0
        self.counters = UplinkCounters()
        self.online = False
        self.subscribed = False
        self.state_since = time.monotonic()
        self.last_error = ""
        self.last_activity = time.monotonic()  # watchdog: the loop is alive (connected or retrying)
        self._ack_seen = asyncio.Event()
        self._ack_drought = False
        self._client: aiomqtt.Client | None = None
        self.topic_up = uplink_topic(cfg.device_id)
        self.topic_ack = ack_topic(cfg.device_id)
        self.topic_presence = presence_topic(cfg.device_id)
        self.topic_cmd = command_topic(cfg.device_id)

    def _presence(self, online: bool) -> bytes:
        wall_ms, synced = self.wall_clock()
        return encode_presence(PresenceFrame(online, self.outbox.epoch, wall_ms, synced))

    def _client_for(self) -> aiomqtt.Client:
        b = self.cfg.broker
        return aiomqtt.Client(
            b.host,
            b.port,
            username=b.username,
            password=b.password,
            identifier=self.cfg.client_id,
            keepalive=b.keepalive_s,
            clean_session=True,
            timeout=5.0,
            will=aiomqtt.Will(self.topic_presence, self._presence(False), qos=1, retain=True),
            tls_context=tls_context(b.ca_file) if b.tls else None,
        )

    async def run(self) -> None:
        """Forever: connect, serve the connection, back off on failure.

        Logging: an outage once, its end once. A connection the broker drops right after accepting
        it (e.g. two gateways configured with the same client id take turns) counts as part of the
        outage: it neither resets the backoff nor logs again, and after 5 of them a hint is logged.
        """
        delay = self.cfg.uplink.reconnect_min_s
        outage_logged = False
        short_lived = 0
        host, port = self.cfg.broker.host, self.cfg.broker.port
        while True:
            cancellation_point()
            self.last_activity = time.monotonic()
            connected_at: float | None = None
            try:
                client = self._client_for()
                async with client:
                    connected_at = time.monotonic()
                    self._client = client
                    self.counters.connects += 1
                    self._set_online(True)
                    if not outage_logged and self.counters.connects == 1:
                        log.info("connected to broker %s:%d", host, port)
                    elif outage_logged and short_lived == 0:
                        log.warning("broker %s:%d reachable again", host, port)
                    try:
                        await self._serve(client)
                    except asyncio.CancelledError:
                        await self._goodbye(client)
                        raise
            except aiomqtt.MqttError as exc:
                if _cancelled(exc):
                    # Cancelled, and aiomqtt turned it into its own error (e.g. its disconnect timed out):
                    # stop here; retrying would keep a stopping daemon alive.
                    raise asyncio.CancelledError from exc
                self.last_error = str(exc)
                self.counters.connect_failures += 1
            finally:
                self._client = None
                self.subscribed = False
                self._set_online(False)
            held = connected_at is not None and time.monotonic() - connected_at >= 10.0
            if held:
                outage_logged, short_lived, delay = False, 0, self.cfg.uplink.reconnect_min_s
            elif connected_at is not None:
                short_lived += 1
                if short_lived == 5:
                    log.warning(
                        "broker %s:%d keeps dropping the connection right after accepting it "
                        "(another client using id %r?)",
                        host,
                        port,
                        self.cfg.client_id,
                    )
            if not outage_logged:
                log.warning("broker %s:%d: %s; buffering in the outbox and retrying", host, port, self.last_error)
                outage_logged = True
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.cfg.uplink.reconnect_max_s)

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            self.state_since = time.monotonic()

    async def close(self) -> None:
        """Say goodbye before a clean stop (the last will covers every other way of dying)."""
        if self._client is not None:
            await self._goodbye(self._client)

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        try:
            await client.publish(self.topic_presence, self._presence(False), qos=1, retain=True, timeout=2.0)
        except aiomqtt.MqttError as exc:
            log.debug("offline presence not sent: %s", exc)

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.publish(self.topic_presence, self._presence(True), qos=1, retain=True)
        await client.subscribe(self.topic_ack, qos=1)
        if self.on_live is not None:
            await client.subscribe(self.topic_cmd, qos=1)
        self.subscribed = True  # acks and commands reach us from here on (until the connection ends)
        cursor = _Cursor()
        # Two tasks, first failure ends both. Not a TaskGroup: on 3.11 a TaskGroup whose child fails
        # leaves the parent's cancel count raised, and the reconnect loop must tell a real stop apart.
        tasks = [
            asyncio.create_task(self._receive(client, cursor), name="uplink-acks"),
            asyncio.create_task(self._send(client, cursor), name="uplink-send"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for t in done:
            t.result()  # the connection's error (MqttError) goes to the reconnect loop

    async def _receive(self, client: aiomqtt.Client, cursor: _Cursor) -> None:
        async for message in client.messages:
            self.last_activity = time.monotonic()
            payload = message.payload
            if message.topic.matches(self.topic_cmd):
                self._command(payload)
                continue
            if not isinstance(payload, bytes | bytearray):
                self.counters.bad_acks += 1
                continue
            try:
                ack = decode_ack(bytes(payload))
            except FrameError as exc:
                self.counters.bad_acks += 1
                log.warning("dropped a bad ack frame: %s", exc)
                continue
            self.counters.acks += 1
            if self._ack_drought:
                log.warning("acks flowing again")
                self._ack_drought = False
            removed = await self.outbox.ack(ack.epoch, ack.ranges)
            self.counters.records_acked += removed
            if ack.epoch == self.outbox.epoch:
                for f in cursor.inflight:
                    for lo, hi in ack.ranges:
                        f.seqs.difference_update([s for s in f.seqs if lo <= s <= hi])
                cursor.inflight = [f for f in cursor.inflight if f.seqs]
            self._ack_seen.set()

    async def _send(self, client: aiomqtt.Client, cursor: _Cursor) -> None:
        up = self.cfg.uplink
        pace_s = 1.0 / up.batches_per_s
        self._last_pub_ms = self.now_ms()  # (the presence frame just went)
        while True:
            cancellation_point()
            self.last_activity = time.monotonic()
            now = time.monotonic()
            if cursor.inflight and now - min(f.sent_at for f in cursor.inflight) > up.ack_timeout_s:
                # An ack went missing (collector restarting?): start again from the oldest unacked record.
                self.counters.resends += 1
                if not self._ack_drought:
                    log.warning("no ack within %.0f s (collector down?): resending until acks return", up.ack_timeout_s)
                self._ack_drought = True
                cursor.events = cursor.status = 0
                cursor.inflight.clear()
            self.outbox.changed.clear()
            self._ack_seen.clear()
            self._wake.clear()
            gen = self._wake_gen
            records: list[WireRecord] = []
            events = True
            hold_wait_s: float | None = None
            if len(cursor.inflight) < up.window_batches:
                limit = up.batch_max_records
                ev = await self.outbox.fetch_wire(cursor.events, True, limit)
                # An event frame carries a few waiting records along (held ones, the state just before it),
                # never a backlog: on a slow link the alarm must not wait for a big frame.
                room = min(limit - len(ev), PIGGYBACK_MAX) if ev else limit
                st = await self.outbox.fetch_wire(cursor.status, False, room) if room > 0 else []
                events = bool(ev)
                if not ev and st and len(st) < limit and all(r.kind in HELD for r in st):
                    # Due when the oldest has waited hold_s, or when the last frame left hold_s ago: with a
                    # heartbeat after heartbeat_s of quiet, the collector hears from us every hold_s.
                    now_ms = self.now_ms()
                    age_s = (now_ms - min(st[0].mono_ms, self._last_pub_ms)) / 1000
                    hold = self.hold_s()
                    if 0 <= age_s < hold:  # (a negative age: a record of an earlier boot, send it)
                        hold_wait_s, st = hold - age_s, []
                records = sorted([*ev, *st], key=lambda r: r.seq)
                if ev:
                    cursor.events = ev[-1].seq
                if st:
                    cursor.status = st[-1].seq
            if not records:
                self.settled_gen = gen
                wait = up.ack_timeout_s
                if cursor.inflight:
                    wait = max(0.05, up.ack_timeout_s - (now - min(f.sent_at for f in cursor.inflight)))
                if hold_wait_s is not None:
                    wait = min(wait, max(hold_wait_s, 0.01))
                await _wait_any((self.outbox.changed, self._ack_seen, self._wake), min(wait, 5.0))
                continue
            for chunk, payload in self._frames(records):
                await client.publish(self.topic_up, payload, qos=1)
                self._last_pub_ms = self.now_ms()
                self.counters.frames_sent += 1
                self.counters.records_sent += len(chunk)
                cursor.inflight.append(_InFlight({r.seq for r in chunk}, time.monotonic(), events))
            if len(records) >= up.batch_max_records or len(cursor.inflight) >= up.window_batches:
                await asyncio.sleep(pace_s)  # a backlog: drain it at a pace the link and collector can take

    def _command(self, payload: object) -> None:
        if not isinstance(payload, bytes | bytearray):
            log.warning("dropped a command that is not bytes")
            return
        try:
            cmd = decode_command(bytes(payload))
        except FrameError as exc:
            log.warning("dropped a bad command frame: %s", exc)
            return
        self.counters.commands += 1
        if self.on_live is not None:
            self.on_live(cmd.duration_s)
        self.wake()  # held records go now: a live viewer sees the current state at once

    def wake(self) -> int:
        """Ask for one more sending pass (held records may have come due); returns the request's number."""
        self._wake_gen += 1
        self._wake.set()
        return self._wake_gen

    def _frames(self, records: list[WireRecord]) -> list[tuple[list[WireRecord], bytes]]:
        """One frame, or several if the batch would pass the frame size limit (bodies are never re-encoded)."""
        try:
            # No device id in the frame: the topic is the identity (the broker's ACL ties it to the login)
            # and the id would cost its length + 1 bytes in every frame (docs/protocol.md).
            return [(records, encode_wire_batch(self.outbox.epoch, records, None))]
        except FrameError as exc:
            if exc.reason != "too_large" or len(records) == 1:
                raise
        half = len(records) // 2
        return self._frames(records[:half]) + self._frames(records[half:])


def _cancelled(exc: BaseException) -> bool:
    """Was this error raised while the task was being cancelled (CancelledError somewhere in its chain)?"""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, asyncio.CancelledError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _wait_any(events: tuple[asyncio.Event, ...], timeout: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
