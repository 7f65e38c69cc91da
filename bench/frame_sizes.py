"""Frame sizes against the protocol's goals, next to the same content as compact JSON.

    .venv/bin/python bench/frame_sizes.py           # the table; exit 1 if a goal is missed
    .venv/bin/python bench/frame_sizes.py --speed   # also decode rates (frames/s, one core)

The frames are what a long-lived gateway sends, not a fresh one: a stream 1.5 million records old,
a gateway up 30 days, a wall clock in 2026, a random epoch. The batch is 100 status changes of a
car doing trips (doors, acceleration, floors passing, leveling), as the agent records them.
Rows marked "no goal" show what the optional device_id costs (it makes a batch frame of one) and
how sizes grow in the extreme (seq past 2^21, uptime past 397 days).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols.events import Action, Event
from protocols.frames import (
    AckFrame,
    Heartbeat,
    PresenceFrame,
    Record,
    RecordKind,
    UplinkFrame,
    decode_ack,
    decode_presence,
    decode_uplink,
    encode_ack,
    encode_presence,
    encode_uplink,
)
from protocols.signals import Door, Mode, SignalSnapshot

EPOCH = 0x9A3F17C2
SEQ = 1_500_000
MONO = 30 * 86_400_000 + 12_345  # 30 days of gateway uptime
WALL = 1_795_000_000_000 + 678  # November 2026
AGENT_START_S = 25  # the agent started 25 s after boot
DEVICE = "tower-b-lift-2"

GOALS = {"status": 40, "heartbeat": 24, "batch": 1500}


def trips(mono0: int, floor0: int = 3) -> Iterator[SignalSnapshot]:
    """Status changes of a car going up and down between floors, with a passenger aboard."""
    t, floor = mono0, floor0
    base = SignalSnapshot(t, floor, 0, False, 0, Door.CLOSED, True, True, True, True, False, True, Mode.NORMAL, 0)
    while True:
        for door, dt in ((Door.OPENING, 2500), (Door.OPEN, 1800), (Door.CLOSING, 3000), (Door.CLOSED, 1600)):
            yield (base := base._replace(t_ms=t, door=door, door_lock=door is Door.CLOSED))
            t += dt
        direction = 1 if floor < 8 else -1
        for i, speed in enumerate((150, 400, 700, 1000, 1300, 1500, 1500, 1500, 1300, 900, 500, 200, 0)):
            passing = i in (6, 7)
            if passing:
                floor += direction
            yield (
                base := base._replace(
                    t_ms=t,
                    floor=floor,
                    direction=direction if speed else 0,
                    running=speed > 0,
                    speed_mm_s=speed,
                    door_zone=speed == 0 or (passing and i == 7),
                )
            )
            t += 400 if speed else 700
        if floor == 8:
            floor -= 1  # wrap around the test building


def status_record(seq: int, snap: SignalSnapshot, wall_ms: int) -> Record:
    return Record(RecordKind.STATUS, seq, snap.t_ms, wall_ms, True, snap)


def running_snapshot(mono: int) -> SignalSnapshot:
    return SignalSnapshot(mono, 5, 1, True, 1500, Door.CLOSED, False, True, True, True, False, True, Mode.NORMAL, 0)


def heartbeat_record(seq: int, mono: int, wall: int) -> Record:
    return Record(RecordKind.HEARTBEAT, seq, mono, wall, True, Heartbeat(mono // 1000 - AGENT_START_S, 0, True))


def batch_frame() -> UplinkFrame:
    records = []
    for i, snap in enumerate(trips(MONO)):
        if i == 100:
            break
        drift = i // 40  # the wall clock gains a millisecond now and then against the monotonic one
        records.append(status_record(SEQ + i, snap, WALL + snap.t_ms - MONO + drift))
    return UplinkFrame(EPOCH, tuple(records), DEVICE)


# --- the same content as compact JSON ---------------------------------------------------------


def record_json(r: Record) -> dict[str, object]:
    out: dict[str, object] = {
        "kind": r.kind.name.lower(),
        "seq": r.seq,
        "mono_ms": r.mono_ms,
        "wall_ms": r.wall_ms,
        "clock_synced": r.clock_synced,
    }
    body = r.body
    if isinstance(body, SignalSnapshot):
        out.update((k, v) for k, v in body._asdict().items() if k != "t_ms")
    elif isinstance(body, Event):
        out.update(body.to_json_dict())
    else:
        out.update(uptime_s=body.uptime_s, outbox_depth=body.outbox_depth, comms_ok=body.comms_ok)
    return out


def compact(obj: object) -> int:
    return len(json.dumps(obj, separators=(",", ":")).encode())


def uplink_json(frame: UplinkFrame) -> int:
    if len(frame.records) == 1 and frame.device_id is None:
        return compact({"v": 1, "epoch": frame.epoch, **record_json(frame.records[0])})
    return compact(
        {
            "v": 1,
            "kind": "batch",
            "epoch": frame.epoch,
            "device_id": frame.device_id,
            "records": [record_json(r) for r in frame.records],
        }
    )


# --- the table ---------------------------------------------------------------------------------


def rows() -> list[tuple[str, str | None, int, int]]:
    """(label, goal key or None, msgpack bytes, JSON bytes); every frame is checked to round-trip."""
    out: list[tuple[str, str | None, int, int]] = []

    def uplink(label: str, goal: str | None, frame: UplinkFrame) -> None:
        data = encode_uplink(frame)
        assert decode_uplink(data) == frame, label
        out.append((label, goal, len(data), uplink_json(frame)))

    uplink(
        "status change (car running)", "status", UplinkFrame(EPOCH, (status_record(SEQ, running_snapshot(MONO), WALL),))
    )
    idle = running_snapshot(MONO)._replace(direction=0, running=False, speed_mm_s=0, door_zone=True)
    uplink("status change (car idle)", "status", UplinkFrame(EPOCH, (status_record(SEQ, idle, WALL),)))
    uplink("heartbeat", "heartbeat", UplinkFrame(EPOCH, (heartbeat_record(SEQ + 1, MONO + 500, WALL + 500),)))
    fault = Event(MONO + 900, "controller_fault", Action.RAISE, 5, 4102)
    uplink(
        "event (controller_fault raise)",
        None,
        UplinkFrame(EPOCH, (Record(RecordKind.EVENT, SEQ + 2, MONO + 1000, WALL + 1000, True, fault),)),
    )
    batch = batch_frame()
    uplink("batch of 100 status records", "batch", batch)

    ack = AckFrame(EPOCH, ((batch.records[0].seq, batch.records[-1].seq),))
    assert decode_ack(encode_ack(ack)) == ack
    out.append(
        ("ack (one range)", None, len(encode_ack(ack)), compact({"v": 1, "epoch": ack.epoch, "ranges": ack.ranges}))
    )
    presence = PresenceFrame(True, EPOCH, WALL, True)
    assert decode_presence(encode_presence(presence)) == presence
    presence_json = {"v": 1, "online": True, "epoch": EPOCH, "wall_ms": WALL, "clock_synced": True}
    out.append(("presence (retained)", None, len(encode_presence(presence)), compact(presence_json)))

    one = UplinkFrame(EPOCH, (status_record(SEQ, running_snapshot(MONO), WALL),), DEVICE)
    uplink(f"status + device_id ({len(DEVICE)} chars)", None, one)
    far_seq, far_mono = 2**40, 5 * 365 * 86_400_000  # a stream of a trillion records, 5 years up
    uplink(
        "status, seq 2^40, up 5 years",
        None,
        UplinkFrame(EPOCH, (status_record(far_seq, running_snapshot(far_mono), WALL),)),
    )
    uplink("heartbeat, seq 2^40, up 5 years", None, UplinkFrame(EPOCH, (heartbeat_record(far_seq, far_mono, WALL),)))
    return out


def speed(seconds: float = 1.0) -> list[str]:
    """Decode rates on this machine, one core: what the collector can ingest per process."""
    single = encode_uplink(UplinkFrame(EPOCH, (status_record(SEQ, running_snapshot(MONO), WALL),)))
    batch = encode_uplink(batch_frame())
    lines = []
    for label, data, per in (("single status frame", single, 1), ("batch of 100 status records", batch, 100)):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                decode_uplink(data)
            n += 100
        rate = n / (time.perf_counter() - start)
        lines.append(f"decode {label:<28} {rate:>10,.0f} frames/s  {rate * per:>12,.0f} records/s")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true", help="also measure decode rates")
    parser.add_argument("--json", action="store_true", help="also print the table as one JSON line, last")
    args = parser.parse_args(argv)
    table = rows()
    print(f"{'frame':<34} {'msgpack B':>9} {'JSON B':>7} {'ratio':>6} {'goal B':>7}  result")
    missed = 0
    for label, goal_key, size, json_size in table:
        goal = GOALS.get(goal_key) if goal_key else None
        if goal is None:
            verdict, goal_text = "no goal", "-"
        else:
            verdict, goal_text = ("pass" if size <= goal else "FAIL"), f"<= {goal}"
            missed += size > goal
        print(f"{label:<34} {size:>9} {json_size:>7} {size / json_size:>6.0%} {goal_text:>7}  {verdict}")
    if args.speed:
        print()
        print("\n".join(speed()))
    if args.json:
        out = [{"frame": f, "goal": GOALS.get(g) if g else None, "msgpack": m, "json": j} for f, g, m, j in table]
        print(json.dumps(out))
    if missed:
        print(f"{missed} size goal(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
