"""The GPIO link codec: golden lines, round trips, and every malformed line refused by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.gpio_lines import GPIO_LINES
from protocols.gpio_link import GpioLinkError, decode_levels, encode_levels


def test_golden_line() -> None:
    line = encode_levels(123456, {"door_closed": True, "leveling_up": False, "presence": True})
    assert line == b'{"t_ms":123456,"levels":{"door_closed":1,"leveling_up":0,"presence":1}}\n'
    assert decode_levels(line) == (123456, {"door_closed": True, "leveling_up": False, "presence": True})


def test_decodes_without_newline_and_with_spaces() -> None:
    assert decode_levels(b'{"t_ms": 5, "levels": {"mains": 0}}') == (5, {"mains": False})


@given(
    st.integers(min_value=0, max_value=2**53),
    st.dictionaries(st.sampled_from(sorted(GPIO_LINES)), st.booleans()),
)
def test_round_trip(t_ms: int, levels: dict[str, bool]) -> None:
    line = encode_levels(t_ms, levels)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_levels(line) == (t_ms, levels)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"", "not a JSON line"),
        (b"\xff\xfe", "not a JSON line"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"t_ms": 1}', "levels must be an object"),
        (b'{"t_ms": -1, "levels": {}}', "t_ms must be a non-negative integer"),
        (b'{"t_ms": 1.5, "levels": {}}', "t_ms must be a non-negative integer"),
        (b'{"t_ms": true, "levels": {}}', "t_ms must be a non-negative integer"),
        (b'{"t_ms": 1, "levels": {"door": 1}}', "unknown GPIO line 'door'"),
        (b'{"t_ms": 1, "levels": {"mains": 2}}', "line mains: level must be 0 or 1"),
        (b'{"t_ms": 1, "levels": {"mains": true}}', "line mains: level must be 0 or 1"),
        (b'{"t_ms": 1, "levels": {"mains": "1"}}', "line mains: level must be 0 or 1"),
        (b'{"t_ms": 1, "levels": {}, "x": 0}', "unexpected keys ['x']"),
        (b'{"t_ms": 1, "levels": {}}' + b" " * 5000, "longer than"),
    ],
)
def test_malformed_lines_are_refused(line: bytes, problem: str) -> None:
    with pytest.raises(GpioLinkError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        decode_levels(line)


def test_encoder_refuses_unknown_lines_and_bad_time() -> None:
    with pytest.raises(GpioLinkError, match="unknown GPIO line 'lamp'"):
        encode_levels(0, {"lamp": True})
    with pytest.raises(GpioLinkError, match="t_ms"):
        encode_levels(-5, {})
