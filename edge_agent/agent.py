"""The daemon: poll -> fuse -> detect -> outbox -> uplink, as one asyncio.TaskGroup.

Tasks (named, so a crash report says which one died; if any dies the daemon exits and systemd
restarts it - a half-alive agent that no longer detects is worse than a restart):

    poll        every poll_period_ms: read the controller block, sample the GPIO lines, fuse,
                step the detector, events at once, between them what the reporting policy
                (edge_agent.report.policy) makes of the snapshot; raises and clears
                comms_lost; a heartbeat when nothing else was sent for heartbeat_s
    outbox      commits buffered status every status_flush_s (events commit themselves)
    uplink      edge_agent.uplink: MQTT connection, drain, acks
    gpio-sim    only with --gpio-sim: drives the mock pins from the simulator's stream
    status      rewrites DATA_DIR/status.json for `elev-agent status`, checks clock sync
    watchdog    systemd READY=1 once running, WATCHDOG=1 only while every loop is alive

Time: the detector and the records run on the monotonic clock (ms since boot), which a gateway
without a real-time clock always has. The wall clock is recorded next to it, marked synchronized
only once the kernel says NTP has set it, so the collector can correct early records.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.config import OUTBOX_FILE, STATUS_FILE, AgentConfig, detector_config
from edge_agent.fusion import FusionError, degraded, fuse
from edge_agent.hw import DigitalInputs, RegisterBus, cancellation_point
from edge_agent.hw.device import DeviceReader
from edge_agent.outbox import Outbox
from edge_agent.report.policy import Reporter
from edge_agent.report.tails import TailPolicy
from edge_agent.trend.live import LiveTrend
from edge_agent.uplink import Uplink
from protocols.events import ADVISORY_TYPES, Action, Event
from protocols.frames import DoorCycle, Heartbeat, RecordKind, Trip
from protocols.registers import NICE3000_MONITOR
from protocols.signals import SignalSnapshot

log = logging.getLogger(__name__)


def mono_ms() -> int:
    return int(time.monotonic() * 1000)


class ClockSync:
    """Is the wall clock synchronized? Config can force it; otherwise, in order: the flag file
    systemd-timesyncd keeps, the kernel (adjtimex, read-only), `timedatectl` (when a sandbox such
    as systemd's ProtectClock= forbids adjtimex)."""

    TIME_ERROR = 5
    TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")

    def __init__(self, mode: str = "auto") -> None:
        self.mode = mode
        self.synced = mode == "yes"
        self._libc: Any = None
        if mode == "auto":
            try:
                self._libc = ctypes.CDLL("libc.so.6", use_errno=True)  # glibc (Raspberry Pi OS, Debian)
            except OSError:
                name = ctypes.util.find_library("c")  # runs ldconfig: only when the usual name fails
                self._libc = ctypes.CDLL(name, use_errno=True) if name else None

    def _adjtimex(self) -> bool | None:
        if self._libc is None:
            return None
        buf = ctypes.create_string_buffer(512)  # struct timex (208 bytes on 64-bit); modes = 0: read only
        rc = self._libc.adjtimex(buf)
        if rc < 0:
            return None  # e.g. seccomp (systemd ProtectClock=)
        return bool(rc != self.TIME_ERROR)

    async def refresh(self) -> bool:
        if self.mode != "auto":
            return self.synced
        state = True if self.TIMESYNCD_FLAG.exists() else self._adjtimex()
        if state is None:
            state = await self._timedatectl()
        if state != self.synced:
            log.info("wall clock %s", "synchronized" if state else "NOT synchronized (records marked so)")
        self.synced = bool(state)
        return self.synced

    @staticmethod
    async def _timedatectl() -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                "timedatectl",
                "show",
                "-p",
                "NTPSynchronized",
                "--value",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 5)
        except (OSError, TimeoutError):
            return False
        return out.strip() == b"yes"

    def wall(self) -> tuple[int, bool]:
        return int(time.time() * 1000), self.synced


class SystemdNotifier:
    """sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET (abstract if it starts with @)."""

    def __init__(self) -> None:
        addr = os.environ.get("NOTIFY_SOCKET", "")
        self.addr = "\0" + addr[1:] if addr.startswith("@") else addr
        usec = os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() else None

    def notify(self, state: str) -> None:
        if not self.addr:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                # Never block the event loop: a reader that stopped reading gets its datagram dropped.
                s.setblocking(False)
                s.sendto(state.encode(), self.addr)
        except OSError as exc:
            log.debug("sd_notify %s failed: %s", state, exc)


