"""Which trip and door-cycle records keep their statistics tail on the wire (edge_agent.report.tails)."""

from __future__ import annotations

from edge_agent.report.tails import TailPolicy
from protocols.frames import DoorCycle, Record, RecordKind, StopQuality, Trip, UplinkFrame, decode_uplink, encode_uplink


def trip(stop_ms: int, relevel: bool = False, quality: StopQuality = StopQuality.LEVEL) -> Trip:
    return Trip(stop_ms - 9000, stop_ms, 1, 7, 1600, quality, relevel, 640, 12, 300)


def door(end_ms: int) -> DoorCycle:
    return DoorCycle(end_ms - 6000, end_ms, 7, 3000, 0, 2100, 2600, 300, 40)


def test_first_record_then_one_per_period_carries_the_tail() -> None:
    tails = TailPolicy(stats_every_s=900)
    sent = [tails.wire(trip(t), t, full_rate=False).has_stats for t in range(10_000, 2_000_000, 100_000)]
    # t = 10 s (first), 910 s, 1810 s: one per 900 s
    assert sent == [i in (0, 9, 18) for i in range(len(sent))]
    doors = [tails.wire(door(t), t, full_rate=False) for t in (10_000, 20_000, 910_000)]
    assert [d.has_stats for d in doors] == [True, False, True]
    short = doors[1]
    assert isinstance(short, DoorCycle)
    assert (short.floor, short.open_ms, short.reopens, short.start_ms, short.end_ms) == (7, 3000, 0, 14_000, 20_000)


def test_relevels_and_unlevel_stops_always_carry_it() -> None:
    tails = TailPolicy(stats_every_s=900)
    assert tails.wire(trip(10_000), 10_000, False).has_stats
    assert not tails.wire(trip(20_000), 20_000, False).has_stats
    relevel = tails.wire(trip(30_000, relevel=True), 30_000, False)
    assert isinstance(relevel, Trip) and relevel.relevel and relevel.stopping_ms == 640
    assert tails.wire(trip(40_000, quality=StopQuality.OUT_OF_ZONE), 40_000, False).has_stats
    assert tails.wire(trip(50_000, quality=StopQuality.EMERGENCY), 50_000, False).has_stats
    assert not tails.wire(trip(60_000), 60_000, False).has_stats


def test_full_rate_and_zero_period_keep_every_tail() -> None:
    live = TailPolicy(stats_every_s=900)
    assert all(live.wire(trip(t), t, full_rate=True).has_stats for t in range(10_000, 100_000, 10_000))
    every = TailPolicy(stats_every_s=0)
    assert all(every.wire(door(t), t, full_rate=False).has_stats for t in range(10_000, 100_000, 10_000))


def test_a_thinned_record_is_the_short_wire_body_and_smaller() -> None:
    tails = TailPolicy(stats_every_s=900)
    tails.wire(trip(10_000), 10_000, False)
    full, thin = trip(20_000), tails.wire(trip(20_000), 20_000, False)

    def frame(body: Trip) -> bytes:
        return encode_uplink(UplinkFrame(7, (Record(RecordKind.TRIP, 1, 20_000, 1_700_000_020_000, True, body),)))

    assert len(frame(full)) - len(frame(thin)) == 8  # relevel 1, stopping 3, runs 1, running 3  # type: ignore[arg-type]
    back = decode_uplink(frame(thin)).records[0].body  # type: ignore[arg-type]
    assert back == Trip(11_000, 20_000, 1, 7, 1600, StopQuality.LEVEL)
