"""`elev-agent status`: what a person on site sees, from the status file and the outbox itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent import status_cmd
from edge_agent.outbox import Outbox
from protocols.events import Action, Event
from tests.support.services import wait_for

_STAND_INS: list[subprocess.Popen[bytes]] = []


def request_cleanup(proc: subprocess.Popen[bytes]) -> None:
    _STAND_INS.append(proc)


@pytest.fixture(autouse=True)
def _kill_stand_ins() -> Iterator[None]:
    yield
    while _STAND_INS:
        proc = _STAND_INS.pop()
        proc.kill()
        proc.wait(10)


async def test_depth_oldest_and_link_from_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with Outbox(tmp_path / "outbox.db") as ob:
        for i in range(3):
            await ob.put_event(i, int(time.time() * 1000) - 120_000, False, Event(i, "alarm_button", Action.RAISE))
        epoch = ob.epoch
    # A live process that looks like an agent (status checks /proc/PID/cmdline, not just the file).
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "edge_agent.cli"])
    request_cleanup(stand_in)
    cmdline = Path(f"/proc/{stand_in.pid}/cmdline")
    wait_for(lambda: b"edge_agent.cli" in cmdline.read_bytes(), 10, 0.01, "the stand-in to exec")  # not the fork
    status = {
        "device_id": "lift-s",
        "pid": stand_in.pid,
        "updated_wall_ms": int(time.time() * 1000),
        "uptime_s": 5,
        "clock_synced": False,
        "link": {"online": False, "since_s": 12.0, "broker": "b:1883", "last_error": "refused", "counters": {}},
        "controller": {"answering": True, "comms_lost": False, "last_error": "", "counters": {"bad_frames": 4}},
        "active_events": ["alarm_button"],
    }
    (tmp_path / "status.json").write_text(json.dumps(status))
    assert status_cmd.main(["--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lift-s running" in out and "OFFLINE to b:1883" in out and "refused" in out
    assert f"3 unacknowledged (3 events), epoch {epoch:08x}" in out
    assert "oldest:     seq 1, 2 min old" in out and "bad_frames 4" in out and "active:     alarm_button" in out
    assert status_cmd.main(["--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outbox"]["depth"] == 3


def test_stale_and_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert status_cmd.main(["--data-dir", str(tmp_path)]) == 2
    assert "no agent data" in capsys.readouterr().err
    (tmp_path / "status.json").write_text(json.dumps({"device_id": "x", "updated_wall_ms": 0}))
    assert status_cmd.main(["--data-dir", str(tmp_path)]) == 1
    assert "STOPPED" in capsys.readouterr().out
