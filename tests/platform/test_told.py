"""The store tells the platform, in process, which alarms each commit opened and closed; the
platform acts on those rows at once and scans the alarms table only to catch up at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

from collector.platform.service import Platform, PlatformConfig
from collector.store import AlarmChange, open_store
from tests.collector.conftest import wait_until
from tests.platform.helpers import T0, Clock, ev, rows


async def test_each_commit_tells_the_alarms_it_opened_and_closed(db_url: str) -> None:
    told: list[list[AlarmChange]] = []

    def listen(changes: Sequence[AlarmChange]) -> None:
        told.append(list(changes))

    async with open_store(db_url) as store:
        for d in ("lift-1", "lift-2"):
            await store.add_device(d, d, T0)
        store.alarm_listeners.append(listen)
        await store.commit(rows("lift-1", [ev(1, 10, "entrapment", "raise", floor=4)]))
        ((opened,),) = told
        assert (opened.device_id, opened.type, opened.cleared_ms, opened.floor) == ("lift-1", "entrapment", None, 4)
        assert opened.raised_ms == T0 + 10_000
        await store.commit(rows("lift-1", [ev(2, 20, "entrapment", "clear")]))
        (closed,) = told[-1]
        assert (closed.id, closed.cleared_ms) == (opened.id, T0 + 20_000)
        # raised and cleared in one batch: one change, its last state
        await store.commit(
            rows("lift-1", [ev(3, 30, "controller_fault", "raise"), ev(4, 31, "controller_fault", "clear")])
        )
        (both,) = told[-1]
        assert (both.type, both.cleared_ms) == ("controller_fault", T0 + 31_000)
        n = len(told)
        await store.commit(rows("lift-1", [ev(2, 20, "entrapment", "clear")]))  # a duplicate changes nothing
        assert len(told) == n
        # device_offline: raised by the presence check, cleared when the device is heard again
        assert sorted(await store.raise_offline(T0 + 900_000, 600_000, T0)) == ["lift-1", "lift-2"]
        assert sorted((c.device_id, c.type, c.cleared_ms) for c in told[-1]) == [
            ("lift-1", "device_offline", None),
            ("lift-2", "device_offline", None),
        ]
        await store.commit(rows("lift-2", [ev(1, 950, "door_open_too_long", "raise")]))
        kinds = sorted((c.device_id, c.type, c.cleared_ms is None) for c in told[-1])
        assert kinds == [("lift-2", "device_offline", False), ("lift-2", "door_open_too_long", True)]
        await store.presence("lift-1", True, T0 + 960_000)  # its broker presence says it is back
        (back,) = told[-1]
        assert (back.device_id, back.type, back.cleared_ms) == ("lift-1", "device_offline", T0 + 960_000)


async def test_a_rescue_case_opens_on_its_commit_and_the_table_is_scanned_only_at_start(db_url: str) -> None:
    clock = Clock(T0 + 100_000)
    cfg = PlatformConfig(poll_s=3600.0)  # no poll in this test's time: only being told opens cases
    sqlite = db_url.startswith("sqlite")
    async with open_store(db_url) as store, open_store(db_url) as other:
        for d in ("lift-1", "lift-2", "lift-3"):
            await store.add_device(d, d, T0)
        # committed before the platform started: its start-up catch-up finds it
        await other.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
        async with Platform(store, cfg, clock) as p:
            worker = asyncio.create_task(p.run())
            try:

                async def case_of(device: str) -> list[dict[str, Any]]:
                    return await p.cases(None, device, 10)

                await wait_until(lambda: case_of("lift-1"), 10, "the start-up catch-up to open lift-1's case")
                # another writer's commit is not told to this platform: nothing scans for it now
                await other.commit(rows("lift-2", [ev(1, 92, "entrapment", "raise")]))
                t0 = time.monotonic()
                await store.commit(rows("lift-3", [ev(1, 95, "entrapment", "raise")]))
                (case,) = await wait_until(lambda: case_of("lift-3"), 10, "lift-3's case")
                elapsed_s = time.monotonic() - t0
                assert elapsed_s < 1.0, f"rescue case opened {elapsed_s:.2f} s after its alarm's commit"
                assert case["status"] == "01"
                if sqlite:  # the pass that opened lift-3's case did not scan the table
                    assert await case_of("lift-2") == []
                else:  # PostgreSQL tells of other processes' alarm commits (LISTEN/NOTIFY)
                    await wait_until(lambda: case_of("lift-2"), 10, "the other writer's case, notified")
                # a told clear reaches the city feed as well
                await store.commit(rows("lift-3", [ev(2, 99, "entrapment", "clear")]))

                async def lift3_cleared_for_the_city() -> bool:
                    return (await p.db.run(_city_alarms)).get("lift-3") is False

                await wait_until(lift3_cleared_for_the_city, 10, "lift-3's cleared alarm queued for the city")
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        # the next start catches up with what it was not told
        async with Platform(store, cfg, clock) as p:
            assert (await p.tick()).cases_opened == (1 if sqlite else 0)
            assert [c["device_id"] for c in await p.cases(None, "lift-2", 10)] == ["lift-2"]


def _city_alarms(cur: Any) -> dict[str, bool]:
    """device -> whether its last alarm queued for the city is active."""
    cur.execute("SELECT body FROM city_outbox WHERE kind = 'alarm' ORDER BY id")
    return {b["device_id"]: b["active"] for b in (json.loads(body) for (body,) in cur.fetchall())}


async def test_on_postgresql_another_collectors_alarm_commits_reach_the_platform(pg_url: str) -> None:
    """Collectors sharing one subscription run the platform on one of them: the alarms the others
    commit are not told in process, so the database notifies the commit and the platform scans."""
    clock = Clock(T0 + 100_000)
    async with open_store(pg_url) as store, open_store(pg_url) as other:
        for d in ("lift-1", "lift-2"):
            await store.add_device(d, d, T0)
        async with Platform(store, PlatformConfig(poll_s=3600.0), clock) as p:
            worker = asyncio.create_task(p.run())
            try:
                await other.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
                await wait_until(lambda: p.cases(None, "lift-1", 10), 10, "the other collector's entrapment case")
                await other.commit(rows("lift-2", [ev(1, 91, "entrapment", "raise")]))
                await wait_until(lambda: p.cases(None, "lift-2", 10), 10, "a second one, after start-up")
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
