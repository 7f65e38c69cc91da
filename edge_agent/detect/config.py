"""The detector's settings: every threshold of `../shared/contract/detection.md`, with its default.

Units are in the field names. Seconds (`_s`) are used where the contract states a time in seconds,
milliseconds (`_ms`) where it states milliseconds, so each default reads exactly as the contract's
table does. The detector works in integer milliseconds; `DetectorConfig.ms(name)` converts.

`from_mapping` validates the agent's `[detection]` TOML table once: an unknown key, a wrong type or
an out-of-range value raises `DetectorConfigError` naming the file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from protocols.signals import TraceSettings


class DetectError(Exception):
    """Root of the detector package's errors."""


class DetectorConfigError(DetectError):
    """A bad `[detection]` setting; `str()` is one line: `FILE: [detection] key: problem`."""


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Thresholds of detection.md (version 1). Comments give the contract line each one comes from."""

    # Words: noise. door_zone / door_lock excursions and door leaving `closed` shorter than this are bounce.
    debounce_ms: int = 100
    # Words: noise. A presence drop-out shorter than this does not end occupancy.
    presence_dropout_s: float = 5.0
    # Words: clears. The general clear: the condition has been false this long.
    clear_s: float = 1.0
    # Entrapment: T outside / inside a door zone, the alarm-button hold of the no-sensor rule,
    # the two clear rules and the re-raise lock-out.
    entrapment_outside_zone_s: float = 20.0
    entrapment_in_zone_s: float = 90.0
    entrapment_alarm_ms: int = 500
    entrapment_clear_door_s: float = 1.0
    entrapment_clear_run_s: float = 2.0
    entrapment_lockout_s: float = 60.0
    # Events table, "raise after" column.
    stop_outside_door_zone_s: float = 15.0
    door_open_outside_zone_s: float = 2.0
    door_open_while_running_ms: int = 100
    moving_with_door_open_ms: int = 100
    overspeed_factor: float = 1.15
    overspeed_ms: int = 500
    overtravel_ms: int = 300
    overtravel_clear_s: float = 1.0
    run_timeout_s: float = 45.0
    safety_circuit_open_ms: int = 500
    door_lock_lost_ms: int = 100
    power_failure_s: float = 1.0
    door_reopen_count: int = 10
    door_reopen_window_s: float = 120.0
    door_reopen_open_ms: int = 300
    door_reopen_clear_run_s: float = 1.0
    door_reopen_clear_closed_s: float = 60.0
    door_open_too_long_s: float = 60.0
    position_lost_ms: int = 500
    alarm_button_ms: int = 500
    inspection_s: float = 1.0

    def __post_init__(self) -> None:
        problems = [f"{name}: {problem}" for name, problem in _problems(self)]
        if problems:
            raise DetectorConfigError("; ".join(problems))

    def ms(self, name: str) -> int:
        """The setting `name` (a time) in whole milliseconds."""
        value = getattr(self, name)
        if name.endswith("_s"):
            return int(round(value * 1000))
        return int(value)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> DetectorConfig:
        """Build from the `[detection]` table of the agent's TOML file `source`; errors name each bad key."""
        known = {f.name: f for f in fields(cls)}
        problems: list[str] = []
        values: dict[str, Any] = {}
        for key in table:
            if key not in known:
                problems.append(f"{source}: [detection] {key}: unknown setting")
                continue
            value = table[key]
            kind = _kind(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{source}: [detection] {key}: expected a number, got {value!r}")
            elif kind is int and not isinstance(value, int):
                problems.append(f"{source}: [detection] {key}: expected a whole number, got {value!r}")
            else:
                values[key] = value
        if not problems:
            candidate = {f.name: values.get(f.name, f.default) for f in fields(cls)}
            problems = [f"{source}: [detection] {name}: {problem}" for name, problem in _problems_of(candidate)]
        if problems:
            raise DetectorConfigError("; ".join(problems))
        return cls(**values)


def _kind(name: str) -> type:
    return int if name.endswith("_ms") or name.endswith("_count") else float


def _problems(cfg: DetectorConfig) -> list[tuple[str, str]]:
    return _problems_of({f.name: getattr(cfg, f.name) for f in fields(cfg)})


def _problems_of(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            out.append((name, f"expected a finite number, got {value!r}"))
        elif value < 0:
            out.append((name, f"must not be negative, got {value!r}"))
        elif name.endswith("_s") and value > 86400:
            out.append((name, f"more than a day ({value!r} s) is not a sensible threshold"))
    for name in ("door_reopen_count",):
        if isinstance(values.get(name), int) and values[name] < 1:
            out.append((name, "must be at least 1"))
    for name in ("overspeed_factor", "door_reopen_window_s"):
        value = values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            out.append((name, "must be greater than 0"))
    return out


@dataclass(frozen=True, slots=True)
class ElevatorLimits:
    """The installation facts some rules compare against (from the trace settings or the agent config)."""

    rated_speed_mm_s: int
    lowest_floor: int
    highest_floor: int

    def __post_init__(self) -> None:
        if self.rated_speed_mm_s <= 0:
            raise DetectorConfigError(f"rated_speed_mm_s: must be greater than 0, got {self.rated_speed_mm_s}")
        if self.lowest_floor > self.highest_floor:
            raise DetectorConfigError(f"lowest_floor {self.lowest_floor} is above highest_floor {self.highest_floor}")

    @classmethod
    def from_settings(cls, settings: TraceSettings) -> ElevatorLimits:
        return cls(settings.rated_speed_mm_s, settings.lowest_floor, settings.highest_floor)
