"""The collector -> agent command frame (live view): golden bytes, round trip, strict decoding."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.frames import LIVE_MAX_S, FrameError, LiveViewFrame, decode_command, encode_command


def test_golden_bytes() -> None:
    # [head = version 1 << 4 | kind 7 << 1, op 1, 60 s]
    assert encode_command(LiveViewFrame(60)) == bytes.fromhex("931e013c")
    assert decode_command(bytes.fromhex("931e013c")) == LiveViewFrame(60)


@given(st.integers(1, LIVE_MAX_S))
def test_round_trip(seconds: int) -> None:
    assert decode_command(encode_command(LiveViewFrame(seconds))) == LiveViewFrame(seconds)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([0x1E, 2, 5], "bad_value"),  # unknown op
        ([0x1E, 1], "bad_shape"),
        ([0x1E, 1, 0], "out_of_range"),
        ([0x1E, 1, LIVE_MAX_S + 1], "out_of_range"),
        ([0x1E, 1, "5"], "bad_type"),
        ([0x1E, True, 5], "bad_value"),
        ([0x1F, 1, 5], "bad_kind"),  # the clock bit set
        ([0x1A, 1, 5], "bad_kind"),  # a presence head
        ([0x2E, 1, 5], None),  # another version
    ],
)
def test_strict_decoding(obj: list[object], reason: str | None) -> None:
    with pytest.raises(FrameError) as err:
        decode_command(msgpack.packb(obj))
    if reason is not None:
        assert err.value.reason == reason


def test_garbage_is_a_frame_error() -> None:
    for data in (b"", b"\xc1", b"\x93", bytes(100)):
        with pytest.raises(FrameError):
            decode_command(data)


def test_encoding_refuses_a_period_out_of_range() -> None:
    for seconds in (0, -1, LIVE_MAX_S + 1):
        with pytest.raises(FrameError):
            encode_command(LiveViewFrame(seconds))
