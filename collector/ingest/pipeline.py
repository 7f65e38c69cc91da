"""MQTT ingest: shared subscription in, checks, batched durable commits, acknowledgements out.

    broker --(shared sub, QoS 1, persistent session)--> on_message: decode, identity checks
        --> pending rows --(every few ms or N records)--> store.commit (one transaction)
        --> AckFrame per (device, epoch) to elev/v1/{device}/ack, QoS 1

A frame is acknowledged only after the transaction that stored it has committed, and a duplicate
(a record already stored) is acknowledged again, so an agent that re-sends after a lost
acknowledgement gets its answer. The broker's own PUBACK to the collector says nothing about the
record: if this process dies between PUBACK and commit, the agent's outbox still holds the record
and re-sends it, which is why nothing is lost and the store's key makes sure nothing is doubled.

A refused frame is counted by reason in the metrics and dropped; it never stops the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from collector.config import CollectorConfig
from collector.metrics import Metrics
from collector.model import Clocks, RecordRow, seq_ranges
from collector.store import Store
from protocols import frames, topics

log = logging.getLogger("collector.ingest")


class Rejected(Exception):
    """A frame refused at the door; `reason` is the metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Accepted:
    device_id: str
    rows: list[RecordRow]


class Ingest:
    """The ingest pipeline of one collector process. Run its `run_*` coroutines as tasks."""

    def __init__(
        self,
        config: CollectorConfig,
        store: Store,
        metrics: Metrics,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.clock_ms = clock_ms
        self.started_ms = clock_ms()
        self.registry: frozenset[str] = frozenset()
        self._registry_at = 0.0
        self.clocks = Clocks()
        self._pending: list[RecordRow] = []
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    # --- checks (pure apart from the registry snapshot) ------------------------------------
    def check_uplink(self, device_id: str, payload: bytes, received_ms: int) -> Accepted:
        if device_id not in self.registry:
            raise Rejected("unregistered")
        try:
            frame = frames.decode_uplink(payload)
        except frames.FrameError as exc:
            raise Rejected(f"frame_{exc.reason}") from None
        except Exception as exc:  # noqa: BLE001 - a hostile frame must never stop the daemon
            log.error("decoder raised %s on a frame from %s (a decoder bug): refused", type(exc).__name__, device_id)
            raise Rejected("decoder_error") from None
        if frame.device_id is not None and frame.device_id != device_id:
            raise Rejected("device_mismatch")
        return Accepted(device_id, self.clocks.rows(device_id, frame, received_ms))

    async def refresh_registry(self) -> None:
        self.registry = await self.store.device_ids()
        self._registry_at = time.monotonic()

    async def _known(self, device_id: str) -> bool:
        """Registry look-up; a miss refreshes from the store at most once a second (new devices)."""
        if device_id in self.registry:
            return True
        if time.monotonic() - self._registry_at > 1.0:
            await self.refresh_registry()
        return device_id in self.registry

    def _uplink(self, device_id: str, payload: bytes, received_ms: int) -> None:
        """Check one uplink frame of a registered device and queue its records for the writer."""
        self.metrics.frames_in += 1
        try:
            accepted = self.check_uplink(device_id, payload, received_ms)
        except Rejected as exc:
            self.metrics.reject(exc.reason)
            return
        self.metrics.records_in += len(accepted.rows)
        self._pending.extend(accepted.rows)
        self._wake.set()
        if len(self._pending) >= self.config.batch_max_records:
            self._full.set()

    def take(self, message: aiomqtt.Message) -> bool:
        """Fast path, called as each message arrives: an uplink frame of a registered device is
        checked and queued at once; anything else (presence, unknown device, bad topic) returns
        False and goes through `on_message` in the order it arrived."""
        topic = message.topic.value
        device_id, _, channel = topic[len(topics.PREFIX) + 1 :].partition("/")
        if channel != "up" or device_id not in self.registry or not topic.startswith(topics.PREFIX + "/"):
            return False
        payload = message.payload
        self._uplink(device_id, payload if isinstance(payload, bytes) else b"", self.clock_ms())
        return True

    def inbox_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        """aiomqtt's `queue_type`: a queue that hands uplink frames to `take` as they arrive.

        aiomqtt puts every message into its queue from paho's callback and its iterator then costs
        a task and a wait per message (about a third of a bare client's time, measured in
        bench/collector_ingest.py); frames taken here skip that, the rest are queued as usual."""
        ingest = self

        class Inbox(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                if not ingest.take(item):
                    super().put_nowait(item)

        return Inbox

    async def on_message(self, topic: str, payload: bytes) -> None:
        received_ms = self.clock_ms()
        try:
            device_id, channel = topics.parse_topic(topic)
        except topics.TopicError:
            self.metrics.frames_in += 1
            self.metrics.reject("topic")
            return
        if channel == "up":
            if not await self._known(device_id):
                self.metrics.frames_in += 1
                self.metrics.reject("unregistered")
                return
            self._uplink(device_id, payload, received_ms)
        elif channel == "presence":
            await self._on_presence(device_id, payload, received_ms)

    async def _on_presence(self, device_id: str, payload: bytes, received_ms: int) -> None:
        if not await self._known(device_id):
            self.metrics.reject("presence_unregistered")
            return
        try:
            p = frames.decode_presence(payload)
        except frames.FrameError as exc:
            self.metrics.reject(f"presence_{exc.reason}")
            return
        await self.store.presence(device_id, p.online, received_ms)
        self.metrics.presence_in += 1

    # --- tasks -----------------------------------------------------------------------------
    async def run_mqtt(self) -> None:
        """Connect, subscribe, read; reconnect with jittered backoff for as long as the daemon runs."""
        cfg = self.config
        addr = cfg.broker
        backoff_s = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    addr.host,
                    addr.port,
                    username=addr.username,
                    password=addr.password,
                    identifier=cfg.mqtt_client_id,
                    clean_session=False,
                    keepalive=30,
                    tls_context=ssl.create_default_context() if addr.tls else None,
                    max_inflight_messages=1000,
                    max_concurrent_outgoing_calls=200,  # aiomqtt scans all pending calls per call
                    queue_type=self.inbox_type(),
                ) as client:
                    client.pending_calls_threshold = 1_000_000
                    await client.subscribe([(f, 1) for f in topics.collector_filters(cfg.share_group)])
                    self._client = client
                    self.connected.set()
                    self.metrics.mqtt_connects += 1
                    log.info("connected to %s:%d as %s", addr.host, addr.port, cfg.mqtt_client_id)
                    backoff_s = 0.5
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = b""
                        await self.on_message(message.topic.value, bytes(payload))
            except aiomqtt.MqttError as exc:
                if self.connected.is_set():
                    log.warning("broker connection lost: %s; reconnecting", exc)
                else:
                    log.debug("broker not reachable: %s", exc)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(backoff_s * random.uniform(0.5, 1.0))
            backoff_s = min(backoff_s * 2, 10.0)

    async def run_writer(self) -> None:
        """Collect records for a few ms (or until N), commit them in one transaction, then ack."""
        cfg = self.config
        while True:
            await self._wake.wait()
            if len(self._pending) < cfg.batch_max_records:
                try:
                    async with asyncio.timeout(cfg.batch_window_ms / 1000):
                        await self._full.wait()
                except TimeoutError:
                    pass
            batch = self._pending[: cfg.batch_max_records]
            del self._pending[: cfg.batch_max_records]
            if len(self._pending) < cfg.batch_max_records:
                self._full.clear()
            if not self._pending:
                self._wake.clear()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[RecordRow]) -> None:
        t0 = time.perf_counter()
        res = await self.store.commit(batch)
        m = self.metrics
        m.store_latency_s.observe(time.perf_counter() - t0)
        m.batches += 1
        m.records_stored += res.new
        m.duplicates += res.duplicates
        m.out_of_order += res.out_of_order
        m.alarms_raised += res.alarms_raised
        m.alarms_cleared += res.alarms_cleared
        m.orphan_clears += res.orphan_clears
        now_ms = self.clock_ms()
        for r in batch:
            if r.clock_synced:
                lag_s = max(0.0, (now_ms - r.time_ms) / 1000)
                m.ingest_lag_s.observe(lag_s)
                m.lag_samples_s.append(lag_s)
                m.last_lag_s = lag_s
        acks = [(dev, frames.AckFrame(epoch, seq_ranges(seqs))) for (dev, epoch), seqs in res.stored.items()]
        await self._send_acks(acks)

    async def _send_acks(self, acks: list[tuple[str, frames.AckFrame]]) -> None:
        """Publish the acknowledgements (QoS 1) without waiting for each PUBACK.

        aiomqtt's `publish` awaits every PUBACK with a timer task of its own, which at one ack per
        frame costs more than storing the frame; paho (which aiomqtt drives on this same event loop
        thread) queues and retries QoS 1 messages itself, so the acks go through it directly. A lost
        ack is harmless: the agent re-sends and gets the duplicate acknowledged.
        """
        client = self._client
        if client is None:
            log.debug("not connected: %d acknowledgements not sent (agents will re-send)", len(acks))
            return
        paho = client._client  # noqa: SLF001 - see docstring
        failed = 0
        for dev, ack in acks:
            info = paho.publish(topics.ack_topic(dev), frames.encode_ack(ack), qos=1)
            if info.rc != 0:
                failed += 1
        self.metrics.acks_sent += len(acks) - failed
        if failed:
            log.debug("%d acknowledgements not sent (agents will re-send)", failed)

    async def run_presence(self) -> None:
        """Raise `device_offline` for devices silent longer than `offline_after_s`."""
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.presence_check_s)
            raised = await self.store.raise_offline(self.clock_ms(), int(cfg.offline_after_s * 1000), self.started_ms)
            for device_id in raised:
                log.warning("%s silent for %.0f s: device_offline raised", device_id, cfg.offline_after_s)
            self.metrics.alarms_raised += len(raised)

    async def run_registry(self) -> None:
        """Pick up devices added or removed while the daemon runs."""
        while True:
            await self.refresh_registry()
            await asyncio.sleep(self.config.registry_refresh_s)
