"""Ingest through a real Mosquitto into a real store (both engines): acks after commit, de-dup,
identity checks, malformed frames, broker restart, presence."""

from __future__ import annotations

import random
from pathlib import Path

import aiomqtt

from collector.metrics import Metrics
from protocols import frames, topics
from protocols.events import Action
from tests.collector.conftest import Running, make_config, wait_until
from tests.collector.publisher import Publisher, encode, event, heartbeat, status, statuses
from tests.support.services import Broker


async def test_every_record_stored_once_and_acked(broker: Broker, db_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, db_url, token_file)).start(devices=("lift-1", "lift-2"))
    try:
        async with Publisher(broker.port, "lift-1", batch=1) as p1, Publisher(broker.port, "lift-2", batch=25) as p2:
            await p1.send(statuses(300))
            await p2.send(statuses(500))
            await p1.resend_until_acked(20)
            await p2.resend_until_acked(20)
            assert await col.store.count_records("lift-1") == 300
            assert await col.store.count_records("lift-2") == 500
            # an agent that lost the acks sends everything again: acked again, stored once
            m: Metrics = col.collector.metrics
            dup0 = m.duplicates
            await p2.send(statuses(500))
            await p2.resend_until_acked(20, quiet_s=5)
            assert m.duplicates - dup0 == 500
            assert await col.store.count_records() == 800
            streams = {s["device_id"]: s for s in await col.store.streams()}
            assert streams["lift-2"]["contiguous_seq"] == 500 and streams["lift-2"]["missing"] == 0
    finally:
        await col.close()


async def test_forged_and_unregistered_devices_refused(broker: Broker, db_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, db_url, token_file)).start(devices=("lift-a", "lift-b"))
    m = col.collector.metrics
    try:
        async with Publisher(broker.port, "lift-a") as pa:
            # a batch frame on lift-a's topic that names lift-b
            forged = encode(statuses(3), pa.epoch, device_id="lift-b")
            await pa.publish_raw(topics.uplink_topic("lift-a"), [forged])
            # a device nobody registered
            await pa.publish_raw(topics.uplink_topic("lift-x"), [encode(statuses(2), 1)])
            await pa.publish_raw(
                topics.presence_topic("lift-x"), [frames.encode_presence(frames.PresenceFrame(True, 1, 0, False))]
            )
            await wait_until(lambda: m.rejected_total >= 3, what="three refusals")
            assert m.rejected["device_mismatch"] == 1
            assert m.rejected["unregistered"] == 1
            assert m.rejected["presence_unregistered"] == 1
            # the honest frame with the right name goes through
            await pa.publish_raw(topics.uplink_topic("lift-a"), [encode(statuses(2), pa.epoch, device_id="lift-a")])
            await wait_until(lambda: m.records_stored >= 2, what="honest frame stored")
            assert await col.store.count_records() == 2
            assert await col.store.count_records("lift-b") == 0
    finally:
        await col.close()


def mutations(valid: list[bytes], n: int, seed: int = 6) -> list[bytes]:
    """n frames the decoder must refuse: bit flips, truncations, extensions, random bytes."""
    rnd = random.Random(seed)
    out: list[bytes] = []
    while len(out) < n:
        base = bytearray(rnd.choice(valid))
        how = rnd.randrange(5)
        if how == 0:
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(len(base))
                base[i] ^= 1 << rnd.randrange(8)
        elif how == 1:
            base = base[: rnd.randrange(len(base))]
        elif how == 2:
            base += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        elif how == 3:
            base = bytearray(rnd.randbytes(rnd.randint(0, 40)))
        else:
            base[0] = rnd.randrange(256)
        data = bytes(base)
        try:
            frames.decode_uplink(data)
        except frames.FrameError:
            out.append(data)
    return out


