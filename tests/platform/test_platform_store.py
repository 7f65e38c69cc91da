"""The platform over the collector's real store, on SQLite and PostgreSQL: rescue cases opened by
entrapment alarms, escalations that survive a restart, maintenance sessions, the registry, the
webhook outbox and the city's intake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.http.city_api import CityConfig, PushRefused
from collector.outbound.webhooks import WebhookConfig
from collector.platform.identity import FIELDS, IdentityError
from collector.platform.maintenance import MaintenanceConfig
from collector.platform.rescue import RescueConfig, RescueError
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import T0, Clock, ev, rows, st

HOOKS = WebhookConfig(
    rescue_centre_url="http://127.0.0.1:9/centre", company_urls={"Acme Lift": "http://127.0.0.1:9/acme"}
)
CFG = PlatformConfig(
    rescue=RescueConfig(response_limit_s=45, arrival_limit_s=1800),
    webhooks=HOOKS,
    maintenance=MaintenanceConfig(interval_days=15, min_session_s=600),
)
REGISTRY = (
    "\n".join(
        [
            ",".join(FIELDS),
            "lift-1,31103306022015060001,100001,330602,1 Jiefang Rd,Yuecheng Housing Office,Acme Lift",
            "lift-2,31103306812019110042,100002,330681,2 Jiyang Rd,Zhuji Hospital,Best Maint",
        ]
    )
    + "\n"
)


async def outbox(p: Platform, table: str) -> list[tuple[Any, ...]]:
    cols = "target, body" if table == "webhook_outbox" else "kind, item_key, body"
    return await p.db.run(lambda cur: (cur.execute(f"SELECT {cols} FROM {table} ORDER BY id"), cur.fetchall())[1])


async def setup_store(db_url: str) -> None:
    async with open_store(db_url) as s:
        for d in ("lift-1", "lift-2"):
            await s.add_device(d, d, T0 - 100 * 86_400_000)


async def test_entrapment_opens_one_case_and_clearing_does_not_close_it(db_url: str) -> None:
    await setup_store(db_url)
    clock = Clock(T0 + 100_000)
    async with open_store(db_url) as store, Platform(db_url, CFG, clock) as p:
        await p.import_registry(REGISTRY)
        await store.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
        res = await p.tick()
        assert res.cases_opened == 1
        assert (await p.tick()).cases_opened == 0  # seen once, opened once
        (case,) = await p.cases(open_=True, device_id=None, limit=10)
        assert case["status"] == "01" and case["device_id"] == "lift-1" and case["rescue_code"] == "100001"
        assert case["occurred_at"] == "2025-11-29T07:08:10.000Z"
        hooks = await outbox(p, "webhook_outbox")
        assert sorted(t for t, _ in hooks) == ["company:Acme Lift", "rescue_centre"]
        assert json.loads(hooks[0][1])["event"] == "rescue.opened"
        # the doors open: the alarm clears, the case stays open until a person closes it
        await store.commit(rows("lift-1", [ev(2, 95, "entrapment", "clear")]))
        await p.tick()
        (case,) = await p.cases(open_=True, device_id=None, limit=10)
        assert case["status"] == "01"
        kinds = [(k, json.loads(b).get("active")) for k, _, b in await outbox(p, "city_outbox") if k == "alarm"]
        assert kinds == [("alarm", True), ("alarm", False)]


async def test_lifecycle_and_escalations_survive_a_restart(db_url: str) -> None:
    await setup_store(db_url)
    clock = Clock(T0 + 91_000)
    async with open_store(db_url) as store:
        await store.commit(rows("lift-2", [ev(1, 90, "entrapment", "raise")]))
    async with Platform(db_url, CFG, clock) as p:
        r = await p.tick()
        assert r.cases_opened == 1 and r.escalations == 0
        assert r.next_deadline_ms == T0 + 135_000  # 45 s after the entrapment
        clock.now_ms = T0 + 135_000
        assert (await p.tick()).escalations == 1
    clock.now_ms = T0 + 90_000 + 1800_000  # 30 min after: a new process, same database
    async with Platform(db_url, CFG, clock) as p:
        r = await p.tick()
        assert r.escalations == 1  # no_arrival only: no_response was sent before the restart
        assert (await p.tick()).escalations == 0
        (case,) = await p.cases(None, None, 10)
        assert [e["kind"] for e in case["escalations"]] == ["no_response", "no_arrival"]
        cid = case["case_id"]
        with pytest.raises(RescueError, match="not allowed"):
            await p.act(cid, "complete", "officer-wang", "")
        clock.advance(1)
        assert (await p.act(cid, "respond", "officer-wang", "called the car"))["status"] == "02"
        clock.advance(60)
        assert (await p.act(cid, "arrive", "tech-li", ""))["status"] == "04"
        clock.advance(300)
        done = await p.act(cid, "complete", "tech-li", "passengers out, floor 3")
        assert done["status"] == "00" and done["closed"]
        assert [s["actor"] for s in done["steps"]] == ["system", "officer-wang", "tech-li", "tech-li"]
        assert done["arrival_s"] == pytest.approx(1861.0)
        with pytest.raises(RescueError, match="closed"):
            await p.act(cid, "false_alarm", "officer-wang", "")
        figs = {(f.scope, f.key): f.as_dict() for f in await p.statistics(T0, clock.now_ms + 1)}
        assert figs[("elevator", "lift-2")]["arrival_within_limit_share"] == 0.0
        assert figs[("elevator", "lift-2")]["entrapments"] == 1


async def test_maintenance_sessions_floors_and_overdue(db_url: str) -> None:
    await setup_store(db_url)
    clock = Clock(T0 + 3600_000)
    async with open_store(db_url) as store, Platform(db_url, CFG, clock) as p:
        await p.import_registry(REGISTRY)
        recs = [ev(1, 0, "inspection", "raise")]
        recs += [st(2 + i, 60 + 60 * i, floor) for i, floor in enumerate([1, 2, 3, 4, 3])]
        recs += [
            ev(10, 1200, "inspection", "clear"),
            ev(11, 1300, "inspection", "raise"),
            ev(12, 1360, "inspection", "clear"),
        ]
        await store.commit(rows("lift-1", recs))
        assert (await p.tick()).sessions == 2
        assert (await p.tick()).sessions == 0
        sessions = await p.sessions("lift-1", None)
        assert [(s["floors_visited"], s["too_short"]) for s in sessions] == [([], True), ([1, 2, 3, 4], False)]
        overdue = {o["device_id"] for o in await p.overdue()}
        assert overdue == {"lift-2"}  # lift-1 was just maintained; lift-2 never in 100 days
        report = {r["maintenance_company"]: r for r in await p.compliance(T0 - 86_400_000, clock.now_ms)}
        assert report["Acme Lift"]["compliance_rate"] == 1.0 and report["Acme Lift"]["short_sessions"] == 1
        assert report["Best Maint"]["overdue_devices"] == ["lift-2"]
        clock.advance(16 * 86_400)
        assert {o["device_id"] for o in await p.overdue()} == {"lift-1", "lift-2"}


async def test_registry_import_is_all_or_nothing(db_url: str) -> None:
    async with Platform(db_url, CFG, Clock()) as p:
        assert await p.import_registry(REGISTRY) == {"elevators": 2, "changed": 2}
        assert await p.import_registry(REGISTRY) == {"elevators": 2, "changed": 0}
        clash = ",".join(FIELDS) + "\nlift-3,31103306022015060001,100003,330603,3 Rd,Unit,Acme Lift\n"
        with pytest.raises(IdentityError, match="registration_code: '31103306022015060001' already used"):
            await p.import_registry(clash)
        bad = REGISTRY.replace("100002", "1000")
        with pytest.raises(IdentityError, match="line 3: field rescue_code"):
            await p.import_registry(bad)
        assert [i.device_id for i in await p.registry()] == ["lift-1", "lift-2"]


async def test_city_intake_dedupes_and_keeps_counties_apart(db_url: str) -> None:
    cfg = PlatformConfig(city=CityConfig(counties={"330602": "token-yuecheng", "330681": "token-zhuji-1"}))
    async with Platform(db_url, cfg, Clock()) as p:

        def push(county: str, n: int, version: int, floor: int) -> dict[str, Any]:
            item = {
                "idempotency_key": f"{county}:x:{n}",
                "kind": "alarm",
                "key": "7",
                "version": version,
                "body": {
                    "alarm_id": 7,
                    "device_id": "lift-1",
                    "type": "entrapment",
                    "raised_ms": T0,
                    "active": True,
                    "floor": floor,
                },
            }
            return {"county": county, "items": [item]}

        yc = "Bearer token-yuecheng"
        assert (await p.accept_push(yc, push("330602", 1, 1, 3)))["accepted"] == 1
        assert (await p.accept_push(yc, push("330602", 1, 1, 3)))["duplicates"] == 1
        assert (await p.accept_push(yc, push("330602", 3, 3, 5)))["accepted"] == 1
        assert (await p.accept_push(yc, push("330602", 2, 2, 4)))["stale"] == 1  # late retry of an older state
        (alarm,) = await p.city_items("alarm")
        assert alarm["floor"] == 5 and alarm["county"] == "330602"
        with pytest.raises(PushRefused) as info:
            await p.accept_push("Bearer token-zhuji-1", push("330602", 9, 9, 9))
        assert info.value.status == 403
        forged = push("330681", 9, 9, 9)
        forged["items"][0]["idempotency_key"] = "330602:x:9"
        with pytest.raises(PushRefused, match="not one of county 330681's keys"):
            await p.accept_push("Bearer token-zhuji-1", forged)
        with pytest.raises(PushRefused) as info:
            await p.accept_push("Bearer nope-nope-nope", push("330602", 9, 9, 9))
        assert info.value.status == 401
        (alarm,) = await p.city_items("alarm")
        assert alarm["floor"] == 5


async def test_old_cleared_entrapments_in_history_open_no_case(db_url: str) -> None:
    await setup_store(db_url)
    async with open_store(db_url) as store:
        await store.commit(rows("lift-1", [ev(1, 10, "entrapment", "raise"), ev(2, 20, "entrapment", "clear")]))
        await store.commit(rows("lift-2", [ev(1, 30, "entrapment", "raise")]))  # old but still active
    clock = Clock(T0 + 2 * 86_400_000)  # the platform starts two days later on this database
    async with Platform(db_url, CFG, clock) as p:
        assert (await p.tick()).cases_opened == 1
        (case,) = await p.cases(None, None, 10)
        assert case["device_id"] == "lift-2"
        kinds = sorted(k for k, _, _ in await outbox(p, "city_outbox") if k == "alarm")
        assert kinds == ["alarm", "alarm"]  # the city still gets both alarms


@pytest.mark.parametrize(
    ("kind", "body", "problem"),
    [
        ("elevator", {"device_id": "lift-1"}, "body.registered_ms: missing or not int"),
        ("alarm", {"alarm_id": 1, "device_id": "d", "type": "t", "raised_ms": True, "active": True}, "raised_ms"),
        (
            "alarm",
            {"alarm_id": 1, "device_id": "d", "type": "t", "raised_ms": 1, "active": True, "cleared_ms": "x"},
            "body.cleared_ms: must be an integer or null",
        ),
        ("rescue_case", {"case_id": "c", "device_id": "d", "status": "03", "steps": []}, "'03' is not one of"),
        ("rescue_case", {"case_id": "c", "device_id": "d", "status": "01", "steps": []}, "at least its 01 step"),
        (
            "rescue_case",
            {"case_id": "c", "device_id": "d", "status": "01", "steps": [{"status": "01"}]},
            "body.steps[0]: needs status",
        ),
        ("maintenance_session", {"device_id": "d", "start_ms": 1}, "body.too_short"),
        ("status", {"device_id": "d", "online": "yes"}, "body.online: missing or not bool"),
    ],
)
def test_city_refuses_bodies_it_could_not_answer_from(kind: str, body: dict[str, Any], problem: str) -> None:
    from collector.http.city_api import body_problem

    found = body_problem(kind, body)
    assert found is not None and problem in found
