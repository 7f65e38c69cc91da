"""The model behaves like an elevator in normal service, and every fault leaves its signature."""

from __future__ import annotations

from typing import Any

import pytest

from hw_sim.model import ElevatorSim, SimError
from hw_sim.scenario import ElevatorSpec, Scenario, default_elevator
from hw_sim.traffic import PATTERNS, pattern_at
from protocols.signals import Door, Mode, SignalSnapshot
from tests.sim_model.util import periods, scenario, true_rows

TOWER = ElevatorSpec(lowest_floor=0, highest_floor=20, rated_speed_mm_s=2500, floor_height_mm=3300)
LOWRISE = ElevatorSpec(
    lowest_floor=1, highest_floor=6, rated_speed_mm_s=1000, floor_height_mm=3000, presence_sensor=False
)


@pytest.mark.parametrize(
    ("traffic", "elevator"),
    [("morning", default_elevator()), ("lunch", TOWER), ("evening", LOWRISE), ("night", TOWER)],
)
def test_normal_service_physics(traffic: str, elevator: ElevatorSpec) -> None:
    sc = Scenario(elevator, (), traffic, seed=11)
    sim = ElevatorSim(sc, live_noise=False)
    rows = []
    stops = 0
    prev: SignalSnapshot | None = None
    trips = 0
    for t in range(0, 3600 * 1000, 50):
        sim.advance(t)
        s = sim.true_snapshot()
        rows.append(s)
        assert s.speed_mm_s <= elevator.rated_speed_mm_s, "never faster than rated in normal service"
        assert s.mode is Mode.NORMAL and s.fault_code == 0 and s.power and s.safety_circuit
        assert elevator.lowest_floor <= s.floor <= elevator.highest_floor
        if s.door is not Door.CLOSED:
            assert s.door_zone and not s.running, "doors open only at rest in a door zone"
            assert not s.door_lock
        if s.running and s.door is Door.CLOSED:
            assert s.door_lock
        if prev is not None and prev.running and not s.running:
            stops += 1
            floor_mm = elevator.landing_position_mm(s.floor)
            assert abs(sim.position_mm - floor_mm) <= 2, "stops level with a landing"
            assert s.door_zone
        if prev is not None and not prev.running and s.running:
            trips += 1
        if s.occupied is not None:
            assert s.occupied == (sim.passengers > 0)
        else:
            assert not elevator.presence_sensor
        prev = s
    assert trips >= (5 if traffic == "night" else 40)
    assert stops >= trips - 1
    # the door never stays open long enough for door_open_too_long (60 s)
    assert max((e - s for s, e in periods(rows, lambda r: r.door is not Door.CLOSED)), default=0) < 55_000


def test_same_seed_same_run_different_seed_different_run() -> None:
    a = true_rows(Scenario(default_elevator(), (), "office", seed=4), 1800)[1]
    b = true_rows(Scenario(default_elevator(), (), "office", seed=4), 1800)[1]
    c = true_rows(Scenario(default_elevator(), (), "office", seed=5), 1800)[1]
    assert a == b
    assert a != c