async def test_ten_thousand_malformed_frames_counted_and_refused(
    broker: Broker, sqlite_url: str, token_file: Path
) -> None:
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=("lift-1",))
    m = col.collector.metrics
    try:
        async with Publisher(broker.port, "lift-1") as p:
            valid = [encode(statuses(1, start_seq=s), p.epoch) for s in range(1, 20)]
            valid += [encode(statuses(10, start_seq=s), p.epoch, "lift-1") for s in range(1, 20)]
            valid += [encode([event(1, 1000, "entrapment", Action.RAISE), heartbeat(2, 2000)], p.epoch, "lift-1")]
            bad = mutations(valid, 10_000)
            await p.publish_raw(topics.uplink_topic("lift-1"), bad)
            await wait_until(lambda: m.rejected_total >= 10_000, timeout_s=60, what="10,000 refusals")
            assert m.rejected_total == 10_000
            assert all(reason.startswith("frame_") for reason in m.rejected)
            assert len(m.rejected) >= 3  # counted by reason
            assert await col.store.count_records() == 0
            # still running and ingesting
            await p.send([status(1, 1000)])
            await p.resend_until_acked(10)
            assert await col.store.count_records() == 1
            status_code, text = await col.get("/metrics", token=None)
            assert status_code == 200 and 'collector_frames_rejected_total{reason="frame_' in text
    finally:
        await col.close()


async def test_broker_restart_nothing_lost(broker: Broker, db_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, db_url, token_file)).start(devices=("lift-1",))
    ingest = col.collector.ingest
    assert ingest is not None
    try:
        async with Publisher(broker.port, "lift-1", batch=10) as p:
            recs = statuses(400)
            await p.send(recs[:200])
            await p.resend_until_acked(20)
            broker.stop(kill=True)
            await wait_until(lambda: not ingest.connected.is_set(), what="collector to notice the outage")
            broker.start()
            await wait_until(ingest.connected.is_set, timeout_s=20, what="collector to reconnect")
            await p.send(recs[200:])
            await p.resend_until_acked(30)
            assert await col.store.count_records() == 400
            assert col.collector.metrics.mqtt_connects >= 2
    finally:
        await col.close()


async def test_presence_and_offline_alarm(broker: Broker, db_url: str, token_file: Path) -> None:
    cfg = make_config(broker, db_url, token_file, offline_after_s=0.6, presence_check_s=0.1)
    col = await Running(cfg).start(devices=("lift-1",))
    try:
        async with Publisher(broker.port, "lift-1") as p:
            will = frames.encode_presence(frames.PresenceFrame(False, p.epoch, 0, False))
            await p.publish_raw(
                topics.presence_topic("lift-1"), [frames.encode_presence(frames.PresenceFrame(True, p.epoch, 0, False))]
            )

            async def online() -> bool:
                return bool((await col.store.elevators())[0]["online"])

            await wait_until(online, what="online after presence")
            await p.publish_raw(topics.presence_topic("lift-1"), [will])
            await wait_until(lambda: _not(online), what="offline after the last will")

            async def offline_alarm() -> list[object]:
                return await col.store.alarms(active=True)

            (a,) = await wait_until(offline_alarm, timeout_s=5, what="device_offline alarm")
            assert a.type == "device_offline"
            await p.send([heartbeat(1, 1000)])
            await p.resend_until_acked(10)
            (a2,) = await col.store.alarms()
            assert a2.id == a.id and a2.cleared_ms is not None
            assert await online()
    finally:
        await col.close()


async def _not(cond: object) -> bool:
    return not await cond()  # type: ignore[operator]


async def test_unexpected_payloads_do_not_stop_the_daemon(broker: Broker, sqlite_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=("lift-1",))
    m = col.collector.metrics
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port) as c:
            await c.publish("elev/v1/lift-1/up", b"", qos=1)
            await c.publish("elev/v1/lift-1/presence", b"\xc1", qos=1)
        await wait_until(lambda: m.rejected_total >= 2, what="two refusals")
        assert col.task is not None and not col.task.done()
    finally:
        await col.close()
