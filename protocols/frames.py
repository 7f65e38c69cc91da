"""The msgpack frames that travel between the edge agent and the collector over MQTT.

Every frame is one msgpack array. The device is not in the frame: it is the topic's `{device}`
segment, which the broker's ACL ties to the device's login (see `protocols.topics`). Frames are
positional, not keyed, and the time stamps are packed, because a gateway on a metered cellular
link sends one frame per status change and a heartbeat every minute, for years.

Byte 0 of the array is the *head*, one positive fixint that says what follows::

    head (1 byte, 0..127)
    bit   6 5 4      3 2 1     0
          version    kind      clock_synced
    version: 1 (FORMAT_VERSION); a head with another version is refused
    kind:    1 status, 2 event, 3 heartbeat (a single record)
             4 batch (many records), 5 ack, 6 presence, 7 command (collector -> agent)
    (trip and door-cycle records, record kinds 4 and 5, travel only inside batches: a lone one
    is a batch of one)
    clock_synced: the gateway's wall clock was synchronized (0 for batch and ack)

The *stamp* is a msgpack bin that packs the stream position and the clocks. msgpack has no 6-byte
integer and spends 5 bytes on any seq past 65,535; packed, a heartbeat stays within 24 bytes
for the first 2 million records of a stream and the first year of gateway uptime::

    stamp (bin 8: 0xc4, length, then 12..25 bytes)
    byte  0          4                10                    10+n
          +----------+----------------+---------------------+---------------------+
          | epoch    | wall_ms        | seq                 | mono_ms             |
          | u32 BE   | u48 BE         | varint, n=1..8      | varint, 1..7 bytes  |
          +----------+----------------+---------------------+---------------------+
    varint: unsigned LEB128, 7 bits a byte, low group first, high bit = more follows; minimal
    (no trailing 0x80 groups), and the two varints end exactly at the end of the bin.
    The presence stamp is the first 10 bytes only (no seq, no mono).

Single record (kind 1, 2, 3), the record's body fields flattened into the frame::

    [head, stamp(epoch, wall_ms, seq, mono_ms), *body]

Batch (kind 4): the stamp holds the first record's seq/mono/wall, every record carries its
differences to the record before it (the first: to the stamp, so its gap and deltas are 0)::

    [head, stamp(epoch, wall0, seq0, mono0), device_id | nil, [record, ...]]
    record = [rhead, d_mono, d_wall, *body]
    rhead  = (seq - prev_seq - 1) << 4 | kind << 1 | clock_synced     (1 byte while gaps < 8)
    d_mono = mono_ms - prev_mono_ms                                     (may be < 0 after a reboot)
    d_wall = (wall_ms - prev_wall_ms) - d_mono                          (0 while both clocks agree)

Bodies::

    status    [floor, speed_mm_s, bits, fault_code]      t_ms of the snapshot is mono_ms
    event     [wire << 1 | clear, mono_ms - t_ms, floor | nil, fault_code | nil, (flags)]
              flags (optional, only when not 0): bit 0 = a clear decided after the agent's restart
              for an alarm raised before it (frames without it decode as flags 0)
    heartbeat [outbox_depth << 1 | comms_ok, mono_ms // 1000 - uptime_s]
    trip      [from_floor, to_floor, stop_ms - start_ms, peak_speed_mm_s, stop_quality,
               (relevel, stopping_ms | nil, runs | nil, running_s | nil)]
                                                 stop_ms of the trip is mono_ms (the car stopped)
    door_cycle [floor, end_ms - start_ms, open_ms, reopens,
               (opening_ms | nil, closing_ms | nil, lock_ms | nil, cycles | nil)]
                                                 end_ms of the cycle is mono_ms (door closed again,
                                                 and locked when lock_ms is set)

    The bracketed tails (trip and door statistics, issue 18) are all present or all absent: an
    agent that does not measure them sends the short body, and short bodies decode with the tail's
    defaults (relevel 0, the rest nil). relevel: 1 when this run is a low-speed correction at the
    landing the car just stopped at, with the door still closed. stopping_ms: from the speed last
    falling below 300 mm/s to the stop. runs, running_s, cycles: the agent's counters since it
    started (running totals: a lost record loses nothing; a restart starts them at 0). Under the
    `budget` policy most records travel with the short body (edge_agent/report/tails.py).

    stop_quality: 0 level (stopped in the door zone), 1 outside the door zone,
                  2 emergency (stopped with the safety circuit open or without power)

    status bits (an int; the common states fit one byte)
    bit  0       running
    bits 2..1    direction: 0 none, 1 up, 2 down
    bit  3       door_zone
    bit  4       door_lock
    bit  5       safety_circuit
    bit  6       power
    bits 8..7    door: 0 closed, 1 opening, 2 open, 3 closing
    bits 10..9   occupied: 0 no presence sensor (None), 1 False, 2 True
    bit  11      alarm_button
    bits 13..12  mode: 0 normal, 1 inspection, 2 fire, 3 out_of_service

Command (collector -> agent, `elev/v1/{device}/cmd`, kind 7); op 1 = live view: full-rate status
for `duration_s` (1..3600; the agent caps it at its `live_max_s`), then back to its policy by itself::

    [head, op, duration_s]

Ack (collector -> agent) and presence (retained, and the agent's MQTT last will)::

    [head, epoch, [lo, hi, lo, hi, ...]]      inclusive seq ranges, at least one
    [head, stamp(epoch, wall_ms), online]

Ranges: epoch 0..2^32-1; seq 1..2^53-1 (exact as a JSON number too); mono_ms and wall_ms
0..2^48-1; floor -2^31..2^31-1; speed_mm_s, fault_code 0..2^31-1; event wire codes of the
catalog only. Encoding refuses values outside them with the same FrameError.

Decoding is strict: anything but exactly this layout raises `FrameError` with a short reason,
and nothing else escapes, whatever the bytes (the tests fuzz this). docs/protocol.md has the
rationale, the topic layout, the ack flow and measured sizes.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

import msgpack

from protocols.events import BY_NAME, BY_WIRE, Action, Event
from protocols.signals import Door, Mode, SignalSnapshot
from protocols.topics import TopicError, validate_device_id

FORMAT_VERSION: int = 1
STOPPING_FROM_MM_S: int = 300  # a trip's stopping_ms starts when its speed last fell below this
MAX_FRAME_BYTES: int = 65_536

_U32 = 0xFFFF_FFFF
_U48 = (1 << 48) - 1
_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1
EVENT_FLAG_AFTER_RESTART: int = 1  # event flags bit 0: a clear observed after the agent's restart
EVENT_FLAGS_MAX: int = 127  # flags bits the decoder accepts (unknown bits are ignored, for later ones)
_SEQ_MAX = (1 << 53) - 1  # exact in a JSON number / JavaScript too, and in a signed 64-bit column


class FrameError(ValueError):
    """A frame that cannot be encoded or decoded. `reason` is short and machine-friendly."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class RecordKind(enum.IntEnum):
    STATUS = 1
    EVENT = 2
    HEARTBEAT = 3
    TRIP = 4  # batch records only
    DOOR_CYCLE = 5  # batch records only


