"""`after_restart` at the collector (issue 12): a clear the agent decided on its first look after a
restart is stored as such, on the event and on the alarm it closed, and the API says so, so a duty
officer can tell "the fault ended while the agent was down" from an ordinary clear.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from collector.model import Clocks, RecordRow
from collector.store import Store, open_store
from protocols import frames
from protocols.events import Action, Event
from tests.collector.conftest import Running, make_config
from tests.collector.publisher import BOOT_MS, Publisher, event
from tests.support.services import Broker

NOW_MS = 1_764_400_000_000


def restart_clear(seq: int, mono_ms: int, type_: str) -> frames.Record:
    ev = Event(mono_ms, type_, Action.CLEAR, 1, 4100 if type_ == "controller_fault" else None, after_restart=True)
    return frames.Record(frames.RecordKind.EVENT, seq, mono_ms, BOOT_MS + mono_ms, True, ev)


def rows(device: str, epoch: int, records: list[frames.Record]) -> list[RecordRow]:
    return Clocks().rows(device, frames.UplinkFrame(epoch, tuple(records)), NOW_MS)


async def test_a_clear_after_restart_is_stored_on_the_event_and_the_alarm(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.commit(rows("lift-1", 1, [event(1, 1000, "controller_fault", Action.RAISE)]))
    await store.commit(rows("lift-1", 1, [restart_clear(2, 9000, "controller_fault")]))
    # the clear stored before its raise (a re-send order) gives the same alarm
    await store.commit(rows("lift-1", 1, [restart_clear(4, 9000, "door_open_too_long")]))
    await store.commit(rows("lift-1", 1, [event(3, 2000, "door_open_too_long", Action.RAISE)]))
    # and an ordinary clear is not marked
    await store.commit(rows("lift-1", 1, [event(5, 10_000, "entrapment", Action.RAISE)]))
    await store.commit(rows("lift-1", 1, [event(6, 11_000, "entrapment", Action.CLEAR)]))

    flags = {(e["type"], e["action"]): e["after_restart"] for e in await store.events("lift-1")}
    assert flags == {
        ("controller_fault", "raise"): False,
        ("controller_fault", "clear"): True,
        ("door_open_too_long", "raise"): False,
        ("door_open_too_long", "clear"): True,
        ("entrapment", "raise"): False,
        ("entrapment", "clear"): False,
    }
    alarms = {a.type: a for a in await store.alarms()}
    assert all(a.cleared_ms is not None for a in alarms.values()), alarms
    assert alarms["controller_fault"].cleared_after_restart
    assert alarms["door_open_too_long"].cleared_after_restart
    assert not alarms["entrapment"].cleared_after_restart


async def test_a_store_made_before_the_column_gains_it_on_open(db_url: str) -> None:
    """Forward-compatible: an older collector's store opens, its rows read as ordinary events."""
    async with open_store(db_url) as store:
        await store.add_device("lift-1", "lift-1", NOW_MS)
        await store.commit(rows("lift-1", 1, [event(1, 1000, "entrapment", Action.RAISE)]))
        await store.commit(rows("lift-1", 1, [event(2, 2000, "entrapment", Action.CLEAR)]))
    _drop_added_columns(db_url)  # what the previous release's schema had
    async with open_store(db_url) as store:
        assert [e["after_restart"] for e in await store.events("lift-1")] == [False, False]
        (alarm,) = await store.alarms()
        assert alarm.cleared_ms is not None and not alarm.cleared_after_restart
        await store.commit(rows("lift-1", 1, [event(3, 3000, "controller_fault", Action.RAISE)]))
        await store.commit(rows("lift-1", 1, [restart_clear(4, 4000, "controller_fault")]))
        assert [e["after_restart"] for e in await store.events("lift-1")] == [False, False, False, True]
    async with open_store(db_url) as store:  # opening again adds nothing twice
        assert len(await store.events("lift-1")) == 4


def _drop_added_columns(db_url: str) -> None:
    statements = [
        "ALTER TABLE events DROP COLUMN after_restart",
        "ALTER TABLE alarms DROP COLUMN cleared_after_restart",
        "DROP TABLE schema_version",  # nor schema versions (collector/store/schema.py)
    ]
    if db_url.startswith("sqlite:///"):
        import sqlite3

        db = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            for s in statements:
                db.execute(s)
            db.commit()
        finally:
            db.close()
        return
    with psycopg.connect(db_url, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


async def test_the_api_shows_after_restart(broker: Broker, sqlite_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=("lift-1",))
    try:
        async with Publisher(broker.port, "lift-1", batch=3) as p:
            await p.send(
                [
                    event(1, 1000, "controller_fault", Action.RAISE),
                    restart_clear(2, 9000, "controller_fault"),
                    event(3, 9500, "entrapment", Action.RAISE),
                ]
            )
            await p.resend_until_acked(10)
        code, events = await col.get("/api/v1/events?device_id=lift-1")
        assert code == 200
        flags = [(e["action"], e["after_restart"]) for e in events]
        assert flags == [("raise", False), ("clear", True), ("raise", False)]
        code, alarms = await col.get("/api/v1/alarms")
        by_type = {a["type"]: a for a in alarms}
        assert by_type["controller_fault"]["cleared_after_restart"] is True
        assert "cleared_after_restart" not in by_type["entrapment"], "not cleared yet: nothing to say"
        code, spec = await col.get("/openapi.json", token=None)
        assert "after_restart" in spec["components"]["schemas"]["Event"]["properties"]
    finally:
        await col.close()
