"""The edge data budget (issue 14): uplink bytes and SD writes per elevator-day, for several kinds of day.

    .venv/bin/python bench/edge_budget.py [--hours 24] [--days office,morning,lunch,night] [--policy budget]
                                          [--json]

For each kind of day, a full simulated day (not an extrapolation, unless `--hours` is less than 24):
the agent's own reporting path runs in this process on simulated time, as in `bench/uplink_day.py`
(whose machine room, relay and clock it reuses): `Agent.poll_once` (fusion, detector, the reporting
policy of `[report]`, heartbeats only when idle, events), the real `Outbox` (SQLite on this
machine's disk) and the real `Uplink` to a private Mosquitto through a byte-counting TCP relay,
acknowledged by the real `elev-collector run`. Only the hardware is simulated: `hw_sim`'s model of
the default building with that day's traffic pattern and sensor noise, polled 10 times per
simulated second.

Commits are cut as the live agent cuts them: buffered status is committed when it is
`status_flush_s` old, checked on the outbox loop's 250 ms grid; an event commits at once. After each
commit, and every simulated second while records are held (`[uplink] summary_hold_s`), the bench
lets the uplink make one sending pass on that moment of simulated time and waits until it is done,
so frames are cut as live.

- **Uplink bytes**: every byte the agent's MQTT client writes to its TCP connection, counted at the
  relay, not inside the agent (CONNECT, SUBSCRIBE, PUBLISH, the PUBACK for each ack frame it
  receives), split by MQTT packet type. Not counted: TCP/IP/TLS framing, and keep-alive PINGREQs
  (at most 2 B per 30 s idle = 5.8 KB/day; printed).
- **SD bytes**: `/proc/self/io` of this process over the day (the outbox's writer thread is the
  only writer in it; broker and collector are other processes): `wchar` = bytes the outbox asked
  the kernel to write, `write_bytes` = bytes the kernel sent to the block layer for it (this
  machine's disk, not tmpfs). The status file is not included (under systemd it lives in
  $RUNTIME_DIRECTORY, RAM), nor the filesystem's own journal.

Days: `office` (50 parties an hour around the clock), `morning` (up-peak, 110 an hour) and `lunch`
(two-way, 90 an hour) as busy days, `night` (5 an hour) as a quiet residential day. Target (issue
14): <= 100 KB/day over the air on a busy office day, <= 50 MB/day on the SD card.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _stack  # noqa: E402
import uplink_day as ud  # noqa: E402

from edge_agent.agent import Agent  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.report.policy import ReportConfig  # noqa: E402
from hw_sim.model import ElevatorSim  # noqa: E402
from hw_sim.registers_view import gpio_levels  # noqa: E402
from hw_sim.scenario import Scenario, default_elevator  # noqa: E402
from protocols.frames import Record  # noqa: E402
from protocols.topics import uplink_topic  # noqa: E402

BUSY_GOAL_B = 100 * 1024
SD_GOAL_B = 50 * 1024 * 1024
DAYS = {
    "office": "busy office",
    "morning": "busy: office up-peak",
    "lunch": "busy: office lunch peak",
    "night": "quiet residential",
}
OUTBOX_TICK_MS = 250  # the agent's outbox loop looks this often whether a commit is due


NOISE_LINES = {
    "door": ("door_closed",),
    "door_zone": ("leveling_up", "leveling_down"),
    "door_lock": ("door_lock",),
    "occupied": ("presence",),
}


class _NoiseLog(dict[str, int]):
    """The model's live-noise windows, noted as they start (the model sets `until` at the start)."""

    def __init__(self, sim: ElevatorSim) -> None:
        super().__init__()
        self.sim = sim
        self.started: list[tuple[int, str, int]] = []

    def __setitem__(self, sig: str, until: int) -> None:
        self.started.append((self.sim._now, sig, until))
        super().__setitem__(sig, until)


