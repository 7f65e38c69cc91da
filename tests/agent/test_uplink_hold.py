"""Held records (issue 14): trips, door cycles and heartbeats wait for a frame to share, never longer than the hold."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from edge_agent.config import AgentConfig
from edge_agent.outbox import Outbox
from edge_agent.uplink import Uplink
from protocols.events import Action, Event
from protocols.frames import DoorCycle, Heartbeat, RecordKind, StopQuality, Trip
from tests.agent.support import Acker, until
from tests.agent.test_uplink import SNAP, config, wall
from tests.support.services import Broker


class Clock:
    """The records' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.t_ms = 1_000_000

    def __call__(self) -> int:
        return self.t_ms


@contextlib.asynccontextmanager
async def running(cfg: AgentConfig, ob: Outbox, clock: Clock, hold_s: list[float]) -> AsyncIterator[Uplink]:
    up = Uplink(cfg, ob, wall, now_ms=clock, hold_s=lambda: hold_s[0])
    task = asyncio.create_task(up.run(), name="uplink")
    try:
        await until(lambda: up.online, 10, "the uplink to connect")
        yield up
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settle(up: Uplink) -> None:
    gen = up.wake()
    await until(lambda: up.settled_gen >= gen, 10, "one sending pass")


def trip(t: int) -> Trip:
    return Trip(t - 8000, t, 1, 5, 1600, StopQuality.LEVEL)


async def test_summaries_wait_for_a_status_or_the_hold(broker: Broker, tmp_path: Path) -> None:
    cfg = config(broker, tmp_path, summary_hold_s=150.0)
    clock = Clock()
    hold = [150.0]
    async with (
        Outbox(tmp_path / "ob.db", status_flush_s=0) as ob,
        Acker(broker.port) as acker,
        running(cfg, ob, clock, hold) as up,
    ):
        await settle(up)
        t = clock.t_ms
        ob.put_status(RecordKind.TRIP, t, t, True, trip(t))
        ob.put_status(RecordKind.DOOR_CYCLE, t + 6000, t, True, DoorCycle(t, t + 6000, 5, 4000, 0))
        await ob.flush()
        clock.t_ms += 10_000
        await settle(up)
        assert up.counters.frames_sent == 0 and acker.seqs() == [], "held: no frame for two summaries"
        # A status (a shown state change) leaves at once and carries them: one frame, three records.
        ob.put_status(RecordKind.STATUS, clock.t_ms, t, True, SNAP._replace(t_ms=clock.t_ms))
        await ob.flush()
        await until(lambda: len(acker.seqs()) == 3, 10, "the status with the held records")
        assert up.counters.frames_sent == 1
        # Held again; the hold runs out 150 s after the last frame, whatever came since.
        ob.put_status(RecordKind.HEARTBEAT, clock.t_ms + 60_000, t, True, Heartbeat(60, 0, True))
        await ob.flush()
        clock.t_ms += 149_000
        await settle(up)
        assert up.counters.frames_sent == 1, "still within the hold"
        clock.t_ms += 1_000
        await settle(up)
        await until(lambda: len(acker.seqs()) == 4, 10, "the heartbeat when the hold ran out")
        assert up.counters.frames_sent == 2


async def test_an_event_carries_held_records_and_live_view_holds_nothing(broker: Broker, tmp_path: Path) -> None:
    cfg = config(broker, tmp_path)
    clock = Clock()
    hold = [150.0]
    async with (
        Outbox(tmp_path / "ob.db", status_flush_s=0) as ob,
        Acker(broker.port) as acker,
        running(cfg, ob, clock, hold) as up,
    ):
        await settle(up)
        t = clock.t_ms
        ob.put_status(RecordKind.TRIP, t, t, True, trip(t))
        await ob.put_event(t + 1, t, True, Event(t + 1, "alarm_button", Action.RAISE, 5))
        await until(lambda: len(acker.seqs()) == 2, 10, "the event and the trip")
        assert up.counters.frames_sent == 1, "one frame: the event carried the trip"
        hold[0] = 0.0  # live view
        ob.put_status(RecordKind.TRIP, t + 20_000, t, True, trip(t + 20_000))
        await ob.flush()
        await until(lambda: len(acker.seqs()) == 3, 10, "a trip at once in live view")
    kinds = sorted(r.kind for _, _, r in acker.arrivals)
    assert kinds == [RecordKind.EVENT, RecordKind.TRIP, RecordKind.TRIP]
