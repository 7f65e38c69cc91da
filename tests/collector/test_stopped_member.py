"""A collector that stopped cleanly must not keep taking its turn of the shared subscription.

Found by hand (operator guide run): a second collector had run against the same broker in the same
share group and stopped. Its persistent session stayed a member of `$share/collectors/...`, so
Mosquitto handed every other uplink frame to that offline session's queue: the frame carrying an
event (stop_outside_door_zone, with the door_cycle and trip records that waited for it) and the
agent's first re-send went there, and the alarm reached the live collector only with the second
re-send, 30 s late. Real Mosquitto, the agent's real outbox and uplink, two real collectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import Overrides, build
from edge_agent.outbox import Outbox
from edge_agent.uplink import Uplink
from hw_sim.control import request
from protocols.events import Action, Event
from protocols.frames import DoorCycle, RecordKind, StopQuality, Trip
from tests.collector.conftest import Running, make_config, wait_until
from tests.collector.procs import CollectorProcess
from tests.sim_serve.simproc import SimProcess
from tests.soak.procs import SCENARIO_ELEVATOR, AgentProcess, ProjectBroker, register_device
from tests.support.services import Broker, wait_for

DEVICE = "lift-0042"
FIRST_SEND_S = 5.0  # well under the agent's ack_timeout_s (15): an ack this fast was a first send


def wall() -> tuple[int, bool]:
    return 1_796_687_564_869, True


async def test_event_reaches_the_collector_on_first_send_after_another_member_stopped(
    broker: Broker, sqlite_url: str, tmp_path: Path, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Another collector of the same group runs, then stops cleanly (its own store, another registry).
    ghost = Running(make_config(broker, f"sqlite:///{tmp_path / 'other.db'}", token_file, client_id="collector-other"))
    await ghost.start()
    with caplog.at_level(logging.INFO, logger="collector.ingest"):
        await ghost.close()
    assert not [r for r in caplog.records if "lost" in r.getMessage()], "a clean stop is not a lost connection"

    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=(DEVICE,))
    flags = Overrides(DEVICE, broker.url, "127.0.0.1:1", None, str(tmp_path / "agent"), None)
    cfg = build({"elevator": {"lowest_floor": -1, "highest_floor": 12}}, "<test>", flags)
    mono = 4_188_664
    try:
        async with Outbox(cfg.data_dir / "outbox.db", cfg.outbox, 0) as ob:
            uplink = Uplink(cfg, ob, wall, now_ms=lambda: mono)
            task = asyncio.create_task(uplink.run())
            try:
                await wait_until(lambda: uplink.subscribed, 10, "the agent's uplink to subscribe")
                acked = 0
                # Held summary records, then an event that takes them along; twice, so that the
                # broker's round robin over the group's members must reach the live collector with
                # both frames, whichever member's turn comes first.
                for i in range(2):
                    t = mono + i * 20_000
                    door = DoorCycle(t - 33_000, t - 22_000, 0, 5785, 0)
                    trip = Trip(t - 32_000, t - 15_000, 0, 8, 1750, StopQuality.OUT_OF_ZONE)
                    ob.put_status(RecordKind.DOOR_CYCLE, t - 22_000, wall()[0], True, door)
                    ob.put_status(RecordKind.TRIP, t - 15_000, wall()[0], True, trip)
                    await ob.flush()
                    ev = Event(t, "stop_outside_door_zone", Action.RAISE if i == 0 else Action.CLEAR, 8, None)
                    seq = await ob.put_event(t, wall()[0], True, ev)
                    assert seq > 0
                    acked += 3
                    await wait_until(
                        lambda n=acked: uplink.counters.records_acked >= n,
                        FIRST_SEND_S,
                        f"frame {i + 1} (event seq {seq}) stored and acknowledged without a re-send",
                    )
                assert uplink.counters.resends == 0
                assert uplink.counters.frames_sent == 2
                code, alarms = await col.get(f"/api/v1/alarms?device_id={DEVICE}")
                assert code == 200, alarms
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await col.close()


@pytest.mark.slow  # ~50 s of whole system; the test above covers the same path in `make test`
def test_alarms_of_a_real_agent_on_first_send_after_another_member_stopped(tmp_path: Path) -> None:
    """The hand run's chain as processes: the production broker (dynamic security), `elev-collector
    run` twice (one stopped with SIGTERM first), `elev-sim run` with a car trapped between floors,
    `elev-agent run` on its default (budget) reporting policy and ack timeout: the door_cycle and trip
    records wait on disk, stop_outside_door_zone takes them along, entrapment follows."""
    broker = ProjectBroker().start()
    procs: list[Any] = []
    try:
        token = secrets.token_hex(8)
        (tmp_path / "api-token").write_text(token + "\n")
        other = CollectorProcess(tmp_path, broker.url, f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "api-token")
        other.name = "other"
        other.start()
        assert other.terminate() == 0, other.log()
        db_url = f"sqlite:///{tmp_path / 'collector.db'}"
        device_url = register_device(db_url, DEVICE, broker)
        assert device_url is not None
        col = CollectorProcess(tmp_path, broker.url, db_url, tmp_path / "api-token").start()
        procs.append(col)
        elevator = "".join(f"{k} = {v}\n" for k, v in SCENARIO_ELEVATOR.items())
        scenario = f'seed = 3\ntraffic = "none"\n[elevator]\n{elevator}floor_height_mm = 3500\ndoor_hold_ms = 4000\n'
        sim = SimProcess(tmp_path, scenario=scenario, time_scale=1.0)
        procs.append(sim)
        agent = AgentProcess(
            tmp_path, DEVICE, device_url, f"127.0.0.1:{sim.modbus_port}", f"127.0.0.1:{sim.gpio_port}",
            uplink={"ack_timeout_s": 15.0}, detection={"entrapment_outside_zone_s": 5.0},
        )  # fmt: skip
        agent.conf.write_text(agent.conf.read_text().replace('policy = "full"', 'policy = "budget"'))
        procs.append(agent)
        agent.start()

        def uplink() -> dict[str, int]:
            return dict(((agent.status() or {}).get("link") or {}).get("counters") or {})

        wait_for(lambda: uplink().get("records_acked", 0) >= 1, 30, what="the agent's first status stored")
        reply = asyncio.run(request("127.0.0.1", sim.control_port, {"inject": "trap_between_floors", "duration_s": 60}))
        assert reply.get("ok", True) is not False, reply

        def alarms() -> set[str]:
            req = urllib.request.Request(
                f"http://127.0.0.1:{col.port}/api/v1/alarms?device_id={DEVICE}",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(req, timeout=5) as r:
                return {a["type"] for a in json.loads(r.read())}

        wait_for(lambda: {"stop_outside_door_zone", "entrapment"} <= alarms(), 60, 0.2, "both alarms stored")
        counters = uplink()
        assert counters.get("resends") == 0, (counters, agent.log())
    finally:
        for p in reversed(procs):
            if isinstance(p, AgentProcess):
                p.cleanup()
            elif p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(10)
        broker.cleanup()
