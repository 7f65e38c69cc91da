"""`elev-sim fleet`: N simulated elevators in one process, for load tests of agents and the collector.

    elev-sim fleet --count N --modbus-tcp-base HOST:PORT [--gpio-base HOST:PORT] [--scenario FILE]
                   [--control HOST:PORT] [--stats-interval-s S] [--tick-ms N] [--debug]

Car i (0-based) serves Modbus TCP on PORT+i and, with --gpio-base, GPIO levels on its PORT+i. Every
car runs the same scenario with its own seed (scenario seed + i), so the cars do not move in step.
Stdout: one `{"ready": true, ...}` line, then the usual injection lines with `"elevator": i`, and
every --stats-interval-s a `{"stats": {...}}` line with the event loop's tick lag (how late the
model ticks ran: the measure of whether the fleet keeps real time), the requests answered and the
process's memory. One event loop and one timer drive all cars; see docs/simulator-serving.md for the
largest fleet this machine sustains.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hw_sim.endpoints import ConfigError, hostport, parse_hostport
from hw_sim.live import TICK_S, InjectLog, LiveElevator, run_ticker
from hw_sim.run_cmd import (
    load_scenario_or_default,
    make_car,
    print_json,
    run_main,
    setup_logging,
    stop_on_signals,
    wait_for_stop,
)

if TYPE_CHECKING:
    from hw_sim.modbus_server import ServeStats

MAX_COUNT = 2000


class LagMeter:
    """Collects tick lateness between reports (seconds in, milliseconds out)."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    def __call__(self, lag_s: float) -> None:
        self.lags.append(lag_s)

    def take(self) -> dict[str, float]:
        lags, self.lags = sorted(self.lags), []
        if not lags:
            return {"ticks": 0}

        def pct(p: float) -> float:
            return round(lags[min(len(lags) - 1, int(p * len(lags)))] * 1000, 1)

        return {"ticks": len(lags), "lag_ms_p50": pct(0.5), "lag_ms_p99": pct(0.99), "lag_ms_max": pct(1.0)}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


async def report_stats(interval_s: float, meter: LagMeter, stats: Sequence[ServeStats], cars: int) -> None:
    last = sum(s.answered for s in stats)
    last_t, last_cpu = time.monotonic(), time.process_time()
    while True:
        await asyncio.sleep(interval_s)
        now, cpu, answered = time.monotonic(), time.process_time(), sum(s.answered for s in stats)
        rate = (answered - last) / (now - last_t)
        cpu_pct = 100 * (cpu - last_cpu) / (now - last_t)
        last, last_t, last_cpu = answered, now, cpu
        line = {
            "cars": cars,
            **meter.take(),
            "requests_per_s": round(rate),
            "cpu_pct": round(cpu_pct),
            "rss_mb": rss_mb(),
        }
        print_json({"ts": round(time.time(), 3), "stats": line})


async def serve_fleet(args: argparse.Namespace) -> int:
    from hw_sim.control import ControlServer  # the servers (pymodbus) load only once the arguments are good
    from hw_sim.gpio_server import GpioServer
    from hw_sim.modbus_server import start_tcp

    tcp_host, tcp_base = parse_hostport(args.modbus_tcp_base, "--modbus-tcp-base")
    gpio_base = parse_hostport(args.gpio_base, "--gpio-base") if args.gpio_base else None
    if tcp_base + args.count - 1 > 65535 or (gpio_base and gpio_base[1] + args.count - 1 > 65535):
        raise ConfigError("--count: the port range runs past 65535")
    _raise_fd_limit(4 * args.count + 64)
    scenario = load_scenario_or_default(Path(args.scenario) if args.scenario else None)
    stop = stop_on_signals()
    out = InjectLog()
    cars: list[LiveElevator] = []
    closers: list[Any] = []
    stats: list[ServeStats] = []
    try:
        for i in range(args.count):

            def on_inject(description: dict[str, Any], i: int = i) -> dict[str, Any]:
                return out(description, elevator=i)

            car_scenario = dataclasses.replace(scenario, seed=scenario.seed + i)
            car = make_car(car_scenario, on_inject, name=f"car{i}")
            cars.append(car)
            server, st = await start_tcp(car, tcp_host, tcp_base + i, debug=args.debug)
            closers.append(server)
            stats.append(st)
            if gpio_base:
                gpio = GpioServer(car)
                await gpio.start(gpio_base[0], gpio_base[1] + i)
                closers.append(gpio)
        if args.control:
            control = ControlServer(cars)
            await control.start(*parse_hostport(args.control, "--control"))
            closers.append(control)
        ready: dict[str, Any] = {"ready": True, "cars": args.count, "modbus_tcp_base": hostport((tcp_host, tcp_base))}
        if gpio_base:
            ready["gpio_base"] = hostport(gpio_base)
        if args.control:
            ready["control"] = args.control
        print_json(ready)
        meter = LagMeter()
        ticker = asyncio.create_task(run_ticker(cars, args.tick_ms / 1000, on_lag=meter), name="ticker")
        reporter = None
        if args.stats_interval_s > 0:
            reporter = asyncio.create_task(report_stats(args.stats_interval_s, meter, stats, args.count), name="stats")
        code = await wait_for_stop(stop, scenario.duration_s, ticker)
        if reporter is not None:
            reporter.cancel()
    finally:
        for closer in reversed(closers):
            await (closer.shutdown() if hasattr(closer, "shutdown") else closer.close())
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="elev-sim fleet", description="Simulate N elevators in one process.")
    p.add_argument("--count", type=int, required=True, metavar="N", help=f"number of cars (1..{MAX_COUNT})")
    p.add_argument("--modbus-tcp-base", required=True, metavar="HOST:PORT", help="car i listens on PORT+i")
    p.add_argument("--gpio-base", metavar="HOST:PORT", help="car i serves GPIO levels on PORT+i")
    p.add_argument("--scenario", metavar="FILE", help="scenario for every car (seed + i); default: normal traffic")
    p.add_argument("--control", metavar="HOST:PORT", help="control socket for `elev-sim inject --elevator I`")
    p.add_argument("--stats-interval-s", type=float, default=10.0, metavar="S", help="stats line period; 0 = off")
    p.add_argument("--tick-ms", type=int, default=int(TICK_S * 1000), metavar="N", help="model step (default 25)")
    p.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.count <= MAX_COUNT:
        print(f"elev-sim fleet: --count must be 1..{MAX_COUNT}, got {args.count}", file=sys.stderr)
        return 2
    if not 5 <= args.tick_ms <= 100:
        print(f"elev-sim fleet: --tick-ms must be 5..100, got {args.tick_ms}", file=sys.stderr)
        return 2
    setup_logging(args.debug)
    return run_main(lambda: serve_fleet(args), args.debug, "elev-sim fleet")


if __name__ == "__main__":
    sys.exit(main())