class StopQuality(enum.IntEnum):
    """How a run ended."""

    LEVEL = 0  # stopped in the door zone
    OUT_OF_ZONE = 1  # stopped between floors (outside the door zone)
    EMERGENCY = 2  # stopped with the safety circuit open or without power


class FrameKind(enum.IntEnum):
    """The `kind` bits of the head; values 1-3 are the single-record kinds of `RecordKind`."""

    STATUS = 1
    EVENT = 2
    HEARTBEAT = 3
    BATCH = 4
    ACK = 5
    PRESENCE = 6
    COMMAND = 7  # collector -> agent, on elev/v1/{device}/cmd


@dataclass(frozen=True, slots=True)
class Heartbeat:
    uptime_s: int
    outbox_depth: int  # records not yet acknowledged
    comms_ok: bool  # controller answering


@dataclass(frozen=True, slots=True)
class Trip:
    """One run of the car: from the moment it started running to the moment it stopped (agent mono ms)."""

    start_ms: int
    stop_ms: int  # the record's mono_ms
    from_floor: int
    to_floor: int
    peak_speed_mm_s: int
    stop_quality: StopQuality
    # statistics (issue 18; None/False = not measured, the short wire body)
    relevel: bool = False  # a low-speed correction at the landing just stopped at, door still closed
    stopping_ms: int | None = None  # from the speed last falling below STOPPING_FROM_MM_S to the stop
    runs: int | None = None  # runs since the agent started, this one included
    running_s: int | None = None  # running time since the agent started, this run included

    @property
    def has_stats(self) -> bool:
        return self.relevel or not (self.stopping_ms is None and self.runs is None and self.running_s is None)


@dataclass(frozen=True, slots=True)
class DoorCycle:
    """One door cycle: from the door leaving `closed` to `closed` again (agent mono ms)."""

    start_ms: int
    end_ms: int  # the record's mono_ms
    floor: int
    open_ms: int  # time the door stood fully open
    reopens: int  # closing turned back to opening (an obstruction or a call at the floor)
    # statistics (issue 18; None = not measured, the short wire body)
    opening_ms: int | None = None  # first opening: leaving closed to fully open
    closing_ms: int | None = None  # last closing: from closing to closed
    lock_ms: int | None = None  # from closed to the door-lock circuit made (then end_ms is that moment)
    cycles: int | None = None  # door cycles since the agent started, this one included

    @property
    def has_stats(self) -> bool:
        return not (
            self.opening_ms is None and self.closing_ms is None and self.lock_ms is None and self.cycles is None
        )


Body = SignalSnapshot | Event | Heartbeat | Trip | DoorCycle


@dataclass(frozen=True, slots=True)
class Record:
    kind: RecordKind
    seq: int  # per-stream sequence number, starts at 1, +1 per record
    mono_ms: int  # agent monotonic ms (since boot)
    wall_ms: int  # Unix ms as the gateway's clock said (meaningless if not clock_synced)
    clock_synced: bool
    body: Body


@dataclass(frozen=True, slots=True)
class WireRecord:
    """A record as the agent's outbox keeps it: position and clocks, and the body already encoded.

    `body` is `wire_body(...)`: one byte with the number of body fields, then the msgpack of each
    field exactly as a batch record carries them, so `encode_wire_batch` packs a frame without
    encoding (or decoding) a body again.
    """

    kind: RecordKind
    seq: int
    mono_ms: int
    wall_ms: int
    clock_synced: bool
    body: bytes


