"""Alarm commit -> rescue case open, in process, on SQLite and PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/platform_case_latency.py [ENTRAPMENTS]

The platform runs on the ingest's own store (as in `elev-collector run`), with a poll interval
of an hour so only the store's in-process telling can open a case. For each entrapment (one per
elevator, committed one after another as the ingest would), the time from the commit's return
to the platform telling its case listeners that the case is open. Prints one table row per
engine (p50, p95, max in ms). PostgreSQL: a scratch database on the local server (dropped after).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import T0, Clock, ev, rows

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def measure(url: str, n: int) -> list[float]:
    clock = Clock(T0 + 100_000)
    opened = asyncio.Event()
    out = []
    async with open_store(url) as store:
        await store.add_devices([f"lift-{i}" for i in range(n)], T0)
        async with Platform(store, PlatformConfig(poll_s=3600.0), clock) as p:
            p.case_listeners.append(opened.set)
            worker = asyncio.create_task(p.run())
            await asyncio.sleep(0.2)  # the start-up catch-up (an empty database)
            for i in range(n):
                opened.clear()
                await store.commit(rows(f"lift-{i}", [ev(1, 90, "entrapment", "raise")]))
                t0 = time.perf_counter()
                await asyncio.wait_for(opened.wait(), 10)
                out.append((time.perf_counter() - t0) * 1000)
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
    return out


def row(engine: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"| {engine:<10} | {len(ms):>5} | {statistics.median(ms):8.2f} | {q[18]:8.2f} | {max(ms):8.2f} |"


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    print("| engine     | cases | p50 ms   | p95 ms   | max ms   |")
    print("|------------|-------|----------|----------|----------|")
    with tempfile.TemporaryDirectory() as tmp:
        print(row("SQLite", asyncio.run(measure(f"sqlite:///{Path(tmp) / 'bench.db'}", n))))
    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        print(row("PostgreSQL", asyncio.run(measure(f"postgresql://postgres@127.0.0.1:5432/{name}", n))))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
