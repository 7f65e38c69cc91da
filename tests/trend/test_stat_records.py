"""Trip and door-cycle records with trend watch's statistics: the long bodies round-trip, the short
bodies of agents without them still decode (tail defaults), and bad tails are refused."""

from __future__ import annotations

import msgpack
import pytest

from protocols.frames import (
    DoorCycle,
    FrameError,
    Record,
    RecordKind,
    StopQuality,
    Trip,
    UplinkFrame,
    decode_uplink,
    encode_uplink,
)

TRIP = Trip(1000, 9000, 1, 7, 1600, StopQuality.LEVEL, True, 640, 12_345, 3_600)
DOOR = DoorCycle(9300, 15_300, 7, 3000, 1, 2100, 2600, 300, 4321)


def _frame(*bodies: Trip | DoorCycle) -> UplinkFrame:
    records = []
    for seq, body in enumerate(bodies, 1):
        kind = RecordKind.TRIP if isinstance(body, Trip) else RecordKind.DOOR_CYCLE
        mono = body.stop_ms if isinstance(body, Trip) else body.end_ms
        records.append(Record(kind, seq, mono, 1_700_000_000_000 + mono, True, body))
    return UplinkFrame(7, tuple(records))


def test_long_bodies_round_trip_and_short_ones_keep_their_bytes() -> None:
    long = _frame(TRIP, DOOR)
    assert decode_uplink(encode_uplink(long)) == long
    old_trip = Trip(1000, 9000, 1, 7, 1600, StopQuality.LEVEL)
    old_door = DoorCycle(9300, 15_300, 7, 3000, 1)
    short = encode_uplink(_frame(old_trip, old_door))
    items = msgpack.unpackb(short)[3]
    assert [len(item) - 3 for item in items] == [5, 4]  # an agent without statistics sends what it did before
    back = decode_uplink(short).records
    assert back[0].body == old_trip and back[1].body == old_door
    assert not back[0].body.has_stats and back[0].body.stopping_ms is None  # type: ignore[union-attr]


def test_unmeasured_figures_travel_as_nil() -> None:
    trip = Trip(1000, 9000, 1, 1, 280, StopQuality.LEVEL, True, None, None, None)
    door = DoorCycle(9300, 15_300, 7, 3000, 0, 2100, 2600, None, 3)
    frame = _frame(trip, door)
    assert decode_uplink(encode_uplink(frame)) == frame


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (Trip(1000, 9000, 1, 7, 1600, StopQuality.LEVEL, False, -1, 1, 1), "out_of_range"),
        (Trip(1000, 9000, 1, 7, 1600, StopQuality.LEVEL, False, 10, 1, 1.5), "bad_type"),  # type: ignore[arg-type]
        (DoorCycle(9300, 15_300, 7, 3000, 1, 6001, 2600, 300, 1), "out_of_range"),  # longer than the cycle
        (DoorCycle(9300, 15_300, 7, 3000, 1, 2100, 2600, 300, -4), "out_of_range"),
    ],
)
def test_bad_statistics_are_refused_on_encoding(body: Trip | DoorCycle, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        encode_uplink(_frame(body))
    assert err.value.reason == reason


def test_bad_tails_are_refused_on_decoding() -> None:
    good = msgpack.unpackb(encode_uplink(_frame(TRIP, DOOR)))
    for index, field, value, reason in (
        (0, 8, 2, "out_of_range"),  # relevel is 0 or 1
        (0, 9, "x", "bad_type"),
        (1, 7, 99_999, "out_of_range"),  # opening longer than the cycle
    ):
        bad = [good[0], good[1], good[2], [list(r) for r in good[3]]]
        bad[3][index][field] = value
        with pytest.raises(FrameError) as err:
            decode_uplink(msgpack.packb(bad, use_bin_type=True))
        assert err.value.reason == reason, (index, field)
    cut = [good[0], good[1], good[2], [good[3][0][:10]]]  # a tail must be whole
    with pytest.raises(FrameError, match="expected 5 or 9"):
        decode_uplink(msgpack.packb(cut, use_bin_type=True))