class EdgeController(ud.SimController):
    """The machine room of uplink_day.py plus the GPIO edges a live gateway's pins report.

    Live, the agent gets every sensor-line edge with its own moment (edge_agent.hw.gpio), so a 20 ms
    contact bounce stays 20 ms long and the detector's debounce drops it. Sampled only at the polls,
    a bounce would last a whole poll period and raise false events (uplink_day.py's 560 a day). The
    model's noise windows are noted as they start; each gives an edge at its start and one at its end.
    """

    def __init__(self, sim: ElevatorSim) -> None:
        super().__init__(sim)
        self.noise = _NoiseLog(sim)
        sim._noise_until = self.noise  # the model's own dict of noise windows, replaced by a noting one
        self._open: list[tuple[int, str, int]] = []
        self._edges: list[tuple[int, str, bool]] = []

    def at(self, t_ms: int) -> None:
        super().at(t_ms)
        truth = gpio_levels(self.sim.true_snapshot())
        self._open += self.noise.started
        self.noise.started = []
        still = []
        for start, sig, until in self._open:
            for line in NOISE_LINES.get(sig, ()):
                if line not in truth or (sig in ("door", "occupied") and not truth[line]):
                    continue  # the model bounces the door only while closed, drops presence only while seen
                if start > self._last_t:
                    self._edges.append((ud.MONO0 + start, line, not truth[line]))
                if until <= t_ms:
                    self._edges.append((ud.MONO0 + until, line, truth[line]))
            if until > t_ms:
                still.append((start, sig, until))
        self._open = still
        self._last_t = t_ms

    _last_t = -1

    def edges(self) -> list[tuple[int, str, bool]]:
        out, self._edges = sorted(self._edges), []
        return out


class EdgeInputs(ud.SimInputs):
    def __init__(self, ctl: EdgeController) -> None:
        super().__init__(ctl)
        self.edge_ctl = ctl

    def edges(self) -> list[tuple[int, str, bool]]:
        return self.edge_ctl.edges()


def proc_io() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        k, v = line.split(":")
        out[k.strip()] = int(v)
    return out


async def one_day(traffic: str, hours: float, policy: str, mq: int, work: Path) -> dict[str, Any]:
    device = f"budget-{traffic}"
    relay = ud.Relay(mq)
    await relay.start()
    seen: list[Record] = []
    subscribed = asyncio.Event()
    sub = asyncio.create_task(ud.subscriber(mq, uplink_topic(device), seen, subscribed))
    await asyncio.wait_for(subscribed.wait(), 20)
    ctl = EdgeController(ElevatorSim(Scenario(default_elevator(), (), traffic, 11)))
    clock = ud.SimClock()
    cfg = ud.agent_config(device, relay.port, work / traffic)
    # A wide window keeps the uplink from pacing when acks lag in compressed time (see uplink_day.py).
    cfg = replace(cfg, uplink=replace(cfg.uplink, window_batches=1_000_000), report=ReportConfig(policy=policy))
    flush_ms = round(cfg.timing.status_flush_s * 1000)
    t = 0
    commits = 0
    last_seq = 0
    async with Outbox(work / traffic / "outbox.db", cfg.outbox, cfg.timing.status_flush_s) as outbox:
        agent = Agent(cfg, ctl, EdgeInputs(ctl), outbox, clock=clock, now_ms=lambda: ud.MONO0 + t)
        up = agent.uplink
        run = asyncio.create_task(up.run())
        await ud.until(lambda: up.online, 30, "the uplink to connect")
        io0 = proc_io()
        wall0 = time.perf_counter()
        end = int(hours * 3_600_000)
        pending_since: int | None = None
        c = agent.counters
        while t <= end:
            ctl.at(t)
            clock.t_ms = t
            puts0, ev0 = c.status_records + c.heartbeats, c.events
            hb0 = c.heartbeats
            await agent.poll_once()
            committed = False
            if c.events > ev0:  # put_event committed the buffer with it; a heartbeat comes after events
                committed = True
                commits += 1
                pending_since = t if c.heartbeats > hb0 else None
            elif c.status_records + c.heartbeats > puts0 and pending_since is None:
                pending_since = t
            if pending_since is not None and t - pending_since >= flush_ms and t % OUTBOX_TICK_MS == 0:
                await outbox.flush()
                pending_since = None
                committed = True
                commits += 1
            if committed:
                last_seq = (await outbox.stats()).last_seq
            if committed or (up.counters.records_sent < last_seq and t % 1000 == 0):
                # One sending pass on this moment of simulated time (held records may have come due).
                gen = up.wake()
                await ud.until(lambda g=gen: up.settled_gen >= g, 60, "the uplink to settle")
            t += cfg.timing.poll_period_ms
        await outbox.flush()
        last_seq = (await outbox.stats()).last_seq
        up.hold_s = lambda: 0.0  # the day is over: what is still held goes now
        up.wake()
        await ud.until(lambda: up.counters.records_acked >= last_seq, 120, "the last acks")
        await ud.until(lambda: len(seen) >= last_seq, 60, "the subscriber")
        elapsed = time.perf_counter() - wall0
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        file_bytes = (await outbox.stats()).file_bytes
    io1 = proc_io()
    sub.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sub
    scale = 24 / hours
    return {
        "day": traffic,
        "what": DAYS.get(traffic, traffic),
        "policy": policy,
        "hours": hours,
        "polls": c.polls,
        "records": last_seq,
        "records_by_kind": dict(Counter(r.kind.name.lower() for r in seen)),
        "commits": commits,
        "frames": up.counters.frames_sent,
        "uplink_bytes": relay.up_bytes,
        "uplink_bytes_per_day": round(relay.up_bytes * scale),
        "publish_payload_bytes": relay.publish_payload,
        "downlink_bytes_per_day": round(relay.down_bytes * scale),
        "packets": dict(relay.packets),
        "packet_bytes": dict(relay.packet_bytes),
        "keepalive_bound_bytes_per_day": 2 * 86400 // 30,
        "sd_asked_bytes_per_day": round((io1["wchar"] - io0["wchar"]) * scale),
        "sd_block_bytes_per_day": round((io1["write_bytes"] - io0["write_bytes"]) * scale),
        "outbox_file_bytes": file_bytes,
        "wall_s": round(elapsed, 1),
    }


