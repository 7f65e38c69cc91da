"""The crash window (issue 14): a kill -9 loses no record the agent read more than 0.5 s before it.

A real `elev-agent run` (policy `full`, so a moving car gives a status record at every 100 ms poll:
the speed changes) against `elev-sim run` with busy traffic, acknowledged through a real Mosquitto,
killed with SIGKILL while the car is running and restarted, several times. The truth is the
simulator's control socket: the test kills only after the simulator has reported the car running
for over a second, so the agent read and reported a record at every poll of the 0.5 s before the
window. Every kill must leave, delivered after the restart, a record read in (K - 0.8 s, K - 0.5 s]
(the last polls before the window; 0.3 s allows for a poll loop late under load), and the stream
must have no sequence hole (a number is given at the commit, so a record is numbered only once
it is on disk).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocols.frames import RecordKind
from tests.agent.sim import Sim
from tests.agent.support import Acker, until
from tests.support.services import Broker

BIN = Path(sys.executable).parent
SCENARIO = (
    'traffic = "morning"\n'
    "[elevator]\nlowest_floor = 1\nhighest_floor = 8\nrated_speed_mm_s = 1600\nfloor_height_mm = 3000\n"
)
KILLS = 4
WINDOW_MS = 500
SLACK_MS = 300


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = Sim(tmp_path, SCENARIO, rtu=False)
    try:
        yield s
    finally:
        s.stop()


def start_agent(tmp_path: Path, broker: Broker, sim: Sim) -> subprocess.Popen[bytes]:
    conf = tmp_path / "agent.toml"
    conf.write_text(
        "[elevator]\nlowest_floor = 1\nhighest_floor = 8\nrated_speed_mm_s = 1600\n"
        "[agent]\nclock_synced = 'no'\n"  # status_flush_s: the product default
        '[report]\npolicy = "full"\n'
        "[uplink]\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n"
    )
    log = open(tmp_path / "agent.log", "ab")
    return subprocess.Popen(
        [str(BIN / "elev-agent"), "run", "--device-id", "lift-w", "--modbus-tcp", sim.tcp, "--gpio-sim", sim.gpio]
        + ["--broker", broker.url, "--data-dir", str(tmp_path / "data"), "--config", str(conf)],
        stdout=log,
        stderr=log,
    )


def mono_ms() -> int:
    return int(time.monotonic() * 1000)


async def running_for(sim: Sim, ms: int, timeout_s: float) -> None:
    """Until the simulator has shown the car running (speed > 0) for `ms` without a break."""
    since: int | None = None
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        speed = (await asyncio.to_thread(sim.status))["registers"]["speed_mm_s"]
        now = mono_ms()
        since = (since or now) if speed > 0 else None
        if since is not None and now - since >= ms:
            return
        await asyncio.sleep(0.03)
    raise AssertionError(f"the car never ran for {ms} ms within {timeout_s} s")


@pytest.mark.slow
@pytest.mark.timeout(60 + KILLS * 150)  # each kill waits up to 120 s for a run and 30 s for the restart
async def test_kill_9_loses_nothing_read_before_the_window(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    kills: list[int] = []
    async with Acker(broker.port) as acker:
        proc = start_agent(tmp_path, broker, sim)
        try:
            await until(lambda: acker.arrivals, 30, "the first records")
            for _ in range(KILLS):
                await running_for(sim, WINDOW_MS + SLACK_MS + 400, 120)
                kills.append(mono_ms())
                proc.send_signal(signal.SIGKILL)
                proc.wait(5)
                proc = start_agent(tmp_path, broker, sim)
                n = len(acker.arrivals)
                await until(lambda n=n: len(acker.arrivals) > n, 30, "records after the restart")
            last = kills[-1]
            await until(lambda: any(r.mono_ms > last + 2000 for _, _, r in acker.arrivals), 30, "the last life")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    seqs = set(acker.seqs())
    assert seqs == set(range(1, max(seqs) + 1)), "a numbered record never arrived (a hole in the stream)"
    status = sorted(r.mono_ms for _, _, r in acker.arrivals if r.kind is RecordKind.STATUS)
    for k in kills:
        before = [m for m in status if k - WINDOW_MS - SLACK_MS < m <= k - WINDOW_MS]
        assert before, (
            f"kill at {k}: no record read in the {SLACK_MS} ms before the 0.5 s window survived "
            f"(last status before the kill at {max((m for m in status if m <= k), default=None)})"
        )
