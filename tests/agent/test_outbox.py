"""The outbox on real SQLite: durability under kill -9, order, acks, eviction, a full disk, epochs."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.config import OutboxConfig
from edge_agent.outbox import Outbox
from protocols.events import Action, Event
from protocols.frames import Heartbeat, RecordKind
from protocols.signals import Door, Mode, SignalSnapshot

ROOT = Path(__file__).resolve().parents[2]
SNAP = SignalSnapshot(0, 1, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)


def status(i: int) -> SignalSnapshot:
    return SNAP._replace(t_ms=i, floor=1 + i % 10, speed_mm_s=i % 1500)


def event(i: int, kind: str = "entrapment") -> Event:
    return Event(i, kind, Action.RAISE, 3)


def db_seqs(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT seq, prio FROM records").fetchall())


async def test_records_come_back_in_order_with_their_bodies(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "ob.db", status_flush_s=60) as ob:
        ob.put_status(RecordKind.STATUS, 10, 1000, False, status(10))
        ob.put_status(RecordKind.HEARTBEAT, 11, 1001, False, Heartbeat(5, 2, True))
        assert db_seqs(tmp_path / "ob.db") == {}, "status waits in memory until a flush or an event"
        seq = await ob.put_event(12, 1002, True, event(12))
        assert seq == 3, "buffered status is committed before the event, in production order"
        statuses = await ob.fetch(0, events=False, limit=10)
        events = await ob.fetch(0, events=True, limit=10)
    assert [r.seq for r in statuses] == [1, 2]
    assert statuses[0].body == status(10) and statuses[0].kind is RecordKind.STATUS
    assert statuses[1].body == Heartbeat(5, 2, True)
    assert [(r.seq, r.body, r.clock_synced, r.wall_ms) for r in events] == [(3, event(12), True, 1002)]


async def test_ack_removes_only_acknowledged_records_of_this_epoch(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "ob.db", status_flush_s=0) as ob:
        for i in range(1, 11):
            await ob.put_event(i, i, False, event(i))
        assert await ob.ack(ob.epoch ^ 1, [(1, 10)]) == 0, "an ack for another stream must not delete"
        assert await ob.ack(ob.epoch, [(2, 4), (7, 7)]) == 4
        left = [r.seq for r in await ob.fetch(0, True, 100)]
        st = await ob.stats()
        assert await ob.ack(ob.epoch, [(3, 5)]) == 1, "a record acknowledged twice counts once"
        on_disk_before = set(db_seqs(tmp_path / "ob.db"))
        ob.put_status(RecordKind.STATUS, 11, 11, False, status(11))
        await ob.flush()  # the deletes ride along with this commit: no commit of their own
        on_disk_after = set(db_seqs(tmp_path / "ob.db"))
    assert left == [1, 5, 6, 8, 9, 10]
    assert st.depth == 6 and st.oldest_seq == 1
    assert {2, 3, 4, 7} <= on_disk_before, "acknowledged rows wait for the next commit"
    assert on_disk_after == {1, 6, 8, 9, 10, 11}


async def test_sequence_numbers_survive_restart_and_acks_never_reuse(tmp_path: Path) -> None:
    path = tmp_path / "ob.db"
    async with Outbox(path) as ob:
        epoch = ob.epoch
        for i in range(5):
            await ob.put_event(i, i, False, event(i))
        await ob.ack(epoch, [(1, 5)])  # everything acknowledged: the table is empty
    async with Outbox(path) as ob:
        assert ob.epoch == epoch and not ob.created
        assert await ob.put_event(9, 9, False, event(9)) == 6


async def test_new_file_means_new_epoch_and_corrupt_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "ob.db"
    async with Outbox(path) as ob:
        first = ob.epoch
        await ob.put_event(1, 1, False, event(1))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    async with Outbox(path) as ob:
        second = ob.epoch
        assert ob.created and second != first
        assert await ob.put_event(1, 1, False, event(1)) == 1
    path.write_bytes(b"this is not a database" * 100)
    Path(str(path) + "-wal").unlink(missing_ok=True)
    async with Outbox(path) as ob:
        assert ob.created and ob.epoch not in (first, second)
    assert list(tmp_path.glob("ob.db.corrupt-*")), "the unreadable file is kept for a post-mortem"


async def test_cap_evicts_oldest_status_first_never_an_event(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "ob.db", OutboxConfig(max_records=200), status_flush_s=0) as ob:
        for i in range(1, 31):
            await ob.put_event(i, i, False, event(i, "alarm_button"))
        for i in range(1000):
            ob.put_status(RecordKind.STATUS, i, i, False, status(i))
            if i % 50 == 49:
                await ob.flush()
        st = await ob.stats()
        events = await ob.fetch(0, True, 1000)
        statuses = await ob.fetch(0, False, 1000)
    assert [r.seq for r in events] == list(range(1, 31)), "every event kept"
    assert st.depth <= 200 and st.evicted_status >= 800
    seqs = [r.seq for r in statuses]
    assert seqs == sorted(seqs) and seqs[-1] == st.last_seq, "the newest status survives, the oldest went"
    assert seqs[0] > 30 + st.evicted_status - 1


async def test_full_file_keeps_events_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A tiny size cap stands in for a full SD card: SQLite reports SQLITE_FULL exactly as on a full disk.
    async with Outbox(tmp_path / "ob.db", OutboxConfig(max_mb=0.05), status_flush_s=0) as ob:
        n_events = 0
        for i in range(2000):
            ob.put_status(RecordKind.STATUS, i, i, False, status(i))
            if i % 100 == 99:
                await ob.flush()
                await ob.put_event(i, i, False, event(i, "power_failure"))
                n_events += 1
        # Fill it with events alone: nothing is left to evict; later events wait in memory.
        for i in range(5000):
            await ob.put_event(i, i, False, event(i, "alarm_button"))
            n_events += 1
            if i % 20 == 0 and (await ob.stats()).unstored_events >= 5:
                break
        st = await ob.stats()
        stored = st.events
        assert st.evicted_status > 0, "status made room for events"
        assert stored + st.unstored_events == n_events, "no event lost: on disk or held in memory"
        assert st.unstored_events > 0 and st.disk_full_events > 0
        # The collector acknowledges: room again; held events reach the disk on the next flush.
        await ob.ack(ob.epoch, [(1, st.last_seq)])
        await ob.flush()
        st2 = await ob.stats()
        assert st2.unstored_events < st.unstored_events and st2.events > 0
        assert st2.events + st2.unstored_events == st.unstored_events, "held events are not duplicated or lost"
        assert st2.disk_full_events == st.disk_full_events, "a held event is counted once"
    assert any("disk full" in r.getMessage() for r in caplog.records)
    assert any("evicted" in r.getMessage() for r in caplog.records)


def test_kill_9_loses_no_committed_record(tmp_path: Path) -> None:
    """A writer is killed at random moments, over and over; every record it reported committed is there."""
    path = tmp_path / "ob.db"
    rng = random.Random(1234)
    committed: dict[int, str] = {}
    epochs = set()
    kills = 20
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.agent.outbox_writer", str(path)],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        epochs.add(proc.stdout.readline().split()[1])
        want = rng.randint(1, 40)
        for _ in range(want):
            line = proc.stdout.readline()
            if not line:
                break
            kind, seq = line.split()
            if kind == "E":
                committed[int(seq)] = "E"
            else:
                for s in range(max(committed, default=0) + 1, int(seq) + 1):
                    committed.setdefault(s, "S")
        time.sleep(rng.random() * 0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        # Lines written before the kill may still be in the pipe: they were committed too.
        for line in proc.stdout:
            kind, seq = line.split()
            if kind == "E":
                committed[int(seq)] = "E"
        proc.stdout.close()
    on_disk = db_seqs(path)
    missing = [s for s in committed if s not in on_disk]
    assert not missing, f"committed records lost: {missing[:10]}"
    assert sum(1 for k in committed.values() if k == "E") >= kills
    assert len(epochs) == 1, "a kill never makes a new stream"
    events_on_disk = sorted(s for s, prio in on_disk.items() if prio == 0)
    assert all(on_disk[s] == 0 for s, k in committed.items() if k == "E")
    assert events_on_disk == sorted(set(events_on_disk))
