"""Footprint of the edge agent: memory, CPU at 10 Hz polling, per-request overhead, SD writes per day.

usage: .venv/bin/python bench/agent_footprint.py [--seconds 30] [--transport tcp|rtu] [--json]

Starts its own simulator (`elev-sim run`, normal traffic), a private Mosquitto and a tiny in-bench
acknowledger (so the outbox drains as it would with a collector), then runs `elev-agent run` as a
subprocess and samples it from /proc after a warm-up:

- resident memory (VmRSS, and the peak VmHWM)                         goal <= 40 MB
- CPU share of one core at the default 10 Hz poll of the NICE3000+ block   goal <= 5 %
- per-request software overhead: the agent's own CPU time per Modbus RTU request over a pty,
  against the time the same request spends on an RS485 wire at 19,200 baud  goal: well under
- writes per elevator-day, extrapolated from /proc/PID/io over the window: `wchar` (what the
  process asks to write: SQLite pages, WAL, status file) and `write_bytes` (what reached the block
  layer); both are upper bounds for a quiet machine room (the simulator runs busy office traffic)

Exit status 1 when a goal is missed. The figures depend on the machine; the goals are for this one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")
RSS_GOAL_MB = 40.0
CPU_GOAL_PCT = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def io(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = int(value)
    return out


async def acknowledger(port: int, stop: asyncio.Event) -> None:
    import aiomqtt

    from protocols.frames import AckFrame, decode_uplink, encode_ack
    from protocols.topics import ack_topic, parse_topic

    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-acker") as client:
        await client.subscribe("elev/v1/+/up", qos=1)
        async for msg in client.messages:
            if stop.is_set():
                return
            device, _ = parse_topic(str(msg.topic))
            assert isinstance(msg.payload, bytes)
            frame = decode_uplink(msg.payload)
            seqs = [r.seq for r in frame.records]
            ack = AckFrame(
                frame.epoch,
                ((min(seqs), max(seqs)),)
                if seqs == list(range(seqs[0], seqs[-1] + 1))
                else tuple((s, s) for s in seqs),
            )
            await client.publish(ack_topic(device), encode_ack(ack), qos=1)


async def request_overhead(rtu_path: str, n: int = 300) -> dict[str, float]:
    """Agent-side CPU and wall time per read of the largest NICE3000+ block over the simulator's pty."""
    from edge_agent.config import ModbusConfig
    from edge_agent.hw.modbus import ModbusBus, rtu_wire_time_s
    from protocols.registers import NICE3000_MONITOR

    block = max(NICE3000_MONITOR.blocks(), key=lambda b: b.count)
    bus = ModbusBus(ModbusConfig(rtu_device=rtu_path, min_gap_ms=0.0, timeout_s=0.3))
    try:
        for _ in range(20):  # warm up (connect, first allocations)
            await bus.read_holding(1, block.start, block.count)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            await bus.read_holding(1, block.start, block.count)
        cpu = (time.process_time() - cpu0) / n
        wall = (time.perf_counter() - wall0) / n
    finally:
        await bus.close()
    return {
        "registers": block.count,
        "agent_cpu_ms": cpu * 1000,
        "round_trip_ms": wall * 1000,
        "wire_ms_19200": rtu_wire_time_s(block.count, 19200) * 1000,
    }


