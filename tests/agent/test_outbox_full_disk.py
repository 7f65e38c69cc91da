"""A really full data directory (a 2 MB tmpfs filled up): events still commit at once, from the reserve."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox, OutboxError
from protocols.events import Action, Event
from protocols.frames import RecordKind
from protocols.signals import Door, Mode, SignalSnapshot

SNAP = SignalSnapshot(0, 1, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) for a 2 MB tmpfs")
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if rc.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs: {rc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    """Fill the filesystem to the last byte (what another process on the SD card does)."""
    with open(path, "wb", buffering=0) as f:
        chunk = bytes(4096)
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


async def test_full_disk_events_commit_from_the_reserve(tiny_fs: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with Outbox(tiny_fs / "outbox.db", status_flush_s=0) as ob:
        for i in range(50):
            ob.put_status(RecordKind.STATUS, i, i, False, SNAP._replace(t_ms=i, speed_mm_s=i))
        await ob.flush()
        fill(tiny_fs / "filler")
        seqs = []
        for i in range(20):
            for j in range(30):
                ob.put_status(RecordKind.STATUS, 100 + i, 100 + i, False, SNAP._replace(t_ms=100 + i, speed_mm_s=j))
            seqs.append(await ob.put_event(100 + i, 100 + i, False, Event(100 + i, "alarm_button", Action.RAISE, 1)))
        st = await ob.stats()
        assert all(seqs), f"every event committed at once (0 = held in memory): {seqs}"
        assert st.unstored_events == 0
        assert st.dropped_status > 0, "status the full disk refused is counted as dropped"
        full_warnings = [r for r in caplog.records if "released" in r.getMessage()]
        assert len(full_warnings) == 1, "one warning when the disk fills"
        (tiny_fs / "filler").unlink()
        ob.put_status(RecordKind.STATUS, 500, 500, False, SNAP._replace(t_ms=500))
        await ob.flush()
        assert ob.reserve_path.stat().st_size > 0, "the reserve is restored once there is room"
        assert len([r for r in caplog.records if "writing normally" in r.getMessage()]) == 1
    # Durable: reopened (as after kill -9), every event is on disk.
    async with Outbox(tiny_fs / "outbox.db") as ob:
        got = [r.seq for r in await ob.fetch(0, True, 100)]
    assert got == seqs


async def test_opened_on_a_full_disk_says_so_once_and_keeps_events(
    tiny_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A restart after the card filled (the last stop was clean: SQLite must make its -wal and -shm
    files again): the reserve gives the open its room, nothing is moved aside, events only from the start."""
    async with Outbox(tiny_fs / "outbox.db", status_flush_s=0) as ob:
        ob.put_status(RecordKind.STATUS, 1, 1, False, SNAP._replace(t_ms=1))
        await ob.flush()
    fill(tiny_fs / "filler")
    caplog.set_level(logging.WARNING)
    async with Outbox(tiny_fs / "outbox.db", status_flush_s=0) as ob:
        seqs = []
        for i in range(10):
            for j in range(20):
                ob.put_status(RecordKind.STATUS, 10 + i, 10 + i, False, SNAP._replace(t_ms=10 + i, speed_mm_s=j))
            seqs.append(await ob.put_event(10 + i, 10 + i, False, Event(10 + i, "alarm_button", Action.RAISE, 1)))
        await ob.flush()
        st = await ob.stats()
    full = [r for r in caplog.records if "disk full" in r.getMessage()]
    assert len(full) == 1, [r.getMessage() for r in caplog.records]
    assert "dropping status records" in full[0].getMessage()
    assert not list(tiny_fs.glob("outbox.db.corrupt-*")), "a full disk is not a corrupt file"
    assert all(seqs) and st.unstored_events == 0, (seqs, st)
    assert st.dropped_status == 200, st
    async with Outbox(tiny_fs / "outbox.db") as ob:
        got = [r.seq for r in await ob.fetch(0, True, 100)]
    assert got == seqs


async def test_no_room_to_open_stops_with_one_line_and_keeps_the_file(tiny_fs: Path) -> None:
    async with Outbox(tiny_fs / "outbox.db", status_flush_s=0) as ob:
        seq = await ob.put_event(1, 1, False, Event(1, "alarm_button", Action.RAISE, 1))
    (tiny_fs / "outbox.db.reserve").unlink()
    fill(tiny_fs / "filler")
    with pytest.raises(OutboxError, match="disk full .* cannot open it .* its records are kept"):
        async with Outbox(tiny_fs / "outbox.db"):
            pass
    assert not list(tiny_fs.glob("outbox.db.corrupt-*")), "a full disk is not a corrupt file"
    (tiny_fs / "filler").unlink()
    async with Outbox(tiny_fs / "outbox.db") as ob:
        assert [r.seq for r in await ob.fetch(0, True, 10)] == [seq]
