"""The GPIO link: retrofit sensor levels streamed from the simulator to an agent over TCP.

On a real gateway the sensors are wired to the Raspberry Pi's header. In the lab the simulator
serves the same lines (`elev-sim run --gpio-serve HOST:PORT`) and the agent
(`elev-agent run --gpio-sim HOST:PORT`) drives gpiozero MockFactory pins from them, so the agent's
GPIO code runs unchanged.

Wire layout: newline-delimited JSON, UTF-8, one object per line, server -> client only.

    {"t_ms": 123456, "levels": {"door_closed": 1, "leveling_up": 0, ...}}\\n
     ^ simulator time,  ^ line name (protocols.gpio_lines.GPIO_LINES key) -> 0 / 1
       ms since start

On connect the server sends one full message with every fitted line; after that one message per
change, holding only the lines that changed. A line that is not fitted (no presence sensor) never
appears. The decoder is strict: a level is exactly 0 or 1, names are known lines, and anything else
is a `GpioLinkError` naming the problem, because a guessed door contact is worse than a dropped one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from protocols.gpio_lines import GPIO_LINES

MAX_LINE_BYTES = 4096  # a full message is ~200 bytes; anything near this is not ours


class GpioLinkError(ValueError):
    """A malformed GPIO link message; the message says what is wrong with it."""


def encode_levels(t_ms: int, levels: Mapping[str, bool]) -> bytes:
    """One message line, including the trailing newline."""
    if isinstance(t_ms, bool) or not isinstance(t_ms, int) or t_ms < 0:
        raise GpioLinkError(f"t_ms must be a non-negative integer, got {t_ms!r}")
    out: dict[str, int] = {}
    for name, level in levels.items():
        if name not in GPIO_LINES:
            raise GpioLinkError(f"unknown GPIO line {name!r}")
        out[name] = 1 if level else 0
    return json.dumps({"t_ms": t_ms, "levels": out}, separators=(",", ":")).encode() + b"\n"


def decode_levels(line: bytes) -> tuple[int, dict[str, bool]]:
    """Parse one message line (with or without its newline) into (t_ms, {line: level})."""
    if len(line) > MAX_LINE_BYTES:
        raise GpioLinkError(f"message is {len(line)} bytes, longer than {MAX_LINE_BYTES}")
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GpioLinkError(f"not a JSON line: {exc}") from None
    if not isinstance(obj, dict):
        raise GpioLinkError(f"message must be a JSON object, got {type(obj).__name__}")
    extra = set(obj) - {"t_ms", "levels"}
    if extra:
        raise GpioLinkError(f"unexpected keys {sorted(extra)}")
    t_ms = obj.get("t_ms")
    if isinstance(t_ms, bool) or not isinstance(t_ms, int) or t_ms < 0:
        raise GpioLinkError(f"t_ms must be a non-negative integer, got {t_ms!r}")
    raw = obj.get("levels")
    if not isinstance(raw, dict):
        raise GpioLinkError("levels must be an object of line name -> 0/1")
    levels: dict[str, bool] = {}
    for name, value in raw.items():
        if name not in GPIO_LINES:
            raise GpioLinkError(f"unknown GPIO line {name!r}")
        if isinstance(value, bool) or value not in (0, 1):
            raise GpioLinkError(f"line {name}: level must be 0 or 1, got {value!r}")
        levels[name] = value == 1
    return t_ms, levels