@dataclass(frozen=True, slots=True)
class UplinkFrame:
    epoch: int  # stream epoch: random 32-bit, new whenever the agent's outbox is recreated
    records: tuple[Record, ...]  # one record = a single frame; many = a batch frame
    device_id: str | None = None  # optional; when present the collector checks it against the topic


LIVE_VIEW_OP: int = 1
LIVE_MAX_S: int = 3600


@dataclass(frozen=True, slots=True)
class LiveViewFrame:
    """Ask the agent for full-rate status for `duration_s`; it stops by itself."""

    duration_s: int


@dataclass(frozen=True, slots=True)
class AckFrame:
    epoch: int
    ranges: tuple[tuple[int, int], ...]  # inclusive seq ranges durably stored by the collector


@dataclass(frozen=True, slots=True)
class PresenceFrame:
    online: bool
    epoch: int
    wall_ms: int
    clock_synced: bool


# --- tables -------------------------------------------------------------------------------------

_VERSION_BITS = FORMAT_VERSION << 4
_STAMP = struct.Struct(">IHI")  # epoch, wall high 16 bits, wall low 32 bits

_DIR_CODE = {0: 0, 1: 1, -1: 2}
_DOORS = (Door.CLOSED, Door.OPENING, Door.OPEN, Door.CLOSING)
_DOOR_CODE = {d: i for i, d in enumerate(_DOORS)}
_MODES = (Mode.NORMAL, Mode.INSPECTION, Mode.FIRE, Mode.OUT_OF_SERVICE)
_MODE_CODE = {m: i for i, m in enumerate(_MODES)}
_OCC_CODE: dict[bool | None, int] = {None: 0, False: 1, True: 2}
_STATUS_BITS_MAX = 1 << 14

# bits -> ((direction, running), (door, door_zone, door_lock, safety_circuit, occupied, alarm_button,
# power, mode)) split around speed_mm_s, filled lazily; None marks an invalid bit pattern.
_BITS_CACHE: dict[int, tuple[tuple[object, ...], tuple[object, ...]] | None] = {}


def _status_bits(s: SignalSnapshot) -> int:
    return (
        (1 if s.running else 0)
        | _DIR_CODE[s.direction] << 1
        | (8 if s.door_zone else 0)
        | (16 if s.door_lock else 0)
        | (32 if s.safety_circuit else 0)
        | (64 if s.power else 0)
        | _DOOR_CODE[s.door] << 7
        | _OCC_CODE[s.occupied] << 9
        | (2048 if s.alarm_button else 0)
        | _MODE_CODE[s.mode] << 12
    )


def _unpack_bits(bits: int) -> tuple[tuple[object, ...], tuple[object, ...]] | None:
    direction = (bits >> 1) & 3
    occupied = (bits >> 9) & 3
    if direction == 3 or occupied == 3:
        entry = None
    else:
        entry = (
            ((0, 1, -1)[direction], bool(bits & 1)),
            (
                _DOORS[(bits >> 7) & 3],
                bool(bits & 8),
                bool(bits & 16),
                bool(bits & 32),
                (None, False, True)[occupied],
                bool(bits & 2048),
                bool(bits & 64),
                _MODES[(bits >> 12) & 3],
            ),
        )
    _BITS_CACHE[bits] = entry
    return entry


# --- encoding -----------------------------------------------------------------------------------