def test_day_pattern_follows_the_clock() -> None:
    hour = 3_600_000
    assert pattern_at("day", 0.0, 3 * hour) is PATTERNS["night"]
    assert pattern_at("day", 0.0, 8 * hour) is PATTERNS["morning"]
    assert pattern_at("day", 7.0, 5 * hour + hour // 2) is PATTERNS["lunch"]  # 12:30
    assert pattern_at("day", 20.0, 12 * hour) is PATTERNS["morning"]  # 8:00 the next day
    assert pattern_at("lunch", 0.0, 3 * hour) is PATTERNS["lunch"]


def test_time_cannot_go_backwards() -> None:
    sim = ElevatorSim(Scenario(default_elevator()))
    sim.advance(5000)
    with pytest.raises(SimError, match="backwards"):
        sim.advance(4000)


def _longest(rows: list[SignalSnapshot], pred: Any) -> int:
    return max((e - s for s, e in periods(rows, pred)), default=0)


def _stuck_outside(r: SignalSnapshot) -> bool:
    return not r.running and not r.door_zone and r.door is Door.CLOSED


RATED = default_elevator().rated_speed_mm_s
TOP = default_elevator().highest_floor
BOTTOM = default_elevator().lowest_floor

# fault, duration, params, check(rows) -> bool
SIGNATURES: list[tuple[str, float | None, dict[str, Any], Any]] = [
    (
        "trap_between_floors",
        120.0,
        {"alarm": True},
        lambda rows: (
            _longest(rows, lambda r: _stuck_outside(r) and r.occupied) >= 115_000
            and any(r.alarm_button and _stuck_outside(r) for r in rows)
        ),
    ),
    (
        "trap_at_landing",
        150.0,
        {"code": 4801},
        lambda rows: (
            _longest(rows, lambda r: not r.running and r.door_zone and r.door is Door.CLOSED and r.occupied) >= 145_000
            and any(r.fault_code == 4801 for r in rows)
        ),
    ),
    ("power_failure", 60.0, {}, lambda rows: _longest(rows, lambda r: not r.power) == 60_000),
    (
        "power_failure",
        60.0,
        {"when": "running"},
        lambda rows: _longest(rows, lambda r: not r.power and _stuck_outside(r)) > 55_000,
    ),
    (
        "safety_circuit_open",
        40.0,
        {"when": "running"},
        lambda rows: (
            _longest(rows, lambda r: not r.safety_circuit and r.fault_code == 4100 and _stuck_outside(r)) > 35_000
        ),
    ),
    (
        "door_open_while_running",
        None,
        {},
        lambda rows: (
            _longest(rows, lambda r: r.running and r.door is not Door.CLOSED) >= 200
            and _longest(rows, lambda r: not r.running and not r.door_zone and r.door is not Door.CLOSED) >= 2500
        ),
    ),
    ("overspeed", None, {}, lambda rows: _longest(rows, lambda r: r.speed_mm_s > 1.15 * RATED) >= 700),
    (
        "overtravel_top",
        None,
        {},
        lambda rows: (
            _longest(rows, lambda r: r.running and r.direction == 1 and r.floor == TOP and not r.door_zone) >= 500
        ),
    ),
    (
        "overtravel_bottom",
        None,
        {},
        lambda rows: (
            _longest(rows, lambda r: r.running and r.direction == -1 and r.floor == BOTTOM and not r.door_zone) >= 500
        ),
    ),
    (
        "run_timeout",
        None,
        {},
        lambda rows: (
            _longest(rows, lambda r: r.running and not r.door_zone) >= 47_000
            and any(r.fault_code == 3001 for r in rows)
        ),
    ),
    (
        "door_lock_lost",
        None,
        {},
        lambda rows: _longest(rows, lambda r: r.running and r.door is Door.CLOSED and not r.door_lock) >= 150,
    ),
    (
        "door_reopen_repeated",
        None,
        {"cycles": 12},
        lambda rows: (
            max(
                sum(1 for s, e in periods(rows[i : i + 400], lambda r: r.door is Door.OPEN) if e - s >= 300)
                for i in range(0, len(rows), 50)
            )
            >= 10
        ),
    ),
    ("door_open_too_long", 90.0, {}, lambda rows: _longest(rows, lambda r: r.door is not Door.CLOSED) >= 89_000),
    ("controller_fault", 30.0, {"code": 2201}, lambda rows: _longest(rows, lambda r: r.fault_code == 2201) == 30_000),
    ("alarm_button", 2.0, {"presses": 2}, lambda rows: len(periods(rows, lambda r: r.alarm_button)) == 2),
    ("inspection", 300.0, {}, lambda rows: 250_000 <= _longest(rows, lambda r: r.mode is Mode.INSPECTION) <= 310_000),
]


@pytest.mark.parametrize(("fault", "duration", "params", "check"), SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_fault_signature(fault: str, duration: float | None, params: dict[str, Any], check: Any) -> None:
    sim, rows = true_rows(scenario((fault, 60.0, duration, params), seed=7), 900)
    due = sim.injections_due()
    assert len(due) == 1 and due[0]["inject"] == fault and due[0]["t_ms"] == 60_000
    assert check(rows), f"{fault}: signature not found"
    # and the car is back in normal service at the end: standing level, doors closed or serving
    assert rows[-1].power and rows[-1].safety_circuit and rows[-1].mode is Mode.NORMAL and rows[-1].fault_code == 0


def test_wire_faults_are_flags_only() -> None:
    sc = scenario(("comms_loss", 10.0, 20.0, {}), ("serial_noise", 40.0, 5.0, {}))
    sim = ElevatorSim(sc, live_noise=False)
    seen = []
    for t in (9_000, 10_000, 29_999, 30_000, 40_500, 45_000):
        sim.advance(t)
        seen.append((sim.comms_silent, sim.serial_noise_active))
    assert seen == [(False, False), (True, False), (True, False), (False, False), (False, True), (False, False)]


def test_inject_by_hand_returns_description() -> None:
    sim = ElevatorSim(Scenario(default_elevator()))
    sim.advance(1000)
    desc = sim.inject("controller_fault", 2000, 10, code=4201)
    assert desc["inject"] == "controller_fault" and desc["code"] == 4201 and desc["t_ms"] == 2000
    assert desc["duration_s"] == 10
    assert sim.snapshot().fault_code == 4201
    sim.advance(12_001)
    assert sim.snapshot().fault_code == 0


def test_live_snapshot_noise_is_short_and_rare() -> None:
    """The served (noisy) state differs from the truth only briefly."""
    sim = ElevatorSim(Scenario(default_elevator(), (), "lunch", seed=2))
    diff = 0
    for t in range(0, 1800 * 1000, 20):
        sim.advance(t)
        if sim.snapshot() != sim.true_snapshot():
            diff += 1
    assert 0 < diff * 20 < 1800 * 1000 * 0.05


OVERLAPS: list[list[tuple[str, float, float | None, dict[str, Any]]]] = [
    [("inspection", 60.0, 600.0, {"alarm_test": True}), ("power_failure", 120.0, 30.0, {})],
    [("safety_circuit_open", 60.0, 60.0, {}), ("power_failure", 80.0, 20.0, {})],
    [("power_failure", 60.0, 60.0, {}), ("safety_circuit_open", 70.0, 20.0, {})],
    [("overspeed", 60.0, 120.0, {}), ("power_failure", 200.0, 30.0, {})],
    [("controller_fault", 60.0, 200.0, {"code": 3601}), ("safety_circuit_open", 90.0, 30.0, {"code": 4100})],
    [("fire_service", 60.0, 300.0, {}), ("safety_circuit_open", 100.0, 20.0, {})],
    [("trap_between_floors", 60.0, 200.0, {}), ("power_failure", 150.0, 40.0, {}), ("alarm_button", 160.0, 2.0, {})],
    [("door_reopen_repeated", 60.0, None, {}), ("power_failure", 75.0, 10.0, {})],
]


@pytest.mark.parametrize("faults", OVERLAPS, ids=lambda fs: "+".join(f[0] for f in fs))
def test_faults_during_faults_leave_nothing_stuck(
    faults: list[tuple[str, float, float | None, dict[str, Any]]],
) -> None:
    """Whatever was cut short, once every fault has ended the car is back in normal service."""
    sim, rows = true_rows(scenario(*faults, traffic="lunch", seed=13), 1800)
    late = [r for r in rows if r.t_ms > 1200_000]
    assert all(r.power and r.safety_circuit and r.mode is Mode.NORMAL and r.fault_code == 0 for r in late)
    assert not any(r.alarm_button for r in late)
    assert sum(1 for a, b in zip(late, late[1:], strict=False) if not a.running and b.running) >= 3
    assert len(sim.injections_due()) == len(faults)


def test_trapped_passengers_press_the_alarm_only_without_presence_sensor_by_default() -> None:
    """With a presence sensor the alarm button is left to its own injection (testers time both)."""
    sim, rows = true_rows(scenario(("trap_between_floors", 60.0, 120.0, {}), seed=7), 400)
    assert _longest(rows, lambda r: _stuck_outside(r) and r.occupied) >= 115_000
    assert not any(r.alarm_button for r in rows)


def test_armed_fault_reports_the_moment_it_hits() -> None:
    """`inject` lines for armed faults are printed when the car actually stops, not when armed."""
    sim = ElevatorSim(scenario(("trap_between_floors", 60.0, 120.0, {}), seed=7))
    happened: list[dict[str, Any]] = []
    stop_ms = None
    for t in range(0, 300_000, 100):
        sim.advance(t)
        happened += sim.faults_happened()
        s = sim.true_snapshot()
        if happened and stop_ms is None and _stuck_outside(s):
            stop_ms = t
    assert len(happened) == 1 and happened[0]["inject"] == "trap_between_floors"
    assert happened[0]["armed_at_ms"] == 60_000 and happened[0]["t_ms"] >= 60_000
    assert stop_ms is not None and 0 <= stop_ms - happened[0]["t_ms"] <= 5_000
