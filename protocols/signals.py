"""The fused signal state of one elevator, and the elevator-trace/1 file format that records it.

A `SignalSnapshot` is what the agent knows at one instant after reading the controller and the
retrofit sensors: it is the only input of the detector, live and in replay. Its fields are the
columns of `../shared/contract/trace.md`, in the same order, so a trace row and a snapshot map
one to one.

The reader is strict because a trace is evidence: a malformed row must never be guessed into a
signal value. Every problem raises `TraceError` naming the file, the line and the problem. The
reader is also on the replay hot path (goal: 200,000 rows/s), so it parses rows with plain string
operations and table look-ups instead of the csv module.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, NamedTuple

TRACE_FORMAT = "elevator-trace/1"

COLUMNS: tuple[str, ...] = (
    "t_ms",
    "floor",
    "direction",
    "running",
    "speed_mm_s",
    "door",
    "door_zone",
    "door_lock",
    "safety_circuit",
    "occupied",
    "alarm_button",
    "power",
    "mode",
    "fault_code",
)
HEADER_LINE = ",".join(COLUMNS)


class Door(enum.StrEnum):
    """Car door state as the controller reports it."""

    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"


class Mode(enum.StrEnum):
    """Controller service mode; `inspection` is a maintenance session."""

    NORMAL = "normal"
    INSPECTION = "inspection"
    FIRE = "fire"
    OUT_OF_SERVICE = "out_of_service"


class SignalSnapshot(NamedTuple):
    """The complete signal state from `t_ms` until the next snapshot.

    A NamedTuple rather than a dataclass: it is built hundreds of thousands of times a second in
    replay, compares by value for change detection, and maps positionally onto the status record
    of the wire protocol. `occupied` is None when no presence sensor is fitted.
    """

    t_ms: int
    floor: int
    direction: int
    running: bool
    speed_mm_s: int
    door: Door
    door_zone: bool
    door_lock: bool
    safety_circuit: bool
    occupied: bool | None
    alarm_button: bool
    power: bool
    mode: Mode
    fault_code: int

    def state(self) -> tuple[object, ...]:
        """Everything but the time: two snapshots with equal state describe the same elevator."""
        return self[1:]


@dataclass(frozen=True, slots=True)
class TraceSettings:
    """The `# key=value` settings of a trace; unknown keys are kept in `extra`."""

    rated_speed_mm_s: int
    lowest_floor: int
    highest_floor: int
    extra: dict[str, str] = field(default_factory=dict)


class TraceError(ValueError):
    """A malformed trace. `str()` is one line: `FILE:LINE: problem`."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(f"{source}:{line}: {problem}")


_BOOL = {"0": False, "1": True}
_DIRECTION = {"-1": -1, "0": 0, "1": 1}
_DOOR = {d.value: d for d in Door}
_MODE = {m.value: m for m in Mode}
_OCCUPIED: dict[str, bool | None] = {"0": False, "1": True, "": None}
_REQUIRED_SETTINGS = ("format", "rated_speed_mm_s", "lowest_floor", "highest_floor")
_INTEGER = re.compile(r"-?[0-9]+")  # what a trace integer looks like: int() also takes "+1", "1_0", " 1"


def _int(text: str, what: str, minimum: int | None = None) -> int:
    if _INTEGER.fullmatch(text) is None:
        raise ValueError(f"{what}: {text!r} is not an integer")
    value = int(text)
    if minimum is not None and value < minimum:
        raise ValueError(f"{what}: {value} is below {minimum}")
    return value


def _choice(table: dict[str, object], text: str, what: str) -> object:
    try:
        return table[text]
    except KeyError:
        allowed = ", ".join(repr(k) for k in table)
        raise ValueError(f"{what}: {text!r} is not one of {allowed}") from None


def _parse_settings(raw: dict[str, tuple[int, str]], source: str, header_line: int) -> TraceSettings:
    for key in _REQUIRED_SETTINGS:
        if key not in raw:
            raise TraceError(source, header_line, f"missing setting '# {key}=…' before the header")
    line, fmt = raw["format"]
    if fmt != TRACE_FORMAT:
        raise TraceError(source, line, f"format is {fmt!r}, expected {TRACE_FORMAT!r}")
    values: dict[str, int] = {}
    for key in ("rated_speed_mm_s", "lowest_floor", "highest_floor"):
        line, text = raw[key]
        try:
            values[key] = _int(text, key, 1 if key == "rated_speed_mm_s" else None)
        except ValueError as exc:
            raise TraceError(source, line, str(exc)) from None
    if values["lowest_floor"] > values["highest_floor"]:
        raise TraceError(source, raw["highest_floor"][0], "highest_floor is below lowest_floor")
    extra = {k: v for k, (_, v) in raw.items() if k not in _REQUIRED_SETTINGS}
    return TraceSettings(extra=extra, **values)


