"""Builds the databases the upgrade test opens: what the release at b145832 wrote.

Run with that release's code, from a worktree of it (the test never runs this; it reads the
committed outputs):

    git worktree add /tmp/rel b145832 && cd /tmp/rel && make bootstrap
    .venv/bin/python /path/to/tests/store/release/build.py OUT_DIR [PG_URL]

It writes OUT_DIR/b145832.sqlite, OUT_DIR/b145832.pg.sql (pg_dump of the same history on
PostgreSQL, when PG_URL is given) and OUT_DIR/b145832.counts.json (rows per table), through the
release's own ingest transaction and platform: registered devices, status and event frames, an
entrapment alarm (raised and cleared) with its rescue case stepped to "responded", a controller
fault still active, a device_offline alarm, a maintenance session, the registry, queued webhooks
and city-feed items, and a city intake push.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

T0 = 1_764_400_000_000


async def build(url: str) -> dict[str, int]:
    from collector.http.city_api import CityConfig
    from collector.model import Clocks
    from collector.outbound.city_feed import CityFeedConfig
    from collector.outbound.webhooks import WebhookConfig
    from collector.platform.service import Platform, PlatformConfig
    from collector.store import open_store
    from protocols import frames
    from protocols.events import Action, Event
    from protocols.signals import Door, Mode, SignalSnapshot

    def ev(seq: int, at_s: float, type_: str, action: str, floor: int = 3) -> frames.Record:
        mono = round(at_s * 1000)
        return frames.Record(
            frames.RecordKind.EVENT, seq, mono, T0 + mono, True, Event(mono, type_, Action(action), floor, None)
        )

    def st(seq: int, at_s: float, floor: int, mode: Mode = Mode.NORMAL) -> frames.Record:
        mono = round(at_s * 1000)
        snap = SignalSnapshot(mono, floor, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, mode, 0)
        return frames.Record(frames.RecordKind.STATUS, seq, mono, T0 + mono, True, snap)

    def rows(device: str, records: list[frames.Record], epoch: int = 1):  # type: ignore[no-untyped-def]
        last = max(r.wall_ms for r in records)
        return Clocks().rows(device, frames.UplinkFrame(epoch, tuple(records)), last + 50)

    now = [T0 + 100_000]
    cfg = PlatformConfig(
        webhooks=WebhookConfig(rescue_centre_url="http://127.0.0.1:9/centre"),
        city_feed=CityFeedConfig("http://127.0.0.1:9", "330602", "county-token-1"),
        city=CityConfig(counties={"330681": "token-zhuji-1"}),
    )
    registry = (
        "device_id,registration_code,rescue_code,area_code,address,using_unit,maintenance_company\n"
        "lift-1,31103306022015060001,100001,330602,1 Jiefang Rd,Yuecheng Housing Office,Acme Lift\n"
        "lift-2,31103306812019110042,100002,330681,2 Jiyang Rd,Zhuji Hospital,Best Maint\n"
    )
    async with open_store(url) as store:
        for d in ("lift-1", "lift-2", "lift-3"):
            await store.add_device(d, d, T0 - 100 * 86_400_000)
        async with Platform(url, cfg, lambda: now[0]) as p:
            await p.import_registry(registry)
            await store.commit(rows("lift-1", [st(1, 10, 1), st(2, 20, 2), ev(3, 90, "entrapment", "raise")]))
            await store.commit(rows("lift-2", [st(1, 15, 4), ev(2, 30, "controller_fault", "raise")]))
            await p.tick()
            (case,) = await p.cases(True, None, 10)
            now[0] += 20_000
            await p.act(case["case_id"], "respond", "officer-wang", "called the car")
            await store.commit(rows("lift-1", [ev(4, 95, "entrapment", "clear"), st(5, 96, 2)]))
            insp = [ev(6, 200, "inspection", "raise")]
            insp += [st(7 + i, 260 + 60 * i, f) for i, f in enumerate([1, 2, 3, 4, 3])]
            insp += [ev(12, 1400, "inspection", "clear")]
            await store.commit(rows("lift-1", insp))
            now[0] = T0 + 1_500_000
            await store.raise_offline(now[0], 600_000, T0)
            await p.tick()
            item = {
                "idempotency_key": "330681:x:1",
                "kind": "alarm",
                "key": "7",
                "version": 1,
                "body": {"alarm_id": 7, "device_id": "z-1", "type": "entrapment", "raised_ms": T0, "active": True},
            }
            await p.accept_push("Bearer token-zhuji-1", {"county": "330681", "items": [item]})
            await store.presence("lift-2", False, now[0])

            def counts(cur):  # type: ignore[no-untyped-def]
                out = {}
                for t in TABLES:
                    cur.execute(f"SELECT COUNT(*) FROM {t}")
                    out[t] = int(cur.fetchone()[0])
                return out

            return await p.db.run(counts)


TABLES = (
    "devices",
    "records",
    "streams",
    "latest_status",
    "events",
    "alarms",
    "platform_state",
    "elevator_identity",
    "rescue_cases",
    "rescue_steps",
    "rescue_escalations",
    "maintenance_sessions",
    "platform_seen",
    "webhook_outbox",
    "city_outbox",
    "feed_digest",
    "city_items",
    "city_receipts",
)


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    db = out / "b145832.sqlite"
    db.unlink(missing_ok=True)
    counts = asyncio.run(build(f"sqlite:///{db}"))
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    conn.execute("PRAGMA page_size=1024")  # small in git
    conn.execute("VACUUM")
    conn.close()
    (out / "b145832.counts.json").write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")
    if len(sys.argv) > 2:
        pg = sys.argv[2]
        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        pg_counts = asyncio.run(build(pg))
        assert pg_counts == counts, (pg_counts, counts)
        dump = subprocess.run(
            ["pg_dump", "--inserts", "--no-owner", "--no-privileges", "--no-comments", pg],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        # psql meta-commands (\restrict …) are not SQL: the test runs the dump through psycopg
        lines = [ln for ln in dump.splitlines() if not ln.startswith("\\")]
        (out / "b145832.pg.sql").write_text("\n".join(lines) + "\n")
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
