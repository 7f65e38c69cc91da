"""Fusion of controller registers and sensor levels, table-driven (pure: no IO)."""

from __future__ import annotations

import pytest

from edge_agent.fusion import FusionError, degraded, fuse
from protocols.registers import CarState, encode_system_state
from protocols.signals import Door, Mode

LEVELS = {
    "door_closed": True,
    "leveling_up": True,
    "leveling_down": True,
    "presence": False,
    "alarm_button": False,
    "mains": True,
    "safety_circuit": True,
    "door_lock": True,
}


def regs(car: CarState = CarState.CLOSED_HOLD, mode: Mode = Mode.NORMAL, **kw: int) -> dict[str, int]:
    base = {
        "speed_mm_s": 0,
        "rated_speed_mm_s": 1000,
        "landing": 3,
        "car_position_dm": 60,
        "car_load_permille": 0,
        "system_state": encode_system_state(mode, car),
        "run_status": 3,
        "fault": 0,
    }
    return base | kw


@pytest.mark.parametrize(
    ("registers", "levels", "expected"),
    [
        # standing at a landing, everything normal
        (regs(), {}, {"floor": 3, "running": False, "door": Door.CLOSED, "door_zone": True, "occupied": False}),
        # basement offset: landing 1 is floor -2
        (regs(landing=1), {}, {"floor": -2 + 0}),
        # running up: direction from the run status
        (
            regs(CarState.RUNNING, speed_mm_s=900, run_status=1),
            {"leveling_up": False, "leveling_down": False},
            {"running": True, "direction": 1, "speed_mm_s": 900, "door_zone": False},
        ),
        # the door contact opens in travel: seen as an open door although the controller says running
        (regs(CarState.RUNNING, run_status=2), {"door_closed": False}, {"door": Door.OPEN, "direction": -1}),
        # contact made wins over a controller still reporting closing
        (regs(CarState.CLOSING), {}, {"door": Door.CLOSED}),
        # contact open while the controller says opening: keep the controller's finer state
        (regs(CarState.OPENING), {"door_closed": False}, {"door": Door.OPENING}),
        # only one leveling sensor made: not in the zone
        (regs(), {"leveling_down": False}, {"door_zone": False}),
        # no presence sensor fitted: occupied is None ("empty" in the trace)
        (regs(), {"presence": None}, {"occupied": None}),
        # senses
        (
            regs(),
            {"mains": False, "safety_circuit": False, "alarm_button": True},
            {"power": False, "safety_circuit": False, "alarm_button": True},
        ),
        # service mode and fault code from the controller
        (regs(mode=Mode.INSPECTION, fault=4102), {}, {"mode": Mode.INSPECTION, "fault_code": 4102}),
        # landing 0: position lost stays visible (below the lowest floor)
        (regs(landing=0), {}, {"floor": 0}),
    ],
)
def test_fuse_table(registers: dict[str, int], levels: dict[str, bool | None], expected: dict[str, object]) -> None:
    lv = {k: v for k, v in (LEVELS | levels).items() if v is not None}
    lowest = -2 if registers["landing"] == 1 else 1
    snap = fuse(1234, registers, lv, lowest)
    assert snap.t_ms == 1234
    for field, value in expected.items():
        assert getattr(snap, field) == value, field


def test_lines_not_fitted_fall_back_without_inventing_alarms() -> None:
    snap = fuse(0, regs(CarState.OPEN_HOLD), {}, 1)
    assert snap.door is Door.OPEN and snap.door_zone  # stopped at a landing with the door open
    assert snap.power and snap.safety_circuit and not snap.alarm_button and snap.occupied is None
    assert not snap.door_lock  # the lock follows the door when no lock sense is wired


@pytest.mark.parametrize("bad", [regs(run_status=0), regs(run_status=9), regs(system_state=0x0F70)])
def test_words_the_controller_cannot_mean_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(FusionError):
        fuse(0, bad, LEVELS, 1)


def test_degraded_keeps_sensors_and_takes_the_car_as_standing() -> None:
    last = fuse(0, regs(CarState.RUNNING, speed_mm_s=1000, run_status=1, fault=0), LEVELS, 1)
    d = degraded(5000, last, LEVELS | {"mains": False, "alarm_button": True, "leveling_up": False}, 1)
    assert (d.t_ms, d.running, d.speed_mm_s, d.direction) == (5000, False, 0, 0)
    assert not d.power and d.alarm_button and not d.door_zone and d.floor == last.floor
