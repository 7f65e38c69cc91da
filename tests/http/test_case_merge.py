"""POST /api/v1/rescue-cases/{id}/merge over real HTTP on SQLite and PostgreSQL: two cases already
open for one car (the second written as an older collector did, before one car one case) become one,
audited; and the attacks it stops: a company or a regulator cannot merge, cases of different cars
are refused with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.collector.conftest import db_url, pg_database  # noqa: F401 - fixtures
from tests.http.platform_app import PlatformHttp, platform_http
from tests.platform.helpers import T0


@pytest.fixture
async def served(db_url: str) -> AsyncIterator[PlatformHttp]:  # noqa: F811 - the fixture imported above
    async with platform_http(db_url) as p:
        yield p


async def _legacy_case(p: PlatformHttp, case_id: str, device_id: str, at_ms: int, alarm_id: int | None) -> None:
    """A second open case for a car, as a collector before the one-car rule left it."""
    db = p.platform.db

    def tx(cur: Any) -> None:
        cur.execute(
            db.q(
                "INSERT INTO rescue_cases (case_id, device_id, alarm_id, floor, status, occurred_ms, updated_ms) "
                "VALUES (?, ?, ?, ?, '01', ?, ?)"
            ),
            (case_id, device_id, alarm_id, 5, at_ms, at_ms),
        )
        cur.execute(
            db.q("INSERT INTO rescue_steps (case_id, n, status, at_ms, actor, note) VALUES (?, 0, '01', ?, ?, ?)"),
            (case_id, at_ms, "system", "entrapment"),
        )

    await db.run(tx)


async def _two_open_cases(p: PlatformHttp) -> tuple[str, str]:
    await _legacy_case(p, "RC-OLD", "lift-a", T0 - 120_000, 41)
    status, phoned = await p.call("POST", "/api/v1/rescue-cases", p.tokens["duty_officer"], {"device_id": "lift-a"})
    assert status == 409, "the one-car rule stands: the hand-opened case is refused while RC-OLD is open"
    await p.platform.db.run(lambda cur: cur.execute(p.platform.db.q("UPDATE rescue_cases SET status = '00'")))
    status, phoned = await p.call("POST", "/api/v1/rescue-cases", p.tokens["duty_officer"], {"device_id": "lift-a"})
    assert status == 201
    await p.platform.db.run(
        lambda cur: cur.execute(p.platform.db.q("UPDATE rescue_cases SET status = '01' WHERE case_id = 'RC-OLD'"))
    )
    open_ = (await p.call("GET", "/api/v1/rescue-cases?open=true&device_id=lift-a"))[1]
    assert {c["case_id"] for c in open_} == {"RC-OLD", phoned["case_id"]}
    return "RC-OLD", phoned["case_id"]


async def test_two_open_cases_of_one_car_become_one_and_the_merge_is_audited(served: PlatformHttp) -> None:
    old, phoned = await _two_open_cases(served)
    served.platform.clock.advance(10)  # type: ignore[attr-defined]
    status, kept = await served.call(
        "POST", f"/api/v1/rescue-cases/{old}/merge", served.tokens["duty_officer"], {"into": phoned, "note": "同一部梯"}
    )
    assert status == 200, kept
    assert kept["case_id"] == phoned and kept["status"] == "01" and not kept["closed"]
    assert kept["alarm_id"] == 41 and kept["floor"] == 5, "the phone case takes the detector's alarm and floor"
    assert kept["occurred_at"] == kept["steps"][0]["at"]
    ats = [s["at_ms"] for s in kept["steps"]]
    assert ats == sorted(ats) and ats[0] == T0 - 120_000, "the earliest occurrence, then both timelines in order"
    assert [s["note"] for s in kept["steps"]][:1] == [f"[{old}] entrapment"]
    assert kept["steps"][-1]["note"] == f"merged {old} into this case: 同一部梯"
    status, gone = await served.call("GET", f"/api/v1/rescue-cases/{old}")
    assert (gone["status"], gone["status_name"], gone["closed"]) == ("06", "merged", True)
    assert gone["steps"][-1]["note"] == f"merged into {phoned}" and gone["alarm_id"] is None
    (only,) = (await served.call("GET", "/api/v1/rescue-cases?open=true&device_id=lift-a"))[1]
    assert only["case_id"] == phoned
    assert old in {c["case_id"] for c in (await served.call("GET", "/api/v1/rescue-cases?open=false"))[1]}
    # the merged-away case takes no more steps; the survivor does
    status, body = await served.call(
        "POST", f"/api/v1/rescue-cases/{old}/actions", served.tokens["duty_officer"], {"action": "respond"}
    )
    assert status == 409 and f"merged into {phoned}" in body["error"]
    status, body = await served.call(
        "POST", f"/api/v1/rescue-cases/{phoned}/actions", served.tokens["duty_officer"], {"action": "respond"}
    )
    assert status == 200 and body["status"] == "02"
    (entry,) = [e for e in await served.audit(kind="rescue_case") if e["action"] == "merge"]
    assert (entry["target"], entry["detail"]["into"], entry["role"]) == (old, phoned, "duty_officer")


async def test_a_company_or_a_regulator_cannot_merge(served: PlatformHttp) -> None:
    old, phoned = await _two_open_cases(served)
    for role in ("company", "regulator"):  # the company's token is Acme Lift's, lift-a's own company
        status, body = await served.call(
            "POST", f"/api/v1/rescue-cases/{old}/merge", served.tokens[role], {"into": phoned}
        )
        assert status == 403 and role in body["error"], body
    assert len((await served.call("GET", "/api/v1/rescue-cases?open=true&device_id=lift-a"))[1]) == 2
    assert [e for e in await served.audit(kind="rescue_case") if e["action"] == "merge"] == []
    status, _ = await served.call("POST", f"/api/v1/rescue-cases/{old}/merge", served.tokens["admin"], {"into": phoned})
    assert status == 200, "an admin may"


async def test_cases_of_different_cars_are_refused_with_the_reason(served: PlatformHttp) -> None:
    old, _ = await _two_open_cases(served)
    status, other = await served.call(
        "POST", "/api/v1/rescue-cases", served.tokens["duty_officer"], {"device_id": "lift-b"}
    )
    assert status == 201
    status, body = await served.call(
        "POST", f"/api/v1/rescue-cases/{old}/merge", served.tokens["duty_officer"], {"into": other["case_id"]}
    )
    assert status == 409
    assert body["error"] == (f"cases of different cars are not merged: {old} is lift-a, {other['case_id']} is lift-b")
    for bad, code in (({"into": "RC-NONE"}, 404), ({"into": old}, 409), ({"into": 3}, 400), ({}, 400)):
        status, body = await served.call("POST", f"/api/v1/rescue-cases/{old}/merge", served.tokens["admin"], bad)
        assert status == code and "error" in body, (bad, status, body)
    assert (await served.call("GET", f"/api/v1/rescue-cases/{old}"))[1]["status"] == "01"
