"""How many simulated elevators can one `elev-sim fleet` process serve in real time?

For each fleet size N this starts `elev-sim fleet --count N`, polls every car over Modbus TCP at
10 Hz the way the agent does (one function-03 request per register block of the NICE3000+ map, one
connection per car), and reads the fleet's own `stats` lines. A size is sustained when the model
ticks run less than 50 ms late (p99 over the window), no poll times out and every car is polled at
least 95 % of the asked rate. The poller is a lean raw-socket client in this process, so on a small
machine it competes with the fleet for CPU, as a co-located load generator would.

    .venv/bin/python bench/sim_fleet.py [--sizes 10,50,100,...] [--window-s 10] [--rate-hz 10]

Prints a table and the largest sustained N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from protocols.registers import NICE3000_MONITOR  # noqa: E402

BLOCKS = [(b.start, b.count) for b in NICE3000_MONITOR.blocks()]
LAG_LIMIT_MS = 50.0
TIMEOUT_S = 1.0


def free_base(count: int) -> int:
    """A base port with `count` free ports after it (checked, not guessed)."""
    for base in range(20000, 60000 - count, 1000):
        ok = True
        for port in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise SystemExit("no free port range")


@dataclass
class PollStats:
    polls: int = 0
    timeouts: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)


class _Master(asyncio.Protocol):
    """A lean Modbus TCP master: one outstanding request, responses matched by length."""

    def __init__(self) -> None:
        self.buf = b""
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) >= 6:
            size = 6 + struct.unpack(">H", self.buf[4:6])[0]
            if len(self.buf) >= size and self.waiter is not None and not self.waiter.done():
                frame, self.buf = self.buf[:size], self.buf[size:]
                self.waiter.set_result(frame)

    async def request(self, frame: bytes) -> bytes:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(frame)
        return await self.waiter


async def poll_car(port: int, rate_hz: float, until: float, st: PollStats) -> None:
    loop = asyncio.get_running_loop()
    transport, master = await loop.create_connection(_Master, "127.0.0.1", port)
    tid = 0
    period = 1 / rate_hz
    next_t = time.monotonic()
    try:
        while (now := time.monotonic()) < until:
            if next_t > now:
                await asyncio.sleep(next_t - now)
            next_t += period
            t0 = time.monotonic()
            try:
                async with asyncio.timeout(TIMEOUT_S):
                    for start, count in BLOCKS:
                        tid = (tid + 1) & 0xFFFF
                        reply = await master.request(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, start, count))
                        if reply[7] != 3:
                            st.errors += 1
            except TimeoutError:
                st.timeouts += 1
                return
            st.polls += 1
            st.latencies_ms.append((time.monotonic() - t0) * 1000)
    finally:
        transport.close()


def sim_command() -> list[str]:
    override = os.environ.get("ELEV_SIM")
    return override.split() if override else [sys.executable, "-m", "hw_sim.cli"]


def run_size(n: int, window_s: float, rate_hz: float) -> dict[str, float]:
    """Warm up for one window, measure the next: the fleet's second stats line covers exactly it."""
    base = free_base(n)
    proc = subprocess.Popen(
        [*sim_command(), "fleet", "--count", str(n), "--modbus-tcp-base", f"127.0.0.1:{base}"]
        + ["--stats-interval-s", str(window_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    try:
        ready = json.loads(proc.stdout.readline() or "{}")
        if not ready.get("ready"):
            raise SystemExit(f"fleet of {n} did not start")
        stats = PollStats()

        async def poll_all() -> None:
            until = time.monotonic() + 2 * window_s + 0.5
            await asyncio.gather(*(poll_car(base + i, rate_hz, until, stats) for i in range(n)))

        asyncio.run(poll_all())
        first = json.loads(proc.stdout.readline())
        second = json.loads(proc.stdout.readline())
        assert "stats" in first and "stats" in second, (first, second)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    w = second["stats"]
    lat = sorted(stats.latencies_ms[len(stats.latencies_ms) // 2 :] or [0.0])
    expected = n * rate_hz * (2 * window_s + 0.5)
    return {
        "n": n,
        "lag_p99_ms": w["lag_ms_p99"],
        "lag_max_ms": w["lag_ms_max"],
        "req_per_s": w["requests_per_s"],
        "cpu_pct": w["cpu_pct"],
        "rss_mb": w["rss_mb"],
        "poll_p99_ms": round(lat[int(0.99 * (len(lat) - 1))], 1),
        "timeouts": stats.timeouts + stats.errors,
        "rate_ok": stats.polls / expected,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10,25,50,100,150,200,300")
    p.add_argument("--window-s", type=float, default=10.0)
    p.add_argument("--rate-hz", type=float, default=10.0)
    p.add_argument("--json", action="store_true", help="also print the results as one JSON line, last")
    args = p.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the run, "
        f"{len(BLOCKS)} requests per poll at {args.rate_hz:g} Hz, window {args.window_s:g} s"
    )
    print(
        f"{'cars':>5} {'tick lag p99':>12} {'max':>7} {'req/s':>7} {'sim CPU':>7} {'RSS MB':>7} {'poll p99':>9} "
        f"{'timeouts':>8} {'rate':>6}  ok"
    )
    best = 0
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        r = run_size(n, args.window_s, args.rate_hz)
        ok = r["lag_p99_ms"] < LAG_LIMIT_MS and r["timeouts"] == 0 and r["rate_ok"] >= 0.95
        print(
            f"{n:>5} {r['lag_p99_ms']:>9.1f} ms {r['lag_max_ms']:>7.1f} {r['req_per_s']:>7} {r['cpu_pct']:>6}% "
            f"{r['rss_mb']:>7.0f} "
            f"{r['poll_p99_ms']:>6.1f} ms {r['timeouts']:>8} {r['rate_ok']:>6.0%}  {'yes' if ok else 'NO'}",
            flush=True,
        )
        results.append({**r, "ok": ok})
        if ok:
            best = max(best, n)
    print(f"largest sustained fleet: {best} cars (tick lag p99 < {LAG_LIMIT_MS:g} ms, no timeouts, >= 95 % poll rate)")
    if args.json:
        print(json.dumps({"largest_sustained": best, "sizes": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
