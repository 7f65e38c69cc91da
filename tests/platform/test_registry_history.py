"""The registry's effective-dated history (issue 17 item 1), on SQLite and PostgreSQL.

What a regulator tried: moving an elevator to another maintenance company re-attributed its whole
history. Now each import appends a version valid from its effective date, and statistics count
each alarm and case against the company in charge when it happened."""

from __future__ import annotations

import datetime

import pytest

from collector.platform.identity import FIELDS, IdentityError
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import Clock, ev, rows


def ms(day: str) -> int:
    d = datetime.date.fromisoformat(day)
    return int(datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.UTC).timestamp() * 1000)


NOV, DEC, JAN = ms("2025-11-01"), ms("2025-12-01"), ms("2026-01-01")
HEADER = ",".join(FIELDS)  # the seven columns of the release before the optional ones
LIFT1 = "lift-1,31103306022015060001,100001,330602,1 Jiefang Rd,Yuecheng Housing Office,"
LIFT2 = "lift-2,31103306812019110042,100002,330681,2 Jiyang Rd,Zhuji Hospital,Best Maint"


def registry(company: str) -> str:
    return f"{HEADER}\n{LIFT1}{company}\n{LIFT2}\n"


async def entrapment(store: object, p: Platform, clock: Clock, seq: int, at_ms: int) -> None:
    """An entrapment raised at `at_ms` and cleared a minute later; its case runs to completion."""
    clock.now_ms = at_ms + 3_600_000
    await store.commit(  # type: ignore[attr-defined]
        rows("lift-1", [ev(seq, 0, "entrapment", "raise", t0=at_ms), ev(seq + 1, 60, "entrapment", "clear", t0=at_ms)])
    )
    await p.tick()
    (case,) = await p.cases(open_=True, device_id="lift-1", limit=10)
    for action, after_s in (("respond", 120), ("arrive", 900), ("complete", 1500)):
        await p.act(case["case_id"], action, "officer-wang", "", at_ms=at_ms + after_s * 1000)


def company_figures(figs: list, company: str) -> dict[str, object]:  # type: ignore[type-arg]
    (f,) = [f for f in figs if f.scope == "company" and f.key == company]
    return f.as_dict()  # type: ignore[no-any-return]


async def test_a_company_change_mid_period_leaves_last_month_unchanged(db_url: str) -> None:
    async with open_store(db_url) as s:
        for d in ("lift-1", "lift-2"):
            await s.add_device(d, d, NOV - 30 * 86_400_000)
    clock = Clock(ms("2025-11-10"))
    async with open_store(db_url) as store, Platform(db_url, PlatformConfig(), clock) as p:
        assert await p.import_registry(registry("Acme Lift")) == {"elevators": 2, "changed": 2}
        await entrapment(store, p, clock, 1, ms("2025-11-20"))
        await entrapment(store, p, clock, 3, ms("2025-12-03"))
        before = company_figures(await p.statistics(NOV, DEC), "Acme Lift")
        assert (before["entrapments"], before["rescue_cases"]) == (1, 1)

        # lift-1 moves to Best Maint from 10 December, imported on the 12th
        clock.now_ms = ms("2025-12-12")
        out = await p.import_registry(registry("Best Maint"), valid_from_ms=ms("2025-12-10"))
        assert out == {"elevators": 2, "changed": 1}
        await entrapment(store, p, clock, 5, ms("2025-12-15"))

        nov = await p.statistics(NOV, DEC)
        assert company_figures(nov, "Acme Lift") == before  # last month is as it was
        assert company_figures(nov, "Best Maint")["entrapments"] == 0
        dec = await p.statistics(DEC, JAN)
        acme, best = company_figures(dec, "Acme Lift"), company_figures(dec, "Best Maint")
        assert (acme["entrapments"], acme["rescue_cases"]) == (1, 1)  # 3 December: Acme's
        assert (best["entrapments"], best["rescue_cases"]) == (1, 1)  # 15 December: Best Maint's
        assert best["elevators"] == 2 and acme["elevators"] == 1  # lift-2 and, from the 10th, lift-1
        # the elevator's own figures and its district keep the whole month
        (lift1,) = [f for f in dec if f.scope == "elevator" and f.key == "lift-1"]
        assert lift1.entrapments == 2

        history = await p.registry_history("lift-1")
        assert [(h["version"], h["maintenance_company"], h["valid_from"], h["valid_until"]) for h in history] == [
            (1, "Acme Lift", "2025-11-10T00:00:00.000Z", "2025-12-10T00:00:00.000Z"),
            (2, "Best Maint", "2025-12-10T00:00:00.000Z", None),
        ]
        assert history[1]["recorded"] == "2025-12-12T00:00:00.000Z"
        assert [i.maintenance_company for i in await p.registry()] == ["Best Maint", "Best Maint"]
        assert len(await p.registry_history("lift-2")) == 1  # unchanged rows add no version
        assert await p.registry_history("lift-9") == []

        # history is only appended to: a change may not take effect before the latest version
        with pytest.raises(IdentityError, match=r"lift-1: field valid_from: 2025-12-01.* before its version 2"):
            await p.import_registry(f"{HEADER},valid_from\n{LIFT1}Acme Lift,2025-12-01\n")
        assert len(await p.registry_history("lift-1")) == 2


async def test_full_fields_and_row_dates_import_and_export(db_url: str) -> None:
    async with Platform(db_url, PlatformConfig(), Clock(ms("2026-03-01"))) as p:
        text = (
            f"{HEADER},maintenance_phone,latitude,longitude,next_inspection,last_inspection,brand,valid_from\n"
            f"{LIFT1}Acme Lift,0575-8512 3456,30.0,120.58,2026-09-30,2025-09-30,迅达 Schindler,2026-02-01\n"
        )
        assert await p.import_registry(text) == {"elevators": 1, "changed": 1}
        (entry,) = await p.registry()
        assert (entry.maintenance_phone, entry.brand, entry.next_inspection) == (
            "0575-8512 3456",
            "迅达 Schindler",
            "2026-09-30",
        )
        (v1,) = await p.registry_history("lift-1")
        assert v1["valid_from"] == "2026-02-01T00:00:00.000Z" and v1["latitude"] == "30.0"