async def measure(seconds: float, transport: str, workdir: Path) -> dict[str, object]:
    mq, mb, gp = free_port(), free_port(), free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {mq} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    procs: list[subprocess.Popen[bytes]] = []
    stop = asyncio.Event()
    acker: asyncio.Task[None] | None = None
    try:
        procs.append(subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL))
        sim = subprocess.Popen(
            [str(BIN / "elev-sim"), "run", "--modbus-tcp", f"127.0.0.1:{mb}", "--gpio-serve", f"127.0.0.1:{gp}"]
            + ["--modbus-rtu", "auto"],
            stdout=subprocess.PIPE,
            stderr=open(workdir / "sim.log", "wb"),
        )
        procs.append(sim)  # type: ignore[arg-type]
        assert sim.stdout is not None
        ready = json.loads(sim.stdout.readline())
        rtu_path = ready["modbus_rtu"]
        await asyncio.sleep(0.3)
        acker = asyncio.create_task(acknowledger(mq, stop))
        link = ["--modbus-tcp", f"127.0.0.1:{mb}"] if transport == "tcp" else ["--modbus-rtu", rtu_path]
        data = workdir / "agent"
        # As under systemd (RuntimeDirectory=): the status file goes to RAM, the outbox to the card.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        runtime = tempfile.mkdtemp(prefix="elev-agent-run-", dir=shm)
        agent = subprocess.Popen(
            [str(BIN / "elev-agent"), "run", "--device-id", "bench-1", *link, "--gpio-sim", f"127.0.0.1:{gp}"]
            + ["--broker", f"mqtt://127.0.0.1:{mq}", "--data-dir", str(data), "--floors=-1..12"],
            stderr=open(workdir / "agent.log", "wb"),
            env={**os.environ, "RUNTIME_DIRECTORY": runtime},
        )
        procs.append(agent)
        warm_up_s = 5.0
        await asyncio.sleep(warm_up_s)
        if agent.poll() is not None:
            raise RuntimeError(f"the agent exited: {(workdir / 'agent.log').read_text()[-500:]}")
        t0, c0, io0 = time.monotonic(), cpu_ticks(agent.pid), io(agent.pid)
        rss_samples = []
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(1.0)
            rss_samples.append(proc_status(agent.pid)["VmRSS"])
        elapsed = time.monotonic() - t0
        c1, io1, st = cpu_ticks(agent.pid), io(agent.pid), proc_status(agent.pid)
        status = json.loads((data / "status.json").read_text())
        agent.terminate()
        agent.wait(20)
        shutil.rmtree(runtime, ignore_errors=True)
        if transport == "tcp":
            overhead = await request_overhead(rtu_path)
        else:
            overhead = {}
        day = 86400 / elapsed
        return {
            "transport": transport,
            "seconds": round(elapsed, 1),
            "rss_mb": round(max(rss_samples) / 1024, 1),
            "peak_rss_mb": round(st["VmHWM"] / 1024, 1),
            "cpu_pct": round(100.0 * (c1 - c0) / TICK / elapsed, 2),
            "polls": status["agent"]["polls"],
            "requests": status["controller"]["counters"]["requests"],
            "status_records": status["agent"]["status_records"],
            "events": status["agent"]["events"],
            "wchar_mb_per_day": round((io1["wchar"] - io0["wchar"]) * day / 1e6, 1),
            "write_bytes_mb_per_day": round((io1["write_bytes"] - io0["write_bytes"]) * day / 1e6, 1),
            "request": overhead,
        }
    finally:
        stop.set()
        if acker is not None:
            acker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await acker
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=30.0, help="measurement window after a 5 s warm-up")
    p.add_argument("--transport", choices=("tcp", "rtu"), default="tcp", help="how the agent reaches the sim")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agent-footprint-") as d:
        r = asyncio.run(measure(args.seconds, args.transport, Path(d)))
    if args.json:
        print(json.dumps(r))
    ok_rss = r["rss_mb"] <= RSS_GOAL_MB  # type: ignore[operator]
    ok_cpu = r["cpu_pct"] <= CPU_GOAL_PCT  # type: ignore[operator]
    req = r["request"]
    assert isinstance(req, dict)
    ok_req = not req or req["agent_cpu_ms"] < req["wire_ms_19200"] / 4
    if not args.json:
        print(f"agent footprint: Modbus {r['transport'].upper()} to elev-sim, 10 Hz polling, {r['seconds']} s window")  # type: ignore[attr-defined]
        print(
            f"  resident memory  {r['rss_mb']} MB (peak {r['peak_rss_mb']} MB)   goal <= {RSS_GOAL_MB:.0f} MB  "
            f"{'ok' if ok_rss else 'MISSED'}"
        )
        print(
            f"  CPU              {r['cpu_pct']} % of one core ({r['polls']} polls, {r['requests']} requests)   "
            f"goal <= {CPU_GOAL_PCT:.0f} %  {'ok' if ok_cpu else 'MISSED'}"
        )
        if req:
            print(
                f"  per RTU request  agent CPU {req['agent_cpu_ms']:.2f} ms, round trip over the pty "
                f"{req['round_trip_ms']:.2f} ms; the same request on the wire at 19,200 baud "
                f"{req['wire_ms_19200']:.1f} ms ({req['registers']} registers)  {'ok' if ok_req else 'MISSED'}"
            )
        print(
            f"  writes per day   {r['wchar_mb_per_day']} MB asked (wchar), {r['write_bytes_mb_per_day']} MB to the "
            f"block layer ({r['status_records']} status records, {r['events']} events since start)"
        )
    return 0 if ok_rss and ok_cpu and ok_req else 1


if __name__ == "__main__":
    sys.exit(main())
