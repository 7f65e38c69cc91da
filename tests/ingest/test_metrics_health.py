"""/metrics through prometheus_client and /healthz from in-memory state (issue 13 items 5 and 7).

A wedged store (another writer holding SQLite's write lock) must not make either answer wait:
the old handlers queried the store and hung behind its executor; now /metrics renders what the
gauge task read last and /healthz turns 503 with the reason once the store has not answered for
the grace.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from collector.metrics import Exposition, Metrics
from collector.platform.service import PlatformConfig
from tests.collector.conftest import TOKEN, Running, make_config, wait_until
from tests.collector.publisher import Publisher, statuses
from tests.support.services import Broker


def _get(url: str, timeout_s: float = 2.0) -> tuple[int, bytes, float]:
    """(status, body, seconds); a timeout fails the test, which is the point."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.read(), time.perf_counter() - t0
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.perf_counter() - t0


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_two_expositions_in_one_process_do_not_clash() -> None:
    a, b = Metrics(), Metrics()
    a.records_stored, b.records_stored = 5, 7
    ea = Exposition(a, version="1.2.3", store_engine="SQLite")
    eb = Exposition(b, version="1.2.3", store_engine="PostgreSQL")
    fa, fb = _families(ea.render().decode()), _families(eb.render().decode())
    assert fa["collector_records_stored_total"] == [({}, 5.0)]
    assert fb["collector_records_stored_total"] == [({}, 7.0)]
    assert fa["elev_collector_build_info"] == [({"version": "1.2.3", "store_engine": "SQLite"}, 1.0)]
    assert fb["elev_collector_build_info"][0][0]["store_engine"] == "PostgreSQL"
    assert fa["process_resident_memory_bytes"][0][1] > 1_000_000


async def test_metrics_names_build_info_process_and_platform(tmp_path: Path, broker: Broker) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    cfg = make_config(broker, f"sqlite:///{tmp_path / 'c.db'}", token_file)
    col = Running(cfg)
    col.collector.platform_config = replace(PlatformConfig(), poll_s=300.0)
    await col.start(devices=("lift-1",))
    try:
        async with Publisher(broker.port, "lift-1", batch=5) as p:
            await p.send(statuses(5))
            await p.resend_until_acked(10)

        async def scraped() -> dict[str, list[tuple[dict[str, str], float]]] | None:
            status, body, _ = await asyncio.to_thread(_get, col.api + "/metrics")
            fams = _families(body.decode())
            online = fams.get("collector_devices_online", [({}, 0.0)])[0][1]
            return fams if status == 200 and online == 1 and "platform_rescue_cases_open" in fams else None

        fams = await wait_until(scraped, what="store and platform gauges read")
        assert fams["collector_records_stored_total"] == [({}, 5.0)]
        assert fams["collector_mqtt_connected"] == [({}, 1.0)]
        ((labels, _),) = fams["elev_collector_build_info"]
        assert labels["store_engine"] == "SQLite" and labels["version"]
        assert fams["process_resident_memory_bytes"][0][1] > 0
        for name in ("platform_rescue_cases_open", "platform_escalations_total"):
            assert fams[name] == [({}, 0.0)], name
        assert "platform_city_feed_backlog" not in fams  # no [platform.city_feed]: nothing waits to be sent
    finally:
        await col.close()


async def test_wedged_store_metrics_answer_at_once_and_healthz_says_why(tmp_path: Path, broker: Broker) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    db = tmp_path / "c.db"
    cfg = make_config(broker, f"sqlite:///{db}", token_file, health_grace_s=1.0)
    col = await Running(cfg).start(devices=("lift-1",))
    blocker = sqlite3.connect(db, isolation_level=None, timeout=1)
    try:
        await wait_until(lambda: col.collector.metrics.store_gauges, what="first gauge read")
        blocker.execute("BEGIN IMMEDIATE")  # the store's every transaction now waits (busy_timeout 30 s)
        t0 = time.monotonic()

        async def unhealthy() -> tuple[int, bytes, float] | None:
            res = await asyncio.to_thread(_get, col.api + "/healthz")
            assert res[2] < 1.0, f"/healthz took {res[2]:.2f} s with the store wedged"
            return res if res[0] == 503 else None

        status, body, _ = await wait_until(unhealthy, timeout_s=8, what="/healthz 503")
        assert time.monotonic() - t0 >= 1.0  # not before the grace
        assert "store has not answered" in json.loads(body)["reason"]
        status, body, took = await asyncio.to_thread(_get, col.api + "/metrics")
        assert status == 200 and took < 1.0, took
        assert b"collector_devices 1.0" in body  # the figures read before the store wedged
        blocker.execute("ROLLBACK")
        await wait_until(lambda: col.collector.ingest is not None and col.collector.ingest.health()[0], what="healthy")
        assert (await asyncio.to_thread(_get, col.api + "/healthz"))[0] == 200
    finally:
        blocker.close()
        await col.close()
