"""The route table, the auth middleware and accounts over real HTTP on loopback (SQLite store):
every served route is declared and documented, and each role rule with the attack it stops."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.accounts.store import AccountsConfig, AccountStore, LoginRefused
from collector.config import CollectorConfig
from collector.http import alarm_acks, routes
from collector.http.api import STORE_KEY, make_app
from collector.http.auth import AUTH_KEY
from collector.http.body import LARGE_BODY_BYTES, SMALL_BODY_BYTES
from collector.http.city_api import CityConfig
from collector.http.platform_routes import add_platform_routes
from collector.http.platform_server import make_platform_app
from collector.ingest.pipeline import Ingest
from collector.metrics import Metrics
from collector.platform.identity import FIELDS
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.collector.conftest import Running, db_url, make_config, pg_database, sqlite_url, token_file  # noqa: F401
from tests.platform.helpers import ev, rows
from tests.support.services import Broker

MACHINE = "machine-token-0123456789"
PASSWORD = "correct horse battery"
REGISTRY = (
    ",".join(FIELDS) + "\n"
    "lift-a,31103306022015060001,100001,330602,1 Jiefang Rd,Housing Office,Acme Lift\n"
    "lift-b,31103306022015060002,100002,330602,2 Jiefang Rd,Housing Office,Beta Lift\n"
)


class Clock:
    def __init__(self) -> None:
        self.now_ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Served:
    base: str
    http: aiohttp.ClientSession
    tokens: dict[str, str]  # role -> a named token of that role
    cases: dict[str, str]  # device -> its open rescue case
    accounts: AccountStore
    clock: Clock
    app: web.Application

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        async with self.http.request(method, self.base + path, data=data, headers=headers, **kw) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def login(
        self, http: aiohttp.ClientSession, username: str, password: str = PASSWORD
    ) -> aiohttp.ClientResponse:
        async with http.post(self.base + "/api/v1/login", json={"username": username, "password": password}) as r:
            await r.read()
            return r


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[Served]:  # noqa: F811 - the fixture imported above
    clock = Clock()
    async with open_store(sqlite_url) as store:
        for d in ("lift-a", "lift-b"):
            await store.add_device(d, d, 0)
        async with Platform(store, PlatformConfig()) as platform:
            await platform.import_registry(REGISTRY)
            cases = {d: (await platform.open_manual(d, "hotline", "test"))["case_id"] for d in ("lift-a", "lift-b")}
            accounts = AccountStore(platform.db, AccountsConfig(max_failed_logins=3, lockout_s=60))
            await accounts.create_schema()
            metrics = Metrics()
            app = make_app(
                store,
                metrics,
                Ingest(CollectorConfig(broker_url="mqtt://127.0.0.1:1"), store, metrics),
                MACHINE,
                accounts,
            )
            add_platform_routes(app, platform, MACHINE, run_tasks=False)
            app[AUTH_KEY].clock = clock
            tokens = {
                "duty_officer": await accounts.add_token("duty-bot", "duty_officer", None, 0),
                "regulator": await accounts.add_token("reg-bot", "regulator", None, 0),
                "company": await accounts.add_token("acme-bot", "company", "Acme Lift", 0),
                "admin": await accounts.add_token("admin-bot", "admin", None, 0),
            }
            await accounts.add_user("wang", "duty_officer", None, PASSWORD, 0)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    yield Served(str(server.make_url("")).rstrip("/"), http, tokens, cases, accounts, clock, app)
            finally:
                await server.close()


# --- the table: nothing served that is not declared, nothing declared that is not documented ----------


def _served_routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.method != "HEAD"  # aiohttp adds HEAD beside a GET
    }


async def test_every_served_route_is_in_the_table_and_the_openapi(served: Served) -> None:
    table = set(routes.table(served.app))
    assert _served_routes(served.app) <= table, "a route is served that the table does not declare"
    status, spec = await served.call("GET", "/openapi.json")
    assert status == 200
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert table == documented
    for path in ("/api/v1/rescue-cases/{case_id}/actions", "/api/v1/registry.csv", "/api/v1/audit", "/api/v1/login"):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/v1/audit"]["get"]["x-roles"] == ["admin", "regulator"]
    assert "security" not in spec["paths"]["/healthz"]["get"]


async def test_the_standalone_and_city_apps_declare_every_route_too(sqlite_url: str) -> None:  # noqa: F811
    async with open_store(sqlite_url), Platform(sqlite_url, PlatformConfig(city=CityConfig({"330602": "t" * 12}))) as p:
        app = make_platform_app(p, MACHINE, AccountStore(p.db))
        assert _served_routes(app) <= set(routes.table(app))
        assert ("GET", "/api/v1/elevators") in routes.table(app)
        doc = routes.openapi(app, {})
        assert {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops} == set(routes.table(app))


async def test_an_undeclared_route_is_refused_even_with_the_admin_token(served: Served) -> None:
    # Attack: a route added with app.router.add_get and no roles would be open to anyone.
    async def secret(_: web.Request) -> web.Response:
        return web.json_response({"leak": True})

    app = web.Application()
    app.router.add_get("/api/v1/secret", secret)
    from collector.http.auth import install

    install(app, MACHINE)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with served.http.get(
            server.make_url("/api/v1/secret"), headers={"Authorization": f"Bearer {MACHINE}"}
        ) as r:
            assert r.status == 403 and "not in the route table" in (await r.json())["error"]
    finally:
        await server.close()


# --- credentials ----------------------------------------------------------------------------------


async def test_no_or_wrong_credentials_are_401(served: Served) -> None:
    assert (await served.call("GET", "/api/v1/elevators"))[0] == 401
    assert (await served.call("GET", "/api/v1/elevators", "elv_not-a-token"))[0] == 401
    assert (await served.call("GET", "/api/v1/elevators", headers={"Authorization": "Basic eDp5"}))[0] == 401
    assert (await served.call("GET", "/api/v1/elevators", headers={"Cookie": "elev_session=forged"}))[0] == 401
    assert (await served.call("GET", "/api/v1/elevators", MACHINE))[0] == 200
    assert (await served.call("GET", "/api/v1/elevators", served.tokens["regulator"]))[0] == 200


async def test_credentials_are_checked_before_the_body_is_read(served: Served) -> None:
    # Attack: an anonymous client makes the server read (and buffer) a body too large to keep.
    big = b"x" * (LARGE_BODY_BYTES + 1)
    status, body = await served.call("PUT", "/api/v1/registry.csv", None, big)
    assert status == 401, body
    status, body = await served.call("PUT", "/api/v1/registry.csv", served.tokens["duty_officer"], big)
    assert status == 403 and "duty_officer" in body["error"], body


async def test_a_revoked_token_stops_working(served: Served) -> None:
    await served.accounts.revoke_token("reg-bot")
    assert (await served.call("GET", "/api/v1/elevators", served.tokens["regulator"]))[0] == 401


# --- roles ----------------------------------------------------------------------------------------


async def test_a_regulator_reads_everything_and_changes_nothing(served: Served) -> None:
    reg = served.tokens["regulator"]
    assert len((await served.call("GET", "/api/v1/rescue-cases", reg))[1]) == 2
    assert (await served.call("GET", "/api/v1/statistics", reg))[0] == 200
    case = served.cases["lift-a"]
    status, body = await served.call("POST", f"/api/v1/rescue-cases/{case}/actions", reg, {"action": "respond"})
    assert status == 403 and "role regulator" in body["error"] and "duty_officer" in body["error"], body
    assert (await served.call("POST", "/api/v1/rescue-cases", reg, {"device_id": "lift-a"}))[0] == 403


async def test_only_an_admin_imports_the_registry(served: Served) -> None:
    for role in ("duty_officer", "regulator", "company"):
        assert (await served.call("PUT", "/api/v1/registry.csv", served.tokens[role], REGISTRY.encode()))[0] == 403
    assert (await served.call("PUT", "/api/v1/registry.csv", served.tokens["admin"], REGISTRY.encode()))[0] == 200


async def test_a_company_sees_and_acts_on_its_own_elevators_only(served: Served) -> None:
    acme = served.tokens["company"]
    assert [e["device_id"] for e in (await served.call("GET", "/api/v1/elevators", acme))[1]] == ["lift-a"]
    assert [e["device_id"] for e in (await served.call("GET", "/api/v1/registry", acme))[1]] == ["lift-a"]
    assert [c["device_id"] for c in (await served.call("GET", "/api/v1/rescue-cases", acme))[1]] == ["lift-a"]
    status, text = await served.call("GET", "/api/v1/registry.csv", acme)
    assert status == 200 and "lift-a" in text and "lift-b" not in text
    # Attack: asking by id for another company's elevator or case, or acting on it.
    status, body = await served.call("GET", "/api/v1/events?device_id=lift-b", acme)
    assert status == 403 and "own elevators" in body["error"], body
    assert (await served.call("GET", "/api/v1/alarms?device_id=lift-b", acme))[0] == 403
    assert (await served.call("GET", f"/api/v1/rescue-cases/{served.cases['lift-b']}", acme))[0] == 403
    assert (await served.call("GET", "/api/v1/registry/lift-b/history", acme))[0] == 403
    status, history = await served.call("GET", "/api/v1/registry/lift-a/history", acme)
    assert status == 200 and [v["maintenance_company"] for v in history] == ["Acme Lift"]
    other = f"/api/v1/rescue-cases/{served.cases['lift-b']}/actions"
    assert (await served.call("POST", other, acme, {"action": "respond"}))[0] == 403
    assert (await served.call("POST", "/api/v1/rescue-cases", acme, {"device_id": "lift-b"}))[0] == 403
    own = f"/api/v1/rescue-cases/{served.cases['lift-a']}/actions"
    status, body = await served.call("POST", own, acme, {"action": "respond"})
    assert status == 200 and body["steps"][-1]["actor"] == "acme-bot", body
    # District-wide figures are not one company's to see.
    assert (await served.call("GET", "/api/v1/statistics", acme))[0] == 403


async def test_the_actor_is_the_credential_not_the_body(served: Served) -> None:
    # Attack: a duty officer records a step in someone else's name.
    path = f"/api/v1/rescue-cases/{served.cases['lift-b']}/actions"
    status, body = await served.call(
        "POST", path, served.tokens["duty_officer"], {"action": "respond", "actor": "boss"}
    )
    assert status == 200 and body["steps"][-1]["actor"] == "duty-bot", body


# --- sign-in --------------------------------------------------------------------------------------


async def test_login_sets_a_strict_httponly_cookie_and_needs_csrf_to_change(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        r = await served.login(browser, "wang")
        assert r.status == 200
        cookie = r.headers["Set-Cookie"]
        assert "elev_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        async with browser.post(served.base + "/api/v1/login", json={"username": "wang", "password": PASSWORD}) as r2:
            csrf = (await r2.json())["csrf_token"]
        async with browser.get(served.base + "/api/v1/session") as r:
            assert r.status == 200 and (await r.json())["username"] == "wang"
        path = served.base + f"/api/v1/rescue-cases/{served.cases['lift-a']}/actions"
        # Attack: another site's form posts with the officer's cookie (it cannot know the CSRF token).
        async with browser.post(path, json={"action": "respond"}) as r:
            assert r.status == 403 and "X-CSRF-Token" in (await r.json())["error"]
        async with browser.post(path, json={"action": "respond"}, headers={"X-CSRF-Token": "guess"}) as r:
            assert r.status == 403
        async with browser.post(path, json={"action": "respond"}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200 and (await r.json())["steps"][-1]["actor"] == "wang"
        async with browser.post(served.base + "/api/v1/logout", headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
        async with browser.get(served.base + "/api/v1/session") as r:
            assert r.status == 401


async def test_wrong_passwords_lock_the_account_out_for_a_while(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        assert (await served.login(browser, "nobody")).status == 401
        for _ in range(3):  # max_failed_logins=3 in this fixture
            assert (await served.login(browser, "wang", "wrong password!")).status == 401
        r = await served.login(browser, "wang")  # the right password, but locked
        assert r.status == 429 and int(r.headers["Retry-After"]) == 60
        served.clock.now_ms += 61_000
        assert (await served.login(browser, "wang")).status == 200
    entries = await served.accounts.audit_entries(actor="wang", kind="session")
    assert [e["action"] for e in entries] == ["login", "locked_out"]


async def test_a_disabled_account_loses_its_session(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        assert (await served.login(browser, "wang")).status == 200
        await served.accounts.disable_user("wang", served.clock())
        async with browser.get(served.base + "/api/v1/elevators") as r:
            assert r.status == 401
        assert (await served.login(browser, "wang")).status == 401


# --- audit ----------------------------------------------------------------------------------------


async def test_changes_are_audited_and_only_admins_and_regulators_read_the_trail(served: Served) -> None:
    path = f"/api/v1/rescue-cases/{served.cases['lift-a']}/actions"
    assert (await served.call("POST", path, served.tokens["duty_officer"], {"action": "respond", "note": "on it"}))[
        0
    ] == 200
    assert (await served.call("PUT", "/api/v1/registry.csv", MACHINE, REGISTRY.encode()))[0] == 200
    assert (await served.call("GET", "/api/v1/audit", served.tokens["duty_officer"]))[0] == 403
    assert (await served.call("GET", "/api/v1/audit", served.tokens["company"]))[0] == 403
    status, rows = await served.call("GET", "/api/v1/audit", served.tokens["regulator"])
    assert status == 200
    kinds = [(r["actor"], r["kind"], r["action"]) for r in rows]
    assert ("duty-bot", "rescue_case", "respond") in kinds and ("api-token", "registry", "import") in kinds
    step = next(r for r in rows if r["kind"] == "rescue_case")
    assert step["device_id"] == "lift-a" and step["detail"]["note"] == "on it" and step["at"].endswith("Z")
    status, rows = await served.call("GET", "/api/v1/audit?actor=duty-bot&device_id=lift-a", MACHINE)
    assert status == 200 and [r["action"] for r in rows] == ["respond"]
    assert (await served.call("GET", "/api/v1/audit?since=yesterday", MACHINE))[0] == 400


async def test_the_audit_table_refuses_updates_and_deletes(served: Served, sqlite_url: str) -> None:  # noqa: F811
    await served.accounts.audit_entries()  # the table exists
    path = f"/api/v1/rescue-cases/{served.cases['lift-a']}/actions"
    assert (await served.call("POST", path, MACHINE, {"action": "respond"}))[0] == 200
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        for sql in ("UPDATE audit_log SET actor = 'someone-else'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


# --- the commands ---------------------------------------------------------------------------------


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_users_and_tokens_commands(sqlite_url: str, tmp_path: Path) -> None:  # noqa: F811
    db = ["--db", sqlite_url]
    out = _cli("users", "add", "li", "--role", "company", "--company", "Acme Lift", *db, stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert PASSWORD not in out.stdout + out.stderr
    out = _cli("users", "add", "li", "--role", "regulator", *db, stdin=PASSWORD + "\n")
    assert out.returncode == 1 and "exists" in out.stderr
    out = _cli("users", "add", "zhao", "--role", "company", *db, stdin=PASSWORD + "\n")
    assert out.returncode == 1 and "--company" in out.stderr
    out = _cli("users", "add", "zhao", "--role", "admin", *db, stdin="short\n")
    assert out.returncode == 1 and "shorter than" in out.stderr and "short\n" not in out.stderr
    assert _cli("users", "passwd", "li", *db, stdin="another good password\n").returncode == 0
    assert _cli("users", "disable", "li", *db).returncode == 0
    listed = json.loads(_cli("users", "list", "--json", *db).stdout)
    assert [(u["username"], u["role"], u["company"], u["disabled"]) for u in listed] == [
        ("li", "company", "Acme Lift", True)
    ]
    out = _cli("tokens", "add", "scada", "--role", "regulator", *db)
    assert out.returncode == 0 and out.stdout.startswith("token: elv_"), out
    token = out.stdout.split()[1]
    stored = sqlite3.connect(sqlite_url.removeprefix("sqlite:///")).execute("SELECT * FROM api_tokens").fetchall()
    assert token not in repr(stored), "only the token's digest is stored"
    assert "elv_" not in _cli("tokens", "list", *db).stdout
    assert _cli("tokens", "revoke", "scada", *db).returncode == 0
    actions = (
        sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
        .execute("SELECT kind, action, target FROM audit_log ORDER BY id")
        .fetchall()
    )
    assert actions == [
        ("user", "add", "li"),
        ("user", "passwd", "li"),
        ("user", "disable", "li"),
        ("token", "add", "scada"),
        ("token", "revoke", "scada"),
    ]


async def test_account_tables_on_both_engines(db_url: str) -> None:  # noqa: F811
    async with open_store(db_url) as db:
        store = AccountStore(db, AccountsConfig(max_failed_logins=2, lockout_s=30))
        await store.create_schema()
        await store.create_schema()  # a second start finds the tables and triggers in place
        await store.add_user("wang", "duty_officer", None, PASSWORD, 0)
        session_id, who = await store.login("wang", PASSWORD, 1000)
        assert who.role == "duty_officer" and (await store.session(session_id, 2000)) == who
        assert await store.session(session_id, 1000 + 13 * 3600 * 1000) is None, "expired"
        for i in range(20):  # MAX_SESSIONS more sign-ins: the first session is dropped (the bound's SQL here)
            await store.login("wang", PASSWORD, 1001 + i)
        assert await store.session(session_id, 2000) is None
        for _ in range(2):
            with pytest.raises(LoginRefused):
                await store.login("wang", "wrong password", 3000)
        with pytest.raises(LoginRefused) as refused:
            await store.login("wang", PASSWORD, 4000)
        assert refused.value.status == 429
        rows = await store.audit_entries(actor="wang")
        assert [r["action"] for r in rows] == ["locked_out"] + ["login"] * 21

        def tamper(cur: Any) -> None:
            cur.execute("UPDATE audit_log SET actor = 'x'")

        with pytest.raises(Exception, match="append-only"):
            await db.run(tamper)
        # The acknowledgement's upsert (alarm_acks, migration 5) on this engine: a second one replaces the first.
        for by in ("wang", "li"):
            await db.run(
                lambda cur, by=by: cur.execute(
                    db.q(alarm_acks.UPSERT),
                    (7, "lift-a", by, 1, None, ""),
                )
            )
        got = await db.run(lambda cur: (cur.execute("SELECT alarm_id, acked_by FROM alarm_acks"), cur.fetchall())[1])
        assert [tuple(r) for r in got] == [(7, "li")]


async def test_a_user_made_by_the_command_signs_in_on_runs_port(
    broker: Broker,
    sqlite_url: str,  # noqa: F811
    token_file: Path,  # noqa: F811
) -> None:
    # The contract's path: `users add` (password on stdin), then POST /api/v1/login on `run`'s port.
    out = await asyncio.to_thread(
        _cli, "users", "add", "wang", "--role", "duty_officer", "--db", sqlite_url, stdin=PASSWORD + "\n"
    )
    assert out.returncode == 0, out.stderr
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=("lift-1",))
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            login = {"username": "wang", "password": PASSWORD}
            async with browser.post(col.api + "/api/v1/login", json=login) as r:
                assert r.status == 200 and (await r.json())["role"] == "duty_officer"
            async with browser.get(col.api + "/api/v1/elevators") as r:
                assert r.status == 200 and [e["device_id"] for e in await r.json()] == ["lift-1"]
            async with browser.get(col.api + "/api/v1/audit") as r:
                assert r.status == 403  # a duty officer does not read the trail
        status, rows = await col.get("/api/v1/audit")  # the --api-token-file token: admin
        assert status == 200
        assert [(r["actor"], r["kind"], r["action"]) for r in rows][:2] == [
            ("wang", "session", "login"),
            (rows[1]["actor"], "user", "add"),
        ] and rows[1]["actor"].startswith("cli:")
    finally:
        await col.close()


async def test_acknowledging_an_alarm_names_the_caller_and_is_audited(served: Served) -> None:
    store = served.app[STORE_KEY]
    for dev in ("lift-a", "lift-b"):
        await store.commit(rows(dev, [ev(1, 10, "controller_fault", "raise")]))
    alarms = {a["device_id"]: a for a in (await served.call("GET", "/api/v1/alarms", MACHINE))[1]}
    assert alarms["lift-a"]["acknowledged_by"] is None
    a, b = alarms["lift-a"]["id"], alarms["lift-b"]["id"]
    acme = served.tokens["company"]
    assert (await served.call("POST", f"/api/v1/alarms/{b}/ack", acme, {}))[0] == 403  # not its elevator
    assert (await served.call("POST", f"/api/v1/alarms/{a}/ack", served.tokens["regulator"], {}))[0] == 403
    assert (await served.call("POST", "/api/v1/alarms/999999/ack", MACHINE, {}))[0] == 404
    assert (await served.call("POST", "/api/v1/alarms/x1/ack", MACHINE, {}))[0] == 400
    status, body = await served.call("POST", f"/api/v1/alarms/{a}/ack", acme, {"assign_to": "crew-3", "actor": "x"})
    assert status == 200 and body["acknowledged_by"] == "acme-bot", body
    (shown,) = (await served.call("GET", "/api/v1/alarms", acme))[1]
    assert (shown["id"], shown["acknowledged_by"], shown["assigned_to"]) == (a, "acme-bot", "crew-3")
    (entry,) = (await served.call("GET", "/api/v1/audit?kind=alarm", MACHINE))[1]
    assert (entry["actor"], entry["action"], entry["device_id"], entry["detail"]["assign_to"]) == (
        "acme-bot",
        "ack",
        "lift-a",
        "crew-3",
    )


async def test_sessions_per_account_are_bounded(served: Served) -> None:
    from collector.accounts.store import MAX_SESSIONS

    first, _ = await served.accounts.login("wang", PASSWORD, served.clock())
    for i in range(MAX_SESSIONS):
        await served.accounts.login("wang", PASSWORD, served.clock() + 1 + i)
    assert await served.accounts.session(first, served.clock() + 100) is None, "the oldest session went"
    count = await served.accounts.db.run(
        lambda cur: (cur.execute("SELECT COUNT(*) FROM account_sessions"), cur.fetchone())[1][0]
    )
    assert count == MAX_SESSIONS


async def test_hostile_sign_in_bodies_are_4xx_naming_the_problem(served: Served) -> None:
    assert (await served.call("POST", "/api/v1/login", None, b"x" * (SMALL_BODY_BYTES + 1)))[0] == 413
    status, body = await served.call("POST", "/api/v1/login", None, b"[" * 5000 + b"]" * 5000)
    assert status == 400 and "nests deeper" in body["error"], body
    status, body = await served.call("POST", "/api/v1/login", None, {"username": 5, "password": PASSWORD})
    assert status == 400 and "username" in body["error"], body
    status, body = await served.call("POST", "/api/v1/login", None, {"username": "wang", "password": "p" * 5000})
    assert status == 401, body  # an over-long password is a wrong one, not a 500 or a slow hash


def test_a_bad_accounts_table_is_refused_by_check_config_naming_the_key(tmp_path: Path) -> None:
    token = tmp_path / "api-token"
    token.write_text("a-long-enough-token\n")
    cfg = tmp_path / "collector.toml"
    body = f'[collector]\nbroker_url = "mqtt://127.0.0.1:1883"\napi_token_file = "{token}"\n\n[accounts]\n'
    cfg.write_text(body + "max_failed_logins = 3\nlockout_s = 60\n")
    assert _cli("check-config", "--config", str(cfg)).returncode == 0
    for bad, key in (("max_failed_logins = 0", "max_failed_logins"), ("lockout_minutes = 5", "lockout_minutes")):
        cfg.write_text(body + bad + "\n")
        out = _cli("check-config", "--config", str(cfg))
        assert out.returncode == 2 and f"[accounts].{key}" in out.stderr and str(cfg) in out.stderr, out.stderr
        out = _cli("run", "--config", str(cfg))
        assert out.returncode == 2 and f"[accounts].{key}" in out.stderr, out.stderr
