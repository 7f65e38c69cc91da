"""An advisory at the collector (issue 18): stored and shown as what it is, never a rescue case,
never a page, never an equipment fault; on the real store (SQLite and PostgreSQL) and platform."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import aiohttp

from collector.outbound.webhooks import WebhookConfig, list_deliveries
from collector.platform.service import Platform, PlatformConfig
from collector.platform.statistics import EQUIPMENT_FAULTS
from collector.store import open_store
from protocols import frames
from protocols.events import ADVISORY_TYPES, BY_NAME, Severity
from tests.platform.helpers import T0, Clock, Receiver, ev, rows
from tests.platform.test_platform_store import CFG, REGISTRY, outbox, setup_store
from tests.support.services import free_port


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
        # the maintenance company is told, and only it: no rescue centre, no rescue case
        hooks = [(t, json.loads(b)) for t, b in await outbox(p, "webhook_outbox")]
        assert [(t, b["event"], b["advisory"]["type"]) for t, b in hooks] == [
            ("company:Acme Lift", "advisory.raised", "trend_door_opening"),
            ("company:Acme Lift", "advisory.raised", "trend_relevels"),
        ]
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


async def test_an_advisory_and_its_clear_reach_the_company_and_never_the_rescue_centre(db_url: str) -> None:
    """Over real HTTP on loopback: the company's receiver gets `advisory.raised`, then (the figure
    back) `advisory.cleared`, each signed, retried after a refusal with the same idempotency key,
    and never twice; the rescue centre's receiver gets nothing of it and no case opens. The
    mistake this stops is the one that would hurt most: a slow door paging the duty room."""
    centre, company = Receiver(), Receiver(fail_next=1)
    await centre.start(free_port())
    await company.start(free_port())
    hooks = WebhookConfig(
        rescue_centre_url=f"http://127.0.0.1:{centre.port}/centre",
        company_urls={"Acme Lift": f"http://127.0.0.1:{company.port}/acme"},
        secret="hmac-secret",
        retry_base_s=2,
    )
    cfg = PlatformConfig(webhooks=hooks)
    clock = Clock(T0 + 200_000)
    try:
        await setup_store(db_url)
        async with open_store(db_url) as store, Platform(db_url, cfg, clock) as p, aiohttp.ClientSession() as http:
            await p.import_registry(REGISTRY)

            async def deliver() -> None:
                for _ in range(3):  # the first try may be refused; the retry falls due after the backoff
                    await p.tick()
                    await p.webhook_sender.deliver_due(http)
                    clock.advance(10)

            await store.commit(rows("lift-1", [ev(1, 90, "trend_door_opening", "raise")]))
            # lift-2's company (Best Maint) has no webhook URL: nobody to tell, and not the centre instead
            await store.commit(rows("lift-2", [ev(1, 90, "trend_relevels", "raise")]))
            await deliver()
            assert [b["event"] for _, b in company.got] == ["advisory.raised"]
            headers, body = company.got[0]
            adv = body["advisory"]
            assert (adv["device_id"], adv["type"], adv["severity"], adv["active"]) == (
                "lift-1",
                "trend_door_opening",
                "advisory",
                True,
            )
            assert (adv["rescue_code"], adv["maintenance_company"]) == ("100001", "Acme Lift")
            assert headers["Idempotency-Key"] == "ADV-1:raised:company:Acme Lift"
            raw = json.dumps(body, ensure_ascii=False).encode()
            assert headers["X-Signature"] == "sha256=" + hmac.new(b"hmac-secret", raw, hashlib.sha256).hexdigest()
            (row,) = await p.db.run(lambda cur: list_deliveries(p.db, cur, None, 10))
            assert row["attempts"] == 2  # refused once (503), delivered on the retry

            # the figure returns: the clear goes the same way, once
            await store.commit(rows("lift-1", [ev(2, 86_400, "trend_door_opening", "clear")]))
            await deliver()
            await deliver()
            assert [b["event"] for _, b in company.got] == ["advisory.raised", "advisory.cleared"]
            cleared = company.got[1][1]["advisory"]
            assert cleared["active"] is False and cleared["cleared_at"] is not None
            assert company.got[1][0]["Idempotency-Key"] == "ADV-1:cleared:company:Acme Lift"

            # never a case, never the rescue centre
            assert await p.cases(open_=None, device_id=None, limit=10) == []
            assert centre.got == []
            # the same path still pages both for an entrapment (the assertions above are not vacuous)
            await store.commit(rows("lift-1", [ev(3, 86_500, "entrapment", "raise")]))
            await deliver()
            assert [b["event"] for _, b in centre.got] == ["rescue.opened"]
            assert [b["event"] for _, b in company.got][-1] == "rescue.opened"
    finally:
        await centre.stop()
        await company.stop()


async def test_advisory_history_the_platform_starts_on_is_not_sent(sqlite_url: str) -> None:
    """An advisory raised and cleared long before the platform first looked (a new platform on an
    old database) is history: the company is not told of it a month late."""
    await setup_store(sqlite_url)
    clock = Clock(T0 + 40 * 86_400_000)
    async with open_store(sqlite_url) as store, Platform(sqlite_url, CFG, clock) as p:
        await p.import_registry(REGISTRY)
        await store.commit(
            rows("lift-1", [ev(1, 90, "trend_door_opening", "raise"), ev(2, 3 * 86_400, "trend_door_opening", "clear")])
        )
        await store.commit(rows("lift-1", [ev(3, 39 * 86_400, "trend_relevels", "raise")]))
        await p.tick()
        hooks = [json.loads(b) for _, b in await outbox(p, "webhook_outbox")]
        assert [(b["event"], b["advisory"]["type"]) for b in hooks] == [("advisory.raised", "trend_relevels")]


async def test_city_statistics_count_advisories_per_county(db_url: str) -> None:
    """The city's statistics over what two counties pushed: advisories per county (`district`)
    and city-wide, apart from faults, through the real intake and route on both engines."""
    from collector.http.city_api import CityConfig
    from collector.outbound.city_feed import alarm_body
    from tests.platform.test_http import AUTH, platform

    now = int(time.time() * 1000)
    cfg = PlatformConfig(city=CityConfig(counties={"330602": "token-yuecheng", "330681": "token-zhuji-1"}))
    pushes = {
        "330602": [("lift-1", "trend_door_opening", None), ("lift-1", "trend_relevels", now - 60_000)],
        "330681": [("lift-9", "trend_door_opening", None), ("lift-9", "door_open_too_long", now - 60_000)],
    }
    async with platform(db_url, cfg) as base, aiohttp.ClientSession() as http:
        for county, alarms in pushes.items():
            dev = alarms[0][0]
            items: list[dict[str, object]] = [
                {
                    "idempotency_key": f"{county}:e:{dev}",
                    "kind": "elevator",
                    "key": dev,
                    "version": 1,
                    "body": {"device_id": dev, "registered_ms": now - 30 * 86_400_000, "area_code": county},
                }
            ]
            for i, (d, type_, cleared) in enumerate(alarms, 1):
                body = alarm_body(i, d, type_, now - 3_600_000, cleared, None, None, {"area_code": county})
                items.append(
                    {"idempotency_key": f"{county}:a:{i}", "kind": "alarm", "key": str(i), "version": 1, "body": body}
                )
            token = cfg.city.counties[county]
            async with http.post(
                base + "/city/v1/push",
                json={"county": county, "items": items},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                assert r.status == 200, await r.text()
        async with http.get(base + "/api/v1/city/statistics?scope=district,all", headers=AUTH) as r:
            assert r.status == 200, await r.text()
            figures = {(f["scope"], f["key"]): f for f in (await r.json())["figures"]}
    yuecheng, zhuji, city = figures[("district", "330602")], figures[("district", "330681")], figures[("all", "all")]
    assert (yuecheng["advisories_total"], yuecheng["faults_total"]) == (2, 0)
    assert yuecheng["advisories_by_type"] == {"trend_door_opening": 1, "trend_relevels": 1}
    assert (zhuji["advisories_total"], zhuji["faults_total"]) == (1, 1)
    assert (city["advisories_total"], city["advisories_by_type"]["trend_door_opening"]) == (3, 2)