async def run_all(days: list[str], hours: float, policy: str, work: Path) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker, mq = _stack.mosquitto(work)
        procs.append(broker)
        col, _api = _stack.collector(work, mq, [f"budget-{d}" for d in days])
        procs.append(col)
        results = [await one_day(d, hours, policy, mq, work) for d in days]
        return {"days": results, "load": _stack.machine_load()}
    finally:
        for p in reversed(procs):
            _stack.stop(p)


def verdicts(r: dict[str, Any]) -> tuple[bool, bool]:
    busy_ok = r["day"] == "night" or r["uplink_bytes_per_day"] <= BUSY_GOAL_B
    return busy_ok, r["sd_block_bytes_per_day"] <= SD_GOAL_B


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups (stop our broker/collector)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours per day (24 = one elevator-day)")
    ap.add_argument("--days", default="office,morning,lunch,night", help="hw_sim traffic patterns, one day each")
    ap.add_argument("--policy", default="budget", choices=("budget", "full"), help="[report] policy")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    days = [d for d in args.days.split(",") if d]
    with tempfile.TemporaryDirectory(prefix="bench-budget-", dir=Path(__file__).resolve().parent.parent) as d:
        out = asyncio.run(run_all(days, args.hours, args.policy, Path(d)))
    ok = all(all(verdicts(r)) for r in out["days"])
    if args.json:
        print(json.dumps(out))
        return 0 if ok else 1
    print(f"edge data budget, policy {args.policy!r}, {args.hours:g} simulated hours per day (load {out['load']})")
    print(f"{'day':<28} {'records':>8} {'frames':>7} {'uplink B/day':>13} {'SD asked/day':>13} {'SD block/day':>13}")
    for r in out["days"]:
        busy_ok, sd_ok = verdicts(r)
        print(
            f"{r['day'] + ' (' + r['what'] + ')':<28} {r['records']:>8,} {r['frames']:>7,} "
            f"{r['uplink_bytes_per_day']:>13,} {r['sd_asked_bytes_per_day']:>13,} {r['sd_block_bytes_per_day']:>13,}"
            f"  {'ok' if busy_ok and sd_ok else 'OVER'}"
        )
        print(f"    {r['records_by_kind']}; {r['commits']} commits; packets {r['packet_bytes']} ({r['wall_s']} s wall)")
    print(f"goals: busy day <= {BUSY_GOAL_B:,} B uplink, every day <= {SD_GOAL_B:,} B to the block layer")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
