"""A database written by the release before schema versions (b145832) upgrades without loss, on
SQLite and PostgreSQL; migrations run twice do nothing; a newer database is refused by name.

The release's databases are committed (tests/store/release/, built by build.py with that
release's code): every row counted there must be found after the upgrade, and the platform must
carry on from its state (no second rescue case, the case's steps kept, new ids after the old)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.errors import StoreError
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store, schema
from protocols.events import Action
from tests.collector.publisher import event
from tests.collector.test_store import rows

RELEASE = Path(__file__).parent / "release"
COUNTS: dict[str, int] = json.loads((RELEASE / "b145832.counts.json").read_text())
NOW_MS = 1_764_400_000_000 + 2_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def release_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the release's database on each engine."""
    if request.param == "sqlite":
        db = tmp_path / "release.db"
        shutil.copy(RELEASE / "b145832.sqlite", db)
        return f"sqlite:///{db}"
    url: str = request.getfixturevalue("pg_url")
    with psycopg.connect(url, autocommit=True) as conn:  # its own session: the dump empties search_path
        conn.execute((RELEASE / "b145832.pg.sql").read_text())
    return url


def _counts(cur: Any) -> dict[str, int]:
    out = {}
    for table in COUNTS:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        out[table] = int(cur.fetchone()[0])
    return out


def _columns(cur: Any, sqlite: bool) -> dict[str, list[tuple[str, str]]]:
    """Tables and their columns (name, declared type) and index names, to compare schemas."""
    out: dict[str, list[tuple[str, str]]] = {}
    if sqlite:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in cur.fetchall():
            cur.execute(f"PRAGMA table_info({table})")
            out[table] = [(r[1], r[2]) for r in cur.fetchall()]
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
    else:
        cur.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
        for table, col, typ in cur.fetchall():
            out.setdefault(table, []).append((col, typ))
        cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    out["(indexes)"] = sorted((name, "") for (name,) in cur.fetchall())
    return out


async def test_release_database_upgrades_without_loss(release_url: str) -> None:
    async with open_store(release_url) as store:
        assert await store.schema_versions() == [m.version for m in schema.MIGRATIONS]
        assert await store.run(_counts) == COUNTS
        alarms = {(a.device_id, a.type): a for a in await store.alarms()}
        assert alarms[("lift-1", "entrapment")].cleared_ms is not None
        assert alarms[("lift-2", "controller_fault")].cleared_ms is None
        assert {d for d, t in alarms if t == "device_offline"} == {"lift-2", "lift-3"}
        shown = {e["device_id"]: e for e in await store.elevators()}
        assert shown["lift-1"]["state"]["floor"] == 3 and not shown["lift-2"]["online"]
        async with Platform(store, PlatformConfig(), lambda: NOW_MS) as p:
            (case,) = await p.cases(None, None, 10)
            assert (case["case_id"], case["status"]) == ("RC-1", "02")
            assert [s["actor"] for s in case["steps"]] == ["system", "officer-wang"]
            assert (await p.tick()).cases_opened == 0  # the release's platform had seen this alarm
            (session,) = await p.sessions("lift-1", None)
            assert session["floors_visited"] == [1, 2, 3, 4]
            assert [i.device_id for i in await p.registry()] == ["lift-1", "lift-2"]
            for d in ("lift-1", "lift-2"):  # every old registry row is version 1, valid from the epoch
                (v1,) = await p.registry_history(d)
                assert (v1["version"], v1["valid_from"], v1["valid_until"]) == (1, "1970-01-01T00:00:00.000Z", None)
            (item,) = await p.city_items("alarm")
            assert item["county"] == "330681"
            # new facts go on after the old ones: once RC-1 is done (one car has one open case),
            # a second entrapment opens a second case
            for action in ("arrive", "complete"):
                await p.act("RC-1", action, "officer-wang", "")
            res = await store.commit(rows("lift-1", 1, [event(20, 2_000_000, "entrapment", Action.RAISE)]))
            assert res.alarms_raised == 1
            assert (await p.tick()).cases_opened == 1
            assert max(a.id for a in await store.alarms()) == COUNTS["alarms"] + 1


async def test_migrations_run_twice_change_nothing(release_url: str, caplog: pytest.LogCaptureFixture) -> None:
    sqlite = release_url.startswith("sqlite")
    caplog.set_level(logging.INFO, "collector.store")
    async with open_store(release_url) as store:
        first = await store.run(lambda cur: _columns(cur, sqlite))
        versions = await store.run(lambda cur: (cur.execute("SELECT * FROM schema_version"), cur.fetchall())[1])
    steps = ", ".join(str(m.version) for m in schema.MIGRATIONS)
    assert [r.getMessage() for r in caplog.records] == [
        f"schema: applied migration(s) {steps}, now version {schema.LATEST}"
    ]
    caplog.clear()
    async with open_store(release_url) as store:  # opening runs the migrations again
        assert await store.run(lambda cur: _columns(cur, sqlite)) == first
        again = await store.run(lambda cur: (cur.execute("SELECT * FROM schema_version"), cur.fetchall())[1])
        assert again == versions
        assert await store.run(_counts) == COUNTS
    assert caplog.records == []


async def test_upgraded_and_new_databases_have_one_schema(release_url: str, tmp_path: Path) -> None:
    sqlite = release_url.startswith("sqlite")
    async with open_store(release_url) as store:
        upgraded = await store.run(lambda cur: _columns(cur, sqlite))
    if sqlite:
        fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        with psycopg.connect(release_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        fresh_url = release_url
    async with open_store(fresh_url) as store:
        assert await store.run(lambda cur: _columns(cur, sqlite)) == upgraded


async def test_a_database_newer_than_the_code_is_refused_by_version(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.run(
            lambda cur: cur.execute(
                store.q("INSERT INTO schema_version (version, applied_ms, why) VALUES (?, ?, ?)"),
                (schema.LATEST + 7, NOW_MS, "a release from the future"),
            )
        )
    with pytest.raises(StoreError) as info:
        async with open_store(db_url):
            pass
    text = str(info.value)
    assert f"version {schema.LATEST + 7}" in text and f"this collector's version {schema.LATEST}" in text
    assert "\n" not in text
