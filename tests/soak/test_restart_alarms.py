"""kill -9 of the agent in the middle of its alarms (issue 12): one fault = one alarm = one rescue
case at the collector, whatever happens to the agent process; cleared when, and only when, the
condition ends.

Real processes: Mosquitto, `elev-collector run` (SQLite, platform functions on), `elev-sim run` and
`elev-agent run`, which is killed with SIGKILL while its alarms are active and started again on the
same data directory.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hw_sim.control import request
from tests.collector.procs import CollectorProcess
from tests.sim_serve.simproc import SimProcess
from tests.soak.procs import AgentProcess, register_device
from tests.support.services import Broker, wait_for

DEVICE = "lift-restart"


def _get(port: int, path: str, token: str) -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _inject(sim: SimProcess, fault: str, duration_s: float, **params: object) -> None:
    reply = asyncio.run(
        request("127.0.0.1", sim.control_port, {"inject": fault, "duration_s": duration_s, "params": params})
    )
    assert reply.get("ok", True) is not False, reply


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_kill_9_during_alarms_keeps_one_alarm_and_one_case(tmp_path: Path, broker: Broker) -> None:
    token = secrets.token_hex(8)
    (tmp_path / "api-token").write_text(token + "\n")
    db_url = f"sqlite:///{tmp_path / 'collector.db'}"
    register_device(db_url, DEVICE)
    collector = CollectorProcess(tmp_path, broker.url, db_url, tmp_path / "api-token").start()
    sim = SimProcess(tmp_path, time_scale=1.0)
    agent = AgentProcess(
        tmp_path, DEVICE, broker.url, f"127.0.0.1:{sim.modbus_port}", f"127.0.0.1:{sim.gpio_port}"
    ).start()
    try:

        def alarms(kind: str) -> list[dict[str, Any]]:
            assert agent.proc is None or agent.running or agent.proc.returncode == -9, agent.log()
            return [a for a in _get(collector.port, f"/api/v1/alarms?device_id={DEVICE}", token) if a["type"] == kind]

        def cases() -> list[dict[str, Any]]:
            return list(_get(collector.port, f"/api/v1/rescue-cases?device_id={DEVICE}", token))

        # 1. controller_fault raised, agent killed while it holds, fault ends while the agent is down.
        _inject(sim, "controller_fault", 6.0, code=4100)
        wait_for(lambda: alarms("controller_fault"), 15, 0.1, "controller_fault at the collector")
        agent.kill()
        wait_for(lambda: sim.proc.poll() is None and not _status_fault(sim), 15, 0.2, "the fault to end")
        agent.start()
        wait_for(
            lambda: (a := alarms("controller_fault")) and a[0]["cleared_at"] is not None,
            30, 0.2, "controller_fault cleared after the restart",
        )  # fmt: skip
        assert len(alarms("controller_fault")) == 1, alarms("controller_fault")

        # 2. entrapment raised, agent killed while the passengers are still inside, restarted: the
        #    same alarm goes on (not a second one, not cleared), one case; cleared when the trap ends.
        _inject(sim, "trap_between_floors", 100.0)
        wait_for(lambda: alarms("entrapment"), 90, 0.2, "entrapment at the collector")
        wait_for(lambda: len(cases()) == 1, 10, 0.2, "the rescue case")
        agent.kill()
        agent.start()
        wait_for(lambda: (agent.status() or {}).get("pid") == agent.proc.pid if agent.proc else False, 20, 0.2,
                 "the restarted agent's status")  # fmt: skip
        # The restarted agent has read the car again (it is still trapped): nothing changes.
        wait_for(lambda: "continuing them" in agent.log(), 20, 0.2, "the agent saying what it continues")
        ent = alarms("entrapment")
        assert len(ent) == 1 and ent[0]["cleared_at"] is None, ent
        assert len(cases()) == 1, cases()
        wait_for(lambda: alarms("entrapment")[0]["cleared_at"] is not None, 120, 0.5, "entrapment cleared")
        assert len(alarms("entrapment")) == 1, alarms("entrapment")
        assert len(cases()) == 1, cases()
    finally:
        agent.cleanup()
        if sim.proc.poll() is None:
            sim.proc.kill()
        if collector.proc is not None and collector.proc.poll() is None:
            collector.proc.kill()


def _status_fault(sim: SimProcess) -> bool:
    reply = asyncio.run(request("127.0.0.1", sim.control_port, {"status": True}))
    return bool(reply["registers"].get("fault"))
