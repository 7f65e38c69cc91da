"""A full SD card never holds an alarm back (issue 12): the whole agent on a 2 MB data directory
that another process fills to the last byte.

Real processes: Mosquitto, `elev-collector run`, `elev-sim run`, `elev-agent run` with its data
directory on a 2 MB tmpfs (as root; skipped otherwise) and its status file in a runtime directory,
as systemd's RuntimeDirectory= gives it. With the disk full:
1. every alarm-button press reaches the collector's API within ALARM_BOUND_S of the press;
2. with the broker down, presses are committed to the outbox (from its reserve), the agent is
   killed with SIGKILL while the disk is still full and started again on it: every alarm reaches the
   API exactly once;
3. the status file says how many status records were dropped, and each agent life says once that
   the disk is full (not once per record).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw_sim.control import request
from protocols.frames import RecordKind
from tests.collector.procs import CollectorProcess
from tests.sim_serve.simproc import SimProcess
from tests.soak.procs import AgentProcess, ProjectBroker, read_outbox, register_device
from tests.support.services import wait_for

DEVICE = "lift-fulldisk"
ALARM_BOUND_S = 5.0  # press -> alarm at the API; the rule itself holds the button 0.5 s
PRESSES_ONLINE = 5
PRESSES_OFFLINE = 3


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / f"data-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) for a 2 MB tmpfs as the agent's data directory")
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
        for size in (65536, 4096, 1):
            chunk = bytes(size)
            try:
                while True:
                    f.write(chunk)
            except OSError:
                pass


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _get(port: int, path: str, token: str) -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _press(sim: SimProcess) -> None:
    message = {"inject": "alarm_button", "duration_s": 1.0, "params": {"presses": 1}}
    reply = asyncio.run(request("127.0.0.1", sim.control_port, message))
    assert reply.get("ok", True) is not False, reply


def _lives(log: str) -> list[str]:
    """The agent's log cut at each start (AgentProcess writes `--- start N` before each)."""
    return [part for part in re.split(r"^--- start \d+$", log, flags=re.M) if part.strip()]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_full_data_directory_holds_no_alarm_back_and_loses_none(
    tmp_path: Path, tiny_fs: Path, broker: ProjectBroker
) -> None:
    token = secrets.token_hex(8)
    (tmp_path / "api-token").write_text(token + "\n")
    db_url = f"sqlite:///{tmp_path / 'collector.db'}"
    device_url = register_device(db_url, DEVICE, broker)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    collector = CollectorProcess(tmp_path, broker.url, db_url, tmp_path / "api-token").start()
    assert collector.port is not None
    sim = SimProcess(tmp_path, time_scale=1.0)  # lunch traffic: a steady stream of status records
    agent = AgentProcess(
        tmp_path, DEVICE, device_url, f"127.0.0.1:{sim.modbus_port}", f"127.0.0.1:{sim.gpio_port}",
        data_dir=tiny_fs / "agent", env={"RUNTIME_DIRECTORY": str(run_dir)},
    ).start()  # fmt: skip

    def presses() -> list[dict[str, Any]]:
        assert agent.proc is None or agent.running or agent.proc.returncode == -9, agent.log()
        return [
            a for a in _get(collector.port, f"/api/v1/alarms?device_id={DEVICE}", token) if a["type"] == "alarm_button"
        ]

    def outbox_stats() -> dict[str, Any]:
        return dict((agent.status() or {}).get("outbox") or {})

    try:
        wait_for(lambda: outbox_stats().get("last_seq", 0) > 20, 60, 0.2, "the agent streaming status")
        wait_for(lambda: (tiny_fs / "agent" / "outbox.db.reserve").exists(), 10, 0.2, "the outbox's reserve")
        fill(tiny_fs / "filler")
        assert free_bytes(tiny_fs) < 64 * 1024, free_bytes(tiny_fs)

        # 1. Link up, disk full: each press is at the API within the bound.
        latencies = []
        for i in range(PRESSES_ONLINE):
            t0 = time.monotonic()
            _press(sim)
            wait_for(lambda: len(presses()) > i, 30, 0.05, f"alarm {i + 1} at the collector")  # noqa: B023
            latencies.append(time.monotonic() - t0)
            wait_for(lambda: presses()[0]["cleared_at"] is not None, 10, 0.1, f"alarm {i + 1} cleared")
        wait_for(lambda: outbox_stats().get("dropped_status", 0) > 0, 10, 0.2, "dropped status counted")
        assert outbox_stats()["unstored_events"] == 0, outbox_stats()
        print(f"\nfull disk: press -> API latency (s, under load): {', '.join(f'{x:.2f}' for x in latencies)}")
        assert max(latencies) < ALARM_BOUND_S, latencies

        # 2. Broker down: the presses can only be kept on the full disk; kill -9 with them unsent.
        broker.stop()
        before = read_outbox(agent.data_dir)
        assert before is not None
        base_seq = before.last_seq  # the offline presses are the events committed after it

        def held_events() -> int:
            snap = read_outbox(agent.data_dir)
            rows = snap.rows.items() if snap else ()
            return sum(1 for seq, (kind, _) in rows if kind == RecordKind.EVENT and seq > base_seq)

        for k in range(PRESSES_OFFLINE):  # one after another: overlapping presses are one long press
            _press(sim)
            want = 2 * (k + 1)  # a raise and a clear each
            try:
                wait_for(lambda: held_events() >= want, 30, 0.2, f"offline press {k + 1} in the outbox")  # noqa: B023
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {held_events()} < {want}; {agent.status()}\n{agent.log()}") from None
        status = agent.status() or {}
        dropped = int(status["outbox"]["dropped_status"])
        assert dropped > 0 and status["outbox"]["unstored_events"] == 0, status["outbox"]
        agent.kill()
        # The other writer takes what the released reserve left free: the restart finds no byte free.
        fill(tiny_fs / "filler-2")
        assert free_bytes(tiny_fs) < 4096, free_bytes(tiny_fs)
        broker.start()
        agent.start()
        wait_for(lambda: len(presses()) >= PRESSES_ONLINE + PRESSES_OFFLINE, 60, 0.2, "every alarm after the restart")
        wait_for(lambda: all(a["cleared_at"] for a in presses()), 30, 0.2, "every press cleared")
        events = _get(collector.port, f"/api/v1/events?device_id={DEVICE}", token)
        raises = [e for e in events if e["type"] == "alarm_button" and e["action"] == "raise"]
        assert len(presses()) == PRESSES_ONLINE + PRESSES_OFFLINE, presses()
        assert len(raises) == PRESSES_ONLINE + PRESSES_OFFLINE, raises
        assert len({(e["epoch"], e["seq"]) for e in raises}) == len(raises)

        # 3. Counters and one clear line per life.
        wait_for(lambda: (agent.status() or {}).get("pid") == agent.proc.pid if agent.proc else False, 20, 0.2,
                 "the restarted agent's status")  # fmt: skip
        lives = _lives(agent.log(tail=10**7))
        assert len(lives) == 2, agent.log()
        first_full = [ln for ln in lives[0].splitlines() if "disk full" in ln]
        assert len(first_full) == 1, first_full
        # the restarted agent finds the disk full at once: it says so once, from the start
        again_full = [ln for ln in lives[1].splitlines() if "disk full" in ln]
        assert len(again_full) == 1, lives[1]
        wait_for(lambda: outbox_stats().get("dropped_status", 0) > 0, 10, 0.2, "the new life's dropped status")
        print(
            f"full disk: {PRESSES_ONLINE + PRESSES_OFFLINE} alarms, each once at the API; "
            f"{dropped} status records dropped before the kill; free bytes {free_bytes(tiny_fs)}"
        )
    finally:
        agent.cleanup()
        if sim.proc.poll() is None:
            sim.proc.kill()
        if collector.proc is not None and collector.proc.poll() is None:
            collector.proc.kill()
