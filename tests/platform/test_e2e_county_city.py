"""End to end with real processes: Mosquitto, a county collector (`elev-collector run` on SQLite)
with its platform (`elev-collector platform`, county role, same database), and a city platform
(`elev-collector platform`, city role, on PostgreSQL), all over loopback HTTP.

An entrapment in the county appears at the city; the city is killed and restarted and catches up
with nothing lost or doubled; a rescue case walks its whole lifecycle; an overdue elevator is
reported; a second county cannot write as the first.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from collector.store import open_store
from protocols import frames
from protocols.events import Action, Event
from tests.collector.publisher import Publisher
from tests.platform.helpers import Receiver
from tests.support.services import Broker, free_port, port_open, wait_for

TOKEN = "api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BIN = Path(sys.executable).parent
DAY_MS = 86_400_000


class Proc:
    """A daemon started with its arguments; `kill()` is SIGKILL (no clean shutdown), `start()` again."""

    def __init__(self, name: str, args: list[str], port: int, logdir: Path) -> None:
        self.name, self.args, self.port, self.logdir = name, args, port, logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Proc:
        self.starts += 1
        log = open(self.logdir / f"{self.name}-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port) or self._died(), timeout_s=20, what=f"{self.name} to listen")
        return self

    def _died(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            text = (self.logdir / f"{self.name}-{self.starts}.log").read_text()
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{text[-3000:]}")
        return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def at_boot(boot_ms: int) -> Any:
    """Events of a gateway that booted at `boot_ms`. The rescue deadlines count from the event's
    wall time, so it is taken from this test's start, not from when the suite imported the
    publisher: a suite that reached this test more than `arrival_limit_s` after its imports sent
    a no_arrival escalation nobody had earned."""

    def event(seq: int, mono_ms: int, type_: str, action: Action) -> frames.Record:
        return frames.Record(
            frames.RecordKind.EVENT, seq, mono_ms, boot_ms + mono_ms, True, Event(mono_ms, type_, action, 1, None)
        )

    return event


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    """The rescue centre's and the maintenance company's webhook endpoint."""
    r = await Receiver().start(free_port())
    yield r
    await r.stop()


async def test_county_to_city(tmp_path: Path, broker: Broker, pg_url: str, procs: list[Proc], hooks: Receiver) -> None:
    county_db = f"sqlite:///{tmp_path / 'county.db'}"
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "yuecheng.token").write_text("county-token-yuecheng")
    (tmp_path / "zhuji.token").write_text("county-token-zhuji")
    city_port, county_port = free_port(), free_port()
    platform_port = county_port
    hooks_port = hooks.port
    (tmp_path / "county.toml").write_text(
        "[platform]\npoll_s = 0.1\nsummary_interval_s = 0.3\n"
        "[platform.rescue]\nresponse_limit_s = 1\narrival_limit_s = 600\n"
        "[platform.maintenance]\ninterval_days = 15\nmin_session_s = 1\n"
        f'[platform.webhooks]\nrescue_centre_url = "http://127.0.0.1:{hooks_port}/centre"\nretry_base_s = 0.2\n'
        f'[platform.webhooks.company_urls]\n"Acme Lift" = "http://127.0.0.1:{hooks_port}/acme"\n'
        f'[platform.city_feed]\ncity_url = "http://127.0.0.1:{city_port}"\ncounty = "330602"\n'
        f'token_file = "{tmp_path / "yuecheng.token"}"\nretry_base_s = 0.2\nretry_cap_s = 1.0\npoll_s = 0.1\n'
    )
    (tmp_path / "city.toml").write_text(
        "[platform]\npoll_s = 0.2\n[platform.city.county_token_files]\n"
        f'330602 = "{tmp_path / "yuecheng.token"}"\n330681 = "{tmp_path / "zhuji.token"}"\n'
    )
    month_ago = time.time_ns() // 1_000_000 - 30 * DAY_MS
    event = at_boot(time.time_ns() // 1_000_000 - 10_000)  # lift-1 booted 10 s ago: it trapped them 2 s ago
    async with open_store(county_db) as store:  # registered a month ago: maintenance is due by now
        for dev in ("lift-1", "lift-2"):
            await store.add_device(dev, dev, month_ago)
    cli = str(BIN / "elev-collector")
    token = ["--api-token-file", str(tmp_path / "token")]
    county = Proc(  # one service: ingest, API and the platform functions on one port
        "county",
        [cli, "run", "--broker", broker.url, "--db", county_db, "--http", f"127.0.0.1:{county_port}", *token]
        + ["--config", str(tmp_path / "county.toml")],
        county_port,
        tmp_path,
    )
    city = Proc(
        "city",
        [
            cli,
            "platform",
            "--db",
            pg_url,
            "--http",
            f"127.0.0.1:{city_port}",
            "--config",
            str(tmp_path / "city.toml"),
            *token,
        ],
        city_port,
        tmp_path,
    )
    for p in (county, city):
        procs.append(p.start())
    registry = (
        "device_id,registration_code,rescue_code,area_code,address,using_unit,maintenance_company\n"
        "lift-1,31103306022015060001,100001,330602,1 Jiefang Rd,Yuecheng Housing Office,Acme Lift\n"
        "lift-2,31103306022016070002,100002,330602,5 Shengli Rd,Shaoxing No. 2 School,Acme Lift\n"
    )

    async with aiohttp.ClientSession() as http:

        async def get(base: int, path: str) -> Any:
            async with http.get(f"http://127.0.0.1:{base}{path}", headers=AUTH) as r:
                assert r.status == 200, (path, r.status, await r.text())
                return await r.json()

        async def until(fn: Any, what: str, timeout_s: float = 15.0) -> Any:
            deadline = time.monotonic() + timeout_s
            while True:
                value = await fn()
                if value:
                    return value
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await asyncio.sleep(0.1)

        async with http.put(f"http://127.0.0.1:{platform_port}/api/v1/registry.csv", data=registry, headers=AUTH) as r:
            assert r.status == 200, await r.text()

        # lift-1 is maintained (a 4 s inspection session), then traps passengers
        async with Publisher(broker.port, "lift-1") as pub:
            await pub.send(
                [
                    event(1, 1000, "inspection", Action.RAISE),
                    event(2, 5000, "inspection", Action.CLEAR),
                    event(3, 8000, "entrapment", Action.RAISE),
                ]
            )
            await pub.resend_until_acked(timeout_s=10)

            async def city_case() -> Any:
                cases = await get(city_port, "/api/v1/city/rescue-cases?county=330602")
                # Trapped 2 s before the test began with response_limit_s = 1: no_response is due as
                # soon as the case opens; waiting for it here (before anyone responds) keeps a slow
                # pass from racing the respond below.
                escalated = cases and [e["kind"] for e in cases[0]["escalations"]] == ["no_response"]
                return cases if escalated and cases[0]["status"] == "01" else None

            (case,) = await until(city_case, "the rescue case at the city, escalated for no response")
            assert case["device_id"] == "lift-1" and case["rescue_code"] == "100001" and case["area_code"] == "330602"
            (alarm,) = [a for a in await get(city_port, "/api/v1/city/alarms?active=true") if a["type"] == "entrapment"]
            assert alarm["gbt_code"] == "11" and alarm["registration_code"] == "31103306022015060001"

            # the city goes down hard; the county carries on
            city.kill()
            await pub.send(
                [event(4, 9000, "entrapment", Action.CLEAR), event(5, 9500, "door_open_too_long", Action.RAISE)]
            )
            await pub.resend_until_acked(timeout_s=10)
        cid = case["case_id"]
        for action, actor in (("respond", "officer-wang"), ("arrive", "tech-li"), ("complete", "tech-li")):
            async with http.post(
                f"http://127.0.0.1:{platform_port}/api/v1/rescue-cases/{cid}/actions",
                json={"action": action, "actor": actor},
                headers=AUTH,
            ) as r:
                assert r.status == 200, await r.text()

        async def backlog() -> Any:
            feed = await get(platform_port, "/api/v1/city-feed")
            return feed if feed["pending"] >= 4 and feed["last_error"] else None

        await until(backlog, "the county to queue while the city is down")

        city.start()

        async def caught_up() -> Any:
            feed = await get(platform_port, "/api/v1/city-feed")
            cases = await get(city_port, "/api/v1/city/rescue-cases")
            return feed["pending"] == 0 and cases and cases[0]["status"] == "00"

        await until(caught_up, "the city to catch up")
        (done,) = await get(city_port, "/api/v1/city/rescue-cases")
        assert [s["status"] for s in done["steps"]] == ["01", "02", "04", "00"]
        # The actor is the caller's credential (here the --api-token-file token), never the body's `actor`.
        assert [s["actor"] for s in done["steps"]] == ["system", "api-token", "api-token", "api-token"]
        assert [e["kind"] for e in done["escalations"]] == ["no_response"]  # nobody answered within 1 s

        # the rescue centre and the maintenance company were told of every step, once each
        async def all_hooks() -> Any:
            return len(hooks.got) >= 10 and hooks.got

        got = await until(all_hooks, "the webhooks")
        seen = sorted((h["Idempotency-Key"].rsplit(":", 1)[1], b["event"]) for h, b in got)
        events = ["rescue.opened", "rescue.escalation", "rescue.status", "rescue.status", "rescue.status"]
        assert seen == sorted((t, e) for t in ("Acme Lift", "rescue_centre") for e in events)
        alarms = {a["type"]: a for a in await get(city_port, "/api/v1/city/alarms")}
        assert alarms["entrapment"]["active"] is False and alarms["door_open_too_long"]["active"] is True
        # the city answers the collector's own /api/v1/alarms too, over every county
        active = await get(city_port, "/api/v1/alarms?active=true")
        assert [(a["county"], a["type"]) for a in active] == [("330602", "door_open_too_long")]

        # nothing lost, nothing doubled: every item the county queued was stored once at the city
        with sqlite3.connect(tmp_path / "county.db") as c:
            (queued,) = c.execute("SELECT COUNT(*) FROM city_outbox").fetchone()
            (unsent,) = c.execute("SELECT COUNT(*) FROM city_outbox WHERE sent_ms IS NULL").fetchone()
        with psycopg.connect(pg_url) as c:
            (received,) = c.execute("SELECT COUNT(*) FROM city_receipts WHERE county = '330602'").fetchone()  # type: ignore[misc]
            (keys,) = c.execute("SELECT COUNT(DISTINCT idempotency_key) FROM city_receipts").fetchone()  # type: ignore[misc]
        assert unsent == 0 and queued == received == keys

        # maintenance: lift-2 has never been maintained in its month -> overdue, city-wide too
        async def overdue() -> Any:
            return await get(city_port, "/api/v1/city/maintenance/overdue")

        rows = await until(overdue, "the overdue report at the city")
        assert [(r["county"], r["device_id"]) for r in rows] == [("330602", "lift-2")]
        assert rows[0]["overdue_days"] == pytest.approx(15, abs=0.1)
        assert [o["device_id"] for o in await get(platform_port, "/api/v1/maintenance/overdue")] == ["lift-2"]
        stats = await get(city_port, "/api/v1/city/statistics?scope=district")
        assert stats["figures"][0]["key"] == "330602" and stats["figures"][0]["entrapments"] == 1

        # a second county cannot write as the first
        forged = {
            "county": "330602",
            "items": [
                {
                    "idempotency_key": "330602:x:1",
                    "kind": "alarm",
                    "key": "1",
                    "version": 10**9,
                    "body": {"device_id": "lift-1", "type": "x"},
                }
            ],
        }
        async with http.post(
            f"http://127.0.0.1:{city_port}/city/v1/push",
            json=forged,
            headers={"Authorization": "Bearer county-token-zhuji"},
        ) as r:
            assert r.status == 403
        forged["county"] = "330681"
        async with http.post(
            f"http://127.0.0.1:{city_port}/city/v1/push",
            json=forged,
            headers={"Authorization": "Bearer county-token-zhuji"},
        ) as r:
            assert r.status == 403
        alarms_after = {a["type"]: a for a in await get(city_port, "/api/v1/city/alarms?county=330602")}
        assert alarms_after == alarms
