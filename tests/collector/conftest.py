"""Fixtures for the collector: a store on each engine, a running collector, API access.

PostgreSQL: one database with a random name per test run (dropped at the end), its schema reset
before each test. When PostgreSQL is not reachable the PostgreSQL-parametrized tests FAIL with a
message saying so: CI (`.ci/run`, scripts/bootstrap.sh) installs and starts it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.config import CollectorConfig
from collector.daemon import Collector
from collector.store import Store, open_store
from tests.support.services import Broker, free_port

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"elev_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({str(exc).strip().splitlines()[0]}); the "
            "PostgreSQL store tests need it: run scripts/bootstrap.sh (CI's .ci/run installs and starts it)",
            pytrace=False,
        )
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def reset_pg(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    url: str = request.getfixturevalue("pg_database")
    reset_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'collector.db'}"


@pytest.fixture
def pg_url(pg_database: str) -> str:
    reset_pg(pg_database)
    return pg_database


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    async with open_store(db_url) as s:
        yield s


TOKEN = "test-token-5f1c2a9e"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    p = tmp_path / "api-token"
    p.write_text(TOKEN + "\n")
    return p


def make_config(broker: Broker, db_url: str, token_file: Path, **kw: Any) -> CollectorConfig:
    cfg = CollectorConfig(
        broker_url=broker.url,
        db_url=db_url,
        http_port=free_port(),
        api_token_file=str(token_file),
        client_id=f"collector-test-{secrets.token_hex(3)}",
        offline_after_s=600.0,
    )
    return replace(cfg, **kw)


class Running:
    """A collector running in this test's event loop."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.collector = Collector(config)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}"

    @property
    def store(self) -> Store:
        assert self.collector.store is not None
        return self.collector.store

    async def start(self, devices: tuple[str, ...] = ()) -> Running:
        if devices:
            async with open_store(self.config.db_url) as s:
                for d in devices:
                    await s.add_device(d, d, 0)
        self.task = asyncio.create_task(self.collector.run(self.stop))
        async with asyncio.timeout(15):
            await self.collector.ready.wait()
            assert self.collector.ingest is not None
            await self.collector.ingest.connected.wait()
        return self

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            async with asyncio.timeout(15):
                await self.task

    async def get(self, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
        return await asyncio.to_thread(http_get, self.api + path, token)


def http_get(url: str, token: str | None = TOKEN) -> tuple[int, Any]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
            ctype = r.headers.get("Content-Type", "")
            return r.status, json.loads(body) if "json" in ctype else body.decode()
    except urllib.error.HTTPError as e:
        return e.code, None


async def wait_until(cond: Any, timeout_s: float = 10.0, what: str = "") -> Any:
    """Poll an (async or plain) condition until truthy; fail after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = cond()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or cond}")
        await asyncio.sleep(0.02)
