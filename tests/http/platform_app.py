"""A standalone platform served over real HTTP on loopback, on either engine, with one named token
per role: the fixture of the rescue-case tests that need accounts (merge, audit in one transaction)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from collector.accounts.store import AccountStore
from collector.http.platform_server import make_platform_app
from collector.platform.identity import FIELDS
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.platform.helpers import T0, Clock

MACHINE = "machine-token-0123456789"
REGISTRY = (
    ",".join(FIELDS) + "\n"
    "lift-a,31103306022015060001,100001,330602,1 Jiefang Rd,Housing Office,Acme Lift\n"
    "lift-b,31103306022015060002,100002,330602,2 Jiefang Rd,Housing Office,Beta Lift\n"
)


@dataclass
class PlatformHttp:
    base: str
    http: aiohttp.ClientSession
    tokens: dict[str, str]  # role -> a named token of that role ("company" is Acme Lift's: lift-a)
    platform: Platform
    accounts: AccountStore
    clock: Clock

    async def call(self, method: str, path: str, token: str | None = MACHINE, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = None if body is None else json.dumps(body).encode()
        async with self.http.request(method, self.base + path, data=data, headers=headers) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def audit(self, **filters: str) -> list[dict[str, Any]]:
        return await self.accounts.audit_entries(**filters)  # type: ignore[arg-type]


@asynccontextmanager
async def platform_http(db_url: str) -> AsyncIterator[PlatformHttp]:
    clock = Clock(T0)
    async with open_store(db_url) as store:
        for d in ("lift-a", "lift-b"):
            await store.add_device(d, d, 0)
    async with Platform(db_url, PlatformConfig(), clock) as platform:
        await platform.import_registry(REGISTRY)
        accounts = AccountStore(platform.db)
        await accounts.create_schema()
        tokens = {
            "duty_officer": await accounts.add_token("duty-bot", "duty_officer", None, 0),
            "regulator": await accounts.add_token("reg-bot", "regulator", None, 0),
            "company": await accounts.add_token("acme-bot", "company", "Acme Lift", 0),
            "admin": await accounts.add_token("admin-bot", "admin", None, 0),
        }
        server = TestServer(make_platform_app(platform, MACHINE, accounts), host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                yield PlatformHttp(str(server.make_url("")).rstrip("/"), http, tokens, platform, accounts, clock)
        finally:
            await server.close()
