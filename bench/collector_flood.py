"""Collector under a publish flood several times faster than its store: memory, answer times, nothing lost.

    .venv/bin/python bench/collector_flood.py [--seconds 60] [--times 5.5] [--devices 50]
        [--records-per-frame 100] [--calibrate-records 200000] [--queue-max N]

Runs `elev-collector run` (platform on, as shipped) as its own process against a private Mosquitto
(QoS 1, unlimited broker queue), in three phases, all in one run:

1. the store's rate: `--calibrate-records` are queued at the broker while the collector is down,
   then the collector starts and drains them; store rate = records / time to store them all;
2. the flood: a publisher process (paho, its own network thread) offers `--times` x that rate for
   `--seconds`, in frames of `--records-per-frame` (an agent draining its outbox sends 100);
   meanwhile every 0.25 s the collector's RSS is read and /metrics and /healthz are timed;
3. the drain: sampling goes on until every published record is stored; then the streams are
   checked: per stream, stored == highest seq == what was published (each record exactly once).

Peak RSS is the kernel's high-water mark (VmHWM), not a sample. Figures measured on a shared machine
are slowed by its other load: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.collector_ingest import free_port, register, snapshot, start_broker  # noqa: E402
from collector.store import open_store  # noqa: E402
from protocols import frames, topics  # noqa: E402

CALIBRATION_EPOCH = 6
FLOOD_EPOCH = 7


def proc_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_get(url: str, timeout_s: float = 10.0) -> tuple[float, int]:
    """(seconds, HTTP status); a timeout counts as `timeout_s` and status 0."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError:
        return timeout_s, 0
    return time.perf_counter() - t0, status


