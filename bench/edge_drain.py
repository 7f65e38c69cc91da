"""Catch-up after an outage (issue 14): how long a 24-hour backlog takes to drain, and do alarms go first.

    .venv/bin/python bench/edge_drain.py [--records 145898] [--events 560] [--batch 100,500] [--json]

A fresh outbox is filled through the real API (`put_status` committed 300 at a time, `put_event`
at its place; the fill is not timed) with a day's records: by default the size of a full-rate
office day (145,898 records: status at every change, as `[report] policy = "full"` and as the
agent sent before the budget policy; a budget day is ~3,500 records), events spread evenly among
them, as if the link had been down all day. Then a real `Uplink` connects to a private Mosquitto
with the real `elev-collector run` (SQLite) acknowledging, and the time is taken until every
record is acknowledged (outbox depth 0) and the collector's API reports all of them stored. A
subscriber on the uplink topic notes when the last event arrived: alarms first means that moment
comes before the backlog is through. One run per `--batch` value of `[uplink] batch_max_records`
(the pace `batches_per_s` = 20 stays).
Target (issue 14): <= 60 s.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _stack  # noqa: E402
import aiomqtt  # noqa: E402
import uplink_day as ud  # noqa: E402

from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.uplink import Uplink  # noqa: E402
from protocols.events import Action, Event  # noqa: E402
from protocols.frames import RecordKind, decode_uplink  # noqa: E402
from protocols.signals import Door, Mode, SignalSnapshot  # noqa: E402
from protocols.topics import uplink_topic  # noqa: E402

GOAL_S = 60.0
SNAP = SignalSnapshot(0, 1, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)


async def fill(ob: Outbox, n: int, n_events: int) -> None:
    every = max(1, n // max(n_events, 1))
    mono = ud.MONO0
    group = 0
    for i in range(1, n + 1):
        mono += 590  # 145,898 records in 24 h
        if n_events and i % every == 0:
            raise_ = (i // every) % 2 == 1
            ev = Event(mono, "door_open_too_long", Action.RAISE if raise_ else Action.CLEAR, 3)
            await ob.put_event(mono, ud.WALL0 + mono - ud.MONO0, True, ev)
            group = 0
            continue
        moving = i % 3 != 0
        snap = SNAP._replace(t_ms=mono, floor=i % 12, running=moving, speed_mm_s=(i % 17) * 100 if moving else 0)
        ob.put_status(RecordKind.STATUS, mono, ud.WALL0 + mono - ud.MONO0, True, snap)
        group += 1
        if group >= 300:
            await ob.flush()
            group = 0
    await ob.flush()


async def drain_once(n: int, n_events: int, batch: int, mq: int, api: str, work: Path) -> dict[str, Any]:
    device = f"bench-drain-{batch}"
    cfg = ud.agent_config(device, mq, work / device)
    cfg = replace(cfg, uplink=replace(cfg.uplink, batch_max_records=batch))
    last_event_at: list[float] = []
    events_seen = 0
    subscribed = asyncio.Event()

    async def subscriber() -> None:
        nonlocal events_seen
        async with aiomqtt.Client("127.0.0.1", mq, identifier=f"bench-drain-sub-{batch}") as c:
            await c.subscribe(uplink_topic(device), qos=1)
            subscribed.set()
            async for m in c.messages:
                assert isinstance(m.payload, bytes)
                k = sum(1 for r in decode_uplink(m.payload).records if r.kind is RecordKind.EVENT)
                if k:
                    events_seen += k
                    last_event_at.append(time.perf_counter())

    sub = asyncio.create_task(subscriber())
    await asyncio.wait_for(subscribed.wait(), 20)
    async with Outbox(work / device / "outbox.db", cfg.outbox, cfg.timing.status_flush_s) as ob:
        f0 = time.perf_counter()
        await fill(ob, n, n_events)
        fill_s = time.perf_counter() - f0
        st = await ob.stats()
        total, epoch, events = st.depth, st.epoch, st.events
        up = Uplink(cfg, ob, lambda: (int(time.time() * 1000), True))
        t0 = time.perf_counter()
        run = asyncio.create_task(up.run())
        acked_s = stored_s = None
        url = f"{api}/api/v1/streams?device_id={device}"
        while time.perf_counter() - t0 < 900:
            await asyncio.sleep(0.1)
            if acked_s is None and up.counters.records_acked >= total:
                acked_s = time.perf_counter() - t0
            if stored_s is None:
                streams = await asyncio.to_thread(_stack.get, url) or []
                if any(s.get("epoch") == epoch and s.get("stored", 0) >= total for s in streams):
                    stored_s = time.perf_counter() - t0
            if acked_s is not None and stored_s is not None:
                break
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    sub.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sub
    if acked_s is None or stored_s is None:
        raise RuntimeError(f"backlog not drained within 900 s (acked {up.counters.records_acked} of {total})")
    drain_s = max(acked_s, stored_s)
    return {
        "batch_max_records": batch,
        "records": total,
        "events": events,
        "events_seen": events_seen,
        "fill_s": round(fill_s, 1),
        "drain_s": round(drain_s, 1),
        "acked_s": round(acked_s, 1),
        "stored_s": round(stored_s, 1),
        "last_event_s": round(last_event_at[-1] - t0, 2) if last_event_at else None,
        "frames": up.counters.frames_sent,
        "records_per_s": round(total / drain_s),
    }


async def run_all(n: int, n_events: int, batches: list[int], work: Path) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker, mq = _stack.mosquitto(work)
        procs.append(broker)
        col, api = _stack.collector(work, mq, [f"bench-drain-{b}" for b in batches])
        procs.append(col)
        runs = [await drain_once(n, n_events, b, mq, api, work) for b in batches]
        return {"runs": runs, "load": _stack.machine_load()}
    finally:
        for p in reversed(procs):
            _stack.stop(p)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--records", type=int, default=145_898)
    ap.add_argument("--events", type=int, default=560)
    ap.add_argument("--batch", default="100,500", help="batch_max_records values, one run each")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batch.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="bench-budget-", dir=Path(__file__).resolve().parent.parent) as d:
        r = asyncio.run(run_all(args.records, args.events, batches, Path(d)))
    if args.json:
        print(json.dumps(r))
        return 0
    for x in r["runs"]:
        ok = x["drain_s"] <= GOAL_S
        print(
            f"batch {x['batch_max_records']}: {x['records']:,} records ({x['events']} events) drained in "
            f"{x['drain_s']} s (acked {x['acked_s']} s, stored {x['stored_s']} s; {x['records_per_s']:,}/s, "
            f"{x['frames']:,} frames); last event arrived after {x['last_event_s']} s "
            f"({'pass' if ok else 'FAIL'} against <= {GOAL_S:g} s; load {r['load']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