def _check_int(value: object, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError("bad_type", f"{what} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise FrameError("out_of_range", f"{what}={value} outside {lo}..{hi}")
    return int(value)


def _opt_int(value: object, hi: int, what: str) -> int | None:
    return None if value is None else _check_int(value, 0, hi, what)


def _stamp(epoch: int, wall_ms: int, *counters: int) -> bytes:
    """epoch and wall_ms fixed-width, then each counter (seq, mono_ms) as an unsigned LEB128 varint."""
    _check_int(epoch, 0, _U32, "epoch")
    _check_int(wall_ms, 0, _U48, "wall_ms")
    out = bytearray(_STAMP.pack(epoch, wall_ms >> 32, wall_ms & _U32))
    for n in counters:
        while n > 0x7F:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def _body(record: Record) -> list[Any]:
    """The record's body fields; also checks that the body matches the kind and its ranges."""
    body = record.body
    kind = record.kind
    if kind == RecordKind.STATUS:
        if not isinstance(body, SignalSnapshot):
            raise FrameError("bad_type", f"status record {record.seq} has a {type(body).__name__} body")
        if body.t_ms != record.mono_ms:
            raise FrameError("bad_value", f"status record {record.seq}: t_ms {body.t_ms} != mono_ms {record.mono_ms}")
        try:
            bits = _status_bits(body)
        except (KeyError, TypeError):
            raise FrameError("bad_value", f"status record {record.seq}: direction, door, occupied or mode") from None
        return [
            _check_int(body.floor, _I32_MIN, _I32_MAX, "floor"),
            _check_int(body.speed_mm_s, 0, _I32_MAX, "speed_mm_s"),
            bits,
            _check_int(body.fault_code, 0, _I32_MAX, "fault_code"),
        ]
    if kind == RecordKind.EVENT:
        if not isinstance(body, Event):
            raise FrameError("bad_type", f"event record {record.seq} has a {type(body).__name__} body")
        event_spec = BY_NAME.get(body.type)
        if event_spec is None:
            raise FrameError("unknown_event", f"event type {body.type!r}")
        if body.action not in (Action.RAISE, Action.CLEAR):
            raise FrameError("bad_value", f"event action {body.action!r}")
        t_ms = _check_int(body.t_ms, 0, _U48, "event t_ms")
        fields = [
            event_spec.wire << 1 | (1 if body.action == Action.CLEAR else 0),
            record.mono_ms - t_ms,
            None if body.floor is None else _check_int(body.floor, _I32_MIN, _I32_MAX, "event floor"),
            None if body.fault_code is None else _check_int(body.fault_code, 0, _I32_MAX, "event fault_code"),
        ]
        if body.after_restart:
            fields.append(EVENT_FLAG_AFTER_RESTART)  # the optional 5th field: absent in every other event
        return fields
    if kind == RecordKind.HEARTBEAT:
        if not isinstance(body, Heartbeat):
            raise FrameError("bad_type", f"heartbeat record {record.seq} has a {type(body).__name__} body")
        depth = _check_int(body.outbox_depth, 0, _U48, "outbox_depth")
        uptime_s = _check_int(body.uptime_s, 0, _U48, "uptime_s")
        return [depth << 1 | (1 if body.comms_ok else 0), record.mono_ms // 1000 - uptime_s]
    if kind == RecordKind.TRIP:
        if not isinstance(body, Trip):
            raise FrameError("bad_type", f"trip record {record.seq} has a {type(body).__name__} body")
        if body.stop_ms != record.mono_ms:
            raise FrameError("bad_value", f"trip record {record.seq}: stop_ms {body.stop_ms} != {record.mono_ms}")
        try:
            quality = StopQuality(body.stop_quality)
        except ValueError:
            raise FrameError("bad_value", f"trip record {record.seq}: stop_quality {body.stop_quality!r}") from None
        trip: list[Any] = [
            _check_int(body.from_floor, _I32_MIN, _I32_MAX, "from_floor"),
            _check_int(body.to_floor, _I32_MIN, _I32_MAX, "to_floor"),
            record.mono_ms - _check_int(body.start_ms, 0, record.mono_ms, "trip start_ms"),
            _check_int(body.peak_speed_mm_s, 0, _I32_MAX, "peak_speed_mm_s"),
            int(quality),
        ]
        if body.has_stats:
            trip += [
                1 if body.relevel else 0,
                _opt_int(body.stopping_ms, _I32_MAX, "stopping_ms"),
                _opt_int(body.runs, _U48, "runs"),
                _opt_int(body.running_s, _U48, "running_s"),
            ]
        return trip
    if kind == RecordKind.DOOR_CYCLE:
        if not isinstance(body, DoorCycle):
            raise FrameError("bad_type", f"door_cycle record {record.seq} has a {type(body).__name__} body")
        if body.end_ms != record.mono_ms:
            raise FrameError("bad_value", f"door_cycle record {record.seq}: end_ms {body.end_ms} != {record.mono_ms}")
        duration = record.mono_ms - _check_int(body.start_ms, 0, record.mono_ms, "door cycle start_ms")
        door: list[Any] = [
            _check_int(body.floor, _I32_MIN, _I32_MAX, "door cycle floor"),
            duration,
            _check_int(body.open_ms, 0, duration, "open_ms"),
            _check_int(body.reopens, 0, _I32_MAX, "reopens"),
        ]
        if body.has_stats:
            door += [
                _opt_int(body.opening_ms, duration, "opening_ms"),
                _opt_int(body.closing_ms, duration, "closing_ms"),
                _opt_int(body.lock_ms, duration, "lock_ms"),
                _opt_int(body.cycles, _U48, "cycles"),
            ]
        return door
    raise FrameError("bad_kind", f"record kind {kind!r}")


def _check_record(record: Record) -> int:
    if not isinstance(record, Record):
        raise FrameError("bad_type", f"expected a Record, got {type(record).__name__}")
    try:
        kind = RecordKind(record.kind)
    except ValueError:
        raise FrameError("bad_kind", f"record kind {record.kind!r}") from None
    _check_int(record.seq, 1, _SEQ_MAX, "seq")
    _check_int(record.mono_ms, 0, _U48, "mono_ms")
    _check_int(record.wall_ms, 0, _U48, "wall_ms")
    return int(kind) << 1 | (1 if record.clock_synced else 0)


def _pack(obj: list[Any]) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    if len(data) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"{len(data)} bytes > {MAX_FRAME_BYTES}")
    return data


def encode_uplink(frame: UplinkFrame) -> bytes:
    """One record without device_id -> a single frame; otherwise a batch frame."""
    records = frame.records
    if not records:
        raise FrameError("empty", "an uplink frame needs at least one record")
    if len(records) == 1 and frame.device_id is None and records[0].kind in _SINGLE_KINDS:
        r = records[0]
        bits = _check_record(r)
        return _pack([_VERSION_BITS | bits, _stamp(frame.epoch, r.wall_ms, r.seq, r.mono_ms), *_body(r)])
    device_id = frame.device_id
    if device_id is not None:
        try:
            validate_device_id(device_id)
        except TopicError as exc:
            raise FrameError("bad_device_id", str(exc)) from None
    first = records[0]
    _check_record(first)
    prev_seq, prev_mono, prev_wall = first.seq - 1, first.mono_ms, first.wall_ms
    out = []
    for r in records:
        bits = _check_record(r)
        gap = r.seq - prev_seq - 1
        if gap < 0:
            raise FrameError("bad_order", f"seq {r.seq} after {prev_seq} in a batch")
        d_mono = r.mono_ms - prev_mono
        out.append([gap << 4 | bits, d_mono, r.wall_ms - prev_wall - d_mono, *_body(r)])
        prev_seq, prev_mono, prev_wall = r.seq, r.mono_ms, r.wall_ms
    head = _VERSION_BITS | FrameKind.BATCH << 1
    return _pack([head, _stamp(frame.epoch, first.wall_ms, first.seq, first.mono_ms), device_id, out])


def wire_body(kind: RecordKind, mono_ms: int, body: Body) -> bytes:
    """A record's body fields in wire form (see WireRecord); checks them as encode_uplink does."""
    fields = _body(Record(kind, 1, mono_ms, 0, False, body))
    return bytes((len(fields),)) + b"".join(msgpack.packb(f, use_bin_type=True) for f in fields)


def decode_wire_body(kind: RecordKind, mono_ms: int, data: bytes) -> Body:
    """`wire_body`'s bytes -> the body (for the outbox's own readers; the uplink never needs it)."""
    if not data:
        raise FrameError("bad_shape", "empty wire body")
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True)
    unpacker.feed(data[1:])
    try:
        fields = list(unpacker)
    except (msgpack.UnpackException, ValueError) as exc:
        raise FrameError("bad_msgpack", str(exc)) from None
    if len(fields) != data[0]:
        raise FrameError("bad_shape", f"wire body has {len(fields)} fields, its count says {data[0]}")
    body: Body = _guarded(fields, lambda f: _decode_body(int(kind), mono_ms, f, 0))  # as a batch record
    return body


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n <= 0xFFFF:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def encode_wire_batch(epoch: int, records: tuple[WireRecord, ...] | list[WireRecord], device_id: str | None) -> bytes:
    """A frame from outbox records; byte for byte what encode_uplink makes of the same records (a single
    status, event or heartbeat without device_id is a single-record frame, anything else a batch)."""
    if not records:
        raise FrameError("empty", "an uplink frame needs at least one record")
    if device_id is not None:
        try:
            validate_device_id(device_id)
        except TopicError as exc:
            raise FrameError("bad_device_id", str(exc)) from None
    _check_int(epoch, 0, _U32, "epoch")
    packb = msgpack.packb
    first = records[0]
    if len(records) == 1 and device_id is None and first.kind in _SINGLE_KINDS:  # the single-record layout
        _check_int(first.seq, 1, _SEQ_MAX, "seq")
        _check_int(first.mono_ms, 0, _U48, "mono_ms")
        head = _VERSION_BITS | int(first.kind) << 1 | (1 if first.clock_synced else 0)
        stamp = _stamp(epoch, first.wall_ms, first.seq, first.mono_ms)
        return _array_header(2 + first.body[0]) + packb(head) + packb(stamp, use_bin_type=True) + first.body[1:]
    prev_seq, prev_mono, prev_wall = first.seq - 1, first.mono_ms, first.wall_ms
    parts = [b""]
    for r in records:
        _check_int(r.seq, 1, _SEQ_MAX, "seq")
        _check_int(r.mono_ms, 0, _U48, "mono_ms")
        _check_int(r.wall_ms, 0, _U48, "wall_ms")
        gap = r.seq - prev_seq - 1
        if gap < 0:
            raise FrameError("bad_order", f"seq {r.seq} after {prev_seq} in a batch")
        d_mono = r.mono_ms - prev_mono
        rhead = gap << 4 | int(r.kind) << 1 | (1 if r.clock_synced else 0)
        parts.append(
            _array_header(3 + r.body[0]) + packb(rhead) + packb(d_mono) + packb(r.wall_ms - prev_wall - d_mono)
        )
        parts.append(r.body[1:])
        prev_seq, prev_mono, prev_wall = r.seq, r.mono_ms, r.wall_ms
    stamp = _stamp(epoch, first.wall_ms, first.seq, first.mono_ms)
    parts[0] = (
        _array_header(4)
        + packb(_VERSION_BITS | FrameKind.BATCH << 1)
        + packb(stamp, use_bin_type=True)
        + packb(device_id, use_bin_type=True)
        + _array_header(len(records))
    )
    data = b"".join(parts)
    if len(data) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"{len(data)} bytes > {MAX_FRAME_BYTES}")
    return data


