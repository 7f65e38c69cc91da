"""An advisory at the collector (issue 18): stored and shown as what it is, never a rescue case,
never a page, never an equipment fault; on the real store (SQLite and PostgreSQL) and platform."""

from __future__ import annotations

import json

from collector.platform.service import Platform
from collector.platform.statistics import EQUIPMENT_FAULTS
from collector.store import open_store
from protocols import frames
from protocols.events import ADVISORY_TYPES, BY_NAME, Severity
from tests.platform.helpers import T0, Clock, ev, rows
from tests.platform.test_platform_store import CFG, REGISTRY, outbox, setup_store


def test_every_trend_figure_has_an_advisory_event_that_travels() -> None:
    from edge_agent.trend.watch import FIGURES

    assert {f.event for f in FIGURES} == ADVISORY_TYPES
    assert all(BY_NAME[t].severity is Severity.ADVISORY for t in ADVISORY_TYPES)
    assert not ADVISORY_TYPES & EQUIPMENT_FAULTS  # MTBF counts faults, not drifting figures
    record = ev(1, 86_400, "trend_door_opening", "raise")
    back = frames.decode_uplink(frames.encode_uplink(frames.UplinkFrame(3, (record,))))
    assert back.records[0].body == record.body


async def test_an_advisory_opens_no_case_and_pages_nobody(db_url: str) -> None:
    await setup_store(db_url)
    clock = Clock(T0 + 200_000)
    async with open_store(db_url) as store, Platform(db_url, CFG, clock) as p:
        await p.import_registry(REGISTRY)
        await store.commit(
            rows("lift-1", [ev(1, 90, "trend_door_opening", "raise"), ev(2, 95, "trend_relevels", "raise")])
        )
        res = await p.tick()
        assert res.cases_opened == 0
        assert await p.cases(open_=None, device_id=None, limit=10) == []
        assert await outbox(p, "webhook_outbox") == []  # nobody is notified: no rescue centre, no company page
        alarms = [json.loads(b) for k, _, b in await outbox(p, "city_outbox") if k == "alarm"]
        assert sorted((a["type"], a["severity"]) for a in alarms) == [
            ("trend_door_opening", "advisory"),
            ("trend_relevels", "advisory"),
        ]
        # the same path still opens a case for an entrapment (the test above is not vacuous)
        await store.commit(rows("lift-1", [ev(3, 100, "entrapment", "raise")]))
        assert (await p.tick()).cases_opened == 1
        # the advisory clears when its figure returns
        await store.commit(rows("lift-1", [ev(4, 200, "trend_door_opening", "clear")]))
        active = {a.type for a in await store.alarms(active=True)}
        assert active == {"trend_relevels", "entrapment"}


def test_statistics_count_advisories_apart_from_faults() -> None:
    from collector.platform.statistics import AlarmFact, ElevatorRef, compute, to_csv

    ref = ElevatorRef("lift-1", "330602", "Acme Lift", 0)
    day = 86_400_000
    alarms = [
        AlarmFact("lift-1", "trend_door_opening", 5 * day, None),
        AlarmFact("lift-1", "trend_relevels", 6 * day, 9 * day),
        AlarmFact("lift-1", "door_open_too_long", 7 * day, 7 * day + 90_000),
    ]
    elevator = compute([ref], alarms, [], 0, 30 * day)[0].as_dict()
    assert (elevator["faults_total"], elevator["advisories_total"]) == (1, 2)
    assert elevator["advisories_by_type"] == {"trend_door_opening": 1, "trend_relevels": 1}
    assert elevator["mtbf_h"] == 720.0  # one equipment fault in 30 days: the advisories are not faults
    header = to_csv(compute([ref], alarms, [], 0, 30 * day)).splitlines()[0].split(",")
    assert header[-2:] == ["advisories_trend_door_opening", "advisories_trend_relevels"]
    assert "faults_trend_relevels" not in header
