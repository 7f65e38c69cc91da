"""Alarm latency with 20 hostile device logins on the broker the project configures.

    .venv/bin/python bench/hostile_logins.py [--alarms 30] [--hostile 20] [--json]

The stack: Mosquitto started from `elev-collector broker-config` (dynamic-security rules), every
login made by `elev-collector devices add --broker-config`, `elev-collector run` with the
`collector` login, `elev-sim run` and `elev-agent run` with its device's login. Then `--hostile`
other devices' logins (their credentials assumed leaked) connect and try what issue 12 saw work on
the old password/ACL files: the collectors' share group, `#`, `$SYS/#`, the victim's ack and
command topics, every device's acks. Each subscription's SUBACK code is recorded and every message
they receive is counted. Meanwhile `--alarms` short controller faults are injected through the
simulator (as bench/alarm_latency.py does) and the time from the detector's decision to the first
API answer listing the alarm is measured.

Verdict (exit status 0): every hostile subscription refused (0x80), nothing received by a hostile
login, alarm latency p99 <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _stack  # noqa: E402
from alarm_latency import DEVICE, Poller, control, iso_s, q  # noqa: E402

GOAL_P99_S = 2.0


def attack_filters(victim: str) -> list[str]:
    return [
        "$share/collectors/elev/v1/+/up",
        "$share/collectors/elev/v1/+/presence",
        "#",
        "$SYS/#",
        f"elev/v1/{victim}/ack",
        f"elev/v1/{victim}/cmd",
        "elev/v1/+/ack",
        f"elev/v1/{victim}/up",
    ]


def _password(url: str) -> str:
    """The password of an mqtt://user:password@host:port URL."""
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


class Hostiles(threading.Thread):
    """`n` device logins, each on its own client id, subscribing to everything they should not see."""

    def __init__(self, port: int, logins: dict[str, str], victim: str) -> None:
        super().__init__(daemon=True)
        self.port, self.logins, self.victim = port, logins, victim
        self.codes: dict[str, list[int]] = {}
        self.received = 0
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except (OSError, ExceptionGroup) as exc:  # a login's failure, reported by the caller
            self.failed = exc
            self.ready.set()

    async def _one(self, device: str, password: str) -> None:
        import aiomqtt

        async with aiomqtt.Client(
            "127.0.0.1", self.port, username=device, password=password, identifier=f"elev-agent-{device}"
        ) as c:
            for f in attack_filters(self.victim):
                granted = await c.subscribe(f, qos=1)
                self.codes[f"{device} {f}"] = [int(getattr(g, "value", g)) for g in granted]
            if len(self.codes) == len(self.logins) * len(attack_filters(self.victim)):
                self.ready.set()
            assert self._halt is not None
            reader = asyncio.ensure_future(self._read(c))
            await self._halt.wait()
            reader.cancel()

    async def _read(self, c: Any) -> None:
        async for _ in c.messages:
            self.received += 1

    async def _main(self) -> None:
        self._loop, self._halt = asyncio.get_running_loop(), asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            for device, password in self.logins.items():
                tg.create_task(self._one(device, password))

    def stop(self) -> None:
        if self._loop is not None and self._halt is not None:
            self._loop.call_soon_threadsafe(self._halt.set)
        self.join(10)