def encode_ack(frame: AckFrame) -> bytes:
    if not frame.ranges:
        raise FrameError("empty", "an ack needs at least one range")
    flat: list[int] = []
    for rng in frame.ranges:
        try:
            lo_raw, hi_raw = rng
        except (TypeError, ValueError):
            raise FrameError("bad_type", f"ack range {rng!r} is not a (lo, hi) pair") from None
        lo = _check_int(lo_raw, 1, _SEQ_MAX, "ack range low")
        flat += (lo, _check_int(hi_raw, lo, _SEQ_MAX, "ack range high"))
    return _pack([_VERSION_BITS | FrameKind.ACK << 1, _check_int(frame.epoch, 0, _U32, "epoch"), flat])


def encode_presence(frame: PresenceFrame) -> bytes:
    head = _VERSION_BITS | FrameKind.PRESENCE << 1 | (1 if frame.clock_synced else 0)
    return _pack([head, _stamp(frame.epoch, frame.wall_ms), bool(frame.online)])


# --- decoding -----------------------------------------------------------------------------------


def _unpack(data: bytes) -> list[Any]:
    """msgpack bytes -> the frame's top-level array; every msgpack failure becomes a FrameError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FrameError("bad_type", f"expected bytes, got {type(data).__name__}")
    size = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
    if size > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"{size} bytes > {MAX_FRAME_BYTES}")
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=MAX_FRAME_BYTES,
            max_bin_len=MAX_FRAME_BYTES,
            max_array_len=MAX_FRAME_BYTES,
            max_map_len=MAX_FRAME_BYTES,
            max_ext_len=MAX_FRAME_BYTES,
        )
    except msgpack.ExtraData:
        raise FrameError("trailing_bytes") from None
    except (ValueError, TypeError, RecursionError, OverflowError, MemoryError, msgpack.UnpackException) as exc:
        raise FrameError("not_msgpack", type(exc).__name__) from None
    if type(obj) is not list or not obj:
        raise FrameError("bad_shape", "a frame is a non-empty msgpack array")
    head = obj[0]
    if type(head) is not int:
        raise FrameError("bad_type", "head must be an integer")
    if head >> 4 != FORMAT_VERSION or head < 0:
        raise FrameError("bad_version", f"format version {head >> 4} (head {head})")
    return obj


def _int(value: object, lo: int, hi: int, what: str) -> int:
    if type(value) is not int:
        raise FrameError("bad_type", f"{what} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise FrameError("out_of_range", f"{what}={value} outside {lo}..{hi}")
    return value


def _opt(value: object, hi: int, what: str) -> int | None:
    return None if value is None else _int(value, 0, hi, what)


def _unstamp(stamp: object) -> tuple[int, int]:
    """The 10-byte stamp of a presence frame: (epoch, wall_ms)."""
    if type(stamp) is not bytes or len(stamp) != _STAMP.size:
        raise FrameError("bad_type", "stamp must be 10 bytes")
    epoch, hi, lo = _STAMP.unpack(stamp)
    return epoch, hi << 32 | lo


def _unstamp_record(stamp: object) -> tuple[int, int, int, int]:
    """An uplink stamp: (epoch, wall_ms, seq, mono_ms); varints must be minimal and fill it exactly."""
    if type(stamp) is not bytes or not 12 <= len(stamp) <= 25:
        raise FrameError("bad_type", "stamp must be 12 to 25 bytes")
    epoch, hi, lo = _STAMP.unpack_from(stamp)
    pos = 10
    end = len(stamp)
    counters = []
    for _ in (0, 1):
        n = shift = 0
        while True:
            if pos == end:
                raise FrameError("bad_stamp", "stamp ends inside a varint")
            byte = stamp[pos]
            pos += 1
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if byte == 0 and shift:
            raise FrameError("bad_stamp", "varint is not minimal")
        counters.append(n)
    if pos != end:
        raise FrameError("bad_stamp", f"{end - pos} bytes after the stamp's varints")
    seq, mono_ms = counters
    return epoch, hi << 32 | lo, _int(seq, 1, _SEQ_MAX, "seq"), _int(mono_ms, 0, _U48, "mono_ms")


def _decode_body(kind: int, mono_ms: int, f: list[Any], index: int) -> Body:
    """Body fields -> body; `f` must hold exactly this kind's fields. `index`: batch position, -1 if single."""
    if kind == 1:
        if len(f) != 4:
            raise FrameError("bad_shape", f"{_where(index)}: status body has {len(f)} fields, expected 4")
        floor, speed, bits, fault = f
        # The hot path of the collector: one combined check, messages only when it fails.
        if not (
            type(floor) is int
            and type(speed) is int
            and type(fault) is int
            and _I32_MIN <= floor <= _I32_MAX
            and 0 <= speed <= _I32_MAX
            and 0 <= fault <= _I32_MAX
        ):
            what = _where(index)
            _int(floor, _I32_MIN, _I32_MAX, f"{what}: floor")
            _int(speed, 0, _I32_MAX, f"{what}: speed_mm_s")
            _int(fault, 0, _I32_MAX, f"{what}: fault_code")
        entry = _BITS_CACHE.get(bits) if type(bits) is int and 0 <= bits < _STATUS_BITS_MAX else None
        if entry is None:
            _int(bits, 0, _STATUS_BITS_MAX - 1, f"{_where(index)}: status bits")
            entry = _unpack_bits(bits)
            if entry is None:
                raise FrameError("out_of_range", f"{_where(index)}: status bits {bits:#x}")
        a, b = entry
        return SignalSnapshot._make((mono_ms, floor, *a, speed, *b, fault))
    what = _where(index)
    if kind == 2:
        if len(f) not in (4, 5):
            raise FrameError("bad_shape", f"{what}: event body has {len(f)} fields, expected 4 or 5")
        code, dt, floor, fault = f[:4]
        flags = _int(f[4], 0, EVENT_FLAGS_MAX, f"{what}: event flags") if len(f) == 5 else 0
        _int(code, 0, 511, f"{what}: event code")
        event_spec = BY_WIRE.get(code >> 1)
        if event_spec is None:
            raise FrameError("unknown_event", f"{what}: wire code {code >> 1}")
        t_ms = mono_ms - _int(dt, mono_ms - _U48, mono_ms, f"{what}: event time offset")
        if floor is not None:
            _int(floor, _I32_MIN, _I32_MAX, f"{what}: event floor")
        if fault is not None:
            _int(fault, 0, _I32_MAX, f"{what}: event fault_code")
        action = Action.CLEAR if code & 1 else Action.RAISE
        return Event(t_ms, event_spec.name, action, floor, fault, bool(flags & EVENT_FLAG_AFTER_RESTART))
    if kind == 3:
        if len(f) != 2:
            raise FrameError("bad_shape", f"{what}: heartbeat body has {len(f)} fields, expected 2")
        packed = _int(f[0], 0, (_U48 << 1) | 1, f"{what}: heartbeat depth")
        mono_s = mono_ms // 1000
        uptime_s = mono_s - _int(f[1], mono_s - _U48, mono_s, f"{what}: heartbeat uptime offset")
        return Heartbeat(uptime_s, packed >> 1, bool(packed & 1))
    if kind == 4 and index >= 0:
        if len(f) not in (5, 9):
            raise FrameError("bad_shape", f"{what}: trip body has {len(f)} fields, expected 5 or 9")
        from_floor = _int(f[0], _I32_MIN, _I32_MAX, f"{what}: from_floor")
        to_floor = _int(f[1], _I32_MIN, _I32_MAX, f"{what}: to_floor")
        start_ms = mono_ms - _int(f[2], 0, mono_ms, f"{what}: trip duration")
        peak = _int(f[3], 0, _I32_MAX, f"{what}: peak_speed_mm_s")
        quality = StopQuality(_int(f[4], 0, len(StopQuality) - 1, f"{what}: stop_quality"))
        if len(f) == 5:
            return Trip(start_ms, mono_ms, from_floor, to_floor, peak, quality)
        return Trip(
            start_ms,
            mono_ms,
            from_floor,
            to_floor,
            peak,
            quality,
            bool(_int(f[5], 0, 1, f"{what}: relevel")),
            _opt(f[6], _I32_MAX, f"{what}: stopping_ms"),
            _opt(f[7], _U48, f"{what}: runs"),
            _opt(f[8], _U48, f"{what}: running_s"),
        )
    if kind == 5 and index >= 0:
        if len(f) not in (4, 8):
            raise FrameError("bad_shape", f"{what}: door_cycle body has {len(f)} fields, expected 4 or 8")
        floor = _int(f[0], _I32_MIN, _I32_MAX, f"{what}: door cycle floor")
        duration = _int(f[1], 0, mono_ms, f"{what}: door cycle duration")
        open_ms = _int(f[2], 0, duration, f"{what}: open_ms")
        reopens = _int(f[3], 0, _I32_MAX, f"{what}: reopens")
        if len(f) == 4:
            return DoorCycle(mono_ms - duration, mono_ms, floor, open_ms, reopens)
        return DoorCycle(
            mono_ms - duration,
            mono_ms,
            floor,
            open_ms,
            reopens,
            _opt(f[4], duration, f"{what}: opening_ms"),
            _opt(f[5], duration, f"{what}: closing_ms"),
            _opt(f[6], duration, f"{what}: lock_ms"),
            _opt(f[7], _U48, f"{what}: cycles"),
        )
    raise FrameError("bad_kind", f"{what}: record kind {kind}")


