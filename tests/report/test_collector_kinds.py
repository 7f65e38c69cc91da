"""The collector stores trip and door-cycle records as they came over the wire (real SQLite file)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from collector.model import Clocks, Kind
from collector.store import open_store
from protocols import frames
from protocols.frames import DoorCycle, Record, RecordKind, StopQuality, Trip

NOW_MS = 1_764_400_000_000


async def test_trip_and_door_cycle_records_are_stored_with_their_facts(tmp_path: Path) -> None:
    wire = frames.encode_uplink(
        frames.UplinkFrame(
            5,
            (
                Record(RecordKind.TRIP, 1, 9000, NOW_MS, True, Trip(1000, 9000, 1, 7, 1600, StopQuality.LEVEL)),
                Record(RecordKind.DOOR_CYCLE, 3, 15_000, NOW_MS + 6000, True, DoorCycle(9300, 15_000, 7, 3000, 1)),
            ),
        )
    )
    rows = Clocks().rows("lift-1", frames.decode_uplink(wire), NOW_MS + 6100)
    assert [r.kind for r in rows] == [Kind.TRIP, Kind.DOOR_CYCLE]
    db = tmp_path / "collector.db"
    async with open_store(f"sqlite:///{db}") as store:
        await store.add_device("lift-1", "lift-1", NOW_MS)
        result = await store.commit(rows)
        assert result.new == 2
        (stream,) = await store.streams("lift-1")
        assert stream["missing"] == 1  # seq 2 never came: a gap the collector reports
    with sqlite3.connect(db) as con:
        got = con.execute("SELECT seq, kind, body FROM records ORDER BY seq").fetchall()
    assert [(seq, kind) for seq, kind, _ in got] == [(1, "trip"), (3, "door_cycle")]
    assert json.loads(got[0][2]) == {
        "start_ms": 1000,
        "stop_ms": 9000,
        "from_floor": 1,
        "to_floor": 7,
        "peak_speed_mm_s": 1600,
        "stop_quality": "level",
    }
    assert json.loads(got[1][2]) == {"start_ms": 9300, "end_ms": 15_000, "floor": 7, "open_ms": 3000, "reopens": 1}
