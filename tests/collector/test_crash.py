"""kill -9 of collector processes mid-stream: nothing lost, nothing doubled.

The publishers behave like agents: a record leaves their outbox only when an acknowledgement
(sent by the collector after its commit) covers it; everything else is re-sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.store import open_store
from tests.collector.procs import CollectorProcess
from tests.collector.publisher import Publisher, mixed
from tests.support.services import Broker

N = 2000
RAISES = sum(1 for s in range(1, N + 1) if s % 40 == 5)


async def check_store(db_url: str, devices: list[str]) -> None:
    async with open_store(db_url) as store:
        for d in devices:
            assert await store.count_records(d) == N, d
            (stream,) = await store.streams(d)
            assert (stream["stored"], stream["missing"], stream["contiguous_seq"]) == (N, 0, N)
            alarms = await store.alarms(device_id=d, limit=10_000)
            assert len(alarms) == RAISES and all(a.cleared_ms is not None for a in alarms), d
            assert len(await store.events(d, limit=10_000)) == 2 * RAISES
        assert await store.count_records() == N * len(devices)


async def stream(pubs: list[Publisher], kill_at_chunk: int, on_kill: object) -> int:
    """Send N records per publisher in chunks; call `on_kill` after chunk `kill_at_chunk`.
    Returns how many records were unacknowledged when the kill happened."""
    unacked_at_kill = 0
    recs = mixed(N)
    for i in range(0, N, 100):
        for p in pubs:
            await p.send(recs[i : i + 100])
        if i // 100 == kill_at_chunk:
            unacked_at_kill = sum(len(p.outbox) for p in pubs)
            on_kill()  # type: ignore[operator]
    await asyncio.gather(*(p.resend_until_acked(60, quiet_s=0.5) for p in pubs))
    return unacked_at_kill


async def test_kill_9_and_restart_sqlite(broker: Broker, tmp_path: Path, token_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    async with open_store(db) as s:
        for d in ("lift-1", "lift-2"):
            await s.add_device(d, d, 0)
    c = CollectorProcess(tmp_path, broker.url, db, token_file).start()

    def kill_and_restart() -> None:
        c.kill()
        c.start()  # same client id: the broker kept its session and queued frames for it

    try:
        async with Publisher(broker.port, "lift-1", batch=5) as p1, Publisher(broker.port, "lift-2", batch=1) as p2:
            unacked = await stream([p1, p2], 8, kill_and_restart)
        assert unacked > 0  # the kill did land mid-stream
        await check_store(db, ["lift-1", "lift-2"])
    finally:
        c.terminate()


@pytest.mark.postgres
async def test_three_collectors_on_one_postgres_one_killed(
    broker: Broker, tmp_path: Path, token_file: Path, pg_url: str
) -> None:
    devices = [f"lift-{i}" for i in range(4)]
    async with open_store(pg_url) as s:
        for d in devices:
            await s.add_device(d, d, 0)
    procs = [CollectorProcess(tmp_path, broker.url, pg_url, token_file, name=f"c{i}").launch() for i in range(3)]
    for proc in procs:
        proc.wait_ready()
    try:
        pubs = [Publisher(broker.port, d, batch=4) for d in devices]
        for p in pubs:
            await p.__aenter__()
        try:
            unacked = await stream(pubs, 6, procs[0].kill)
        finally:
            for p in pubs:
                await p.__aexit__(None, None, None)
        assert unacked > 0
        await check_store(pg_url, devices)
        stored = [p.metric("collector_records_stored_total") for p in procs[1:]]
        assert all(n > 0 for n in stored), stored  # the survivors shared the load
    finally:
        for p in procs[1:]:
            p.terminate()
