"""Hotline intake, one car one case: a 96333 call for a car that already has an open case is
refused naming it (409: one car, one case, one crew), and the detector's entrapment on a car whose
case was opened by phone joins that case instead of opening a second one. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from collector.platform.rescue import RefusedTransition
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import T0, Clock, ev, rows


async def setup_store(db_url: str) -> None:
    async with open_store(db_url) as s:
        for d in ("lift-1", "lift-2"):
            await s.add_device(d, d, T0 - 100 * 86_400_000)


async def test_the_call_comes_first_then_the_detector_joins_its_case(db_url: str) -> None:
    await setup_store(db_url)
    clock = Clock(T0 + 60_000)
    async with open_store(db_url) as store, Platform(db_url, PlatformConfig(), clock) as p:
        by_phone = await p.open_manual("lift-1", "officer-wang", "caller: stuck between 3 and 4")
        assert by_phone["alarm_id"] is None
        with pytest.raises(RefusedTransition, match=f"{by_phone['case_id']} is already open for lift-1"):
            await p.open_manual("lift-1", "officer-li", "second call")
        clock.advance(30)
        await store.commit(rows("lift-1", [ev(1, 85, "entrapment", "raise")]))
        res = await p.tick()
        assert res.cases_opened == 0, "the phone's case is the car's case"
        (case,) = await p.cases(True, "lift-1", 10)
        assert case["case_id"] == by_phone["case_id"] and case["alarm_id"] is not None
        # another car is its own case
        second = await p.open_manual("lift-2", "officer-wang", "")
        assert second["case_id"] != by_phone["case_id"]


async def test_the_detector_comes_first_then_the_call_is_pointed_to_its_case(db_url: str) -> None:
    await setup_store(db_url)
    clock = Clock(T0 + 100_000)
    async with open_store(db_url) as store, Platform(db_url, PlatformConfig(), clock) as p:
        await store.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
        assert (await p.tick()).cases_opened == 1
        (auto,) = await p.cases(True, "lift-1", 10)
        with pytest.raises(RefusedTransition, match=f"{auto['case_id']} is already open for lift-1"):
            await p.open_manual("lift-1", "officer-wang", "caller")
        # once it is closed, a new call is a new case
        for action in ("respond", "arrive", "complete"):
            await p.act(auto["case_id"], action, "officer-wang", "")
        again = await p.open_manual("lift-1", "officer-wang", "they called again")
        assert again["case_id"] != auto["case_id"]