def parse_row(fields: list[str]) -> SignalSnapshot:
    """One data row (already split on commas) to a snapshot; ValueError names the bad column."""
    if len(fields) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} columns, found {len(fields)}")
    t, fl, di, ru, sp, do, dz, dl, sc, oc, ab, pw, mo, fc = fields
    digits = t + fl + sp + fc
    try:
        t_ms, speed, fault = int(t), int(sp), int(fc)
        # int() is laxer than the format ("+1", "1_000", " 1", other scripts' digits): only plain
        # ASCII digits take the fast path, anything else gets the slow path's verdict.
        if t_ms >= 0 and speed >= 0 and fault >= 0 and digits.isascii() and digits.replace("-", "").isdigit():
            return SignalSnapshot(
                t_ms,
                int(fl),
                _DIRECTION[di],
                _BOOL[ru],
                speed,
                _DOOR[do],
                _BOOL[dz],
                _BOOL[dl],
                _BOOL[sc],
                _OCCUPIED[oc],
                _BOOL[ab],
                _BOOL[pw],
                _MODE[mo],
                fault,
            )
    except (KeyError, ValueError):
        pass
    # Slow path, only for bad rows: find the first bad column and say what is wrong with it.
    _int(t, "t_ms", 0)
    _int(fl, "floor")
    _choice(_DIRECTION, di, "direction")  # type: ignore[arg-type]
    _choice(_BOOL, ru, "running")  # type: ignore[arg-type]
    _int(sp, "speed_mm_s", 0)
    _choice(_DOOR, do, "door")  # type: ignore[arg-type]
    _choice(_BOOL, dz, "door_zone")  # type: ignore[arg-type]
    _choice(_BOOL, dl, "door_lock")  # type: ignore[arg-type]
    _choice(_BOOL, sc, "safety_circuit")  # type: ignore[arg-type]
    _choice(_OCCUPIED, oc, "occupied")  # type: ignore[arg-type]
    _choice(_BOOL, ab, "alarm_button")  # type: ignore[arg-type]
    _choice(_BOOL, pw, "power")  # type: ignore[arg-type]
    _choice(_MODE, mo, "mode")  # type: ignore[arg-type]
    _int(fc, "fault_code", 0)
    raise ValueError("bad row")  # pragma: no cover - every bad column is caught above


class TraceReader:
    """Iterate the snapshots of an elevator-trace/1 text stream.

    `settings` is available once the header has been read (the constructor reads it). Rows are
    checked for time going backwards; every problem raises TraceError with file and line.
    """

    def __init__(self, stream: IO[str] | Iterable[str], source: str = "<trace>") -> None:
        self.source = source
        self._lines = iter(stream)
        self._lineno = 0
        raw: dict[str, tuple[int, str]] = {}
        for line in self._lines:
            self._lineno += 1
            text = line.strip()
            if not text:
                continue
            if text.startswith("#"):
                body = text[1:].strip()
                key, sep, value = body.partition("=")
                if not sep or not key.strip():
                    raise TraceError(source, self._lineno, f"setting line must be '# key=value', got {text!r}")
                raw[key.strip()] = (self._lineno, value.strip())
                continue
            if text != HEADER_LINE:
                if "," not in text:
                    raise TraceError(source, self._lineno, f"expected the header line, got {text[:60]!r}")
                got = text.split(",")
                for i, name in enumerate(COLUMNS):
                    if i >= len(got) or got[i].strip() != name:
                        found = got[i].strip() if i < len(got) else "end of line"
                        raise TraceError(
                            source, self._lineno, f"header column {i + 1} should be {name!r}, found {found!r}"
                        )
                if len(got) == len(COLUMNS):
                    raise TraceError(source, self._lineno, "header must not have spaces around the column names")
                raise TraceError(source, self._lineno, f"header has {len(got)} columns, expected {len(COLUMNS)}")
            self.settings = _parse_settings(raw, source, self._lineno)
            return
        raise TraceError(source, max(self._lineno, 1), "no header line (empty trace?)")

    def __iter__(self) -> Iterator[SignalSnapshot]:
        source = self.source
        lineno = self._lineno
        last_t = 0
        for line in self._lines:
            lineno += 1
            text = line.strip()
            if not text:
                continue
            if text[0] == "#":
                raise TraceError(source, lineno, "'#' lines are only allowed before the header")
            try:
                snap = parse_row(text.split(","))
            except ValueError as exc:
                raise TraceError(source, lineno, str(exc)) from None
            if snap.t_ms < last_t:
                raise TraceError(source, lineno, f"t_ms goes backwards ({snap.t_ms} after {last_t})")
            last_t = snap.t_ms
            yield snap
        self._lineno = lineno


def format_row(s: SignalSnapshot) -> str:
    """One trace data row (without newline) for a snapshot."""
    occ = "" if s.occupied is None else ("1" if s.occupied else "0")
    return (
        f"{s.t_ms},{s.floor},{s.direction},{int(s.running)},{s.speed_mm_s},{s.door.value},"
        f"{int(s.door_zone)},{int(s.door_lock)},{int(s.safety_circuit)},{occ},{int(s.alarm_button)},"
        f"{int(s.power)},{s.mode.value},{s.fault_code}"
    )


def write_trace(out: IO[str], settings: TraceSettings, snapshots: Iterable[SignalSnapshot]) -> int:
    """Write a complete elevator-trace/1 file; returns the number of rows written."""
    out.write(f"# format={TRACE_FORMAT}\n")
    out.write(f"# rated_speed_mm_s={settings.rated_speed_mm_s}\n")
    out.write(f"# lowest_floor={settings.lowest_floor}\n")
    out.write(f"# highest_floor={settings.highest_floor}\n")
    for key, value in settings.extra.items():
        out.write(f"# {key}={value}\n")
    out.write(HEADER_LINE + "\n")
    n = 0
    for s in snapshots:
        out.write(format_row(s) + "\n")
        n += 1
    return n
