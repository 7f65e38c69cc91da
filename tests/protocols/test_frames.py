"""The frame codec: golden bytes, round trips, strict decoding, and fuzzing that only FrameError escapes."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import frames
from protocols.events import BY_WIRE, CATALOG, Action, Event
from protocols.frames import (
    MAX_FRAME_BYTES,
    AckFrame,
    DoorCycle,
    FrameError,
    Heartbeat,
    PresenceFrame,
    Record,
    RecordKind,
    StopQuality,
    Trip,
    UplinkFrame,
    decode_ack,
    decode_presence,
    decode_uplink,
    encode_ack,
    encode_presence,
    encode_uplink,
)
from protocols.signals import Door, Mode, SignalSnapshot

U32 = 2**32 - 1
U48 = 2**48 - 1
I63 = 2**53 - 1  # the format's largest seq
I32 = 2**31 - 1
EPOCH = 0x5EED1234
WALL = 1_795_000_000_000  # 2026-11-18, a wall clock in the format's lifetime

IDLE = SignalSnapshot(259_200_123, 3, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)
RUN = SignalSnapshot(259_201_000, 4, 1, True, 1500, Door.CLOSED, False, True, True, True, False, True, Mode.NORMAL, 0)


def status(seq: int, snap: SignalSnapshot, wall_ms: int, synced: bool = True) -> Record:
    return Record(RecordKind.STATUS, seq, snap.t_ms, wall_ms, synced, snap)


GOLDEN: list[tuple[str, UplinkFrame, str]] = [
    (
        "status",
        UplinkFrame(EPOCH, (status(5000, IDLE, WALL + 123),)),
        "9613c4105eed123401a1ee565e7b8827fba8cc7b03007800",
    ),
    (
        "heartbeat",
        UplinkFrame(
            EPOCH, (Record(RecordKind.HEARTBEAT, 5001, 259_260_000, WALL + 60_000, True, Heartbeat(259_260, 0, True)),)
        ),
        "9417c4105eed123401a1ee5748608927e0fccf7b0100",
    ),
    (
        "event",
        UplinkFrame(
            EPOCH,
            (
                Record(
                    RecordKind.EVENT,
                    5002,
                    259_300_000,
                    WALL + 100_000,
                    False,
                    Event(259_299_500, "controller_fault", Action.RAISE, 4, 4102),
                ),
            ),
        ),
        "9614c4105eed123401a1ee57e4a08a27a0b5d27b10cd01f404cd1006",
    ),
    (
        "batch",
        UplinkFrame(
            EPOCH,
            (
                status(7, IDLE, WALL + 123),
                status(8, RUN, WALL + 1000),
                Record(
                    RecordKind.EVENT,
                    10,
                    259_201_100,
                    WALL + 1101,
                    True,
                    Event(259_201_000, "entrapment", Action.CLEAR, 4),
                ),
            ),
            "lift-07",
        ),
        "9418c40f5eed123401a1ee565e7b07fba8cc7ba76c6966742d30379397030000030078009703cd036d0004cd05dccd047300971564"
        "01176404c0",
    ),
    (
        "trip and door cycle",
        UplinkFrame(
            EPOCH,
            (
                Record(
                    RecordKind.TRIP,
                    20,
                    259_210_000,
                    WALL + 10_000,
                    True,
                    Trip(259_201_000, 259_210_000, 1, 7, 1600, StopQuality.LEVEL),
                ),
                Record(
                    RecordKind.DOOR_CYCLE,
                    21,
                    259_216_500,
                    WALL + 16_500,
                    True,
                    DoorCycle(259_210_400, 259_216_500, 7, 3000, 1),
                ),
            ),
        ),
        "9418c40f5eed123401a1ee5685101490f6cc7bc092980900000107cd2328cd064000970bcd19640007cd17d4cd0bb801",
    ),
    (
        "lone trip travels as a batch of one",
        UplinkFrame(
            EPOCH,
            (
                Record(
                    RecordKind.TRIP,
                    20,
                    259_210_000,
                    WALL + 10_000,
                    False,
                    Trip(259_201_000, 259_210_000, 7, 1, 1600, StopQuality.OUT_OF_ZONE),
                ),
            ),
        ),
        "9418c40f5eed123401a1ee5685101490f6cc7bc091980800000701cd2328cd064001",
    ),
]
GOLDEN_ACK = (AckFrame(EPOCH, ((1, 100), (105, 70000))), "931ace5eed123494016469ce00011170")
GOLDEN_PRESENCE = (PresenceFrame(False, EPOCH, WALL, True), "931dc40a5eed123401a1ee565e00c2")


# --- golden vectors: the wire format cannot drift silently ------------------------------------


@pytest.mark.parametrize(("name", "frame", "hexbytes"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_uplink(name: str, frame: UplinkFrame, hexbytes: str) -> None:
    assert encode_uplink(frame).hex() == hexbytes
    assert decode_uplink(bytes.fromhex(hexbytes)) == frame


def test_golden_ack_and_presence() -> None:
    ack, ack_hex = GOLDEN_ACK
    assert encode_ack(ack).hex() == ack_hex
    assert decode_ack(bytes.fromhex(ack_hex)) == ack
    presence, presence_hex = GOLDEN_PRESENCE
    assert encode_presence(presence).hex() == presence_hex
    assert decode_presence(bytes.fromhex(presence_hex)) == presence


def test_golden_trip_is_positional_msgpack() -> None:
    """The trip and door-cycle layout, read with plain msgpack: [rhead, d_mono, d_wall, *body]."""
    obj = msgpack.unpackb(bytes.fromhex(GOLDEN[4][2]))
    assert obj[0] == 0x18 and obj[2] is None
    trip, door = obj[3]
    assert trip == [4 << 1 | 1, 0, 0, 1, 7, 9000, 1600, 0]  # from 1 to 7 in 9.0 s, 1.6 m/s, level
    assert door == [5 << 1 | 1, 6500, 0, 7, 6100, 3000, 1]  # at 7: 6.1 s cycle, 3.0 s open, 1 reopen


def test_trip_and_door_cycle_bodies_are_checked() -> None:
    start_after_stop = Trip(10, 5, 1, 2, 100, StopQuality.LEVEL)
    with pytest.raises(FrameError) as err:
        encode_uplink(UplinkFrame(EPOCH, (Record(RecordKind.TRIP, 1, 5, WALL, True, start_after_stop),)))
    assert err.value.reason == "out_of_range"
    with pytest.raises(FrameError) as err:
        encode_uplink(UplinkFrame(EPOCH, (Record(RecordKind.TRIP, 1, 9, WALL, True, start_after_stop),)))
    assert err.value.reason == "bad_value"  # stop_ms is the record's time
    with pytest.raises(FrameError) as err:
        encode_uplink(UplinkFrame(EPOCH, (Record(RecordKind.DOOR_CYCLE, 1, 9, WALL, True, IDLE),)))
    assert err.value.reason == "bad_type"
    too_open = DoorCycle(0, 100, 1, 101, 0)
    with pytest.raises(FrameError) as err:
        encode_uplink(UplinkFrame(EPOCH, (Record(RecordKind.DOOR_CYCLE, 1, 100, WALL, True, too_open),)))
    assert err.value.reason == "out_of_range"


def leb128(n: int) -> bytes:
    """Unsigned LEB128, written independently of the codec."""
    groups = [(n >> shift) & 0x7F for shift in range(0, max(n.bit_length(), 1), 7)]
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def stamp(seq: int = 5, mono_ms: int = 1000, epoch: int = EPOCH, wall_ms: int = WALL) -> bytes:
    return epoch.to_bytes(4, "big") + wall_ms.to_bytes(6, "big") + leb128(seq) + leb128(mono_ms)


ST = stamp()


def test_leb128_helper() -> None:
    assert leb128(0) == b"\x00" and leb128(127) == b"\x7f" and leb128(300) == b"\xac\x02"


def test_golden_status_is_positional_msgpack() -> None:
    """The layout the docstring draws: [head, stamp(epoch, wall, seq, mono), floor, speed, bits, fault]."""
    obj = msgpack.unpackb(bytes.fromhex(GOLDEN[0][2]))
    head, stamp_bytes, floor, speed, bits, fault = obj
    assert head == 1 << 4 | 1 << 1 | 1
    assert stamp_bytes == stamp(5000, IDLE.t_ms, wall_ms=WALL + 123)
    assert (floor, speed, fault) == (3, 0, 0)
    assert bits == 8 | 16 | 32 | 64  # door_zone, door_lock, safety_circuit, power


def test_decoded_types_are_the_domain_types() -> None:
    frame = decode_uplink(bytes.fromhex(GOLDEN[3][2]))
    snap = frame.records[1].body
    assert isinstance(snap, SignalSnapshot)
    assert type(snap.door) is Door and type(snap.mode) is Mode and type(snap.running) is bool
    assert snap.occupied is True and snap.direction == 1
    event = frame.records[2].body
    assert isinstance(event, Event) and type(event.action) is Action and event.action is Action.CLEAR
    assert frame.records[2].kind is RecordKind.EVENT


# --- hypothesis strategies ---------------------------------------------------------------------

device_ids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=64)


@st.composite
def snapshots(draw: st.DrawFn, t_ms: int) -> SignalSnapshot:
    return SignalSnapshot(
        t_ms,
        draw(st.integers(-(2**31), I32)),
        draw(st.sampled_from([-1, 0, 1])),
        draw(st.booleans()),
        draw(st.integers(0, I32)),
        draw(st.sampled_from(list(Door))),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.sampled_from([None, False, True])),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.sampled_from(list(Mode))),
        draw(st.integers(0, I32)),
    )


@st.composite
def bodies(draw: st.DrawFn, kind: RecordKind, mono_ms: int) -> frames.Body:
    if kind is RecordKind.TRIP:
        return Trip(
            draw(st.integers(0, mono_ms)),
            mono_ms,
            draw(st.integers(-(2**31), I32)),
            draw(st.integers(-(2**31), I32)),
            draw(st.integers(0, I32)),
            draw(st.sampled_from(list(StopQuality))),
        )
    if kind is RecordKind.DOOR_CYCLE:
        start = draw(st.integers(0, mono_ms))
        floor = draw(st.integers(-(2**31), I32))
        return DoorCycle(start, mono_ms, floor, draw(st.integers(0, mono_ms - start)), draw(st.integers(0, I32)))
    if kind is RecordKind.STATUS:
        return draw(snapshots(mono_ms))
    if kind is RecordKind.EVENT:
        return Event(
            draw(st.integers(0, U48)),
            draw(st.sampled_from([e.name for e in CATALOG])),
            draw(st.sampled_from(list(Action))),
            draw(st.none() | st.integers(-(2**31), I32)),
            draw(st.none() | st.integers(0, I32)),
        )
    return Heartbeat(draw(st.integers(0, U48)), draw(st.integers(0, U48)), draw(st.booleans()))


@st.composite
def records(draw: st.DrawFn, seq: int) -> Record:
    kind = draw(st.sampled_from(list(RecordKind)))
    # Mostly realistic clocks (small steps), sometimes anywhere in range (reboots, clock steps).
    mono = draw(st.integers(0, U48) | st.integers(0, 10**9))
    wall = draw(st.integers(0, U48) | st.integers(WALL, WALL + 10**9))
    return Record(kind, seq, mono, wall, draw(st.booleans()), draw(bodies(kind, mono)))


@st.composite
def uplink_frames(draw: st.DrawFn) -> UplinkFrame:
    seqs = sorted(draw(st.sets(st.integers(1, I63) | st.integers(1, 1000), min_size=1, max_size=6)))
    return UplinkFrame(
        draw(st.integers(0, U32)),
        tuple(draw(records(s)) for s in seqs),
        draw(st.none() | device_ids),
    )


ack_frames = st.builds(
    AckFrame,
    st.integers(0, U32),
    st.lists(
        st.tuples(st.integers(1, I63), st.integers(0, 10**6)).map(lambda p: (p[0], min(I63, p[0] + p[1]))),
        min_size=1,
        max_size=20,
    ).map(tuple),
)
presence_frames = st.builds(PresenceFrame, st.booleans(), st.integers(0, U32), st.integers(0, U48), st.booleans())

# Hypothesis cases in the fuzz tests: 4200 + 4000 + 1500 + 300 = 10,000, on top of the seeded loop below.
ROUND_TRIP = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def fuzz(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@ROUND_TRIP
@given(uplink_frames())
def test_uplink_round_trip(frame: UplinkFrame) -> None:
    data = encode_uplink(frame)
    assert decode_uplink(data) == frame
    assert encode_uplink(decode_uplink(data)) == data


@ROUND_TRIP
@given(ack_frames)
def test_ack_round_trip(frame: AckFrame) -> None:
    assert decode_ack(encode_ack(frame)) == frame


@ROUND_TRIP
@given(presence_frames)
def test_presence_round_trip(frame: PresenceFrame) -> None:
    assert decode_presence(encode_presence(frame)) == frame


# --- fuzzing: only FrameError may escape ---------------------------------------------------------

DECODERS: tuple[Callable[[bytes], object], ...] = (decode_uplink, decode_ack, decode_presence)


def only_frame_errors(data: bytes) -> int:
    """Feed `data` to every decoder; anything but a result or a FrameError fails the test."""
    rejected = 0
    for decode in DECODERS:
        try:
            decode(data)
        except FrameError as exc:
            assert exc.reason and isinstance(exc.reason, str)
            rejected += 1
    return rejected


@fuzz(4200)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    assert only_frame_errors(data) >= 2  # no byte string is at once an uplink, an ack and a presence


def random_record(rnd: random.Random, seq: int) -> Record:
    """A cheap valid record with values drawn across their whole ranges (for pools and loops)."""
    kind = rnd.choice(list(RecordKind))
    mono = rnd.choice([rnd.randrange(10**9), rnd.randrange(U48 + 1)])
    wall = rnd.choice([WALL + rnd.randrange(10**9), rnd.randrange(U48 + 1)])
    body: frames.Body
    if kind is RecordKind.TRIP:
        start = rnd.randint(0, mono)
        floors = rnd.randint(-3, 40), rnd.randint(-3, 40)
        body = Trip(start, mono, *floors, rnd.randrange(4000), rnd.choice(list(StopQuality)))
    elif kind is RecordKind.DOOR_CYCLE:
        start = rnd.randint(0, mono)
        body = DoorCycle(start, mono, rnd.randint(-3, 40), rnd.randint(0, mono - start), rnd.choice([0, 1, 5]))
    elif kind is RecordKind.STATUS:
        body = SignalSnapshot(
            mono,
            rnd.randint(-(2**31), I32),
            rnd.choice([-1, 0, 1]),
            rnd.random() < 0.5,
            rnd.choice([0, rnd.randrange(3000), I32]),
            rnd.choice(list(Door)),
            rnd.random() < 0.5,
            rnd.random() < 0.5,
            rnd.random() < 0.5,
            rnd.choice([None, False, True]),
            rnd.random() < 0.5,
            rnd.random() < 0.5,
            rnd.choice(list(Mode)),
            rnd.choice([0, 4102, I32]),
        )
    elif kind is RecordKind.EVENT:
        body = Event(
            rnd.randrange(U48 + 1),
            rnd.choice(CATALOG).name,
            rnd.choice(list(Action)),
            rnd.choice([None, rnd.randint(-3, 40)]),
            rnd.choice([None, rnd.randrange(70000)]),
        )
    else:
        body = Heartbeat(rnd.randrange(U48 + 1), rnd.choice([0, rnd.randrange(10**6)]), rnd.random() < 0.5)
    return Record(kind, seq, mono, wall, rnd.random() < 0.5, body)


def random_uplink(rnd: random.Random) -> UplinkFrame:
    seq = rnd.choice([1, rnd.randrange(1, I63)])
    recs = []
    for _ in range(rnd.choice([1, 1, 2, rnd.randint(3, 30)])):
        recs.append(random_record(rnd, seq))
        seq = min(I63, seq + rnd.choice([1, 1, 1, 2, 100, 10**12]))
        if recs[-1].seq == seq:
            break
    return UplinkFrame(rnd.randrange(U32 + 1), tuple(recs), rnd.choice([None, "lift-07", "x" * 64]))


def test_seeded_uplink_round_trips() -> None:
    rnd = random.Random(7)
    batches = 0
    for _ in range(3000):
        frame = random_uplink(rnd)
        data = encode_uplink(frame)
        assert decode_uplink(data) == frame
        batches += data[1] == 0x18
    assert 500 < batches < 2900  # both single and batch frames were exercised


def _pool() -> list[bytes]:
    rnd = random.Random(11)
    pool = [bytes.fromhex(g[2]) for g in GOLDEN] + [bytes.fromhex(GOLDEN_ACK[1]), bytes.fromhex(GOLDEN_PRESENCE[1])]
    pool += [encode_uplink(random_uplink(rnd)) for _ in range(200)]
    pool += [
        encode_ack(AckFrame(rnd.randrange(U32), ((1, rnd.randrange(1, 10**6)),) * rnd.randint(1, 5))) for _ in range(20)
    ]
    pool += [encode_presence(PresenceFrame(rnd.random() < 0.5, rnd.randrange(U32), WALL, True)) for _ in range(10)]
    return pool


VALID_POOL = _pool()


# Mutation programs as plain bytes (one cheap draw for hypothesis): 4 bytes per step, op + pos + value.
MUTATIONS = st.binary(min_size=4, max_size=16)


def mutate(data: bytes, program: bytes) -> bytes:
    """Bit flip, truncation, insertion, deletion or overwrite, at positions taken modulo the length."""
    out = bytearray(data)
    for i in range(0, len(program) - 3, 4):
        op, pos, byte = program[i] % 5, program[i + 1] << 8 | program[i + 2], program[i + 3]
        pos %= len(out) + 1
        if op == 0 and pos < len(out):
            out[pos] ^= 1 << (byte & 7)
        elif op == 1:
            del out[pos:]
        elif op == 2:
            out[pos:pos] = bytes([byte])
        elif op == 3 and pos < len(out):
            del out[pos]
        elif pos < len(out):
            out[pos] = byte
    return bytes(out)


@fuzz(4000)
@given(st.sampled_from(VALID_POOL), MUTATIONS)
def test_fuzz_mutated_valid_frames(frame: bytes, program: bytes) -> None:
    only_frame_errors(mutate(frame, program))


@fuzz(300)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text() | st.binary(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=10,
    )
)
def test_fuzz_well_formed_msgpack_of_wrong_shape(obj: object) -> None:
    """Valid msgpack that is not a frame (the decoder's type and shape checks, past msgpack's)."""
    only_frame_errors(msgpack.packb(obj))


@fuzz(1500)
@given(
    st.lists(
        st.integers(-(2**63), 2**64 - 1)
        | st.none()
        | st.booleans()
        | st.binary(max_size=26)
        | st.sampled_from([ST, ST[:10], stamp(2**40, 2**40)]),
        max_size=7,
    )
)
def test_fuzz_frame_shaped_arrays(tail: list[object]) -> None:
    """Arrays that start with a valid head: exercises the field checks rather than the version check."""
    for head in (0x12, 0x13, 0x14, 0x17, 0x18, 0x1A, 0x1D):
        only_frame_errors(msgpack.packb([head, *tail]))


def test_fuzz_seeded_mutations_of_golden_frames() -> None:
    """30,000 cheap deterministic mutations on top of hypothesis's cases (bit flips, cuts, inserts)."""
    rnd = random.Random(20261129)
    seeds = [bytes.fromhex(g[2]) for g in GOLDEN] + [bytes.fromhex(GOLDEN_ACK[1]), bytes.fromhex(GOLDEN_PRESENCE[1])]
    accepted = 0
    for _ in range(30_000):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 3)):
            op = rnd.randrange(4)
            pos = rnd.randrange(len(data) + 1)
            if op == 0 and pos < len(data):
                data[pos] ^= 1 << rnd.randrange(8)
            elif op == 1:
                del data[pos:]
            elif op == 2:
                data[pos:pos] = bytes([rnd.randrange(256)])
            elif pos < len(data):
                data[pos] = rnd.randrange(256)
        accepted += 3 - only_frame_errors(bytes(data))
    assert accepted > 0  # some flips only change a value: they must decode, not crash


