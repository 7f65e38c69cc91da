"""Collector under a publish flood faster than its store: memory, answer times, nothing lost.

    .venv/bin/python bench/collector_flood.py [--seconds 60] [--devices 50] [--records-per-frame 20]
        [--frames-per-s 2000] [--db sqlite]

Runs `elev-collector run` as its own process against a private Mosquitto (QoS 1, unlimited broker
queue), floods it for `--seconds` from one publisher process, samples the collector's RSS and the
time /metrics and /healthz take to answer every 0.5 s, then waits for the backlog to drain and
checks that every published record is stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402

from bench.collector_ingest import free_port, register, snapshot, start_broker  # noqa: E402
from collector.store import open_store  # noqa: E402
from protocols import frames, topics  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_get(url: str) -> float:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
    except OSError:
        return 10.0
    return time.perf_counter() - t0


async def flood(port: int, devices: list[str], seconds: float, fps: float, per_frame: int) -> int:
    """Publish multi-record status frames at `fps` for `seconds`; return records published."""
    epoch = 7
    seq = dict.fromkeys(devices, 0)
    sent = 0
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=1000, max_concurrent_outgoing_calls=500) as c:
        c.pending_calls_threshold = 1_000_000
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < seconds:
            batch = []
            for _ in range(max(1, int(fps / 20))):
                dev = devices[i % len(devices)]
                i += 1
                recs = []
                for _ in range(per_frame):
                    seq[dev] += 1
                    s = seq[dev]
                    recs.append(
                        frames.Record(
                            frames.RecordKind.STATUS,
                            s,
                            s * 100,
                            1_700_000_000_000 + s * 100,
                            True,
                            snapshot(s * 100, 1 + s % 9),
                        )
                    )
                batch.append(
                    c.publish(
                        topics.uplink_topic(dev),
                        frames.encode_uplink(frames.UplinkFrame(epoch, tuple(recs))),
                        qos=1,
                        timeout=120,
                    )
                )
                sent += per_frame
            await asyncio.gather(*batch)
            await asyncio.sleep(max(0.0, t0 + i / fps - time.monotonic()))
    return sent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--records-per-frame", type=int, default=20)
    ap.add_argument("--frames-per-s", type=float, default=2000.0)
    ap.add_argument("--queue-max", type=int, default=20_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    broker, port = start_broker(work)
    db = f"sqlite:///{work}/flood.db"
    devices = [f"flood-{i:04d}" for i in range(args.devices)]
    asyncio.run(register(db, devices))
    http = free_port()
    conf = work / "c.toml"
    conf.write_text(f"queue_max_records = {args.queue_max}\n")
    col = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/elev-collector"),
            "run",
            "--broker",
            f"mqtt://127.0.0.1:{port}",
            "--db",
            db,
            "--http",
            f"127.0.0.1:{http}",
            "--client-id",
            f"flood-{secrets.token_hex(3)}",
            "--config",
            str(conf),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "collector.log", "wb"),
    )
    base = f"http://127.0.0.1:{http}"
    try:
        for _ in range(200):
            if timed_get(base + "/healthz") < 10:
                break
            time.sleep(0.1)
        samples: list[tuple[float, float, float]] = []
        import threading

        result: list[int] = []
        t = threading.Thread(
            target=lambda: result.append(
                asyncio.run(flood(port, devices, args.seconds, args.frames_per_s, args.records_per_frame))
            )
        )
        t0 = time.monotonic()
        t.start()
        while t.is_alive():
            samples.append((rss_mb(col.pid), timed_get(base + "/metrics"), timed_get(base + "/healthz")))
            time.sleep(0.5)
        t.join()
        flood_s = time.monotonic() - t0
        published = result[0]

        async def stored() -> int:
            async with open_store(db) as s:
                return await s.count_records()

        at_end = asyncio.run(stored())
        deadline = time.monotonic() + 900
        while (n := asyncio.run(stored())) < published and time.monotonic() < deadline:
            samples.append((rss_mb(col.pid), timed_get(base + "/metrics"), timed_get(base + "/healthz")))
            time.sleep(1.0)
        drain_s = time.monotonic() - t0
        store_rate = n / drain_s
        rss = max(s[0] for s in samples)
        m_ms = 1000 * max(s[1] for s in samples)
        h_ms = 1000 * max(s[2] for s in samples)
        print(
            f"\ncollector flood, {flood_s:.0f} s, SQLite, queue bound {args.queue_max}, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'offered rec/s':>14s} {'stored rec/s':>13s} {'x store':>8s} {'max RSS MB':>11s} "
            f"{'/metrics ms':>12s} {'/healthz ms':>12s} {'published':>10s} {'stored':>10s}"
        )
        print(
            f"{published / flood_s:14,.0f} {store_rate:13,.0f} {published / flood_s / store_rate:8.1f} {rss:11.0f} "
            f"{m_ms:12.0f} {h_ms:12.0f} {published:10,d} {n:10,d}"
        )
        print(f"stored by the end of the flood: {at_end:,}; exactly once: {n == published}")
    finally:
        col.terminate()
        col.wait(20)
        broker.terminate()
        broker.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
