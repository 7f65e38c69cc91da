"""How long the platform worker's passes take over a county-sized store, on SQLite and PostgreSQL.

Not a test (pytest does not collect it). Run from the repository root:

    PYTHONPATH=. .venv/bin/python tests/platform/bench_platform.py [DEVICES] [ALARMS_PER_DEVICE]

It registers DEVICES elevators, stores ALARMS_PER_DEVICE raised-and-cleared alarms each (every
tenth an entrapment, so each elevator gets rescue cases), then starts the platform an hour later
and measures: the catch-up (every alarm seen, cases opened, escalations due, city items queued),
an idle tick, a tick that also builds the status summaries, and the statistics over the period.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import time

import psycopg

from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import T0, Clock, ev, rows

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def run(url: str, devices: int, alarms_per: int) -> None:
    async with open_store(url) as s:
        for d in range(devices):
            await s.add_device(f"lift-{d}", f"lift-{d}", T0)
        batch = []
        for d in range(devices):
            recs = []
            for k in range(alarms_per):
                typ = "entrapment" if k % 10 == 0 else "controller_fault"
                recs += [ev(2 * k + 1, 10 + 100 * k, typ, "raise"), ev(2 * k + 2, 60 + 100 * k, typ, "clear")]
            batch += rows(f"lift-{d}", recs)
        await s.commit(batch)
    clock = Clock(T0 + 3600_000)
    async with Platform(url, PlatformConfig(), clock) as p:
        t = time.perf_counter()
        ticks = 0
        while True:
            r = await p.tick()
            ticks += 1
            if r.city_items == 0 and r.cases_opened == 0:
                break
        catch_up = time.perf_counter() - t
        t = time.perf_counter()
        await p.tick()
        idle = time.perf_counter() - t
        clock.advance(120)
        t = time.perf_counter()
        await p.tick()
        summary = time.perf_counter() - t
        cases = len(await p.cases(None, None, 10000))
        t = time.perf_counter()
        await p.statistics(T0, clock.now_ms)
        stats = time.perf_counter() - t
    print(
        f"{url.split(':')[0]:10s} devices={devices} alarms={devices * alarms_per} cases={cases}: "
        f"catch-up {catch_up:.2f} s in {ticks} ticks, idle tick {idle * 1000:.0f} ms, "
        f"tick with summaries {summary * 1000:.0f} ms, statistics {stats * 1000:.0f} ms"
    )


async def main(devices: int, alarms_per: int) -> None:
    await run(f"sqlite:////tmp/bench_platform_{secrets.token_hex(3)}.db", devices, alarms_per)
    name = f"bench_platform_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        await run(f"postgresql://postgres@127.0.0.1:5432/{name}", devices, alarms_per)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    logging.disable(logging.WARNING)  # thousands of "case opened" warnings are the point, not news
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [2000, 10][len(args) :])))
