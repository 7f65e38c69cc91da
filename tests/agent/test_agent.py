"""The whole agent against the simulator, a real Mosquitto and an in-test acknowledger.

In-process (`run_cmd.serve`) for the comms tests, so a failure shows the agent's own traceback; the
console script in a subprocess for what only a process can show (systemd notify, kill -9, last will,
SIGTERM, `elev-agent status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from edge_agent import status_cmd
from edge_agent.config import AgentConfig, Overrides, build
from edge_agent.run_cmd import serve
from protocols.events import Action, Event
from protocols.frames import Heartbeat, RecordKind
from tests.agent.sim import Sim
from tests.agent.support import Acker, until
from tests.support.services import Broker

SCENARIO = "[elevator]\nlowest_floor = 1\nhighest_floor = 8\nrated_speed_mm_s = 1600\nfloor_height_mm = 3000\n"
BIN = Path(sys.executable).parent


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = Sim(tmp_path, SCENARIO)
    try:
        yield s
    finally:
        s.stop()


def agent_doc(**agent: object) -> dict[str, object]:
    return {
        "elevator": {"lowest_floor": 1, "highest_floor": 8, "rated_speed_mm_s": 1600},
        "modbus": {"timeout_s": 0.15},
        "agent": {"comms_lost_after_s": 1.0, "status_flush_s": 0.3, "heartbeat_s": 2.0, "clock_synced": "no", **agent},
        "uplink": {"ack_timeout_s": 3.0, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
    }


def config(tmp_path: Path, broker: Broker, sim: Sim, device: str, rtu: bool = False) -> AgentConfig:
    flags = Overrides(
        device_id=device,
        broker_url=broker.url,
        modbus_tcp=None if rtu else sim.tcp,
        modbus_rtu=sim.rtu_path if rtu else None,
        data_dir=str(tmp_path / "data"),
        gpio_sim=sim.gpio,
    )
    return build(agent_doc(), "<test>", flags)


@contextlib.asynccontextmanager
async def agent_running(cfg: AgentConfig) -> AsyncIterator[None]:
    task = asyncio.create_task(serve(cfg), name="agent")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def events(acker: Acker) -> list[Event]:
    seen: dict[int, Event] = {}
    for _, _, r in acker.arrivals:
        if r.kind is RecordKind.EVENT:
            assert isinstance(r.body, Event)
            seen[r.seq] = r.body
    return [seen[s] for s in sorted(seen)]


async def test_comms_loss_raises_and_clears_comms_lost_and_nothing_else(
    tmp_path: Path, broker: Broker, sim: Sim
) -> None:
    cfg = config(tmp_path, broker, sim, "lift-c")
    async with Acker(broker.port) as acker, agent_running(cfg):
        await until(lambda: any(r.kind is RecordKind.STATUS for _, _, r in acker.arrivals), 10, "the first status")
        sim.inject("comms_loss", 2.5)
        await until(lambda: [e.action for e in events(acker) if e.type == "comms_lost"] == ["raise", "clear"], 10)
        await until(lambda: any(r.kind is RecordKind.HEARTBEAT for _, _, r in acker.arrivals), 5, "a heartbeat")
    evs = events(acker)
    assert [(e.type, e.action) for e in evs] == [("comms_lost", Action.RAISE), ("comms_lost", Action.CLEAR)], evs
    lost_s = (evs[1].t_ms - evs[0].t_ms) / 1000
    # Raised once 1 s of silence is complete (plus the failing poll), cleared at the first answer after 2.5 s.
    assert 0.3 <= lost_s <= 2.5, f"comms_lost held {lost_s} s for a 2.5 s silence raised after 1 s"
    beats = [r.body for _, _, r in acker.arrivals if r.kind is RecordKind.HEARTBEAT]
    assert all(isinstance(b, Heartbeat) for b in beats)
    assert not any(r.clock_synced for _, _, r in acker.arrivals), "wall time marked unsynchronized"


async def test_serial_noise_makes_no_false_events(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    cfg = config(tmp_path, broker, sim, "lift-n", rtu=True)
    async with Acker(broker.port) as acker, agent_running(cfg):
        await until(lambda: any(r.kind is RecordKind.STATUS for _, _, r in acker.arrivals), 10, "the first status")
        sim.inject("serial_noise", 3.0)
        await until(lambda: sim.status()["serial_noise_active"], 5)
        await until(lambda: not sim.status()["serial_noise_active"], 10, "the noise to end")
        status = json.loads((cfg.data_dir / "status.json").read_text())
        await until(lambda: json.loads((cfg.data_dir / "status.json").read_text()) != status, 10, "a status rewrite")
        status = json.loads((cfg.data_dir / "status.json").read_text())
    bus = status["controller"]["counters"]
    assert bus["bad_frames"] + bus["timeouts"] > 10, "the noise reached the agent"
    assert events(acker) == [], "line noise must not raise anything, comms_lost included"


def notify_socket(tmp_path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "notify.sock"))
    s.settimeout(10)
    return s


def start_agent(tmp_path: Path, broker: Broker, sim: Sim, device: str) -> subprocess.Popen[bytes]:
    conf = tmp_path / "agent.toml"
    lines = ["[elevator]", "lowest_floor = 1", "highest_floor = 8", "rated_speed_mm_s = 1600", "[agent]"]
    lines += ["status_file_s = 0.5", "status_flush_s = 0.3", "clock_synced = 'no'"]
    conf.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "1000000"}
    log = open(tmp_path / "agent.log", "ab")
    return subprocess.Popen(
        [str(BIN / "elev-agent"), "run", "--device-id", device, "--modbus-tcp", sim.tcp, "--gpio-sim", sim.gpio]
        + ["--broker", broker.url, "--data-dir", str(tmp_path / "data"), "--config", str(conf)],
        stdout=log,
        stderr=log,
        env=env,
    )


async def test_process_notify_kill_9_last_will_restart_and_sigterm(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    note = notify_socket(tmp_path)
    async with Acker(broker.port) as acker:
        proc = start_agent(tmp_path, broker, sim, "lift-k")
        try:
            msgs = [note.recv(4096).decode() for _ in range(2)]
            assert msgs[0] == "READY=1" and msgs[1].startswith("WATCHDOG=1")
            await until(lambda: any(p.online for _, p, _ in acker.presence), 10, "online presence")
            epoch = next(p.epoch for _, p, _ in acker.presence if p.online)
            await until(lambda: acker.arrivals, 30, "records")
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
            # The broker notices the dead client at keepalive x 1.5; the will says offline.
            before = len(acker.presence)
            await until(lambda: any(not p.online for _, p, _ in acker.presence[before:]), 60, "the last will")
            last_seq = max(acker.seqs())

            proc = start_agent(tmp_path, broker, sim, "lift-k")
            await until(lambda: any(p.online for _, p, _ in acker.presence[before + 1 :]), 10, "online again")
            assert acker.presence[-1][1].epoch == epoch, "a restart continues the same stream"
            await until(lambda: max(acker.seqs()) > last_seq, 10, "new records after the restart")
            await until(lambda: (tmp_path / "data" / "status.json").exists(), 5)
            rc = status_cmd.main(["--data-dir", str(tmp_path / "data")])
            assert rc == 0
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0, (tmp_path / "agent.log").read_text()[-2000:]
            await until(lambda: not acker.presence[-1][1].online, 5, "offline on a clean stop")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            note.close()
    seqs = acker.seqs()
    assert set(seqs) >= set(range(1, max(seqs) + 1)) - {0}, "no hole in the stream across kill -9"


async def test_a_restarted_agent_continues_its_fault_and_clears_it_once(
    tmp_path: Path, broker: Broker, sim: Sim
) -> None:
    """Stopped while controller_fault is raised, the agent restarts from its outbox's active set:
    no second raise while the fault lasts, one clear (this stream) when it ends."""
    cfg = config(tmp_path, broker, sim, "lift-r")
    async with Acker(broker.port) as acker:
        async with agent_running(cfg):
            await until(lambda: any(r.kind is RecordKind.STATUS for _, _, r in acker.arrivals), 10, "the first status")
            sim.inject("controller_fault", 8.0)
            await until(lambda: any(e.type == "controller_fault" for e in events(acker)), 10, "the raise")
        async with agent_running(cfg):
            await until(
                lambda: [e.action for e in events(acker) if e.type == "controller_fault"] == ["raise", "clear"],
                25,
                "the clear after the restart",
            )
        faults = [e for e in events(acker) if e.type == "controller_fault"]
    assert [e.action for e in faults] == [Action.RAISE, Action.CLEAR], faults
    assert not faults[1].after_restart, "the fault still held at the restart: an ordinary clear"
