"""The reporting policy: trips, door cycles, shown state, live view; and that the platform's
figures (maintenance sessions, rescue cases, statistics) are the same as with full-rate status."""

from __future__ import annotations

from typing import Any

import pytest

from collector.platform.maintenance import InspectionEvent, MaintenanceConfig, StatusPoint, build_sessions
from collector.platform.rescue import open_case
from collector.platform.statistics import AlarmFact, ElevatorRef, compute
from edge_agent.config import ConfigError, build
from edge_agent.detect import Detector, ElevatorLimits
from edge_agent.report.policy import ReportConfig, Reporter
from hw_sim.render import render
from hw_sim.scenario import parse_scenario
from protocols.events import Action, Event
from protocols.frames import Body, DoorCycle, RecordKind, StopQuality, Trip
from protocols.signals import Door, Mode, SignalSnapshot

BASE: dict[str, Any] = dict(
    floor=1,
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


class Car:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.state = dict(BASE)
        self.out: list[tuple[RecordKind, Body]] = []

    def at(self, t_ms: int, **changes: Any) -> list[tuple[RecordKind, Body]]:
        self.state.update(changes)
        got = self.reporter.step(SignalSnapshot(t_ms, **self.state))
        self.out += got
        return got

    def kinds(self) -> list[RecordKind]:
        return [k for k, _ in self.out]


def one_stop(car: Car, t: int) -> None:
    """A run from floor 1 to 3, then a door cycle with one reopen (an obstruction)."""
    car.at(t, running=True, direction=1, door_lock=True, speed_mm_s=300)
    car.at(t + 500, speed_mm_s=1600, door_zone=False, floor=2)
    car.at(t + 3000, speed_mm_s=900, floor=3)
    car.at(t + 4000, speed_mm_s=100, door_zone=True)
    car.at(t + 4500, running=False, direction=0, speed_mm_s=0)
    car.at(t + 4800, door=Door.OPENING, door_lock=False)
    car.at(t + 6800, door=Door.OPEN)
    car.at(t + 10_800, door=Door.CLOSING)
    car.at(t + 11_800, door=Door.OPENING)
    car.at(t + 12_300, door=Door.OPEN)
    car.at(t + 14_300, door=Door.CLOSING)
    car.at(t + 16_800, door=Door.CLOSED, door_lock=True)


def test_a_run_and_a_door_cycle_are_two_records() -> None:
    car = Car(Reporter())
    car.at(0)  # the first snapshot says where the car is
    assert car.kinds() == [RecordKind.STATUS]
    one_stop(car, 1000)
    assert car.out[1:] == [
        (RecordKind.TRIP, Trip(1000, 5500, 1, 3, 1600, StopQuality.LEVEL, False, 500, 1, 4)),
        (RecordKind.DOOR_CYCLE, DoorCycle(5800, 17_800, 3, 4000 + 2000, 1, 2000, 2500, 0, 1)),
    ]


def test_a_relevel_is_marked_and_the_lock_ends_the_door_cycle() -> None:
    """Trend watch's figures (docs/trend-watch.md): a low-speed correction at the landing just
    stopped at is a re-level, not a trip; the door cycle ends when the lock is made."""
    car = Car(Reporter())
    car.at(0)
    car.at(1000, running=True, direction=1, speed_mm_s=1000, door_zone=False)
    car.at(3000, speed_mm_s=200, floor=2, door_zone=True)
    car.at(3800, running=False, direction=0, speed_mm_s=0)
    car.at(4000, running=True, direction=-1, speed_mm_s=50)  # overshot: back to the landing
    car.at(4600, running=False, direction=0, speed_mm_s=0)
    car.at(5000, door=Door.OPENING, door_lock=False)
    car.at(7100, door=Door.OPEN)
    car.at(9000, door=Door.CLOSING)
    car.at(11_700, door=Door.CLOSED)
    assert [k for k, _ in car.out[1:]] == [RecordKind.TRIP, RecordKind.TRIP]  # no door record before the lock
    car.at(12_050, door_lock=True)
    trips = [b for k, b in car.out if isinstance(b, Trip)]
    assert [(t.relevel, t.stopping_ms, t.runs) for t in trips] == [(False, 800, 1), (True, 600, 2)]
    assert trips[1].running_s == 3  # 2.8 s + 0.6 s
    doors = [b for k, b in car.out if isinstance(b, DoorCycle)]
    assert doors == [DoorCycle(5000, 12_050, 2, 1900, 0, 2100, 2700, 350, 1)]
    # a door that closes but never locks ends its cycle after LOCK_WAIT_MS, lock time unknown
    car.at(13_000, door=Door.OPENING, door_lock=False)
    car.at(15_000, door=Door.OPEN)
    car.at(16_000, door=Door.CLOSING)
    car.at(18_500, door=Door.CLOSED)
    car.at(23_600, door=Door.CLOSED, occupied=True)
    last = [b for k, b in car.out if isinstance(b, DoorCycle)][-1]
    assert (last.lock_ms, last.end_ms, last.cycles) == (None, 23_600, 2)


def test_a_stop_outside_the_door_zone_or_on_a_broken_safety_circuit_says_so() -> None:
    car = Car(Reporter())
    car.at(0)
    car.at(100, running=True, speed_mm_s=800, door_zone=False)
    car.at(900, running=False, speed_mm_s=0)
    car.at(1000, running=True, speed_mm_s=400)
    car.at(1400, running=False, speed_mm_s=0, safety_circuit=False, door_zone=True)
    trips = [b for k, b in car.out if k is RecordKind.TRIP]
    assert [t.stop_quality for t in trips if isinstance(t, Trip)] == [StopQuality.OUT_OF_ZONE, StopQuality.EMERGENCY]
    assert car.out[-1][0] is RecordKind.STATUS  # the safety circuit is a shown state


@pytest.mark.parametrize(
    ("change", "value"),
    [("mode", Mode.FIRE), ("fault_code", 4102), ("power", False), ("safety_circuit", False), ("alarm_button", True)],
)
def test_a_shown_state_change_is_a_status_record(change: str, value: object) -> None:
    car = Car(Reporter())
    car.at(0)
    assert car.at(100, occupied=True, door_zone=False, speed_mm_s=5) == []  # not shown between trips
    got = car.at(200, **{change: value})
    assert [k for k, _ in got] == [RecordKind.STATUS]


def test_outside_normal_service_every_change_is_sent() -> None:
    car = Car(Reporter())
    car.at(0, mode=Mode.INSPECTION)
    car.at(100, running=True, speed_mm_s=300)
    car.at(1000, floor=2, speed_mm_s=300)
    car.at(2000, speed_mm_s=250)
    statuses = [b for k, b in car.out if k is RecordKind.STATUS and isinstance(b, SignalSnapshot)]
    assert [(s.floor, s.speed_mm_s) for s in statuses] == [(1, 0), (1, 300), (2, 300), (2, 250)]


def test_full_policy_sends_every_state_change() -> None:
    car = Car(Reporter(ReportConfig(policy="full")))
    car.at(0)
    car.at(100, speed_mm_s=10)
    car.at(200, speed_mm_s=10)  # no change: nothing
    car.at(300, door_zone=False)
    assert [k for k, _ in car.out] == [RecordKind.STATUS] * 3


def test_live_view_is_full_rate_for_a_bounded_time_then_stops_by_itself() -> None:
    reporter = Reporter(ReportConfig(live_max_s=60))
    car = Car(reporter)
    car.at(0)
    assert car.at(1000, speed_mm_s=5) == []
    assert reporter.live(1000, 3600) == 61_000  # capped at live_max_s
    assert [k for k, _ in car.at(1100)] == [RecordKind.STATUS]  # the current state at once
    assert [k for k, _ in car.at(1200, speed_mm_s=6)] == [RecordKind.STATUS]
    assert reporter.is_live(60_999)
    assert car.at(61_000, speed_mm_s=7) == []  # the time is up: back to the budget by itself
    assert not reporter.is_live(61_000) and reporter.live_until_ms is None


def test_a_renewed_live_view_extends_it_and_never_shortens_it() -> None:
    reporter = Reporter(ReportConfig(live_max_s=60))
    assert reporter.live(0, 30) == 30_000
    assert reporter.live(10_000, 5) == 30_000
    assert reporter.live(20_000, 60) == 80_000


def test_report_config_is_loaded_and_checked() -> None:
    base = {"device_id": "lift-1", "data_dir": "/tmp/x", "broker": {"url": "mqtt://h:1883"}, "modbus": {"tcp": "h:502"}}
    cfg = build(base, "agent.toml")
    assert cfg.report == ReportConfig("budget", 600.0)
    assert cfg.timing.status_flush_s <= 0.25  # the crash window
    full = build({**base, "report": {"policy": "full", "live_max_s": 30}}, "a.toml")
    assert full.report == ReportConfig("full", 30.0)
    with pytest.raises(ConfigError, match=r"agent.toml: \[report\] policy: 'all' is not one of budget, full"):
        build({**base, "report": {"policy": "all"}}, "agent.toml")
    with pytest.raises(ConfigError, match=r"\[report\] live_s: unknown key"):
        build({**base, "report": {"live_s": 3}}, "agent.toml")


# --- the platform sees the same day with either policy -----------------------------------------

DAY = {
    "seed": 14,
    "duration_s": 3 * 3600.0,
    "traffic": "lunch",
    "elevator": {"lowest_floor": -1, "highest_floor": 12, "rated_speed_mm_s": 1750, "floor_height_mm": 3500},
    "inject": [
        {"at_s": 1200.0, "fault": "inspection", "duration_s": 1200.0, "moves": 6},
        {"at_s": 4000.0, "fault": "trap_between_floors"},
        {"at_s": 6000.0, "fault": "controller_fault"},
        {"at_s": 8000.0, "fault": "inspection", "duration_s": 300.0},
    ],
}
DEVICE = "lift-14"


def stream(rows: list[SignalSnapshot], policy: str) -> tuple[list[Event], list[tuple[RecordKind, Body]]]:
    """What the agent would commit for these polls: the detector's events and the policy's records."""
    spec = DAY["elevator"]
    detector = Detector(ElevatorLimits(spec["rated_speed_mm_s"], spec["lowest_floor"], spec["highest_floor"]))
    reporter = Reporter(ReportConfig(policy=policy))
    events: list[Event] = []
    records: list[tuple[RecordKind, Body]] = []
    for snap in rows:
        events += detector.step(snap)
        records += reporter.step(snap)
    return events, records


def platform_view(events: list[Event], records: list[tuple[RecordKind, Body]], end_ms: int) -> tuple[object, ...]:
    inspections = [InspectionEvent(DEVICE, e.action.value, e.t_ms) for e in events if e.type == "inspection"]
    points = [StatusPoint(DEVICE, b.t_ms, b.floor) for k, b in records if isinstance(b, SignalSnapshot)]
    sessions = build_sessions(inspections, points, MaintenanceConfig(min_session_s=600))
    raised: dict[str, int] = {}
    alarms = []
    for e in events:
        if e.action is Action.RAISE:
            raised[e.type] = e.t_ms
        elif e.type in raised:
            alarms.append(AlarmFact(DEVICE, e.type, raised.pop(e.type), e.t_ms))
    alarms += [AlarmFact(DEVICE, t, ms, None) for t, ms in raised.items()]
    cases = [open_case(f"c{i}", DEVICE, a.raised_ms) for i, a in enumerate(alarms) if a.type == "entrapment"]
    figures = compute([ElevatorRef(DEVICE, "110101", "acme", 0)], alarms, cases, 0, end_ms)
    return sessions, cases, figures


def test_maintenance_rescue_and_statistics_are_the_same_as_with_full_rate_status() -> None:
    r = render(parse_scenario(DAY), period_ms=100)  # the agent's 10 Hz polls
    full_events, full = stream(r.rows, "full")
    budget_events, budget = stream(r.rows, "budget")
    assert budget_events == full_events
    sessions, cases, figures = platform_view(full_events, full, r.duration_ms)
    assert platform_view(budget_events, budget, r.duration_ms) == (sessions, cases, figures)
    # the day had what the comparison is about
    assert len(sessions) == 2 and all(len(s.floors_visited) >= 2 for s in sessions)
    assert len(cases) == 1
    trips = [b for k, b in budget if k is RecordKind.TRIP]
    assert len(trips) > 50
    assert len(budget) < len(full) / 10
