"""Detector.restore: the alarms a previous run raised are continued, never raised twice.

Table-driven: each case restores an active set at t=1000, then feeds snapshots; the events must be
exactly the expected ones (no second raise while the condition holds; the clear by the rule's own
clear logic when it no longer does, marked after_restart).
"""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.detect import DetectError, Detector
from protocols.events import Action, Event
from protocols.signals import Door, SignalSnapshot

from .support import BASELINE, LIMITS

T0 = 1000
TRAPPED = dict(occupied=True, door=Door.CLOSED, running=False)

# (name, restored active set, [(t_ms, changes)], expected [(t_ms, type, action, after_restart)])
CASES: list[tuple[str, dict[str, int | None], list[tuple[int, dict[str, Any]]], list[tuple[int, str, str, bool]]]] = [
    (
        "entrapment still holding: no second raise",
        {"entrapment": None},
        [(T0, TRAPPED), (T0 + 200_000, TRAPPED)],
        [],
    ),
    (
        "entrapment ended before the restart: cleared once the door is open 1 s",
        {"entrapment": None},
        [(T0, dict(occupied=False, door=Door.OPEN)), (T0 + 5000, dict(occupied=False, door=Door.OPEN))],
        [(T0 + 1000, "entrapment", "clear", True)],
    ),
    (
        "entrapment holding, then the door opens: an ordinary clear, not marked",
        {"entrapment": None},
        [(T0, TRAPPED), (T0 + 30_000, dict(door=Door.OPEN)), (T0 + 40_000, {})],
        [(T0 + 31_000, "entrapment", "clear", False)],
    ),
    (
        "door_open_too_long still open: no second raise",
        {"door_open_too_long": None},
        [(T0, dict(door=Door.OPEN)), (T0 + 120_000, dict(door=Door.OPEN))],
        [],
    ),
    (
        "door_open_too_long, door closed meanwhile: clear after clear_s",
        {"door_open_too_long": None},
        [(T0, dict(door=Door.CLOSED)), (T0 + 5000, {})],
        [(T0 + 1000, "door_open_too_long", "clear", True)],
    ),
    (
        "controller_fault same code: continued",
        {"controller_fault": 42},
        [(T0, dict(fault_code=42)), (T0 + 10_000, dict(fault_code=42))],
        [],
    ),
    (
        "controller_fault gone: clear with the restored code",
        {"controller_fault": 42},
        [(T0, dict(fault_code=0)), (T0 + 5000, {})],
        [(T0 + 1000, "controller_fault", "clear", True)],
    ),
    (
        "controller_fault other code: old cleared, new raised",
        {"controller_fault": 42},
        [(T0, dict(fault_code=7)), (T0 + 5000, {})],
        [(T0, "controller_fault", "clear", True), (T0, "controller_fault", "raise", False)],
    ),
    (
        "nothing restored: a fault is raised at once (the baseline behaviour)",
        {},
        [(T0, dict(fault_code=42)), (T0 + 5000, {})],
        [(T0, "controller_fault", "raise", False)],
    ),
]


def _feed(active: dict[str, int | None], rows: list[tuple[int, dict[str, Any]]]) -> tuple[Detector, list[Event]]:
    det = Detector(LIMITS)
    det.restore(active, T0)
    state = dict(BASELINE)
    out: list[Event] = []
    for t, changes in rows:
        state.update(changes)
        out += det.step(SignalSnapshot(t, **state))
    return det, out


@pytest.mark.parametrize(("active", "rows", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_restore_reconciles(
    active: dict[str, int | None], rows: list[tuple[int, dict[str, Any]]], expected: list[tuple[int, str, str, bool]]
) -> None:
    _, events = _feed(active, rows)
    assert [(e.t_ms, e.type, e.action.value, e.after_restart) for e in events] == expected


def test_restored_fault_clear_carries_the_code() -> None:
    _, events = _feed({"controller_fault": 42}, [(T0, dict(fault_code=0)), (T0 + 5000, {})])
    assert events == [Event(T0 + 1000, "controller_fault", Action.CLEAR, 3, 42, True)]


def test_restored_alarm_then_a_new_one_raises_normally() -> None:
    """After the restored entrapment clears, a new entrapment is a new raise (not marked)."""
    _, events = _feed(
        {"entrapment": None},
        [(T0, dict(door=Door.OPEN, occupied=False)), (T0 + 5000, dict(door=Door.CLOSED, occupied=True))]
        + [(T0 + 5000 + 91_000 + 60_000, TRAPPED)],
    )
    kinds = [(e.type, e.action.value, e.after_restart) for e in events]
    assert kinds == [("entrapment", "clear", True), ("entrapment", "raise", False)]


def test_restore_after_first_snapshot_is_refused() -> None:
    det = Detector(LIMITS)
    det.step(SignalSnapshot(T0, **BASELINE))
    with pytest.raises(DetectError, match="before the first snapshot"):
        det.restore({"entrapment": None}, T0)


def test_restore_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(DetectError, match="no_such_event"):
        Detector(LIMITS).restore({"no_such_event": None}, T0)


def test_active_after_restore() -> None:
    det = Detector(LIMITS)
    det.restore({"entrapment": None, "door_open_too_long": None}, T0)
    assert det.active == {"entrapment", "door_open_too_long"}
