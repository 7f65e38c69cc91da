"""One elevator's whole chain for a soak test, and the end-of-test proof that nothing was lost.

    elev-sim run (busy lunch traffic, --time-scale) --Modbus TCP + GPIO--> elev-agent run
        --MQTT (private Mosquitto)--> elev-collector run (SQLite store)

`finish()` ends the traffic (stops the simulator: the agent raises comms_lost and then stays quiet),
waits until the agent's outbox is empty after acknowledgements, stops the agent cleanly and checks
both ends against each other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.collector.procs import CollectorProcess
from tests.sim_serve.simproc import SimProcess
from tests.soak.procs import (
    AgentProcess,
    OutboxSnapshot,
    ProjectBroker,
    Stored,
    read_outbox,
    register_device,
    stored_count,
    stored_records,
)
from tests.support.services import wait_for

DEVICE = "lift-soak"


@dataclass
class Result:
    epoch: int
    produced: int  # highest seq the outbox ever committed
    stored: int  # records of the stream in the collector's store
    kinds: dict[str, int] = field(default_factory=dict)


class System:
    def __init__(
        self,
        workdir: Path,
        broker: ProjectBroker,
        time_scale: float = 10.0,
        collector_args: tuple[str, ...] = (),
        **agent_cfg: Any,
    ) -> None:
        self.workdir = workdir
        self.broker = broker
        self.db_path = workdir / "collector.db"
        self.db_url = f"sqlite:///{self.db_path}"
        token = workdir / "api-token"
        token.write_text(secrets.token_hex(8) + "\n")
        self.device_url = register_device(self.db_url, DEVICE, broker)
        assert self.device_url is not None
        self.collector = CollectorProcess(workdir, broker.url, self.db_url, token)
        self.collector.args += collector_args
        self.sim: SimProcess | None = None
        self.agent: AgentProcess | None = None
        self.time_scale = time_scale
        self.agent_cfg = agent_cfg

    def start(self) -> System:
        self.collector.start()
        self.sim = SimProcess(self.workdir, time_scale=self.time_scale)
        self.agent = AgentProcess(
            self.workdir,
            DEVICE,
            self.device_url,
            f"127.0.0.1:{self.sim.modbus_port}",
            f"127.0.0.1:{self.sim.gpio_port}",
            **self.agent_cfg,
        ).start()
        return self

    def cleanup(self) -> None:
        """Every process this system started, whatever state the test left it in."""
        if self.agent is not None:
            self.agent.cleanup()
        if self.sim is not None and self.sim.proc.poll() is None:
            self.sim.proc.kill()
            self.sim.proc.wait(10)
        if self.collector.proc is not None and self.collector.proc.poll() is None:
            self.collector.proc.kill()
            self.collector.proc.wait(10)

    # --- observations ---------------------------------------------------------------------------
    def stored(self) -> list[Stored]:
        return stored_records(self.db_path, DEVICE)

    def outbox(self) -> OutboxSnapshot | None:
        assert self.agent is not None
        return read_outbox(self.agent.data_dir)

    def wait_stored(self, at_least: int, timeout_s: float, what: str) -> int:
        return wait_for(lambda: (n := stored_count(self.db_path, DEVICE)) >= at_least and n, timeout_s, 0.2, what)

    def _drained(self) -> bool:
        assert self.agent is not None
        st = self.agent.status()
        if not st or not st.get("outbox"):
            return False
        if self.agent.proc is None or st.get("pid") != self.agent.proc.pid:
            return False  # the file a killed life left behind: not what the running agent holds
        ob = st["outbox"]
        if ob["depth"] or ob["buffered"] or ob["unstored_events"]:
            return False
        rows = [r for r in self.stored() if r.epoch == ob["epoch"]]
        return len(rows) >= ob["last_seq"] and bool(rows) and rows[-1].seq >= ob["last_seq"]

    # --- the end ----------------------------------------------------------------------------------
    def finish(self, drain_timeout_s: float) -> Result:
        """End the traffic, wait for an empty outbox, stop the agent, check every committed record."""
        assert self.agent is not None and self.sim is not None
        self.sim.stop()
        assert self.agent.running, f"the agent died:\n{self.agent.log()}"
        wait_for(self._drained, drain_timeout_s, 0.25, "the agent's outbox to be empty after acknowledgements")
        rc = self.agent.terminate()
        assert rc == 0, f"elev-agent exited {rc} on SIGTERM:\n{self.agent.log()}"
        snap = self.outbox()
        assert snap is not None
        assert snap.evicted_status == 0 and snap.dropped_status == 0, snap
        rows = self.stored()
        return check_stream(rows, snap)


def check_stream(rows: list[Stored], snap: OutboxSnapshot) -> Result:
    """The collector holds the agent's stream 1..N exactly once, in the agent's order; the outbox
    holds nothing the collector lacks except records committed after the drain (none expected)."""
    epochs = {r.epoch for r in rows}
    assert epochs == {snap.epoch}, f"streams in the store {sorted(epochs)}, outbox epoch {snap.epoch}"
    seqs = [r.seq for r in rows]
    n = len(seqs)
    assert seqs == list(range(1, n + 1)), f"holes or doubles in the stored stream: {_gaps(seqs)}"
    # Everything the outbox still holds after the clean stop is newer than what was stored.
    assert all(s > n for s in snap.rows), f"outbox kept records the collector has: {sorted(snap.rows)[:10]}"
    assert set(range(n + 1, snap.last_seq + 1)) == set(snap.rows), "a committed record is in neither place"
    # In order per stream: the agent's status/heartbeat records in seq order follow its monotonic clock.
    periodic = [r.mono_ms for r in rows if r.kind in ("status", "heartbeat")]
    backwards = [(a, b) for a, b in zip(periodic, periodic[1:], strict=False) if b < a]
    assert not backwards, f"status records out of order by seq: {backwards[:5]}"
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return Result(snap.epoch, snap.last_seq, n, kinds)


def _gaps(seqs: list[int]) -> str:
    seen: set[int] = set()
    doubles: list[int] = []
    for s in seqs:
        if s in seen:
            doubles.append(s)
        seen.add(s)
    missing = sorted(set(range(1, max(seqs, default=0) + 1)) - seen)
    return f"missing {missing[:20]} ({len(missing)}), doubled {doubles[:20]} ({len(doubles)})"