def _where(index: int) -> str:
    return "record" if index < 0 else f"batch record {index}"


_RECORD_KINDS = (
    RecordKind.STATUS,
    RecordKind.STATUS,
    RecordKind.EVENT,
    RecordKind.HEARTBEAT,
    RecordKind.TRIP,
    RecordKind.DOOR_CYCLE,
)
_SINGLE_KINDS = frozenset((RecordKind.STATUS, RecordKind.EVENT, RecordKind.HEARTBEAT))


def _decode_uplink(obj: list[Any]) -> UplinkFrame:
    head = obj[0]
    kind = (head >> 1) & 7
    if kind in (1, 2, 3):
        if len(obj) < 2:
            raise FrameError("bad_shape", f"single frame has {len(obj)} fields")
        epoch, wall_ms, seq, mono_ms = _unstamp_record(obj[1])
        body = _decode_body(kind, mono_ms, obj[2:], -1)
        return UplinkFrame(epoch, (Record(_RECORD_KINDS[kind], seq, mono_ms, wall_ms, bool(head & 1), body),))
    if kind != FrameKind.BATCH:
        raise FrameError("bad_kind", f"frame kind {kind} is not an uplink frame")
    if head & 1:
        raise FrameError("bad_value", "batch head has the clock_synced bit set")
    if len(obj) != 4:
        raise FrameError("bad_shape", f"batch frame has {len(obj)} fields, expected 4")
    _, stamp, device_id, items = obj
    epoch, prev_wall, seq0, prev_mono = _unstamp_record(stamp)
    if device_id is not None:
        if type(device_id) is not str:
            raise FrameError("bad_type", "device_id must be a string or nil")
        try:
            validate_device_id(device_id)
        except TopicError as exc:
            raise FrameError("bad_device_id", str(exc)) from None
    prev_seq = seq0 - 1
    if type(items) is not list or not items:
        raise FrameError("bad_shape", "batch records must be a non-empty array")
    records = []
    for i, item in enumerate(items):
        if type(item) is not list or len(item) < 3:
            raise FrameError("bad_shape", f"batch record {i} is not an array of at least 3 fields")
        rhead, d_mono, d_wall = item[0], item[1], item[2]
        if type(rhead) is not int or type(d_mono) is not int or type(d_wall) is not int or rhead < 0:
            raise FrameError("bad_type", f"batch record {i}: head and deltas must be integers")
        rkind = (rhead >> 1) & 7
        if not 1 <= rkind <= 5:
            raise FrameError("bad_kind", f"batch record {i}: kind {rkind}")
        if i == 0 and (rhead >> 4 or d_mono or d_wall):
            raise FrameError(
                "bad_value", "the first batch record's gap and deltas must be 0 (the stamp has its values)"
            )
        seq = prev_seq + (rhead >> 4) + 1
        mono_ms = prev_mono + d_mono
        wall_ms = prev_wall + d_mono + d_wall
        if seq > _SEQ_MAX or not 0 <= mono_ms <= _U48 or not 0 <= wall_ms <= _U48:
            raise FrameError("out_of_range", f"batch record {i}: seq, mono_ms or wall_ms")
        body = _decode_body(rkind, mono_ms, item[3:], i)
        records.append(Record(_RECORD_KINDS[rkind], seq, mono_ms, wall_ms, bool(rhead & 1), body))
        prev_seq, prev_mono, prev_wall = seq, mono_ms, wall_ms
    return UplinkFrame(epoch, tuple(records), device_id)


