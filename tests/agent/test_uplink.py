"""The uplink against a real Mosquitto and an in-test acknowledger: order, acks, outages, priority, presence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.config import AgentConfig, Overrides, build
from edge_agent.outbox import Outbox
from edge_agent.uplink import Uplink
from protocols.events import Action, Event
from protocols.frames import RecordKind
from protocols.signals import Door, Mode, SignalSnapshot
from tests.agent.support import Acker, until, until_async
from tests.support.services import Broker

SNAP = SignalSnapshot(0, 1, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)


def config(broker: Broker, tmp_path: Path, device: str = "lift-u", **uplink: object) -> AgentConfig:
    doc = {
        "uplink": {"ack_timeout_s": 2.0, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5, **uplink},
    }
    flags = Overrides(device, broker.url, "127.0.0.1:1", None, str(tmp_path), None)
    return build(doc, "<test>", flags)


def wall() -> tuple[int, bool]:
    return 1_795_000_000_000, True


@contextlib.asynccontextmanager
async def running(cfg: AgentConfig, ob: Outbox) -> AsyncIterator[Uplink]:
    up = Uplink(cfg, ob, wall)
    task = asyncio.create_task(up.run(), name="uplink")
    try:
        yield up
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def produce(ob: Outbox, n_status: int, every_event: int) -> list[int]:
    """Statuses with an event every `every_event`; returns the event sequence numbers."""
    events = []
    for i in range(1, n_status + 1):
        ob.put_status(RecordKind.STATUS, i, i, True, SNAP._replace(t_ms=i, floor=i % 9))
        if i % every_event == 0:
            events.append(await ob.put_event(i, i, True, Event(i, "alarm_button", Action.RAISE, 1)))
    await ob.flush()
    return events


async def depth(ob: Outbox) -> int:
    return (await ob.stats()).depth


async def test_records_arrive_in_order_and_leave_only_after_ack(broker: Broker, tmp_path: Path) -> None:
    cfg = config(broker, tmp_path)
    async with Outbox(tmp_path / "ob.db", status_flush_s=0) as ob, Acker(broker.port, acking=False) as acker:
        event_seqs = await produce(ob, 250, 50)
        total = (await ob.stats()).last_seq
        async with running(cfg, ob) as up:
            await until(lambda: len(set(acker.seqs())) == total, 10, "every record to arrive")
            assert await depth(ob) == total, "nothing leaves the outbox without an ack"
            acker.acking = True  # the collector comes back: the uplink resends after its ack timeout
            await until_async(lambda: _is(depth(ob), 0), 15, "acks to empty the outbox")
        assert up.counters.resends >= 1 and up.counters.records_acked == total
    first_arrival: dict[int, int] = {}
    for i, s in enumerate(acker.seqs()):
        first_arrival.setdefault(s, i)
    statuses = [s for s in first_arrival if s not in event_seqs]
    events = [s for s in first_arrival if s in event_seqs]
    assert sorted(first_arrival) == list(range(1, total + 1))
    assert statuses == sorted(statuses) and events == sorted(events), "in order within each class"
    assert max(first_arrival[s] for s in events) < max(first_arrival[s] for s in statuses), "events first"
    bodies = {r.seq: r.body for _, _, r in acker.arrivals if r.kind is RecordKind.STATUS}
    assert [b.t_ms for _, b in sorted(bodies.items())] == list(range(1, 251)), "bodies intact, in order"


async def _is(coro: object, value: int) -> bool:
    return await coro == value  # type: ignore[misc]


async def test_alarm_overtakes_a_status_backlog(broker: Broker, tmp_path: Path) -> None:
    cfg = config(broker, tmp_path, batch_max_records=10, batches_per_s=25.0, window_batches=2)
    async with Outbox(tmp_path / "ob.db", status_flush_s=0) as ob, Acker(broker.port) as acker:
        await produce(ob, 400, 10_000)  # 40 frames of backlog at 25 frames/s: 1.6 s to drain
        async with running(cfg, ob):
            await until(lambda: len(acker.arrivals) >= 30, 10, "the drain to start")
            seq = await ob.put_event(1, 1, True, Event(1, "entrapment", Action.RAISE, 3))
            await until(lambda: seq in acker.seqs(), 5, "the alarm to arrive")
            statuses_before_alarm = acker.seqs().index(seq)
            await until_async(lambda: _is(depth(ob), 0), 15, "the backlog to drain")
    assert statuses_before_alarm < 200, f"the alarm waited behind {statuses_before_alarm} status records"


async def test_broker_outage_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    cfg = config(broker, tmp_path)
    async with Outbox(tmp_path / "ob.db", status_flush_s=0) as ob:
        async with running(cfg, ob) as up:
            async with Acker(broker.port) as acker:
                await produce(ob, 50, 10)
                await until_async(lambda: _is(depth(ob), 0), 10, "the first records to be acknowledged")
            before = set(acker.seqs())
            broker.stop()
            await until(lambda: not up.online, 10, "the uplink to notice the outage")
            await produce(ob, 300, 25)  # produced during the outage
            assert await depth(ob) == 312
            broker.start()
            async with Acker(broker.port) as acker2:
                await until_async(lambda: _is(depth(ob), 0), 20, "the backlog to be acknowledged")
            assert up.counters.connects >= 2
        last = (await ob.stats()).last_seq
    assert before | set(acker2.seqs()) == set(range(1, last + 1)), "every record arrived"


async def test_presence_online_retained_and_offline_on_clean_stop(broker: Broker, tmp_path: Path) -> None:
    cfg = config(broker, tmp_path, device="lift-p")
    async with Outbox(tmp_path / "ob.db") as ob, running(cfg, ob) as up:
        await until(lambda: up.online, 10, "the uplink to connect")
        async with Acker(broker.port) as acker:  # subscribes after the fact: gets the retained message
            await until(lambda: acker.presence, 5, "the retained presence")
            device, frame, retained = acker.presence[0]
            assert device == "lift-p" and frame.online and retained and frame.epoch == ob.epoch
            await up.close()
            await until(lambda: len(acker.presence) >= 2, 5, "the offline presence")
            assert not acker.presence[-1][1].online


@pytest.mark.parametrize("url", ["mqtt://nobody:wrong@127.0.0.1:{port}"])
async def test_rejected_credentials_keep_retrying_without_losing(tmp_path: Path, url: str) -> None:
    b = Broker(tmp_path, extra_conf="", allow_anonymous=False).start()
    try:
        cfg = build(
            {"uplink": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.2}},
            "<test>",
            Overrides("lift-x", url.format(port=b.port), "127.0.0.1:1", None, str(tmp_path), None),
        )
        async with Outbox(tmp_path / "ob.db") as ob:
            await ob.put_event(1, 1, True, Event(1, "alarm_button", Action.RAISE, 1))
            async with running(cfg, ob) as up:
                await until(lambda: up.counters.connect_failures >= 2, 10, "refused connections")
                assert not up.online and up.last_error
            assert await depth(ob) == 1
    finally:
        b.stop()
