"""Webhook retries and the county -> city push over real HTTP on loopback, with a manual clock so
the backoff is exercised without waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from collector.http.city_api import CityConfig
from collector.http.platform_server import serve
from collector.outbound.city_feed import CityFeedConfig, backlog
from collector.outbound.webhooks import WebhookConfig, backoff_s, list_deliveries
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import T0, Clock, Receiver, ev, rows
from tests.support.services import free_port

TOKEN = "api-token-0123456789"


@pytest.mark.parametrize(
    ("attempt", "rand", "expect"),
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (3, 0.0, 2.0), (3, 1.0, 4.0), (10, 1.0, 60.0), (10, 0.0, 30.0)],
)
def test_backoff_is_exponential_capped_and_jittered(attempt: int, rand: float, expect: float) -> None:
    assert backoff_s(attempt, 1.0, 60.0, lambda: rand) == expect


async def test_webhook_retried_until_accepted_with_the_same_idempotency_key(sqlite_url: str) -> None:
    port = free_port()
    hooks = WebhookConfig(
        rescue_centre_url=f"http://127.0.0.1:{port}/centre", retry_base_s=2, max_attempts=5, secret="hmac-secret"
    )
    clock = Clock(T0 + 100_000)
    receiver = Receiver(fail_next=2)
    async with open_store(sqlite_url) as store, Platform(sqlite_url, PlatformConfig(webhooks=hooks), clock) as p:
        await store.add_device("lift-1", "lift-1", T0)
        await store.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
        await p.tick()
        async with aiohttp.ClientSession() as session:
            assert await p.webhook_sender.deliver_due(session) == 0  # receiver not even listening
            await receiver.start(port)
            try:
                assert await p.webhook_sender.deliver_due(session) == 0  # backing off: not due yet
                for _ in range(3):
                    clock.advance(10)
                    await p.webhook_sender.deliver_due(session)
                assert len(receiver.got) == 1
                clock.advance(600)
                assert await p.webhook_sender.deliver_due(session) == 0  # delivered once, never again
            finally:
                await receiver.stop()
        headers, body = receiver.got[0]
        assert headers["Idempotency-Key"].startswith("RC-1:opened:rescue_centre")
        assert body["event"] == "rescue.opened" and body["case"]["status"] == "01"
        raw = json.dumps(body, ensure_ascii=False).encode()
        assert headers["X-Signature"] == "sha256=" + hmac.new(b"hmac-secret", raw, hashlib.sha256).hexdigest()
        (row,) = await p.db.run(lambda cur: list_deliveries(p.db, cur, None, 10))
        assert row["attempts"] == 4 and row["sent_ms"] is not None


async def test_webhook_given_up_after_max_attempts_is_listed_as_failed(sqlite_url: str) -> None:
    hooks = WebhookConfig(rescue_centre_url=f"http://127.0.0.1:{free_port()}/x", retry_base_s=1, max_attempts=3)
    clock = Clock(T0 + 100_000)
    async with open_store(sqlite_url) as store, Platform(sqlite_url, PlatformConfig(webhooks=hooks), clock) as p:
        await store.add_device("lift-1", "lift-1", T0)
        await store.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
        await p.tick()
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                await p.webhook_sender.deliver_due(session)
                clock.advance(100)
        (row,) = await p.db.run(lambda cur: list_deliveries(p.db, cur, True, 10))
        assert row["attempts"] == 3 and row["failed_ms"] is not None and "ClientConnectorError" in row["last_error"]


@contextlib.asynccontextmanager
async def city(url: str, port: int, counties: dict[str, str]) -> AsyncIterator[None]:
    started = asyncio.Event()
    stop = asyncio.Event()
    cfg = PlatformConfig(city=CityConfig(counties=counties))
    task = asyncio.create_task(serve(url, "127.0.0.1", port, TOKEN, cfg, ready=started.set, stop=stop))
    async with asyncio.timeout(10):
        await started.wait()
    try:
        yield
    finally:
        stop.set()
        await task


async def test_city_outage_then_catch_up_nothing_lost_or_doubled(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    city_url = f"sqlite:///{tmp_path / 'city.db'}"
    city_port = free_port()
    feed = CityFeedConfig(
        f"http://127.0.0.1:{city_port}", "330602", "county-token-1", batch_max=3, retry_base_s=5, retry_cap_s=20
    )
    clock = Clock(T0 + 100_000)
    async with open_store(sqlite_url) as store, Platform(sqlite_url, PlatformConfig(city_feed=feed), clock) as p:
        for i in range(4):
            await store.add_device(f"lift-{i}", f"lift-{i}", T0)
        for i in range(4):
            await store.commit(rows(f"lift-{i}", [ev(1, 90, "controller_fault", "raise")]))
        await p.tick()
        assert p.feed_sender is not None
        async with aiohttp.ClientSession() as session:
            wait = await p.feed_sender.push_once(session, "inst")  # the city is down
            assert 2.5 <= wait <= 5.0
            assert await p.feed_sender.push_once(session, "inst") > 0  # still backing off
            queued = await p.db.run(lambda cur: backlog(p.db, cur))
            assert queued["pending"] == 12 and queued["head_attempts"] == 1  # 4 alarms, 4 elevators, 4 statuses
            for i in range(4):  # more happens while the city is down
                await store.commit(rows(f"lift-{i}", [ev(2, 95, "controller_fault", "clear")]))
            await p.tick()
            async with city(city_url, city_port, {"330602": "county-token-1"}):
                clock.advance(30)
                for _ in range(20):
                    if await p.feed_sender.push_once(session, "inst") >= 0.5:
                        break
                # a response lost on the way back: the county sends the same items again
                await p.db.run(lambda cur: cur.execute("UPDATE city_outbox SET sent_ms = NULL WHERE id > 10"))
                for _ in range(5):
                    await p.feed_sender.push_once(session, "inst")
        assert p.feed_sender.pushed == 16 + 6
    async with Platform(city_url, PlatformConfig(), Clock()) as c:
        alarms = await c.city_items("alarm")
        assert sorted(a["device_id"] for a in alarms) == [f"lift-{i}" for i in range(4)]
        assert all(not a["active"] and a["gbt_code"] == "08" for a in alarms)
        receipts = await c.db.run(lambda cur: (cur.execute("SELECT COUNT(*) FROM city_receipts"), cur.fetchone())[1])
        assert receipts == (16,)
        assert json.dumps(sorted(a["alarm_id"] for a in alarms)) == "[1, 2, 3, 4]"