def _guarded(obj: list[Any], decode: Any) -> Any:
    """Run a structural decoder; a slip in it must still surface as a FrameError, never a crash."""
    try:
        return decode(obj)
    except FrameError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:  # pragma: no cover
        raise FrameError("bad_value", f"{type(exc).__name__}: {exc}") from None


def decode_uplink(data: bytes) -> UplinkFrame:
    """Bytes from `elev/v1/{device}/up` -> UplinkFrame; raises FrameError only."""
    frame: UplinkFrame = _guarded(_unpack(data), _decode_uplink)
    return frame


def _decode_ack(obj: list[Any]) -> AckFrame:
    if (obj[0] >> 1) & 7 != FrameKind.ACK or obj[0] & 1:
        raise FrameError("bad_kind", f"head {obj[0]} is not an ack")
    if len(obj) != 3:
        raise FrameError("bad_shape", f"ack frame has {len(obj)} fields, expected 3")
    epoch = _int(obj[1], 0, _U32, "epoch")
    flat = obj[2]
    if type(flat) is not list or not flat or len(flat) % 2:
        raise FrameError("bad_shape", "ack ranges must be a non-empty array of lo, hi pairs")
    ranges = []
    for i in range(0, len(flat), 2):
        lo = _int(flat[i], 1, _SEQ_MAX, "ack range low")
        ranges.append((lo, _int(flat[i + 1], lo, _SEQ_MAX, "ack range high")))
    return AckFrame(epoch, tuple(ranges))


