"""Broker restarts and collector kill -9 mid-stream, with the agent running: nothing lost, nothing doubled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.soak.procs import ProjectBroker, stored_count
from tests.soak.system import DEVICE, System


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_broker_and_collector_restarts_under_traffic(
    tmp_path: Path, broker: ProjectBroker, system_factory: list[System]
) -> None:
    s = System(tmp_path, broker, agent={"heartbeat_s": 5.0})
    system_factory.append(s)
    s.start()
    n = s.wait_stored(30, 60, "the first records at the collector")
    c = s.collector

    def progress(what: str) -> None:
        """Traffic keeps arriving after the disruption (bounded wait)."""
        nonlocal n
        n = s.wait_stored(n + 30, 90, f"records after {what}")

    steps: list[str] = []
    t0 = time.monotonic()
    for i in range(4):  # the collector dies mid-stream: frames it took from the broker but never committed
        c.kill()
        c.start()  # same client id: the broker kept its session and queued frames for it
        steps.append("collector kill -9")
        progress(f"collector kill {i}")
    for i in range(3):  # broker restarts: a clean stop saves its sessions, a kill -9 loses the frames in flight
        broker.stop(kill=i == 2)
        broker.start()
        steps.append("broker kill -9" if i == 2 else "broker restart")
        progress(f"broker restart {i}")
    c.kill()  # both at once: the collector dead while the broker restarts
    broker.stop()
    broker.start()
    c.start()
    steps.append("collector kill -9 + broker restart")
    progress("both")
    churn_s = time.monotonic() - t0
    assert s.agent is not None
    link = (s.agent.status() or {})["link"]["counters"]
    assert link["connects"] >= 5, f"the agent did not reconnect after each broker restart: {link}"

    result = s.finish(drain_timeout_s=120)
    assert stored_count(s.db_path, DEVICE) == result.stored
    print(
        f"\nSOAK restarts: {len(steps)} disruptions ({', '.join(steps)}) in {churn_s:.0f} s; "
        f"stream {result.epoch:08x}: produced {result.produced}, stored {result.stored} once each {result.kinds}; "
        f"agent connects {link['connects']}, resends after an ack timeout {link['resends']}"
    )
