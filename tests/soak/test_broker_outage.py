"""A 10-minute broker outage under traffic: afterwards every record arrives, once, in order."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from tests.soak.procs import ProjectBroker
from tests.soak.system import System
from tests.support.services import wait_for

OUTAGE_S = float(os.environ.get("SOAK_OUTAGE_S", "600"))  # a shorter run only to try the test out
# Alarms raised while the broker is away (at these fractions of the outage); each must reach the store.
FAULTS_DURING_OUTAGE = [(0.1, "alarm_button", 5.0), (0.4, "controller_fault", 10.0), (0.7, "inspection", 8.0)]


@pytest.mark.slow
@pytest.mark.timeout(OUTAGE_S + 300)
def test_ten_minute_broker_outage_under_traffic(
    tmp_path: Path, broker: ProjectBroker, system_factory: list[System]
) -> None:
    # Product defaults for the uplink (reconnect backoff up to 10 s, ack timeout 15 s) and heartbeat 60 s.
    s = System(tmp_path, broker, agent={"heartbeat_s": 60.0}, uplink={"reconnect_max_s": 10.0, "ack_timeout_s": 15.0})
    system_factory.append(s)
    s.start()
    assert s.agent is not None and s.sim is not None
    s.wait_stored(20, 60, "the first records at the collector")

    broker.stop()
    t_out = time.monotonic()
    before = s.outbox()
    assert before is not None
    injected = 0
    while (elapsed := time.monotonic() - t_out) < OUTAGE_S:
        assert s.agent.running, f"the agent died during the outage:\n{s.agent.log()}"
        while injected < len(FAULTS_DURING_OUTAGE) and elapsed >= FAULTS_DURING_OUTAGE[injected][0] * OUTAGE_S:
            _, fault, duration_s = FAULTS_DURING_OUTAGE[injected]
            _inject(s, fault, duration_s)
            injected += 1
        time.sleep(1.0)  # the outage itself: the test's subject, not a wait for something to settle
    during = s.outbox()
    assert during is not None and during.epoch == before.epoch
    buffered = during.last_seq - before.last_seq
    assert buffered > OUTAGE_S, f"only {buffered} records made during a 10-minute outage under traffic"
    assert len(during.rows) >= buffered, "records left the outbox while the broker was down"

    broker.start()
    t_back = time.monotonic()
    wait_for(lambda: s.stored() and s.stored()[-1].seq >= during.last_seq, 180, 0.5, "the backlog at the collector")
    drain_s = time.monotonic() - t_back
    result = s.finish(drain_timeout_s=120)
    events = result.kinds.get("event", 0)
    assert events >= 2 * 2, f"the alarms raised during the outage were not stored: {result.kinds}"
    print(
        f"\nSOAK outage: {OUTAGE_S:.0f} s broker outage; {buffered} records buffered during it; "
        f"backlog stored {drain_s:.1f} s after the broker returned; stream {result.epoch:08x}: "
        f"produced {result.produced}, stored {result.stored} once each {result.kinds}; "
        f"collector duplicates refused {s.collector.metric('collector_duplicates_total'):.0f}"
    )


def _inject(s: System, fault: str, duration_s: float) -> None:
    """Through the simulator's control socket (hw_sim/control.py), as `elev-sim inject` does."""
    assert s.sim is not None
    with socket.create_connection(("127.0.0.1", s.sim.control_port), timeout=5) as sock:
        sock.sendall(json.dumps({"inject": fault, "duration_s": duration_s}).encode() + b"\n")
        reply = json.loads(sock.makefile().readline())
    assert reply.get("ok"), reply
