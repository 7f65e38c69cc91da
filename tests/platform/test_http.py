"""The platform's HTTP routes over real HTTP on loopback: tokens, registry CSV, rescue actions,
maintenance, statistics CSV and the city intake's answers."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from collector.http.city_api import CityConfig
from collector.http.platform_server import serve
from collector.platform import identity
from collector.platform.identity import FIELDS
from collector.platform.service import PlatformConfig
from collector.store import open_store
from tests.platform.helpers import ev, rows, st
from tests.support.services import free_port

TOKEN = "api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REGISTRY = (
    ",".join(FIELDS) + "\nlift-1,31103306022015060001,100001,330602,1 Jiefang Rd,Yuecheng Housing Office,Acme Lift\n"
)


@contextlib.asynccontextmanager
async def platform(db_url: str, config: PlatformConfig) -> AsyncIterator[str]:
    port = free_port()
    started = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(db_url, "127.0.0.1", port, TOKEN, config, ready=started.set, stop=stop))
    async with asyncio.timeout(10):
        await started.wait()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await task


async def until(fn: Any, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await fn()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {fn}"
        await asyncio.sleep(0.05)


async def test_routes_end_to_end_over_http(db_url: str) -> None:
    boot = time.time_ns() // 1_000_000 - 120_000
    async with open_store(db_url) as store:
        await store.add_device("lift-1", "lift-1", boot)
        await store.commit(
            rows(
                "lift-1",
                [
                    ev(1, 10, "inspection", "raise", t0=boot),
                    st(2, 20, 4, t0=boot),
                    ev(3, 30, "inspection", "clear", t0=boot),
                    ev(4, 60, "entrapment", "raise", t0=boot),
                ],
            )
        )
    cfg = PlatformConfig(poll_s=0.05)
    async with platform(db_url, cfg) as base, aiohttp.ClientSession() as http:

        async def get(path: str, headers: dict[str, str] = AUTH) -> tuple[int, Any]:
            async with http.get(base + path, headers=headers) as r:
                return r.status, (await r.json() if r.content_type == "application/json" else await r.text())

        assert (await get("/api/v1/rescue-cases", {}))[0] == 401
        assert (await get("/api/v1/rescue-cases", {"Authorization": "Bearer wrong-token-x"}))[0] == 401
        assert (await get("/healthz", {}))[0] == 200

        # registry: a bad CSV is refused whole, naming line and field; a good one round-trips
        async with http.put(base + "/api/v1/registry.csv", data=REGISTRY.replace("100001", "1"), headers=AUTH) as r:
            assert r.status == 400
            assert "line 2: field rescue_code" in (await r.json())["problems"][0]
        async with http.put(base + "/api/v1/registry.csv", data=REGISTRY.encode(), headers=AUTH) as r:
            assert r.status == 200 and (await r.json())["changed"] == 1
        status, text = await get("/api/v1/registry.csv")
        assert status == 200 and text.startswith("\ufeff")  # the BOM Excel needs to read UTF-8
        assert identity.parse_csv(text) == identity.parse_csv(REGISTRY)  # all fields, the old file's values
        status, history = await get("/api/v1/registry/lift-1/history")
        assert status == 200 and [(v["version"], v["maintenance_company"]) for v in history] == [(1, "Acme Lift")]
        status, _ = await get("/api/v1/registry/lift-9/history")
        assert status == 404
        async with http.put(base + "/api/v1/registry.csv?valid_from=soon", data=REGISTRY.encode(), headers=AUTH) as r:
            assert r.status == 400 and "valid_from" in (await r.json())["error"]

        # the entrapment has opened a case; walk it through the API
        async def one_case() -> Any:
            return (await get("/api/v1/rescue-cases?open=true"))[1]

        (case,) = await until(one_case)
        cid = case["case_id"]
        assert case["status"] == "01" and case["registration_code"] == "31103306022015060001"
        path = f"/api/v1/rescue-cases/{cid}/actions"
        async with http.post(base + path, json={"action": "arrive", "actor": "tech-li"}, headers=AUTH) as r:
            assert r.status == 409
            assert "'arrive' is not allowed now (allowed: respond, false_alarm)" in (await r.json())["error"]
        async with http.post(base + path, json={"note": "no action"}, headers=AUTH) as r:
            assert r.status == 400  # (an `actor` is not needed: the token's name is recorded)
        async with http.post(base + path, json={"action": "fly", "actor": "officer-wang"}, headers=AUTH) as r:
            assert r.status == 400 and "unknown action 'fly'" in (await r.json())["error"]
        async with http.post(base + path, json={"action": "respond", "actor": "o", "at": "soon"}, headers=AUTH) as r:
            assert r.status == 400 and "'soon' is not an ISO 8601 time" in (await r.json())["error"]
        async with http.post(
            base + path, json={"action": "respond", "actor": "o", "at": "2099-01-01T00:00:00Z"}, headers=AUTH
        ) as r:
            assert r.status == 400 and "in the future" in (await r.json())["error"]
        reported = case["occurred_at"].replace("Z", "+00:00")
        async with http.post(
            base + path, json={"action": "respond", "actor": "officer-wang", "at": reported}, headers=AUTH
        ) as r:  # a step reported late, at the moment it happened
            assert r.status == 200 and (await r.json())["response_s"] == 0.0
        for action, expect in (("arrive", "04"), ("complete", "00")):
            async with http.post(base + path, json={"action": action, "actor": "officer-wang"}, headers=AUTH) as r:
                assert r.status == 200 and (await r.json())["status"] == expect
        assert (await get(f"/api/v1/rescue-cases/{cid}"))[1]["closed"] is True
        assert (await get("/api/v1/rescue-cases/nope"))[0] == 404
        assert (await get("/api/v1/rescue-cases?open=true"))[1] == []

        # maintenance: the inspection became a (short) session with the floor it visited
        async def sessions() -> Any:
            return (await get("/api/v1/maintenance/sessions?device_id=lift-1"))[1]

        (s,) = await until(sessions)
        assert s["floors_visited"] == [4] and s["too_short"] is True and s["duration_s"] == 20.0
        assert (await get("/api/v1/maintenance/overdue"))[1] == []
        (row,) = (await get("/api/v1/maintenance/compliance"))[1]
        assert row["maintenance_company"] == "Acme Lift" and row["short_sessions"] == 1
        assert (await get("/api/v1/maintenance/last"))[1][0]["last_maintenance"] is None

        # statistics: JSON and CSV agree
        status, body = await get("/api/v1/statistics?scope=district")
        assert status == 200 and body["figures"][0]["key"] == "330602" and body["figures"][0]["entrapments"] == 1
        status, text = await get("/api/v1/statistics?format=csv&scope=elevator")
        assert text.startswith("\ufeff"), "Excel on a Chinese PC reads a CSV without BOM as GBK"
        (line,) = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert line["key"] == "lift-1" and line["faults_entrapment_gbt11"] == "1" and line["rescue_cases"] == "1"
        assert (await get("/api/v1/statistics?since=yesterday"))[0] == 400
        assert (await get("/api/v1/statistics?scope=planet"))[0] == 400
        assert (await get("/api/v1/city-feed"))[1]["configured"] is False


async def test_city_push_endpoint_checks_the_county_token(sqlite_url: str) -> None:
    cfg = PlatformConfig(city=CityConfig(counties={"330602": "token-yuecheng", "330681": "token-zhuji-1"}))
    item = {
        "idempotency_key": "330602:i:1",
        "kind": "alarm",
        "key": "1",
        "version": 1,
        "body": {"alarm_id": 1, "device_id": "lift-1", "type": "entrapment", "raised_ms": 1, "active": True},
    }
    async with platform(sqlite_url, cfg) as base, aiohttp.ClientSession() as http:

        async def push(token: str | None, payload: Any) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.post(base + "/city/v1/push", json=payload, headers=headers) as r:
                return r.status, await r.json()

        assert (await push(None, {"county": "330602", "items": [item]}))[0] == 401
        status, body = await push("token-zhuji-1", {"county": "330602", "items": [item]})
        assert status == 403 and "cannot write as county '330602'" in body["error"]
        assert (await push("token-yuecheng", {"county": "330602", "items": [{**item, "kind": "x"}]}))[0] == 400
        broken = {**item, "body": {"device_id": "lift-1", "type": "entrapment"}}
        status, body = await push("token-yuecheng", {"county": "330602", "items": [broken]})
        assert status == 400 and body["error"] == "items[0].body.alarm_id: missing or not int"
        assert await push("token-yuecheng", {"county": "330602", "items": [item]}) == (
            200,
            {"county": "330602", "accepted": 1, "duplicates": 0, "stale": 0},
        )
        assert (await push("token-yuecheng", {"county": "330602", "items": [item]}))[1]["duplicates"] == 1
        async with http.get(base + "/api/v1/city/alarms?active=true", headers=AUTH) as r:
            (alarm,) = await r.json()
            assert alarm["county"] == "330602"
        async with http.get(base + "/api/v1/city/counties", headers=AUTH) as r:
            counties = {c["county"]: c for c in await r.json()}
            assert counties["330602"]["items"] == {"alarm": 1} and counties["330681"]["items"] == {}
