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
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from collector.config import CollectorConfig
from collector.ingest.mqtt_session import MqttSession
from collector.metrics import Metrics
from collector.model import Clocks, RecordRow, seq_ranges
from collector.store import Store
from protocols import frames, topics

log = logging.getLogger("collector.ingest")

SLOW_QUEUE_MAX = 1000  # presence and look-up frames waiting for `run_slow`
RAW_FRAMES_MAX = 256  # encoded frames waiting for the decoder while the writer's queue is full
RAW_BYTES_MAX = 4 << 20  # and their bytes; reading pauses at either bound
DECODE_SLICE_S = 0.002  # the decoder yields to the event loop this often (HTTP answers in between)
STORE_RETRY_MAX_S = 5.0
GAUGE_REFRESH_S = 1.0  # how often `run_gauges` reads the store's figures (and so probes it)


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.clock_ms = clock_ms
        self.monotonic = monotonic
        self.started_ms = clock_ms()
        self.registry: frozenset[str] = frozenset()
        self._registry_at = 0.0
        self.clocks = Clocks()
        self._pending: list[RecordRow] = []
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._slow: deque[tuple[str, bytes, int]] = deque()
        self._raw: deque[tuple[str, bytes, int]] = deque()  # (device, encoded frame, received ms)
        self._raw_bytes = 0
        self._raw_wake = asyncio.Event()
        self._room = asyncio.Event()  # the writer took a batch: the decoder may go on
        self._slow_wake = asyncio.Event()
        self.queue_depth_max = 0  # highest queue depth seen (the bound's test reads it)
        # Told, in process, right after a commit that opened or closed alarms (the platform's
        # worker wakes on it, so a rescue case opens in the same second as the alarm's commit).
        self.alarm_listeners: list[Callable[[], None]] = []
        self._store_failing_since: float | None = None
        self._store_error = ""
        # health is judged from these (set by the writer and `run_gauges`), never by a query of its own
        self._probe_failing_since: float | None = None
        self._probe_error = ""
        self._store_call_since: dict[str, float] = {}  # "commit"/"probe" -> when the call started
        self._unknown_recent: dict[str, int] = {}
        self._unknown_said_at = -1e9
        self.session = MqttSession(
            config.broker,
            config.mqtt_client_id,
            topics.collector_filters(config.share_group),
            self.take,
            monotonic=monotonic,
            on_up=self._connected_up,
        )
        self.connected = self.session.connected
        metrics.live.update(
            {
                "collector_mqtt_connected": ("gauge", "1 while the broker session is up", self._connected_gauge),
                "collector_pending_records": ("gauge", "records received, not yet committed", self._depth_gauge),
                "collector_acks_queued": (
                    "gauge",
                    "acknowledgements waiting to go out (the session hands the broker a few at a time)",
                    lambda: float(self.session.out_queued()),
                ),
                "collector_acks_dropped_total": (
                    "counter",
                    "acknowledgements dropped from a full outgoing queue (the agents re-send)",
                    lambda: float(self.session.out_dropped),
                ),
                "collector_ingest_queue_bound": (
                    "gauge",
                    "queue bound (records): MQTT reading pauses when the queue reaches it",
                    lambda: float(config.queue_max_records),
                ),
            }
        )

    def _connected_gauge(self) -> float:
        return 1.0 if self.connected.is_set() else 0.0

    def _depth_gauge(self) -> float:
        return float(self.queue_depth())

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
        """Queue one uplink frame of a registered device, still encoded, for the decoder: the
        read callback stays cheap, and a frame waits as its bytes (about 9 per record), not as
        decoded rows (about 600 per record)."""
        self._raw.append((device_id, payload, received_ms))
        self._raw_bytes += len(payload)
        self._raw_wake.set()

    def _decode(self, device_id: str, payload: bytes, received_ms: int) -> None:
        """Check one uplink frame and queue its records for the writer."""
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

    def take(self, topic: str, payload: bytes) -> None:
        """Called by the MQTT session as each message arrives (on the event loop thread): an uplink
        frame of a registered device is checked and queued at once; anything else (presence, unknown
        device, bad topic) goes to a small queue handled by `run_slow`, in the order it arrived.
        When either queue reaches its bound the session stops reading (back-pressure)."""
        device_id, _, channel = topic[len(topics.PREFIX) + 1 :].partition("/")
        if channel == "up" and device_id in self.registry and topic.startswith(topics.PREFIX + "/"):
            self._uplink(device_id, payload, self.clock_ms())
        else:
            self._slow.append((topic, payload, self.clock_ms()))
            self._slow_wake.set()
        self._check_bound()

    def _connected_up(self) -> None:
        self.metrics.mqtt_connects += 1

    def queue_depth(self) -> int:
        """Records waiting for the store, plus frames waiting for the decoder or the slow path
        (a waiting frame holds at least one record)."""
        return len(self._pending) + len(self._raw) + len(self._slow)

    def _check_bound(self) -> None:
        """Pause reading when the records and frames waiting reach `queue_max_records`, the
        encoded frames `RAW_FRAMES_MAX` or `RAW_BYTES_MAX`, or the slow path its bound; resume
        when all are below half. Frames are bounded apart from records because one frame may
        hold a hundred (counted as one, 20,000 waiting frames were two million records and
        reading stayed paused for minutes)."""
        session = self.session
        bound = self.config.queue_max_records
        raw = len(self._raw)
        waiting = len(self._pending) + raw
        depth = waiting + len(self._slow)
        if depth > self.queue_depth_max:
            self.queue_depth_max = depth
        full = (
            waiting >= bound
            or raw >= RAW_FRAMES_MAX
            or self._raw_bytes >= RAW_BYTES_MAX
            or len(self._slow) >= SLOW_QUEUE_MAX
        )
        if full and not session.paused:
            session.pause()
            self.metrics.backpressure_pauses += 1
        elif (
            session.paused
            and not full
            and waiting <= bound // 2
            and raw <= RAW_FRAMES_MAX // 2
            and self._raw_bytes <= RAW_BYTES_MAX // 2
        ):
            session.resume()

    def health(self) -> tuple[bool, str]:
        """(ok, reason) for /healthz: unhealthy after `health_grace_s` without the broker or with a
        failing store. Read from state the writer and `run_gauges` keep, so it answers at once even
        while the store is slow or wedged (a store call outstanding for the grace is a failure)."""
        grace = self.config.health_grace_s
        now = self.monotonic()
        if self._store_failing_since is not None and now - self._store_failing_since >= grace:
            return False, f"store failing for {now - self._store_failing_since:.0f} s: {self._store_error}"
        if self._probe_failing_since is not None and now - self._probe_failing_since >= grace:
            return False, f"store failing for {now - self._probe_failing_since:.0f} s: {self._probe_error}"
        for what, since in list(self._store_call_since.items()):
            if now - since >= grace:
                return False, f"store has not answered a {what} for {now - since:.0f} s"
        session = self.session
        if session is not None and session.down_for_s() >= grace:
            return False, f"no broker for {session.down_for_s():.0f} s: {session.down_reason}"
        return True, "ok"

    def _unregistered(self, device_id: str) -> None:
        """Count a frame from a device not in the registry; say so at most once a minute."""
        self.metrics.frames_in += 1
        self.metrics.reject("unregistered")
        now = self.monotonic()
        self._unknown_recent[device_id] = self._unknown_recent.get(device_id, 0) + 1
        if now - self._unknown_said_at < 60.0:
            return
        if len(self._unknown_recent) > 1000:
            self._unknown_recent = dict(list(self._unknown_recent.items())[:1000])
        names = sorted(self._unknown_recent.items(), key=lambda kv: -kv[1])[:5]
        more = len(self._unknown_recent) - len(names)
        log.warning(
            "frames from unregistered device%s %s%s in the last minute: is another collector in group %r "
            "taking frames meant for its own store, or is a device not yet added (elev-collector devices add)?",
            "s" if len(self._unknown_recent) > 1 else "",
            ", ".join(f"{d} ({n})" for d, n in names),
            f" and {more} more" if more > 0 else "",
            self.config.share_group,
        )
        self._unknown_said_at = now
        self._unknown_recent = {}

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
                self._unregistered(device_id)
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
        """Connect, subscribe, read; reconnect with jittered backoff for as long as the daemon runs.
        The decoder runs alongside (it belongs to reading: nothing else feeds it)."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._run_decoder(), name="ingest-decoder")
            tg.create_task(self.session.run(), name="mqtt-session")

    async def _run_decoder(self) -> None:
        """Decode waiting frames into rows for the writer, in arrival order, while the writer's
        queue has room; yield to the loop every `DECODE_SLICE_S`, so a flood of large frames
        never holds /metrics or /healthz for more than a slice."""
        bound = self.config.queue_max_records
        raw = self._raw
        while True:
            await self._raw_wake.wait()
            t0 = time.perf_counter()
            while raw and len(self._pending) < bound:
                device_id, payload, received_ms = raw.popleft()
                self._raw_bytes -= len(payload)
                self._decode(device_id, payload, received_ms)
                if time.perf_counter() - t0 >= DECODE_SLICE_S:
                    self._check_bound()
                    await asyncio.sleep(0)
                    t0 = time.perf_counter()
            self._check_bound()
            if not raw:
                self._raw_wake.clear()
            else:  # the writer's queue is full: wait until it takes a batch
                self._room.clear()
                await self._room.wait()

    async def run_slow(self) -> None:
        """Presence frames and frames that need a registry look-up, in arrival order."""
        while True:
            await self._slow_wake.wait()
            while self._slow:
                topic, payload, _received_ms = self._slow.popleft()
                await self.on_message(topic, payload)
                self._check_bound()
            self._slow_wake.clear()

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
            self._room.set()
            if len(self._pending) < cfg.batch_max_records:
                self._full.clear()
            if not self._pending:
                self._wake.clear()
            self._check_bound()
            if batch:
                await self._commit_until_done(batch)

    async def _commit_until_done(self, batch: list[RecordRow]) -> None:
        """Commit, retrying a failing store with backoff; the records are not acknowledged until
        then and the bounded queue makes the broker hold everything else meanwhile."""
        delay_s = 0.2
        while True:
            try:
                await self._commit(batch)
            except Exception as exc:  # noqa: BLE001 - a failing store is reported, not fatal
                reason = f"{type(exc).__name__}: {exc}"
                if self._store_failing_since is None:
                    self._store_failing_since = self.monotonic()
                    log.warning("store commit failed (%s); retrying, nothing is acknowledged meanwhile", reason)
                self._store_error = reason
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, STORE_RETRY_MAX_S)
                continue
            if self._store_failing_since is not None:
                log.warning("store commits again after %.0f s", self.monotonic() - self._store_failing_since)
                self._store_failing_since = None
            return

    async def _commit(self, batch: list[RecordRow]) -> None:
        t0 = time.perf_counter()
        self._store_call_since["commit"] = self.monotonic()
        try:
            res = await self.store.commit(batch)
        finally:
            del self._store_call_since["commit"]
        m = self.metrics
        m.store_latency_s.observe(time.perf_counter() - t0)
        m.batches += 1
        m.records_stored += res.new
        m.duplicates += res.duplicates
        m.out_of_order += res.out_of_order
        m.alarms_raised += res.alarms_raised
        m.alarms_cleared += res.alarms_cleared
        m.orphan_clears += res.orphan_clears
        if res.alarms_raised or res.alarms_cleared:
            self._tell_alarm_listeners()
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
        """Publish the acknowledgements (QoS 1) without waiting for each PUBACK: paho queues and
        retries them itself. A lost ack is harmless: the agent re-sends and gets the duplicate
        acknowledged."""
        failed = 0
        for dev, ack in acks:
            if not self.session.publish(topics.ack_topic(dev), frames.encode_ack(ack)):
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
            if raised:
                self._tell_alarm_listeners()

    def _tell_alarm_listeners(self) -> None:
        for listener in self.alarm_listeners:
            listener()

    async def run_gauges(self) -> None:
        """Read the store's figures for /metrics every `GAUGE_REFRESH_S`; each read is also the
        store probe /healthz judges by, so neither handler ever queries the store itself."""
        while True:
            self._store_call_since["probe"] = self.monotonic()
            try:
                self.metrics.store_gauges = await self.store.stats()
            except Exception as exc:  # noqa: BLE001 - a failing store is reported by /healthz, not fatal
                if self._probe_failing_since is None:
                    self._probe_failing_since = self.monotonic()
                self._probe_error = f"{type(exc).__name__}: {exc}"
            else:
                self._probe_failing_since = None
            finally:
                del self._store_call_since["probe"]
            await asyncio.sleep(GAUGE_REFRESH_S)

    async def run_registry(self) -> None:
        """Pick up devices added or removed while the daemon runs."""
        while True:
            await self.refresh_registry()
            await asyncio.sleep(self.config.registry_refresh_s)