# --- strict decoding, case by case ---------------------------------------------------------------

GOOD_STATUS = [0x13, ST, 3, 0, 0x78, 0]
GOOD_BATCH = [0x18, ST, None, [[3, 0, 0, 3, 0, 0x78, 0], [3, 100, 0, 3, 0, 0x78, 0]]]


def test_the_hand_built_frames_are_valid() -> None:
    assert decode_uplink(msgpack.packb(GOOD_STATUS)).records[0].seq == 5
    assert [r.seq for r in decode_uplink(msgpack.packb(GOOD_BATCH)).records] == [5, 6]


def replace(obj: list[object], index: int, value: object) -> list[object]:
    out = list(obj)
    out[index] = value
    return out


BAD_UPLINKS: list[tuple[str, object, str]] = [
    ("not an array", {"v": 1}, "bad_shape"),
    ("empty array", [], "bad_shape"),
    ("unknown version 2", replace(GOOD_STATUS, 0, 0x23), "bad_version"),
    ("version 0", replace(GOOD_STATUS, 0, 0x03), "bad_version"),
    ("head is a string", replace(GOOD_STATUS, 0, "x"), "bad_type"),
    ("head is a bool", replace(GOOD_STATUS, 0, True), "bad_type"),
    ("head is negative", replace(GOOD_STATUS, 0, -13), "bad_version"),
    ("ack kind on the uplink", replace(GOOD_STATUS, 0, 0x1A), "bad_kind"),
    ("presence kind on the uplink", replace(GOOD_STATUS, 0, 0x1D), "bad_kind"),
    ("kind 0", replace(GOOD_STATUS, 0, 0x10), "bad_kind"),
    ("kind 7", replace(GOOD_STATUS, 0, 0x1E), "bad_kind"),
    ("stamp without varints", replace(GOOD_STATUS, 1, ST[:10]), "bad_type"),
    ("stamp is a string", replace(GOOD_STATUS, 1, "0123456789ab"), "bad_type"),
    ("stamp is an int", replace(GOOD_STATUS, 1, 5), "bad_type"),
    ("stamp ends inside a varint", replace(GOOD_STATUS, 1, ST[:10] + b"\x05\x80"), "bad_stamp"),
    ("stamp with a byte after the varints", replace(GOOD_STATUS, 1, ST + b"\x00"), "bad_stamp"),
    ("stamp with a non-minimal varint", replace(GOOD_STATUS, 1, ST[:10] + b"\x85\x00\x01"), "bad_stamp"),
    ("stamp over 25 bytes", replace(GOOD_STATUS, 1, ST[:10] + b"\x81" * 15 + b"\x01"), "bad_type"),
    ("seq zero", replace(GOOD_STATUS, 1, stamp(seq=0)), "out_of_range"),
    ("seq above 2^53 - 1", replace(GOOD_STATUS, 1, stamp(seq=2**53)), "out_of_range"),
    ("mono past 2^48 - 1", replace(GOOD_STATUS, 1, stamp(mono_ms=2**48)), "out_of_range"),
    ("missing field", GOOD_STATUS[:-1], "bad_shape"),
    ("extra field", [*GOOD_STATUS, 0], "bad_shape"),
    ("envelope only", GOOD_STATUS[:2], "bad_shape"),
    ("head only", GOOD_STATUS[:1], "bad_shape"),
    ("floor is a bool", replace(GOOD_STATUS, 2, True), "bad_type"),
    ("floor is a float", replace(GOOD_STATUS, 2, 3.0), "bad_type"),
    ("floor beyond int32", replace(GOOD_STATUS, 2, 2**31), "out_of_range"),
    ("speed negative", replace(GOOD_STATUS, 3, -1), "out_of_range"),
    ("status bits too wide", replace(GOOD_STATUS, 4, 1 << 14), "out_of_range"),
    ("direction code 3", replace(GOOD_STATUS, 4, 0x78 | 6), "out_of_range"),
    ("occupied code 3", replace(GOOD_STATUS, 4, 0x78 | 3 << 9), "out_of_range"),
    ("status bits negative", replace(GOOD_STATUS, 4, -1), "out_of_range"),
    ("status bits nil", replace(GOOD_STATUS, 4, None), "bad_type"),
    ("fault code negative", replace(GOOD_STATUS, 5, -1), "out_of_range"),
    ("unknown event wire code", [0x14, ST, 3 << 1, 0, None, None], "unknown_event"),
    ("event wire code 0", [0x14, ST, 0, 0, None, None], "unknown_event"),
    ("event code past one byte", [0x14, ST, 512, 0, None, None], "out_of_range"),
    ("event time before 0", [0x14, ST, 22, 1001, None, None], "out_of_range"),
    ("event floor is a string", [0x14, ST, 22, 0, "4", None], "bad_type"),
    ("event fault negative", [0x14, ST, 16, 0, None, -1], "out_of_range"),
    ("event missing field", [0x14, ST, 22, 0, None], "bad_shape"),
    ("heartbeat extra field", [0x17, ST, 1, 0, 0], "bad_shape"),
    ("heartbeat uptime negative", [0x17, ST, 1, 2], "out_of_range"),
    ("heartbeat depth negative", [0x17, ST, -2, 0], "out_of_range"),
    ("batch with synced bit", replace(GOOD_BATCH, 0, 0x19), "bad_value"),
    ("batch missing records", GOOD_BATCH[:3], "bad_shape"),
    ("batch with no records", replace(GOOD_BATCH, 3, []), "bad_shape"),
    ("batch records not an array", replace(GOOD_BATCH, 3, {"a": 1}), "bad_shape"),
    ("batch device id with '/'", replace(GOOD_BATCH, 2, "a/b"), "bad_device_id"),
    ("batch device id with '+'", replace(GOOD_BATCH, 2, "+"), "bad_device_id"),
    ("batch device id empty", replace(GOOD_BATCH, 2, ""), "bad_device_id"),
    ("batch device id too long", replace(GOOD_BATCH, 2, "d" * 65), "bad_device_id"),
    ("batch device id is bytes", replace(GOOD_BATCH, 2, b"lift"), "bad_type"),
    ("batch seq0 zero", replace(GOOD_BATCH, 1, stamp(seq=0)), "out_of_range"),
    ("batch record kind 6", replace(GOOD_BATCH, 3, [[13, 0, 0, 3, 0, 0x78, 0]]), "bad_kind"),
    ("batch record kind 7", replace(GOOD_BATCH, 3, [[15, 0, 0, 3, 0, 0x78, 0]]), "bad_kind"),
    ("trip with 4 fields", replace(GOOD_BATCH, 3, [[9, 0, 0, 3, 4, 0, 0]]), "bad_shape"),
    ("trip longer than the clock", replace(GOOD_BATCH, 3, [[9, 0, 0, 3, 4, 10**9, 0, 0]]), "out_of_range"),
    ("trip stop quality 3", replace(GOOD_BATCH, 3, [[9, 0, 0, 3, 4, 10, 0, 3]]), "out_of_range"),
    ("trip floor is a string", replace(GOOD_BATCH, 3, [[9, 0, 0, "3", 4, 10, 0, 0]]), "bad_type"),
    ("door cycle with 5 fields", replace(GOOD_BATCH, 3, [[11, 0, 0, 3, 10, 5, 0, 0]]), "bad_shape"),
    ("door cycle open longer than the cycle", replace(GOOD_BATCH, 3, [[11, 0, 0, 3, 10, 11, 0]]), "out_of_range"),
    ("door cycle negative reopens", replace(GOOD_BATCH, 3, [[11, 0, 0, 3, 10, 5, -1]]), "out_of_range"),
    ("batch record head negative", replace(GOOD_BATCH, 3, [[-1, 0, 0, 3, 0, 0x78, 0]]), "bad_type"),
    ("batch record delta is nil", replace(GOOD_BATCH, 3, [[3, None, 0, 3, 0, 0x78, 0]]), "bad_type"),
    ("batch first record with a gap", replace(GOOD_BATCH, 3, [[0x13, 0, 0, 3, 0, 0x78, 0]]), "bad_value"),
    ("batch first record with d_mono", replace(GOOD_BATCH, 3, [[3, 5, 0, 3, 0, 0x78, 0]]), "bad_value"),
    ("batch first record with d_wall", replace(GOOD_BATCH, 3, [[3, 0, -5, 3, 0, 0x78, 0]]), "bad_value"),
    ("batch mono below 0", replace(GOOD_BATCH, 3, [GOOD_BATCH[3][0], [3, -1001, 0, 3, 0, 0x78, 0]]), "out_of_range"),
    ("batch wall past 2^48", replace(GOOD_BATCH, 3, [GOOD_BATCH[3][0], [3, 0, 2**48, 3, 0, 0x78, 0]]), "out_of_range"),
    (
        "batch seq past 2^53",
        replace(GOOD_BATCH, 3, [GOOD_BATCH[3][0], [(2**53) << 4 | 3, 0, 0, 3, 0, 0x78, 0]]),
        "out_of_range",
    ),
    ("batch record too short", replace(GOOD_BATCH, 3, [[3, 0]]), "bad_shape"),
    ("batch record not an array", replace(GOOD_BATCH, 3, [7]), "bad_shape"),
    ("batch record body short", replace(GOOD_BATCH, 3, [[3, 0, 0, 3, 0, 0x78]]), "bad_shape"),
    ("batch extra field", [*GOOD_BATCH, None], "bad_shape"),
]


