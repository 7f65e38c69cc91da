"""The event catalog: every event the detector can raise, with the code it travels under.

The names are those of `../shared/contract/detection.md`; they appear in replay output, in the
collector's API and in the city feed. On the wire an event travels as a one-byte `wire` code so a
frame stays small. Where GB/T 24476-2017 (or the platform extensions 09-11, 14) gives the event a
code, that is kept separately as `gbt_code`: the standard gives some events the same code (its 08
is "any other fault that prevents a restart"), so it cannot serve as a unique wire code. Wire codes
below 100 are the standard's numbers; 100 and up are this project's.

Codes are append-only: never renumber or reuse one, the collector's history depends on them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple


class Severity(enum.StrEnum):
    """How the collector treats a raise: an alarm starts a response, a fault is for maintenance."""

    ALARM = "alarm"  # people may be at risk: dispatch
    FAULT = "fault"  # the elevator is faulty: maintenance
    INFO = "info"  # a state worth recording (maintenance session, link state)
    ADVISORY = "advisory"  # a figure drifting (trend watch): for the maintenance company, never a page


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    wire: int
    gbt_code: str | None
    severity: Severity
    title: str


CATALOG: tuple[EventSpec, ...] = (
    EventSpec("safety_circuit_open", 1, "01", Severity.FAULT, "Safety circuit open"),
    EventSpec("door_open_too_long", 2, "02", Severity.FAULT, "Door fails to close"),
    EventSpec("stop_outside_door_zone", 4, "04", Severity.FAULT, "Car stopped outside the door zone"),
    EventSpec("moving_with_door_open", 5, "05", Severity.ALARM, "Unintended car movement (door open)"),
    EventSpec("run_timeout", 6, "06", Severity.FAULT, "Motor run-time limiter"),
    EventSpec("position_lost", 7, "07", Severity.FAULT, "Floor position lost"),
    EventSpec("controller_fault", 8, "08", Severity.FAULT, "Controller fault code"),
    EventSpec("overtravel_top", 9, "09", Severity.ALARM, "Overtravel at the top"),
    EventSpec("overtravel_bottom", 10, "10", Severity.ALARM, "Overtravel at the bottom"),
    EventSpec("entrapment", 11, "11", Severity.ALARM, "Passengers trapped"),
    EventSpec("door_reopen_repeated", 14, "14", Severity.FAULT, "Door reopens repeatedly"),
    EventSpec("power_failure", 41, "41", Severity.ALARM, "Mains power failure"),
    EventSpec("inspection", 43, "43", Severity.INFO, "Inspection (maintenance) mode"),
    EventSpec("alarm_button", 90, "90", Severity.ALARM, "Car alarm button pressed"),
    EventSpec("door_open_outside_zone", 101, None, Severity.ALARM, "Door open outside the door zone"),
    EventSpec("door_open_while_running", 102, "08", Severity.ALARM, "Door opened while running"),
    EventSpec("overspeed", 103, None, Severity.ALARM, "Overspeed"),
    EventSpec("door_lock_lost", 104, None, Severity.ALARM, "Door lock circuit broke in travel"),
    EventSpec("comms_lost", 120, None, Severity.FAULT, "Controller not answering"),
    EventSpec("device_offline", 121, None, Severity.FAULT, "Gateway offline"),
    # Trend watch (edge_agent/trend, docs/trend-watch.md): advisories, raised and cleared by day.
    EventSpec("trend_door_opening", 130, None, Severity.ADVISORY, "Door opening slower than its baseline"),
    EventSpec("trend_door_closing", 131, None, Severity.ADVISORY, "Door closing slower than its baseline"),
    EventSpec("trend_door_lock", 132, None, Severity.ADVISORY, "Door lock slower than its baseline"),
    EventSpec("trend_door_reopens", 133, None, Severity.ADVISORY, "Door re-opens more often than its baseline"),
    EventSpec("trend_relevels", 134, None, Severity.ADVISORY, "More re-levels than the baseline (leveling)"),
    EventSpec("trend_stopping", 135, None, Severity.ADVISORY, "Stopping takes longer than its baseline (brake)"),
    EventSpec("trend_travel_time", 136, None, Severity.ADVISORY, "Trips take longer than their baseline"),
)

BY_NAME: dict[str, EventSpec] = {e.name: e for e in CATALOG}
BY_WIRE: dict[int, EventSpec] = {e.wire: e for e in CATALOG}
# Trend watch's advisories: never alarms, never counted as equipment faults.
ADVISORY_TYPES: frozenset[str] = frozenset(e.name for e in CATALOG if e.severity is Severity.ADVISORY)

# The event types of detection.md, in the contract's table order (the detector raises these).
DETECTION_TYPES: tuple[str, ...] = (
    "entrapment",
    "stop_outside_door_zone",
    "door_open_outside_zone",
    "door_open_while_running",
    "moving_with_door_open",
    "overspeed",
    "overtravel_top",
    "overtravel_bottom",
    "run_timeout",
    "safety_circuit_open",
    "door_lock_lost",
    "power_failure",
    "door_reopen_repeated",
    "door_open_too_long",
    "position_lost",
    "controller_fault",
    "alarm_button",
    "inspection",
)


class Action(enum.StrEnum):
    RAISE = "raise"
    CLEAR = "clear"


class Event(NamedTuple):
    """One raise or clear, at the moment its rule was met (monotonic ms of the agent's clock).

    `fault_code` is set for `controller_fault` only; `floor` is the floor the car reported then.
    `after_restart`: a clear the agent decided on its first observations after a restart, for an
    alarm the previous run raised (its condition no longer held when the agent came back).
    """

    t_ms: int
    type: str
    action: Action
    floor: int | None = None
    fault_code: int | None = None
    after_restart: bool = False

    def to_json_dict(self) -> dict[str, object]:
        """The replay output line of `../shared/contract/trace.md`."""
        out: dict[str, object] = {"t_ms": self.t_ms, "type": self.type, "action": self.action.value}
        if self.floor is not None:
            out["floor"] = self.floor
        if self.fault_code is not None:
            out["fault_code"] = self.fault_code
        if self.after_restart:
            out["after_restart"] = True
        return out


def spec(name: str) -> EventSpec:
    """The catalog entry for an event name; KeyError names the unknown event."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown event type {name!r}") from None


def _check_catalog() -> None:
    if len(BY_NAME) != len(CATALOG) or len(BY_WIRE) != len(CATALOG):
        raise RuntimeError("event catalog has a duplicate name or wire code")
    if any(not 0 < e.wire < 256 for e in CATALOG):
        raise RuntimeError("event wire codes must fit one byte")
    missing = set(DETECTION_TYPES) - set(BY_NAME)
    if missing:
        raise RuntimeError(f"event catalog lacks {sorted(missing)}")


_check_catalog()
