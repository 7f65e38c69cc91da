"""Drive a Detector by hand: a car whose signals start from a baseline and change step by step."""

from __future__ import annotations

from typing import Any

from edge_agent.detect import Detector, DetectorConfig, ElevatorLimits
from protocols.events import Event
from protocols.signals import Door, Mode, SignalSnapshot

LIMITS = ElevatorLimits(rated_speed_mm_s=1600, lowest_floor=1, highest_floor=10)

# Standing at floor 3 in the door zone, door closed, nobody inside, all healthy.
BASELINE: dict[str, Any] = dict(
    floor=3,
    direction=0,
    running=False,
    speed_mm_s=0,
    door=Door.CLOSED,
    door_zone=True,
    door_lock=True,
    safety_circuit=True,
    occupied=False,
    alarm_button=False,
    power=True,
    mode=Mode.NORMAL,
    fault_code=0,
)

Ev = tuple[int, str, str]


def plain(events: list[Event]) -> list[Ev]:
    """Events as (t_ms, type, action) for readable comparisons."""
    return [(e.t_ms, e.type, e.action.value) for e in events]


class Car:
    """`car.at(t, **changes)` feeds one snapshot and returns the events it decided."""

    def __init__(self, config: DetectorConfig | None = None, limits: ElevatorLimits = LIMITS, **initial: Any) -> None:
        self.detector = Detector(limits, config)
        self.state = {**BASELINE, **initial}
        self.events: list[Event] = []

    def at(self, t_ms: int, **changes: Any) -> list[Ev]:
        self.state.update(changes)
        out = self.detector.step(SignalSnapshot(t_ms, **self.state))
        self.events += out
        return plain(out)

    def advance(self, t_ms: int) -> list[Ev]:
        out = self.detector.advance(t_ms)
        self.events += out
        return plain(out)

    @property
    def active(self) -> frozenset[str]:
        return self.detector.active


def run(rows: list[SignalSnapshot], limits: ElevatorLimits = LIMITS, config: DetectorConfig | None = None) -> list[Ev]:
    """Replay snapshots as `elev-agent replay` does: a row followed by one at the same t_ms held for
    no time and is dropped; then time runs on to the last row."""
    det = Detector(limits, config)
    out: list[Event] = []
    for i, snap in enumerate(rows):
        if i + 1 < len(rows) and rows[i + 1].t_ms == snap.t_ms:
            continue
        out += det.step(snap)
    if rows:
        out += det.finish(rows[-1].t_ms)
    return plain(out)
