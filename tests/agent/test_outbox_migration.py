"""An outbox file of the previous release (4 KB pages, the (prio, seq) index) opens, keeps its pages and drains."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge_agent import outbox as outbox_mod
from edge_agent.outbox import Outbox
from protocols.events import Action, Event
from protocols.frames import RecordKind
from tests.agent.test_uplink import SNAP


async def test_a_previous_release_file_drains_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.db"
    with monkeypatch.context() as m:
        m.setattr(outbox_mod, "PAGE_SIZE", 4096)
        async with Outbox(path, status_flush_s=0) as ob:
            for i in range(1, 6):
                ob.put_status(RecordKind.STATUS, i, i, True, SNAP._replace(t_ms=i))
            await ob.put_event(6, 6, True, Event(6, "alarm_button", Action.RAISE, 1))
            epoch = ob.epoch
    db = sqlite3.connect(path)
    db.execute("DROP INDEX records_events")
    db.execute("CREATE INDEX records_prio_seq ON records (prio, seq)")  # as the previous release made it
    db.close()
    async with Outbox(path, status_flush_s=0) as ob:
        assert ob.epoch == epoch and not ob.created
        events = await ob.fetch(0, True, 100)
        status = await ob.fetch(0, False, 100)
        assert [r.seq for r in events] == [6] and [r.seq for r in status] == [1, 2, 3, 4, 5]
        assert [r.body.t_ms for r in status] == [1, 2, 3, 4, 5]
        await ob.ack(epoch, [(1, 6)])
        ob.put_status(RecordKind.STATUS, 7, 7, True, SNAP._replace(t_ms=7))
        await ob.flush()
        assert (await ob.stats()).depth == 1 and [r.seq for r in await ob.fetch(0, False, 10)] == [7]
    db = sqlite3.connect(path)
    indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096, "an existing file keeps its page size"
    db.close()
    assert "records_prio_seq" not in indexes and "records_events" in indexes


async def test_a_new_file_has_small_pages(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "outbox.db", status_flush_s=0):
        pass
    db = sqlite3.connect(tmp_path / "outbox.db")
    assert db.execute("PRAGMA page_size").fetchone()[0] == outbox_mod.PAGE_SIZE == 1024
    db.close()