def metric(base: str, name: str) -> float:
    """One unlabelled sample from /metrics; -1 when it cannot be read."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return -1.0


def stored_total(base: str) -> int:
    return int(metric(base, "collector_records_stored_total"))


def frame(epoch: int, first_seq: int, n: int) -> bytes:
    recs = tuple(
        frames.Record(
            frames.RecordKind.STATUS, s, s * 100, 1_700_000_000_000 + s * 100, True, snapshot(s * 100, 1 + s % 9)
        )
        for s in range(first_seq, first_seq + n)
    )
    return frames.encode_uplink(frames.UplinkFrame(epoch, recs))


def publisher(
    port: int,
    devices: list[str],
    epoch: int,
    records: int,
    per_frame: int,
    rate: float,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    """Publish `records` records (QoS 1) in frames of `per_frame`, at `rate` records/s (0: as fast
    as possible), round-robin over the devices; put (records, seconds) when every PUBACK is in.

    Frames are encoded before the clock starts, so the rate is the broker's and the network's, not
    the encoder's."""
    import paho.mqtt.client as paho

    n_frames = max(1, records // per_frame)
    seq = dict.fromkeys(devices, 0)
    payloads = []
    for i in range(n_frames):
        dev = devices[i % len(devices)]
        payloads.append((topics.uplink_topic(dev), frame(epoch, seq[dev] + 1, per_frame)))
        seq[dev] += per_frame
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"flood-pub-{secrets.token_hex(3)}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    t0 = time.monotonic()
    for i, (topic, payload) in enumerate(payloads):
        infos.append(client.publish(topic, payload, qos=1))
        if rate > 0 and i % 20 == 0:
            ahead = t0 + (i + 1) * per_frame / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    for info in infos:
        info.wait_for_publish(600)
    seconds = time.monotonic() - t0
    client.loop_stop()
    client.disconnect()
    out.put((n_frames * per_frame, seconds))


def start_publisher(*args: object) -> tuple[mp.process.BaseProcess, mp.Queue]:  # type: ignore[type-arg]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=publisher, args=(*args, q))
    p.start()
    return p, q


def quantile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))] if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--times", type=float, default=5.5, help="flood rate as a multiple of the measured store rate")
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--records-per-frame", type=int, default=100)
    ap.add_argument("--calibrate-records", type=int, default=200_000)
    ap.add_argument("--queue-max", type=int, default=None, help="queue_max_records (default: the collector's)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    broker, port = start_broker(work)
    db = f"sqlite:///{work}/flood.db"
    devices = [f"flood-{i:04d}" for i in range(args.devices)]
    asyncio.run(register(db, devices))
    http = free_port()
    conf = work / "c.toml"
    conf.write_text(f"queue_max_records = {args.queue_max}\n" if args.queue_max else "")
    cmd = [
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
    ]
    log = open(work / "collector.log", "ab")  # noqa: SIM115 - lives as long as the collector
    base = f"http://127.0.0.1:{http}"

    def start_collector() -> subprocess.Popen[bytes]:
        """Start it and wait until its broker session is up (/healthz is 200 before that)."""
        col = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(600):
            if metric(base, "collector_mqtt_connected") == 1:
                return col
            time.sleep(0.05)
        raise RuntimeError(f"collector did not come up (see {work / 'collector.log'})")

    col = start_collector()  # creates the persistent session and its shared subscription
    time.sleep(1.0)  # its SUBSCRIBE is sent with the connection; give the broker time to take it
    col.terminate()
    col.wait(30)
    try:
        # 1. the store's rate: a backlog queued while the collector was down
        pub, q = start_publisher(port, devices, CALIBRATION_EPOCH, args.calibrate_records, args.records_per_frame, 0.0)
        calibrated, _ = q.get(timeout=600)
        pub.join(30)
        col = start_collector()
        t0 = time.monotonic()
        while (n := stored_total(base)) < calibrated:
            if time.monotonic() - t0 > 900 or (n <= 0 and time.monotonic() - t0 > 60):
                raise RuntimeError(f"calibration backlog not drained: {n} of {calibrated}")
            time.sleep(0.1)
        store_rate = calibrated / (time.monotonic() - t0)

        # 2. the flood
        offered_rate = args.times * store_rate
        flood_records = int(offered_rate * args.seconds)
        pub, q = start_publisher(port, devices, FLOOD_EPOCH, flood_records, args.records_per_frame, offered_rate)
        samples: list[tuple[float, float, float, int, int]] = []  # rss, metrics s, healthz s, statuses
        t_flood = time.monotonic()
        while pub.is_alive():
            m_s, m_code = timed_get(base + "/metrics")
            h_s, h_code = timed_get(base + "/healthz")
            samples.append((proc_mb(col.pid, "VmRSS"), m_s, h_s, m_code, h_code))
            time.sleep(0.25)
        published, pub_s = q.get(timeout=60)
        pub.join(30)
        flood_s = time.monotonic() - t_flood
        at_end = stored_total(base) - calibrated

        # 3. the drain
        deadline = time.monotonic() + 1800
        while (n := stored_total(base) - calibrated) < published and time.monotonic() < deadline:
            m_s, m_code = timed_get(base + "/metrics")
            h_s, h_code = timed_get(base + "/healthz")
            samples.append((proc_mb(col.pid, "VmRSS"), m_s, h_s, m_code, h_code))
            time.sleep(0.25)
        drain_s = time.monotonic() - t_flood
        peak_rss = proc_mb(col.pid, "VmHWM")

        async def streams() -> list[dict[str, object]]:
            async with open_store(db) as s:
                return await s.streams()

        rows = [r for r in asyncio.run(streams()) if r["epoch"] == FLOOD_EPOCH]
        each = published // args.records_per_frame // len(devices) * args.records_per_frame
        exact = (
            sum(int(r["stored"]) for r in rows) == published  # type: ignore[call-overload]
            and all(r["missing"] == 0 for r in rows)
            and n == published
        )
        m_times = [s[1] for s in samples]
        h_times = [s[2] for s in samples]
        bad = sum(1 for s in samples if s[3] != 200 or s[4] != 200)
        print(
            f"\ncollector flood, SQLite, {args.records_per_frame}-record frames from {args.devices} devices, "
            f"queue bound {args.queue_max or 'default'}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"store rate (drain of {calibrated:,} queued records): {store_rate:,.0f} rec/s; "
            f"flood offered {published / pub_s:,.0f} rec/s for {pub_s:.0f} s = {published / pub_s / store_rate:.1f} x"
        )
        heads = ("x store", "peak RSS MB", "/metrics p99", "max ms", "/healthz p99", "max ms", "published", "stored")
        print(" ".join(f"{h:>12s}" for h in heads))
        print(
            f"{published / pub_s / store_rate:12.1f} {peak_rss:12.0f} {1000 * quantile(m_times, 0.99):12.0f} "
            f"{1000 * max(m_times):12.0f} {1000 * quantile(h_times, 0.99):12.0f} {1000 * max(h_times):12.0f} "
            f"{published:12,d} {n:12,d}"
        )
        print(
            f"stored by the end of the flood: {at_end:,} ({at_end / flood_s:,.0f} rec/s during it); drained after "
            f"{drain_s:.0f} s; {len(samples)} samples, {bad} non-200; per stream {each:,} published; "
            f"exactly once: {exact}"
        )
        return 0 if exact else 1
    finally:
        col.terminate()
        col.wait(30)
        broker.terminate()
        broker.wait(10)


if __name__ == "__main__":
    sys.exit(main())