@dataclass(slots=True)
class AgentCounters:
    polls: int = 0
    polls_failed: int = 0
    implausible: int = 0  # complete answers with words the controller cannot mean (dropped)
    status_records: int = 0
    events: int = 0
    heartbeats: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Health:
    """Last sign of life of each loop, and how long it may stay silent before the watchdog stops."""

    beats: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)

    def beat(self, name: str, limit_s: float | None = None) -> None:
        self.beats[name] = time.monotonic()
        if limit_s is not None:
            self.limits[name] = limit_s

    def stale(self) -> list[str]:
        now = time.monotonic()
        return [n for n, t in self.beats.items() if now - t > self.limits.get(n, 20.0)]


class Agent:
    def __init__(
        self,
        cfg: AgentConfig,
        bus: RegisterBus,
        inputs: DigitalInputs,
        outbox: Outbox,
        *,
        gpio_feed: Any = None,
        clock: ClockSync | None = None,
        now_ms: Callable[[], int] = mono_ms,
    ) -> None:
        self.cfg = cfg
        self.bus = bus
        self.inputs = inputs
        self.outbox = outbox
        self.gpio_feed = gpio_feed
        self.clock = clock or ClockSync(cfg.timing.clock_synced)
        self.now_ms = now_ms
        self.reader = DeviceReader(bus, NICE3000_MONITOR, cfg.modbus.unit_id, cfg.modbus.backoff_max_s)
        self.uplink = Uplink(
            cfg, outbox, self.clock.wall, now_ms=now_ms, hold_s=self._summary_hold_s, on_live=self.live_view
        )
        self.detector_cfg = detector_config(cfg)
        self.detector: Any = None
        self.counters = AgentCounters()
        self.health = Health()
        self.notifier = SystemdNotifier()
        self.started_ms = now_ms()
        self.comms_lost = False
        self.last_ok_ms: int | None = None
        self.last_snap: SignalSnapshot | None = None
        self.reporter = Reporter(cfg.report)
        self.tails = TailPolicy(cfg.report.stats_every_s)
        self.trend = LiveTrend(cfg.trend, cfg.data_dir)  # advisories (docs/trend-watch.md), never alarms
        # What the detector was last fed from a complete poll: GPIO edges between two polls are
        # replayed against these registers (see _edge_snapshots).
        self._fed: tuple[int, dict[str, int], dict[str, bool]] | None = None
        self.last_heartbeat_ms = self.started_ms
        self.first_poll_done = asyncio.Event()
        self._gpio_wait_logged = False
        self._status_path: Path | None = None
        self._to_restore: dict[str, int | None] | None = None  # the outbox's active set, until restored
        self._comms_lost_restored = False
        if cfg.elevator.rated_speed_mm_s > 0:
            self._ensure_detector({})

    def live_view(self, duration_s: float) -> None:
        """The collector asked for the live view: full-rate status until it ends by itself."""
        was = self.reporter.is_live(self.now_ms())
        end = self.reporter.live(self.now_ms(), duration_s)
        if not was:
            log.info("live view on for %.0f s (full-rate status)", (end - self.now_ms()) / 1000)

    def _summary_hold_s(self) -> float:
        """How long trip and door-cycle records may wait for a frame to share: not at all in live view."""
        return 0.0 if self.reporter.is_live(self.now_ms()) else self.cfg.uplink.summary_hold_s

    # --- the loops ------------------------------------------------------------------------------

    async def run(self) -> None:
        # A loop silent for watchdog_stale_s stops the pings; systemd's WatchdogSec then restarts us.
        stale_s = self.cfg.timing.watchdog_stale_s
        self.health.beat("poll", max(stale_s, self.cfg.modbus.timeout_s * (self.cfg.modbus.retries + 1) * 8))
        self.health.beat("outbox", stale_s)
        self.health.beat("uplink", self.cfg.uplink.reconnect_max_s + 30.0)
        await self.clock.refresh()
        await self.restore_active()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._poll_loop(), name="poll")
                tg.create_task(self._outbox_loop(), name="outbox")
                tg.create_task(self.uplink.run(), name="uplink")
                if self.gpio_feed is not None:
                    tg.create_task(self.gpio_feed.run(), name="gpio-sim")
                tg.create_task(self._status_loop(), name="status")
                tg.create_task(self._watchdog_loop(), name="watchdog")
        finally:
            self.notifier.notify("STOPPING=1")

    async def shutdown(self) -> None:
        """After the task group is cancelled: commit what is buffered and say goodbye."""
        await self.outbox.flush()
        await self.uplink.close()
        self.write_status()

    async def restore_active(self) -> None:
        """Continue the alarms the previous run raised and did not clear (after a kill -9 or a crash).

        The outbox commits its active set with each event, so it is exactly what the collector was
        told. Restored into the detector (and comms_lost here), a condition that still holds is not
        raised again, and one that ended gets its clear, marked `after_restart`.
        """
        active = await self.outbox.active_events()
        if not active:
            return
        log.warning(
            "restart with %d alarm(s) still raised: %s; continuing them",
            len(active),
            ", ".join(f"{a.type} (seq {a.seq})" for a in active.values()),
        )
        if "comms_lost" in active:
            self.comms_lost = self._comms_lost_restored = True
        # Advisories are the trend watch's, which kept its own state: one it no longer holds raised
        # (its state file was lost) is cleared, or it would stay raised at the collector for good.
        for t in sorted(set(active) & ADVISORY_TYPES - self.trend.raised_events()):
            now = self.now_ms()
            await self.emit(Event(now, t, Action.CLEAR, after_restart=True), now)
        skip = {"comms_lost"} | ADVISORY_TYPES
        self._to_restore = {t: a.fault_code for t, a in active.items() if t not in skip}
        if self.detector is not None:
            self._restore_detector()

    def _restore_detector(self) -> None:
        if self._to_restore is None:
            return
        known = self.detector.restorable()
        unknown = sorted(set(self._to_restore) - known)
        if unknown:
            log.error("active event(s) %s are not the detector's: not restored", ", ".join(unknown))
        self.detector.restore({t: c for t, c in self._to_restore.items() if t in known}, self.now_ms())
        self._to_restore = None

    async def _poll_loop(self) -> None:
        period_s = self.cfg.timing.poll_period_ms / 1000
        next_t = time.monotonic()
        while True:
            cancellation_point()
            await self.poll_once()
            self.health.beat("poll")
            self.first_poll_done.set()
            next_t += period_s
            delay = next_t - time.monotonic()
            if delay < -period_s:  # fell behind (a slow bus): skip ticks rather than burst
                next_t = time.monotonic()
                delay = 0
            await asyncio.sleep(max(delay, 0))

    async def _outbox_loop(self) -> None:
        while True:
            cancellation_point()
            if self.outbox.flush_due:
                await self.outbox.flush()
            self.health.beat("outbox")
            await asyncio.sleep(0.25)

    async def _status_loop(self) -> None:
        n = 0
        while True:
            cancellation_point()
            self.write_status(await self.outbox.stats())
            if n % 6 == 0:
                await self.clock.refresh()
            n += 1
            await asyncio.sleep(self.cfg.timing.status_file_s)

    async def _watchdog_loop(self) -> None:
        await self.first_poll_done.wait()
        self.notifier.notify("READY=1")
        log.info("agent %s running (epoch %08x)", self.cfg.device_id, self.outbox.epoch)
        interval = min(self.notifier.watchdog_s / 2, 5.0) if self.notifier.watchdog_s else 5.0
        stalled: list[str] = []
        while True:
            cancellation_point()
            if self._uplink_alive():
                self.health.beat("uplink")
            stale = self.health.stale()
            if stale and stale != stalled:
                log.error("loop(s) %s stalled: withholding the watchdog ping", ", ".join(stale))
            stalled = stale
            if not stale:
                self.notifier.notify(
                    f"WATCHDOG=1\nSTATUS=controller {'LOST' if self.comms_lost else 'ok'}, "
                    f"broker {'online' if self.uplink.online else 'offline'}"
                )
            await asyncio.sleep(interval)

    def _uplink_alive(self) -> bool:
        return time.monotonic() - self.uplink.last_activity < self.cfg.uplink.reconnect_max_s + 20.0

    # --- one poll -------------------------------------------------------------------------------

    async def poll_once(self) -> None:
        answers_before = self.reader.last_answer
        regs = await self.reader.read()
        answered = self.reader.last_answer != answers_before  # any valid Modbus answer, even a partial cycle
        t = self.now_ms()
        self.counters.polls += 1
        gpio_ready = self.inputs.ready
        levels = self.inputs.levels() if gpio_ready else {}
        drain = getattr(self.inputs, "edges", None)
        edges: list[tuple[int, str, bool]] = drain() if drain is not None and gpio_ready else []
        snap: SignalSnapshot | None = None
        if regs is not None:
            try:
                snap = fuse(t, regs, levels, self.cfg.elevator.lowest_floor)
            except FusionError as exc:
                self.counters.implausible += 1
                log.debug("dropped a poll: %s", exc)
            else:
                self._ensure_detector(regs)
        fresh = snap is not None
        events: list[Event] = []
        if not fresh:
            self.counters.polls_failed += 1
        if answered:
            # comms_lost is about silence: a noisy line that still answers is not a lost controller.
            self.last_ok_ms = t
            if self.comms_lost:
                self.comms_lost = False
                events.append(Event(t, "comms_lost", Action.CLEAR, after_restart=self._comms_lost_restored))
                self._comms_lost_restored = False
                log.warning("controller answering again: comms_lost cleared")
        else:
            since = self.last_ok_ms if self.last_ok_ms is not None else self.started_ms
            if not self.comms_lost and t - since >= self.cfg.timing.comms_lost_after_s * 1000:
                self.comms_lost = True
                events.append(Event(t, "comms_lost", Action.RAISE))
                silent_s = (t - since) / 1000
                log.warning("controller silent for %.1f s: comms_lost raised (%s)", silent_s, self.reader.last_error)
        if not fresh and self.comms_lost and self.detector is not None:
            snap = degraded(t, self.last_snap, levels, self.cfg.elevator.lowest_floor)
        if not gpio_ready:
            # Without the sensor levels a snapshot would be half invented: detect nothing yet.
            if not self._gpio_wait_logged and t - self.started_ms > 5000:
                log.warning("no GPIO levels yet (simulator stream not connected?): not detecting")
                self._gpio_wait_logged = True
            snap = None
        if snap is not None and self.detector is not None:
            if fresh and regs is not None:
                for between in self._edge_snapshots(edges, t):
                    events += self.detector.step(between)
                self._fed = (t, dict(regs), dict(levels))
            else:
                self._fed = None
            events = events + list(self.detector.step(snap))
            events.sort(key=lambda e: e.t_ms)
            if fresh:
                self.last_snap = snap
            reported = self.reporter.step(snap)
            for kind, body in reported:
                wall, synced = self.clock.wall()
                wire = self.tails.wire(body, t, self.reporter.full_rate(t))
                self.outbox.put_status(kind, t, wall, synced, wire)
                self.counters.status_records += 1
                self.last_heartbeat_ms = t  # a heartbeat only when nothing else was sent for its period
                if isinstance(body, Trip | DoorCycle):
                    events += self.trend.step(body, wall, t)
            if reported and self.reporter.is_live(t):
                # Live view: a viewer waits for this change; commit now, not after status_flush_s (the
                # extra commits last only as long as the view).
                await self.outbox.flush()
        events += self.trend.step(None, self.clock.wall()[0], t)  # a day ends even without a run
        if self.trend.dirty:
            await asyncio.to_thread(self.trend.save)
        for ev in events:
            await self.emit(ev, t)
        if t - self.last_heartbeat_ms >= self.cfg.timing.heartbeat_s * 1000:
            self.last_heartbeat_ms = t
            await self.heartbeat(t)

    def _edge_snapshots(self, edges: list[tuple[int, str, bool]], t: int) -> list[SignalSnapshot]:
        """Snapshots at each GPIO edge since the last poll, with the last poll's registers.

        Sampling the sensor lines only at each poll would stretch a 20 ms contact bounce to a whole
        poll period (100 ms), which the contract counts as a real change: a false alarm. Fed at
        their own moments, bounces keep their length and the detector's debounce drops them.
        """
        if not edges or self._fed is None:
            return []
        fed_t, regs, levels = self._fed
        lv = dict(levels)
        out = []
        for t_edge, name, level in edges:
            lv[name] = level
            try:
                out.append(fuse(min(max(t_edge, fed_t), t), regs, lv, self.cfg.elevator.lowest_floor))
            except FusionError:
                return []
        return out

    def _ensure_detector(self, regs: dict[str, int]) -> None:
        """Start the detector; the rated speed comes from the config or, if unset, from the controller.

        With `[elevator] rated_speed_mm_s` set it starts at once, so a controller that is dead from
        boot (a power cut) still leaves detection on the gateway's own sensors running.
        """
        if self.detector is not None:
            return
        from edge_agent.detect import Detector, ElevatorLimits

        e = self.cfg.elevator
        rated = e.rated_speed_mm_s or regs.get("rated_speed_mm_s", 0)
        if rated <= 0:
            rated = 1000
            log.warning("controller reports no rated speed and [elevator] rated_speed_mm_s is not set: using 1000")
        self.detector = Detector(ElevatorLimits(rated, e.lowest_floor, e.highest_floor), self.detector_cfg)
        log.info("detector started: floors %d..%d, rated speed %d mm/s", e.lowest_floor, e.highest_floor, rated)
        self._restore_detector()

    async def emit(self, ev: Event, now: int) -> None:
        wall, synced = self.clock.wall()
        wall -= now - ev.t_ms  # the event's own moment, on the wall clock
        seq = await self.outbox.put_event(ev.t_ms, wall, synced, ev)
        self.counters.events += 1
        log.info("event %s %s (seq %d)", ev.type, ev.action.value, seq)

    async def heartbeat(self, t: int) -> None:
        st = await self.outbox.stats()
        wall, synced = self.clock.wall()
        hb = Heartbeat((t - self.started_ms) // 1000, st.depth + st.buffered, not self.comms_lost)
        self.outbox.put_status(RecordKind.HEARTBEAT, t, wall, synced, hb)
        self.counters.heartbeats += 1

    # --- status file ----------------------------------------------------------------------------

    def status_dict(self, outbox_stats: Any = None) -> dict[str, object]:
        up = self.uplink
        now = time.monotonic()
        return {
            "device_id": self.cfg.device_id,
            "pid": os.getpid(),
            "updated_wall_ms": int(time.time() * 1000),
            "uptime_s": (self.now_ms() - self.started_ms) // 1000,
            "clock_synced": self.clock.synced,
            "link": {
                "online": up.online,
                "since_s": round(now - up.state_since, 1),
                "broker": f"{self.cfg.broker.host}:{self.cfg.broker.port}",
                "last_error": up.last_error,
                "counters": up.counters.as_dict(),
            },
            "controller": {
                "answering": self.reader.online,
                "comms_lost": self.comms_lost,
                "last_error": self.reader.last_error,
                "counters": self.bus.counters.as_dict(),
            },
            "gpio": {"ready": self.inputs.ready, "levels": dict(self.inputs.levels())},
            "agent": self.counters.as_dict(),
            "active_events": sorted(self.detector.active) if self.detector is not None else [],
            "outbox": outbox_stats.as_dict() if outbox_stats is not None else None,
        }

    def status_path(self) -> Path:
        """Where the status file lives: in RAM when systemd gives a RuntimeDirectory, to spare the SD card.

        Rewriting a small file every few seconds on ext4 costs ~200 MB of block writes a day. With
        $RUNTIME_DIRECTORY (/run/...) the file lives there and DATA_DIR/status.json is a symlink to it,
        made once, so `elev-agent status --data-dir DIR` finds it either way.
        """
        if self._status_path is not None:
            return self._status_path
        link = self.cfg.data_dir / STATUS_FILE
        runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        path = link
        if runtime and Path(runtime).is_dir():
            path = Path(runtime) / STATUS_FILE
            try:
                if not (link.is_symlink() and os.readlink(link) == str(path)):
                    tmp = link.with_suffix(".lnk")
                    tmp.unlink(missing_ok=True)
                    tmp.symlink_to(path)
                    os.replace(tmp, link)
            except OSError as exc:
                log.warning("status file stays in %s: cannot link it from %s (%s)", path, link, exc)
        self._status_path = path
        return path

    def write_status(self, outbox_stats: Any = None) -> None:
        path = self.status_path()
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.status_dict(outbox_stats), separators=(",", ":")))
            os.replace(tmp, path)
        except OSError as exc:
            log.debug("status file not written: %s", exc)


def outbox_path(data_dir: Path) -> Path:
    return data_dir / OUTBOX_FILE
