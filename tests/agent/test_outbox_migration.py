"""An outbox file of the previous release opens, keeps its pages and drains; new rows are stored in wire form.

The previous release's file: 4 KB pages, an index on (prio, seq), no `codec` column, bodies in the
outbox's own row format (`encode_body`). Made here with that schema and those bodies, as that
release wrote them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from edge_agent import outbox as outbox_mod
from edge_agent.outbox import Outbox, encode_body
from protocols.events import Action, Event
from protocols.frames import (
    DoorCycle,
    Record,
    RecordKind,
    StopQuality,
    Trip,
    UplinkFrame,
    encode_uplink,
    encode_wire_batch,
)
from tests.agent.support import Acker, until
from tests.agent.test_uplink import SNAP, config, running
from tests.support.services import Broker

PREVIOUS_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    prio INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    mono_ms INTEGER NOT NULL,
    wall_ms INTEGER NOT NULL,
    synced INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX records_prio_seq ON records (prio, seq);
CREATE TABLE active (type TEXT PRIMARY KEY, seq INTEGER NOT NULL, t_ms INTEGER NOT NULL, fault_code INTEGER)
    WITHOUT ROWID;
"""
EPOCH = 0x0BADF00D
BODIES: list[tuple[RecordKind, int, object]] = [
    (RecordKind.STATUS, 1000, SNAP._replace(t_ms=1000, floor=3)),
    (RecordKind.TRIP, 9000, Trip(2000, 9000, 3, 7, 1600, StopQuality.LEVEL)),
    (RecordKind.EVENT, 9500, Event(9500, "alarm_button", Action.RAISE, 7)),
    (RecordKind.DOOR_CYCLE, 15000, DoorCycle(9100, 15000, 7, 4000, 1)),
    (RecordKind.STATUS, 16000, SNAP._replace(t_ms=16000, floor=7)),
]


def previous_release_file(path: Path) -> list[Record]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA page_size=4096")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(PREVIOUS_SCHEMA)
    db.execute("INSERT INTO meta VALUES ('epoch', ?), ('schema', 1), ('created_ms', 0)", (EPOCH,))
    for name in ("evicted_status", "dropped_status", "disk_full_events"):
        db.execute("INSERT INTO meta VALUES (?, 0)", (name,))
    out = []
    for seq, (kind, mono, body) in enumerate(BODIES, 1):
        prio = 0 if kind is RecordKind.EVENT else 1
        db.execute(
            "INSERT INTO records (prio, kind, mono_ms, wall_ms, synced, body) VALUES (?, ?, ?, ?, 1, ?)",
            (prio, int(kind), mono, 1_795_000_000_000 + mono, encode_body(body)),  # type: ignore[arg-type]
        )
        out.append(Record(kind, seq, mono, 1_795_000_000_000 + mono, True, body))  # type: ignore[arg-type]
    db.close()
    return out


async def test_a_previous_release_file_drains_through_the_uplink(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    records = previous_release_file(path)
    async with Outbox(path, status_flush_s=0) as ob, Acker(broker.port) as acker:
        assert ob.epoch == EPOCH and not ob.created
        # Rows of the previous release are converted to the wire form as they are sent: same bytes.
        wire = await ob.fetch_wire(0, False, 10)
        old = [r for r in records if r.kind is not RecordKind.EVENT]
        assert encode_wire_batch(EPOCH, wire, "lift-u") == encode_uplink(UplinkFrame(EPOCH, tuple(old), "lift-u"))
        ob.put_status(RecordKind.STATUS, 20_000, 1_795_000_020_000, True, SNAP._replace(t_ms=20_000))
        await ob.flush()  # a new row, in wire form, after the old ones
        async with running(config(broker, tmp_path), ob):
            await until(lambda: sorted(set(acker.seqs())) == [1, 2, 3, 4, 5, 6], 15, "the whole file")
            for _ in range(200):  # bounded: the acks delete what was sent
                if (await ob.stats()).depth == 0:
                    break
                await asyncio.sleep(0.05)
            assert (await ob.stats()).depth == 0, "every record acknowledged and gone"
        got = {r.seq: r for _, _, r in acker.arrivals}
        assert [got[r.seq].body for r in records] == [r.body for r in records], "old bodies arrive intact"
        assert got[6].body == SNAP._replace(t_ms=20_000)
    db = sqlite3.connect(path)
    indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    codecs = dict(db.execute("SELECT seq, codec FROM records"))
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096, "an existing file keeps its page size"
    db.close()
    assert "records_prio_seq" not in indexes and "records_events" in indexes
    assert all(codecs.get(s, 0) == 0 for s in range(1, 6)) and codecs.get(6, 1) == 1, codecs


async def test_a_new_file_has_small_pages_and_wire_bodies(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db", status_flush_s=0) as ob:
        ob.put_status(RecordKind.TRIP, 9000, 9000, True, Trip(2000, 9000, 3, 7, 1600, StopQuality.LEVEL))
        await ob.flush()
        (rec,) = await ob.fetch(0, False, 10)
        assert rec.body == Trip(2000, 9000, 3, 7, 1600, StopQuality.LEVEL), "the outbox's own readers decode it"
    db = sqlite3.connect(tmp_path / "outbox.db")
    assert db.execute("PRAGMA page_size").fetchone()[0] == outbox_mod.PAGE_SIZE == 1024
    assert db.execute("SELECT codec FROM records").fetchall() == [(1,)]
    db.close()
