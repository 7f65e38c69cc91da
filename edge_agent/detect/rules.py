"""The rules of `../shared/contract/detection.md` as data, to be read side by side with the contract.

Most events are "held for T" rules: a condition over the debounced signals, a hold time, a clear
rule. They are rows of `HELD_RULES`; the detector runs them all through one hold/clear machine.
Three events do not fit that shape and have their own code in `detector.py`, documented there:
`entrapment` (its own section of the contract), `door_reopen_repeated` (counts openings) and
`controller_fault` (raised at once, re-raised when the code changes).

A condition reads a `Signals`: the debounced signal values plus the few facts about the past that
the contract's conditions mention (when the current run started, when the door left `closed`,
whether the car was in the top landing's door zone earlier in this run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from protocols.events import DETECTION_TYPES
from protocols.signals import Door, Mode

from .config import DetectorConfig, ElevatorLimits


class Signals:
    """Debounced signal state at the detector's current time, and the derived facts rules need.

    Times are ms on the snapshot clock; a `*_since` / `*_at` is None while its state does not hold.
    """

    __slots__ = (
        "floor",
        "direction",
        "running",
        "speed_mm_s",
        "door",
        "door_closed",
        "door_zone",
        "door_lock",
        "safety_circuit",
        "occupied",
        "alarm_button",
        "power",
        "mode",
        "fault_code",
        # derived
        "run_start",
        "door_left_closed_at",
        "door_closed_since",
        "door_zone_since",
        "top_zone_seen",
        "bottom_zone_seen",
        # limits
        "lowest_floor",
        "highest_floor",
        "overspeed_mm_s",
    )

    def __init__(self, limits: ElevatorLimits, config: DetectorConfig) -> None:
        self.floor = 0
        self.direction = 0
        self.running = False
        self.speed_mm_s = 0
        self.door = Door.CLOSED
        self.door_closed = True
        self.door_zone = False
        self.door_lock = True
        self.safety_circuit = True
        self.occupied: bool | None = None
        self.alarm_button = False
        self.power = True
        self.mode = Mode.NORMAL
        self.fault_code = 0
        self.run_start: int | None = None
        self.door_left_closed_at: int | None = None
        self.door_closed_since: int | None = None
        self.door_zone_since: int | None = None
        self.top_zone_seen = False
        self.bottom_zone_seen = False
        self.lowest_floor = limits.lowest_floor
        self.highest_floor = limits.highest_floor
        # Rounded so that 1.15 x 2000 is 2300, not 2300.0000000000005.
        self.overspeed_mm_s = round(config.overspeed_factor * limits.rated_speed_mm_s, 6)


Condition = Callable[[Signals], bool]
Since = Callable[[Signals], "int | None"]


@dataclass(frozen=True, slots=True)
class ClearWhen:
    """A clear rule of its own: `since(signals)` is when its state began (None: not in it); clears after `hold`."""

    text: str
    since: Since
    hold: str  # DetectorConfig field


@dataclass(frozen=True, slots=True)
class HeldRule:
    """Raised when `condition` has held for `hold`; cleared by `clear` or, if empty, the general clear."""

    name: str
    text: str  # the contract's wording of the condition
    condition: Condition
    reads: str  # the signals the condition (and its own clear rule) reads: it is re-evaluated when one changes
    hold: str  # DetectorConfig field
    clear: tuple[ClearWhen, ...] = ()
    once_per_run: bool = False


def _stop_outside_door_zone(s: Signals) -> bool:
    return not s.running and not s.door_zone and s.door_closed


def _door_open_outside_zone(s: Signals) -> bool:
    return not s.running and not s.door_zone and not s.door_closed


def _door_open_while_running(s: Signals) -> bool:
    # The run had started before the door left `closed`.
    return (
        s.running
        and not s.door_closed
        and s.run_start is not None
        and s.door_left_closed_at is not None
        and s.door_left_closed_at > s.run_start
    )


def _moving_with_door_open(s: Signals) -> bool:
    # The door left `closed` before or at the moment the run started (a trace that starts running
    # with the door open counts both from its first row, so this one).
    return (
        s.running
        and not s.door_closed
        and s.run_start is not None
        and s.door_left_closed_at is not None
        and s.door_left_closed_at <= s.run_start
    )


def _overspeed(s: Signals) -> bool:
    return s.speed_mm_s > s.overspeed_mm_s


def _overtravel_top(s: Signals) -> bool:
    return s.running and s.direction == 1 and s.floor == s.highest_floor and not s.door_zone and s.top_zone_seen


def _overtravel_bottom(s: Signals) -> bool:
    return s.running and s.direction == -1 and s.floor == s.lowest_floor and not s.door_zone and s.bottom_zone_seen


def _run_timeout(s: Signals) -> bool:
    return s.running and not s.door_zone


def _safety_circuit_open(s: Signals) -> bool:
    return not s.safety_circuit and s.power


def _door_lock_lost(s: Signals) -> bool:
    return s.running and s.door_closed and not s.door_lock


def _power_failure(s: Signals) -> bool:
    return not s.power


def _door_open_too_long(s: Signals) -> bool:
    return not s.door_closed and not s.running and s.mode is Mode.NORMAL


def _position_lost(s: Signals) -> bool:
    return s.floor < s.lowest_floor or s.floor > s.highest_floor


def _alarm_button(s: Signals) -> bool:
    return s.alarm_button


def _inspection(s: Signals) -> bool:
    return s.mode is Mode.INSPECTION


def _zone_since(s: Signals) -> int | None:
    return s.door_zone_since if s.door_zone else None


_OVERTRAVEL_CLEAR = (ClearWhen("door_zone=1 has held 1 s", _zone_since, "overtravel_clear_s"),)

HELD_RULES: tuple[HeldRule, ...] = (
    HeldRule(
        "stop_outside_door_zone",
        "running=0, door_zone=0, door=closed",
        _stop_outside_door_zone,
        "running door_zone door",
        "stop_outside_door_zone_s",
    ),
    HeldRule(
        "door_open_outside_zone",
        "running=0, door_zone=0, door!=closed",
        _door_open_outside_zone,
        "running door_zone door",
        "door_open_outside_zone_s",
    ),
    HeldRule(
        "door_open_while_running",
        "running=1, door!=closed, the run had started before the door left closed",
        _door_open_while_running,
        "running door",
        "door_open_while_running_ms",
    ),
    HeldRule(
        "moving_with_door_open",
        "running=1, door!=closed, the door left closed before or at the moment the run started",
        _moving_with_door_open,
        "running door",
        "moving_with_door_open_ms",
    ),
    HeldRule("overspeed", "speed_mm_s > 1.15 x rated_speed_mm_s", _overspeed, "speed_mm_s", "overspeed_ms"),
    HeldRule(
        "overtravel_top",
        "running=1, direction=1, floor=highest_floor, door_zone=0, after the car was in the door zone "
        "of the highest floor earlier in the same run",
        _overtravel_top,
        "running direction floor door_zone",
        "overtravel_ms",
        clear=_OVERTRAVEL_CLEAR,
        once_per_run=True,
    ),
    HeldRule(
        "overtravel_bottom",
        "the same downwards at lowest_floor",
        _overtravel_bottom,
        "running direction floor door_zone",
        "overtravel_ms",
        clear=_OVERTRAVEL_CLEAR,
        once_per_run=True,
    ),
    HeldRule("run_timeout", "running=1 and door_zone=0", _run_timeout, "running door_zone", "run_timeout_s"),
    HeldRule(
        "safety_circuit_open",
        "safety_circuit=0 while power=1",
        _safety_circuit_open,
        "safety_circuit power",
        "safety_circuit_open_ms",
    ),
    HeldRule(
        "door_lock_lost",
        "running=1, door=closed, door_lock=0",
        _door_lock_lost,
        "running door door_lock",
        "door_lock_lost_ms",
    ),
    HeldRule("power_failure", "power=0", _power_failure, "power", "power_failure_s"),
    HeldRule(
        "door_open_too_long",
        "door!=closed, running=0, mode normal",
        _door_open_too_long,
        "door running mode",
        "door_open_too_long_s",
    ),
    HeldRule(
        "position_lost",
        "floor < lowest_floor or floor > highest_floor",
        _position_lost,
        "floor",
        "position_lost_ms",
    ),
    HeldRule("alarm_button", "alarm_button=1", _alarm_button, "alarm_button", "alarm_button_ms"),
    HeldRule("inspection", "mode inspection", _inspection, "mode", "inspection_s"),
)

# Words: suppressed. In these modes the event's condition counts as false.
NEVER_SUPPRESSED = frozenset({"power_failure", "alarm_button", "inspection"})
ALL_TYPES: tuple[str, ...] = DETECTION_TYPES  # the contract's table, kept once in protocols/events.py
SUPPRESSED_IN: dict[Mode, frozenset[str]] = {
    Mode.INSPECTION: frozenset(ALL_TYPES) - NEVER_SUPPRESSED,
    Mode.OUT_OF_SERVICE: frozenset(
        {"entrapment", "stop_outside_door_zone", "door_open_too_long", "door_reopen_repeated"}
    ),
}


def suppressing_modes(event_type: str) -> frozenset[Mode]:
    """The modes in which `event_type` is suppressed."""
    return frozenset(mode for mode, types in SUPPRESSED_IN.items() if event_type in types)


# Rules with clear rules of their own: suppression does not clear them (Words: suppressed).
OWN_CLEAR_RULES = frozenset({"entrapment", "overtravel_top", "overtravel_bottom", "door_reopen_repeated"})
