"""Pure ingest logic: what a received record becomes in the store, and when it happened.

Nothing here does IO or reads a clock; the receive time is an argument. The ingest task and the
tests drive the same functions.

Wall time of a record
---------------------
A record carries `mono_ms` (the agent's monotonic clock since boot), `wall_ms` (the gateway's
clock) and `clock_synced`. When the gateway's clock is synced, `wall_ms` is the record's time
(`time_source = "device"`). When it is not, the collector places the record on its own clock:

    time_ms = mono_ms + offset_ms     with offset_ms taken, in order of preference, from
    1. a synced record of the same stream:  offset = wall_ms - mono_ms  ("synced_ref")
    2. the stream's receptions:             offset = min over frames of (received_ms - max mono_ms
                                                     in the frame)        ("receive_ref")

Each reception bounds the offset from above (a record cannot arrive before it was made), so the
smallest value seen is the tightest estimate; its error is the delivery delay of the quickest frame.
A stream whose `mono_ms` goes backwards while `seq` goes forwards has rebooted without a new outbox:
its reference is dropped and rebuilt. The estimate lives in the process that sees the stream (see
docs/collector.md).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocols import frames
from protocols.events import Action, Event
from protocols.signals import SignalSnapshot


class Kind(enum.StrEnum):
    STATUS = "status"
    EVENT = "event"
    HEARTBEAT = "heartbeat"
    TRIP = "trip"  # a run of the car (edge_agent.report.policy); times are the agent's mono ms
    DOOR_CYCLE = "door_cycle"


@dataclass(frozen=True, slots=True)
class EventFacts:
    type: str
    action: str  # "raise" | "clear"
    floor: int | None
    fault_code: int | None
    lead_ms: int = 0  # record mono_ms - event t_ms: how long before the record the rule was met
    after_restart: bool = False  # a clear decided on the agent's first observations after its restart


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One record as the store keeps it: identity, raw values, and its placed time."""

    device_id: str
    epoch: int
    seq: int
    kind: Kind
    mono_ms: int
    wall_ms: int
    clock_synced: bool
    time_ms: int
    time_source: str
    received_ms: int
    body: dict[str, Any]
    event: EventFacts | None = None
    heartbeat: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.device_id, self.epoch, self.seq)

    @property
    def body_json(self) -> str:
        return _dumps(self.body)

    @property
    def event_ms(self) -> int:
        """When an event's rule was met (its t_ms placed like the record); the record time otherwise."""
        return self.time_ms - self.event.lead_ms if self.event is not None else self.time_ms


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def body_of(record: frames.Record) -> tuple[Kind, dict[str, Any], EventFacts | None]:
    """The raw values of a record as plain JSON-able data."""
    body = record.body
    if isinstance(body, SignalSnapshot):
        d = body._asdict()
        d["door"] = body.door.value
        d["mode"] = body.mode.value
        return Kind.STATUS, d, None
    if isinstance(body, Event):
        action = body.action.value if isinstance(body.action, Action) else str(body.action)
        d = {"t_ms": body.t_ms, "type": body.type, "action": action, "floor": body.floor, "fault_code": body.fault_code}
        if body.after_restart:
            d["after_restart"] = True
        lead_ms = record.mono_ms - body.t_ms
        return Kind.EVENT, d, EventFacts(body.type, action, body.floor, body.fault_code, lead_ms, body.after_restart)
    if isinstance(body, frames.Trip):
        trip: dict[str, Any] = {
            "start_ms": body.start_ms,
            "stop_ms": body.stop_ms,
            "from_floor": body.from_floor,
            "to_floor": body.to_floor,
            "peak_speed_mm_s": body.peak_speed_mm_s,
            "stop_quality": body.stop_quality.name.lower(),
        }
        if body.has_stats:  # trend watch's figures (docs/trend-watch.md)
            trip.update(relevel=body.relevel, stopping_ms=body.stopping_ms, runs=body.runs, running_s=body.running_s)
        return Kind.TRIP, trip, None
    if isinstance(body, frames.DoorCycle):
        door: dict[str, Any] = {
            "start_ms": body.start_ms,
            "end_ms": body.end_ms,
            "floor": body.floor,
            "open_ms": body.open_ms,
            "reopens": body.reopens,
        }
        if body.has_stats:
            door.update(
                opening_ms=body.opening_ms, closing_ms=body.closing_ms, lock_ms=body.lock_ms, cycles=body.cycles
            )
        return Kind.DOOR_CYCLE, door, None
    hb = {"uptime_s": body.uptime_s, "outbox_depth": body.outbox_depth, "comms_ok": body.comms_ok}
    return Kind.HEARTBEAT, hb, None


@dataclass(slots=True)
class StreamClock:
    """Per-stream reference between the agent's monotonic clock and wall time (see module doc)."""

    synced_offset_ms: int | None = None
    received_offset_ms: int | None = None
    ref_seq: int = 0
    ref_mono_ms: int = 0

    def _check_reboot(self, seq: int, mono_ms: int) -> None:
        if seq > self.ref_seq and mono_ms < self.ref_mono_ms:
            self.synced_offset_ms = None
            self.received_offset_ms = None
        if seq >= self.ref_seq:
            self.ref_seq, self.ref_mono_ms = seq, mono_ms

    def place(self, records: Sequence[frames.Record], received_ms: int) -> list[tuple[int, str]]:
        """(time_ms, time_source) for each record of one frame, in the frame's order."""
        for r in sorted(records, key=lambda r: r.seq):
            self._check_reboot(r.seq, r.mono_ms)
            if r.clock_synced:
                self.synced_offset_ms = r.wall_ms - r.mono_ms
        if records:
            newest = max(records, key=lambda r: r.seq)
            candidate = received_ms - newest.mono_ms
            if newest.seq >= self.ref_seq and (self.received_offset_ms is None or candidate < self.received_offset_ms):
                self.received_offset_ms = candidate
        out: list[tuple[int, str]] = []
        for r in records:
            if r.clock_synced:
                out.append((r.wall_ms, "device"))
            elif self.synced_offset_ms is not None:
                out.append((r.mono_ms + self.synced_offset_ms, "synced_ref"))
            else:
                offset = self.received_offset_ms if self.received_offset_ms is not None else received_ms - r.mono_ms
                out.append((r.mono_ms + offset, "receive_ref"))
        return out


@dataclass(slots=True)
class Clocks:
    """StreamClock per (device, epoch); bounded so a flood of forged epochs cannot grow it forever."""

    max_streams: int = 200_000
    streams: dict[tuple[str, int], StreamClock] = field(default_factory=dict)

    def rows(self, device_id: str, frame: frames.UplinkFrame, received_ms: int) -> list[RecordRow]:
        key = (device_id, frame.epoch)
        clock = self.streams.get(key)
        if clock is None:
            if len(self.streams) >= self.max_streams:
                self.streams.pop(next(iter(self.streams)))
            clock = self.streams[key] = StreamClock()
        placed = clock.place(frame.records, received_ms)
        out = []
        for r, (time_ms, source) in zip(frame.records, placed, strict=True):
            kind, body, event = body_of(r)
            out.append(
                RecordRow(
                    device_id,
                    frame.epoch,
                    r.seq,
                    kind,
                    r.mono_ms,
                    r.wall_ms,
                    r.clock_synced,
                    time_ms,
                    source,
                    received_ms,
                    body,
                    event,
                    body if kind is Kind.HEARTBEAT else None,
                )
            )
        return out


def seq_ranges(seqs: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Sorted inclusive ranges covering `seqs`: {1,2,3,7} -> ((1, 3), (7, 7))."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return tuple(out)
