"""A dropped PostgreSQL connection (the server restarted, an administrator ran
pg_terminate_backend) is reconnected: the store's connection at its next transaction, the
platform's LISTEN connection after a backoff; meanwhile the store says why for /healthz, and
nothing the platform stopped on ends it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import psycopg
import pytest

from collector.errors import StoreError
from collector.outbound import city_feed
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from protocols.events import Action
from tests.collector.conftest import wait_until
from tests.collector.publisher import Publisher
from tests.platform.helpers import T0, Clock, ev, rows
from tests.platform.test_e2e_county_city import Proc, at_boot
from tests.support.services import Broker, free_port


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()


def terminate_backends(url: str) -> int:
    """Every other connection to the test's database, killed as an administrator would."""
    with psycopg.connect(url, autocommit=True) as c:
        (n,) = c.execute(  # type: ignore[misc]
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(n)


async def test_a_store_reconnects_and_says_why_meanwhile(pg_url: str) -> None:
    async with open_store(pg_url) as store:
        await store.add_device("lift-1", "lift-1", T0)
        await store.commit(rows("lift-1", [ev(1, 10, "door_open_too_long", "raise")]))
        assert store.problem() is None
        assert terminate_backends(pg_url) >= 1
        # a transaction that finds its connection dead at BEGIN runs on a new one: nobody notices
        await store.run(lambda cur: cur.execute("SELECT 1"))
        assert store.problem() is None
        # while the server does not answer (here: it moved to a port where nothing listens), the
        # store says why, for /healthz ...
        terminate_backends(pg_url)
        store.url = pg_url.replace(f":{urlsplit(pg_url).port}/", f":{free_port()}/")
        with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
            await store.run(lambda cur: cur.execute("SELECT 1"))
        problem = store.problem()
        assert problem is not None and problem.startswith("PostgreSQL connection lost: cannot connect"), problem
        # ... and once it answers again the next transaction reconnects; nothing stored was lost
        store.url = pg_url
        await store.run(lambda cur: cur.execute("SELECT 1"))
        assert store.problem() is None
        assert [e["active_alarms"] for e in await store.elevators()] == [["door_open_too_long"]]
        # a batch whose connection dropped is tried again on a new one (nothing was acknowledged)
        terminate_backends(pg_url)
        res = await store.commit(rows("lift-1", [ev(2, 20, "door_open_too_long", "clear")]))
        assert res.new == 1 and store.problem() is None


async def test_the_platform_survives_terminated_backends_and_still_opens_cases(pg_url: str) -> None:
    clock = Clock(T0 + 100_000)
    async with open_store(pg_url) as store, open_store(pg_url) as other:
        for d in ("lift-1", "lift-2", "lift-3"):
            await store.add_device(d, d, T0)
        async with Platform(store, PlatformConfig(poll_s=3600.0), clock) as p:
            worker = asyncio.create_task(p.run())
            try:
                await other.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
                await wait_until(lambda: p.cases(None, "lift-1", 10), 10, "lift-1's case before the drop")
                assert terminate_backends(pg_url) >= 3  # the store's, the other writer's, the LISTEN one

                # the LISTEN connection comes back (another writer's commit is notified again) ...
                async def listening_again() -> bool:
                    assert not worker.done(), worker.exception()
                    return store._listen_error is None and store.problem() is None  # noqa: SLF001

                await other.commit(rows("lift-2", [ev(1, 92, "entrapment", "raise")]))
                await wait_until(lambda: p.cases(None, "lift-2", 10), 20, "the other writer's case, after the drop")
                await wait_until(listening_again, 20, "the listener to reconnect")
                # ... and so does the store's own: a told alarm opens its case
                await store.commit(rows("lift-3", [ev(1, 95, "entrapment", "raise")]))
                await wait_until(lambda: p.cases(None, "lift-3", 10), 20, "lift-3's case, after the drop")
                assert not worker.done()
                assert len(await p.cases(None, None, 10)) == 3
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker


async def test_elev_collector_run_outlives_terminated_backends(
    tmp_path: Path, broker: Broker, pg_url: str, procs: list[Proc]
) -> None:
    """The daemon on PostgreSQL: every backend of the collector terminated (what an operator's
    pg_terminate_backend or a failover does), and it carries on: alarms are stored and acked,
    the platform opens their case, /healthz is 200 again."""
    token = "api-token-0123456789"
    (tmp_path / "token").write_text(token)
    auth = {"Authorization": f"Bearer {token}"}
    async with open_store(pg_url) as store:
        await store.add_device("lift-1", "lift-1", T0)
    port = free_port()
    cli = str(Path(sys.executable).parent / "elev-collector")
    args = [cli, "run", "--broker", broker.url, "--db", pg_url, "--http", f"127.0.0.1:{port}"]
    daemon = Proc("collector", [*args, "--api-token-file", str(tmp_path / "token")], port, tmp_path)
    procs.append(daemon.start())
    boot = time.time_ns() // 1_000_000 - 10_000
    event = at_boot(boot)
    async with aiohttp.ClientSession() as http:

        async def get(path: str) -> tuple[int, Any]:
            async with http.get(f"http://127.0.0.1:{port}{path}", headers=auth) as r:
                return r.status, await r.json()

        async def healthy() -> bool:
            assert daemon.proc is not None and daemon.proc.poll() is None, "the collector exited"
            return (await get("/healthz"))[0] == 200

        await wait_until(healthy, 20, "the collector to be healthy")
        async with Publisher(broker.port, "lift-1") as pub:
            await pub.send([event(1, 1000, "door_open_too_long", Action.RAISE)])
            await pub.resend_until_acked(timeout_s=10)
            assert terminate_backends(pg_url) >= 2  # the store's and the LISTEN connection
            await pub.send([event(2, 2000, "entrapment", Action.RAISE)])
            await pub.resend_until_acked(timeout_s=20)

        async def case() -> Any:
            assert daemon.proc is not None and daemon.proc.poll() is None, "the collector exited"
            status, cases = await get("/api/v1/rescue-cases?device_id=lift-1")
            return status == 200 and cases

        (opened,) = await wait_until(case, 20, "the entrapment's rescue case after the drop")
        assert opened["status"] == "01"
        await wait_until(healthy, 20, "the collector to be healthy again")
        status, alarms = await get("/api/v1/alarms?active=true")
        assert status == 200 and sorted(a["type"] for a in alarms) == ["door_open_too_long", "entrapment"]


async def test_the_city_role_outlives_terminated_backends(tmp_path: Path, pg_url: str, procs: list[Proc]) -> None:
    """`elev-collector platform` in the city role used to exit on "terminating connection due to
    administrator command"; now its loops restart on a new connection and its API answers."""
    token = "api-token-0123456789"
    (tmp_path / "token").write_text(token)
    (tmp_path / "yuecheng.token").write_text("county-token-yuecheng")
    (tmp_path / "city.toml").write_text(
        f'[platform]\npoll_s = 0.2\n[platform.city.county_token_files]\n330602 = "{tmp_path / "yuecheng.token"}"\n'
    )
    port = free_port()
    cli = str(Path(sys.executable).parent / "elev-collector")
    args = [cli, "platform", "--db", pg_url, "--http", f"127.0.0.1:{port}", "--config", str(tmp_path / "city.toml")]
    city = Proc("city", [*args, "--api-token-file", str(tmp_path / "token")], port, tmp_path)
    procs.append(city.start())
    async with aiohttp.ClientSession() as http:

        async def healthy() -> bool:
            assert city.proc is not None and city.proc.poll() is None, "the city platform exited"
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                return r.status == 200

        await wait_until(healthy, 20, "the city platform to be healthy")
        assert terminate_backends(pg_url) >= 1
        push = {
            "county": "330602",
            "items": [
                {
                    "idempotency_key": "330602:alarm:1:1",
                    "kind": "alarm",
                    "key": "1",
                    "version": 1,
                    "body": city_feed.alarm_body(1, "lift-1", "entrapment", T0, None, 3, None, None),
                }
            ],
        }
        headers = {"Authorization": "Bearer county-token-yuecheng"}
        async with http.post(f"http://127.0.0.1:{port}/city/v1/push", json=push, headers=headers) as r:
            assert r.status == 200, await r.text()
        await wait_until(healthy, 20, "the city platform to be healthy after the drop")
        async with http.get(
            f"http://127.0.0.1:{port}/api/v1/city/counties", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200 and [c["county"] for c in await r.json()] == ["330602"]
        assert city.proc is not None and city.proc.poll() is None