def decode_ack(data: bytes) -> AckFrame:
    """Bytes from `elev/v1/{device}/ack` -> AckFrame; raises FrameError only."""
    frame: AckFrame = _guarded(_unpack(data), _decode_ack)
    return frame


def encode_command(frame: LiveViewFrame) -> bytes:
    duration = _check_int(frame.duration_s, 1, LIVE_MAX_S, "duration_s")
    return _pack([_VERSION_BITS | FrameKind.COMMAND << 1, LIVE_VIEW_OP, duration])


def _decode_command(obj: list[Any]) -> LiveViewFrame:
    if (obj[0] >> 1) & 7 != FrameKind.COMMAND or obj[0] & 1:
        raise FrameError("bad_kind", f"head {obj[0]} is not a command")
    if len(obj) != 3:
        raise FrameError("bad_shape", f"command frame has {len(obj)} fields, expected 3")
    if obj[1] != LIVE_VIEW_OP or type(obj[1]) is not int:
        raise FrameError("bad_value", f"unknown command op {obj[1]!r}")
    return LiveViewFrame(_int(obj[2], 1, LIVE_MAX_S, "duration_s"))


def decode_command(data: bytes) -> LiveViewFrame:
    """Bytes from `elev/v1/{device}/cmd` -> LiveViewFrame; raises FrameError only."""
    frame: LiveViewFrame = _guarded(_unpack(data), _decode_command)
    return frame


def _decode_presence(obj: list[Any]) -> PresenceFrame:
    if (obj[0] >> 1) & 7 != FrameKind.PRESENCE:
        raise FrameError("bad_kind", f"head {obj[0]} is not a presence frame")
    if len(obj) != 3:
        raise FrameError("bad_shape", f"presence frame has {len(obj)} fields, expected 3")
    epoch, wall_ms = _unstamp(obj[1])
    if type(obj[2]) is not bool:
        raise FrameError("bad_type", "online must be a boolean")
    return PresenceFrame(obj[2], epoch, wall_ms, bool(obj[0] & 1))


def decode_presence(data: bytes) -> PresenceFrame:
    """Bytes from `elev/v1/{device}/presence` -> PresenceFrame; raises FrameError only."""
    frame: PresenceFrame = _guarded(_unpack(data), _decode_presence)
    return frame
