"""The outbox's active set: raised-and-not-cleared events, committed with the event itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from edge_agent.outbox import ActiveEvent, Outbox
from protocols.events import Action, Event

ROOT = Path(__file__).resolve().parents[2]


async def test_raise_adds_clear_removes_and_it_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ob.db"
    async with Outbox(path, status_flush_s=0) as ob:
        s1 = await ob.put_event(10, 10, False, Event(10, "entrapment", Action.RAISE, 3))
        s2 = await ob.put_event(11, 11, False, Event(11, "controller_fault", Action.RAISE, 3, 42))
        s3 = await ob.put_event(12, 12, False, Event(12, "door_open_too_long", Action.RAISE, 3))
        await ob.put_event(13, 13, False, Event(13, "door_open_too_long", Action.CLEAR, 3))
        assert set(await ob.active_events()) == {"entrapment", "controller_fault"}
        assert s3 > s2 > s1
    async with Outbox(path, status_flush_s=0) as ob:
        active = await ob.active_events()
        assert active == {
            "entrapment": ActiveEvent("entrapment", s1, 10, None),
            "controller_fault": ActiveEvent("controller_fault", s2, 11, 42),
        }
        # Acknowledged and deleted records do not take the active set with them.
        await ob.ack(ob.epoch, [(1, s3 + 1)])
        await ob.put_event(20, 20, False, Event(20, "entrapment", Action.CLEAR, 3))
        assert set(await ob.active_events()) == {"controller_fault"}


async def test_after_restart_flag_round_trips_through_the_outbox(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "ob.db", status_flush_s=0) as ob:
        ev = Event(5, "entrapment", Action.CLEAR, 3, None, True)
        await ob.put_event(5, 5, False, ev)
        await ob.put_event(6, 6, False, Event(6, "alarm_button", Action.RAISE, 3))
        got = [r.body for r in await ob.fetch(0, True, 10)]
    assert got == [ev, Event(6, "alarm_button", Action.RAISE, 3)]


_WRITER = """
import asyncio, sys
from edge_agent.outbox import Outbox
from protocols.events import Action, Event
async def main():
    async with Outbox(sys.argv[1], status_flush_s=60) as ob:
        await ob.put_event(1, 1, False, Event(1, "entrapment", Action.RAISE, 2))
        print("committed", flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


def test_active_set_is_durable_across_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "ob.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "committed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT type, seq FROM active").fetchall() == [("entrapment", 1)]
