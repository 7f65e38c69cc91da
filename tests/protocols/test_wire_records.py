"""One codec on the edge (issue 14): a record's body is encoded once (wire_body) and packed into frames as is.

`encode_wire_batch` over wire bodies must give exactly the bytes `encode_uplink` gives for the same
records, so the collector cannot tell (and need not care) which path made a frame.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from protocols.frames import (
    FrameError,
    RecordKind,
    UplinkFrame,
    WireRecord,
    decode_wire_body,
    encode_uplink,
    encode_wire_batch,
    wire_body,
)
from tests.protocols.test_frames import IDLE as SNAP
from tests.protocols.test_frames import uplink_frames


def wire(frame: UplinkFrame) -> list[WireRecord]:
    return [
        WireRecord(r.kind, r.seq, r.mono_ms, r.wall_ms, r.clock_synced, wire_body(r.kind, r.mono_ms, r.body))
        for r in frame.records
    ]


@settings(max_examples=300)
@given(uplink_frames())
def test_wire_frames_are_byte_identical_to_the_encoder(frame: UplinkFrame) -> None:
    assert encode_wire_batch(frame.epoch, wire(frame), frame.device_id) == encode_uplink(frame)
    batch = UplinkFrame(frame.epoch, frame.records, frame.device_id or "lift-w")  # always the batch layout
    assert encode_wire_batch(frame.epoch, wire(frame), batch.device_id) == encode_uplink(batch)


@given(uplink_frames())
def test_wire_bodies_decode_to_the_bodies(frame: UplinkFrame) -> None:
    for r, w in zip(frame.records, wire(frame), strict=True):
        assert decode_wire_body(w.kind, w.mono_ms, w.body) == r.body


def test_wire_body_checks_like_the_encoder() -> None:
    with pytest.raises(FrameError):
        wire_body(RecordKind.STATUS, 1001, SNAP)  # t_ms != mono_ms
    with pytest.raises(FrameError):
        decode_wire_body(RecordKind.STATUS, 0, b"\x05\x01")  # count says 5, one field


def test_wire_batch_refuses_what_the_batch_encoder_refuses() -> None:
    body = wire_body(RecordKind.STATUS, SNAP.t_ms, SNAP)
    a = WireRecord(RecordKind.STATUS, 5, SNAP.t_ms, 0, True, body)
    b = WireRecord(RecordKind.STATUS, 4, SNAP.t_ms, 0, True, body)
    with pytest.raises(FrameError, match="bad_order"):
        encode_wire_batch(1, [a, b], None)
    with pytest.raises(FrameError, match="empty"):
        encode_wire_batch(1, [], None)
    with pytest.raises(FrameError):
        encode_wire_batch(1, [a], "no/slash")