def measure(n: int, hostile: int, poll_s: float, work: Path) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    poller: Poller | None = None
    hostiles: Hostiles | None = None
    try:
        broker = _stack.project_broker(work)
        procs.append(broker.proc)
        mq = broker.port
        db = f"sqlite:///{work}/collector.db"
        victim_url = broker.add_device(db, DEVICE)
        logins = {
            f"hostile-{i:02d}": _password(broker.add_device(db, f"hostile-{i:02d}")) for i in range(hostile)
        }
        col, api = _stack.collector(work, mq, [], broker_url=broker.collector_url)
        procs.append(col)
        mb, gp, ctl = _stack.free_port(), _stack.free_port(), _stack.free_port()
        procs.append(
            _stack.start(
                [str(_stack.BIN / "elev-sim"), "run", "--modbus-tcp", f"127.0.0.1:{mb}"]
                + ["--gpio-serve", f"127.0.0.1:{gp}", "--control", f"127.0.0.1:{ctl}"],
                work / "sim.log",
                stdout=subprocess.DEVNULL,
            )
        )
        _stack.wait_port(ctl)
        cfg = work / "agent.toml"
        cfg.write_text('[agent]\nclock_synced = "yes"\n')
        agent = _stack.start(
            [str(_stack.BIN / "elev-agent"), "run", "--device-id", DEVICE, "--modbus-tcp", f"127.0.0.1:{mb}"]
            + ["--gpio-sim", f"127.0.0.1:{gp}", "--broker", victim_url]
            + ["--data-dir", str(work / "agent"), "--config", str(cfg), "--floors=-1..12"],
            work / "agent.log",
        )
        procs.append(agent)
        hostiles = Hostiles(mq, logins, DEVICE)
        hostiles.start()
        if not hostiles.ready.wait(30) or hostiles.failed:
            raise RuntimeError(f"hostile logins did not get their SUBACKs: {hostiles.failed!r}")
        end = time.monotonic() + 60
        while time.monotonic() < end:  # the agent is up and reporting
            lifts = _stack.get(f"{api}/api/v1/elevators") or []
            if any(e.get("device_id") == DEVICE and e.get("state") for e in lifts):
                break
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited: {(work / 'agent.log').read_text()[-400:]}")
            time.sleep(0.2)
        else:
            raise RuntimeError("the agent's status never reached the collector")
        poller = Poller(api, poll_s)
        poller.start()
        lat: list[float] = []
        for i in range(n):
            seen_before = set(poller.first_seen)
            control(ctl, {"inject": "controller_fault", "duration_s": 0.4, "params": {"code": 4100 + i % 50}})
            deadline = time.monotonic() + 30
            new: set[int] = set()
            while time.monotonic() < deadline and not new:
                new = set(poller.first_seen) - seen_before
                time.sleep(0.01)
            if not new:
                raise RuntimeError(f"alarm {i} never appeared in the API")
            seen, alarm = poller.first_seen[min(new)]
            lat.append(seen - iso_s(str(alarm["raised_at"])))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and poller.active:  # cleared (1 s after the fault ends)
                time.sleep(0.05)
        codes = [c for cs in hostiles.codes.values() for c in cs]
        granted = sorted(k for k, cs in hostiles.codes.items() if any(c < 0x80 for c in cs))
        return {
            "alarms": n,
            "hostile_logins": hostile,
            "hostile_subscriptions": len(codes),
            "hostile_refused": sum(1 for c in codes if c >= 0x80),
            "hostile_granted": granted,
            "hostile_messages_received": hostiles.received,
            "p50_s": round(q(lat, 0.5), 3),
            "p99_s": round(q(lat, 0.99), 3),
            "max_s": round(max(lat), 3),
            "load": _stack.machine_load(),
        }
    finally:
        if hostiles is not None:
            hostiles.stop()
        if poller is not None:
            poller.halt.set()
        for p in reversed(procs):
            _stack.stop(p)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups (stop what we started)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--alarms", type=int, default=30)
    ap.add_argument("--hostile", type=int, default=20)
    ap.add_argument("--poll-ms", type=float, default=50.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as d:
        r = measure(args.alarms, args.hostile, args.poll_ms / 1000, Path(d))
    ok = (
        r["hostile_refused"] == r["hostile_subscriptions"]
        and r["hostile_messages_received"] == 0
        and r["p99_s"] <= GOAL_P99_S
    )
    if args.json:
        print(json.dumps(r))
    else:
        print(f"alarm latency with {r['hostile_logins']} hostile device logins, {r['alarms']} controller_fault alarms")
        print(f"  hostile subscriptions refused   {r['hostile_refused']} / {r['hostile_subscriptions']}")
        print(f"  messages hostile logins got     {r['hostile_messages_received']}")
        print(
            f"  decision -> API  p50 {r['p50_s']} s  p99 {r['p99_s']} s  max {r['max_s']} s"
            f"   goal p99 <= {GOAL_P99_S} s  {'ok' if ok else 'MISSED'}"
        )
        print(f"  load average {r['load']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