@pytest.mark.parametrize(("case", "obj", "reason"), BAD_UPLINKS, ids=[c[0] for c in BAD_UPLINKS])
def test_strict_uplink(case: str, obj: object, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_uplink(msgpack.packb(obj))
    assert err.value.reason == reason, str(err.value)


def test_every_unknown_wire_code_is_refused() -> None:
    for wire in range(256):
        data = msgpack.packb([0x14, ST, wire << 1, 0, None, None])
        if wire in BY_WIRE:
            body = decode_uplink(data).records[0].body
            assert isinstance(body, Event) and body.type == BY_WIRE[wire].name
        else:
            with pytest.raises(FrameError, match="unknown_event"):
                decode_uplink(data)


@pytest.mark.parametrize(
    ("case", "data", "reason"),
    [
        ("trailing bytes", bytes.fromhex(GOLDEN[0][2]) + b"\x00", "trailing_bytes"),
        ("truncated", bytes.fromhex(GOLDEN[0][2])[:-1], "not_msgpack"),
        ("empty", b"", "not_msgpack"),
        ("reserved byte 0xc1", b"\xc1", "not_msgpack"),
        ("invalid utf-8 string", b"\x92\x13\xa2\xff\xfe", "not_msgpack"),
        ("map with an int key", b"\x81\x01\x02", "not_msgpack"),
        ("deep nesting", b"\x91" * 100_000, "too_large"),
        ("deep nesting under the limit", b"\x91" * 60_000, "not_msgpack"),
        ("array header claiming 2^32 items", b"\xdd\xff\xff\xff\xff", "not_msgpack"),
        ("over MAX_FRAME_BYTES", b"\x00" * (MAX_FRAME_BYTES + 1), "too_large"),
        ("a str, not bytes", "9813", "bad_type"),
        ("an ext type", msgpack.packb([0x13, msgpack.ExtType(5, ST), 3, 0, 0x78, 0]), "bad_type"),
    ],
)
def test_strict_bytes(case: str, data: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_uplink(data)
    assert err.value.reason == reason, str(err.value)


def test_a_bytearray_or_memoryview_decodes_like_bytes() -> None:
    data = bytes.fromhex(GOLDEN[0][2])
    assert decode_uplink(bytearray(data)) == decode_uplink(memoryview(data)) == GOLDEN[0][1]


@pytest.mark.parametrize(
    ("case", "obj", "reason"),
    [
        ("uplink head", GOOD_STATUS, "bad_kind"),
        ("synced bit on an ack", [0x1B, 1, [1, 2]], "bad_kind"),
        ("no ranges", [0x1A, 1, []], "bad_shape"),
        ("odd range list", [0x1A, 1, [1, 2, 3]], "bad_shape"),
        ("hi below lo", [0x1A, 1, [5, 4]], "out_of_range"),
        ("lo zero", [0x1A, 1, [0, 4]], "out_of_range"),
        ("epoch past 32 bits", [0x1A, 2**32, [1, 2]], "out_of_range"),
        ("epoch as bytes", [0x1A, b"\x01", [1, 2]], "bad_type"),
        ("extra field", [0x1A, 1, [1, 2], 0], "bad_shape"),
    ],
)
def test_strict_ack(case: str, obj: object, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_ack(msgpack.packb(obj))
    assert err.value.reason == reason, str(err.value)


@pytest.mark.parametrize(
    ("case", "obj", "reason"),
    [
        ("ack head", [0x1A, 1, [1, 2]], "bad_kind"),
        ("online as int", [0x1D, ST[:10], 1], "bad_type"),
        ("missing online", [0x1D, ST[:10]], "bad_shape"),
        ("uplink stamp on presence", [0x1D, ST, True], "bad_type"),
        ("stamp as int", [0x1D, 5, True], "bad_type"),
    ],
)
def test_strict_presence(case: str, obj: object, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_presence(msgpack.packb(obj))
    assert err.value.reason == reason, str(err.value)


# --- encoding refuses what could not be decoded ------------------------------------------------


def _bad(record_kwargs: dict[str, object]) -> Record:
    fields: dict[str, object] = {
        "kind": RecordKind.STATUS,
        "seq": 1,
        "mono_ms": IDLE.t_ms,
        "wall_ms": WALL,
        "clock_synced": True,
        "body": IDLE,
    }
    fields.update(record_kwargs)
    return Record(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "frame", "reason"),
    [
        ("no records", UplinkFrame(1, ()), "empty"),
        ("epoch past 32 bits", UplinkFrame(2**32, (_bad({}),)), "out_of_range"),
        ("seq zero", UplinkFrame(1, (_bad({"seq": 0}),)), "out_of_range"),
        ("wall negative", UplinkFrame(1, (_bad({"wall_ms": -1}),)), "out_of_range"),
        ("t_ms differs from mono", UplinkFrame(1, (_bad({"mono_ms": 5}),)), "bad_value"),
        ("body of another kind", UplinkFrame(1, (_bad({"kind": RecordKind.HEARTBEAT}),)), "bad_type"),
        ("bad door", UplinkFrame(1, (_bad({"body": IDLE._replace(door="ajar")}),)), "bad_value"),
        ("bad direction", UplinkFrame(1, (_bad({"body": IDLE._replace(direction=2)}),)), "bad_value"),
        ("floor is a str", UplinkFrame(1, (_bad({"body": IDLE._replace(floor="3")}),)), "bad_type"),
        (
            "unknown event",
            UplinkFrame(1, (_bad({"kind": RecordKind.EVENT, "body": Event(1, "boom", Action.RAISE)}),)),
            "unknown_event",
        ),
        ("seq going back", UplinkFrame(1, (_bad({"seq": 2}), _bad({"seq": 2}))), "bad_order"),
        ("bad device id", UplinkFrame(1, (_bad({}),), "lift#1"), "bad_device_id"),
        ("empty device id", UplinkFrame(1, (_bad({}),), ""), "bad_device_id"),
    ],
)
def test_encode_refuses(case: str, frame: UplinkFrame, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        encode_uplink(frame)
    assert err.value.reason == reason, str(err.value)


def test_encode_refuses_bad_acks_and_oversized_frames() -> None:
    for ack in (AckFrame(1, ()), AckFrame(1, ((3, 2),)), AckFrame(1, ((0, 2),)), AckFrame(1, ((1, 2, 3),))):  # type: ignore[arg-type]
        with pytest.raises(FrameError):
            encode_ack(ack)
    many = tuple(status(i, IDLE._replace(t_ms=i), WALL) for i in range(1, 10_000))
    with pytest.raises(FrameError, match="too_large"):
        encode_uplink(UplinkFrame(1, many))


def test_one_record_with_a_device_id_travels_as_a_batch_of_one() -> None:
    frame = UplinkFrame(EPOCH, (status(1, IDLE, WALL),), "lift-1")
    data = encode_uplink(frame)
    assert data[1] == 0x18
    assert decode_uplink(data) == frame


def test_reboot_inside_a_batch_keeps_exact_clocks() -> None:
    """Monotonic time restarts after a reboot while the outbox (and its epoch) survives."""
    before = status(41, IDLE._replace(t_ms=U48), WALL + 10_000, synced=True)
    after = status(42, IDLE._replace(t_ms=0), 5, synced=False)  # clock not yet synced: 1970
    frame = UplinkFrame(EPOCH, (before, after))
    assert decode_uplink(encode_uplink(frame)) == frame


def test_frame_error_is_a_value_error_with_reason() -> None:
    err = FrameError("bad_kind", "frame kind 7")
    assert isinstance(err, ValueError)
    assert err.reason == "bad_kind" and str(err) == "bad_kind: frame kind 7"
    assert frames.FORMAT_VERSION == 1 and MAX_FRAME_BYTES == 65_536
