"""A person's change and its audit line commit together or not at all (issue 15, audit trail).

The failure is injected where it would hurt: the audit insert itself raises (a trigger on
`audit_log` in the test database), after the platform has written the step in the same transaction.
Before the fix the step was committed first and the line written in a second transaction, so a crash
in between left a step nobody signed. SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from collector.store import Store
from tests.collector.conftest import db_url, pg_database  # noqa: F401 - fixtures
from tests.http.platform_app import REGISTRY, PlatformHttp, platform_http

_SQLITE_ON = (
    "CREATE TRIGGER audit_fails BEFORE INSERT ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'injected: audit insert fails'); END",
)
_SQLITE_OFF = ("DROP TRIGGER audit_fails",)
_PG_ON = (
    "CREATE FUNCTION audit_fails() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'injected: audit insert fails'; END $$",
    "CREATE TRIGGER audit_fails BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_fails()",
)
_PG_OFF = ("DROP TRIGGER audit_fails ON audit_log", "DROP FUNCTION audit_fails()")


async def _exec(db: Store, statements: tuple[str, ...]) -> None:
    def tx(cur: Any) -> None:
        for s in statements:
            cur.execute(s)

    await db.run(tx)


async def _audit_fails(p: PlatformHttp, on: bool) -> None:
    pg = p.platform.db.engine_name == "PostgreSQL"
    await _exec(p.platform.db, (_PG_ON if on else _PG_OFF) if pg else (_SQLITE_ON if on else _SQLITE_OFF))


@pytest.fixture
async def served(db_url: str) -> AsyncIterator[PlatformHttp]:  # noqa: F811 - the fixture imported above
    async with platform_http(db_url) as p:
        yield p


async def _count(p: PlatformHttp, sql: str, *args: Any) -> int:
    def q(cur: Any) -> int:
        cur.execute(p.platform.db.q(sql), args)
        return int(cur.fetchone()[0])

    return await p.platform.db.run(q)


async def test_a_case_step_whose_audit_line_fails_is_not_committed(served: PlatformHttp) -> None:
    status, case = await served.call(
        "POST", "/api/v1/rescue-cases", served.tokens["duty_officer"], {"device_id": "lift-a"}
    )
    assert status == 201
    cid = case["case_id"]
    assert [e["action"] for e in await served.audit(kind="rescue_case")] == ["open"]
    await _audit_fails(served, True)
    status, _ = await served.call(
        "POST", f"/api/v1/rescue-cases/{cid}/actions", served.tokens["duty_officer"], {"action": "respond"}
    )
    assert status == 500
    await _audit_fails(served, False)
    assert (await served.call("GET", f"/api/v1/rescue-cases/{cid}"))[1]["status"] == "01", "the step was committed"
    assert await _count(served, "SELECT COUNT(*) FROM rescue_steps WHERE case_id = ?", cid) == 1
    assert [e["action"] for e in await served.audit(kind="rescue_case")] == ["open"]
    # and once the trail can be written again, the same step goes through with its line
    status, after = await served.call(
        "POST", f"/api/v1/rescue-cases/{cid}/actions", served.tokens["duty_officer"], {"action": "respond"}
    )
    assert status == 200 and after["status"] == "02"
    newest = (await served.audit(kind="rescue_case"))[0]
    assert (newest["action"], newest["actor"], newest["target"]) == ("respond", "duty-bot", cid)
    assert newest["detail"] == {"from": "01", "to": "02", "note": ""}
    assert "previous_status" not in after


async def test_a_case_opened_by_hand_whose_audit_line_fails_does_not_exist(served: PlatformHttp) -> None:
    await _audit_fails(served, True)
    status, _ = await served.call(
        "POST", "/api/v1/rescue-cases", served.tokens["duty_officer"], {"device_id": "lift-b"}
    )
    assert status == 500
    await _audit_fails(served, False)
    assert await _count(served, "SELECT COUNT(*) FROM rescue_cases WHERE device_id = ?", "lift-b") == 0
    assert await served.audit(kind="rescue_case") == []
    # nothing half-done blocks the next call: one car, one case still finds no case
    status, case = await served.call(
        "POST", "/api/v1/rescue-cases", served.tokens["duty_officer"], {"device_id": "lift-b"}
    )
    assert status == 201
    (entry,) = await served.audit(kind="rescue_case")
    assert (entry["action"], entry["target"], entry["device_id"]) == ("open", case["case_id"], "lift-b")


async def test_a_registry_import_whose_audit_line_fails_changes_nothing(served: PlatformHttp) -> None:
    moved = REGISTRY.replace("1 Jiefang Rd", "9 Renmin Rd")
    await _audit_fails(served, True)
    async with served.http.put(
        served.base + "/api/v1/registry.csv",
        data=moved.encode(),
        headers={"Authorization": f"Bearer {served.tokens['admin']}"},
    ) as r:
        assert r.status == 500
    await _audit_fails(served, False)
    assert [i.address for i in await served.platform.registry()][0] == "1 Jiefang Rd"
    assert await served.audit(kind="registry") == []
