"""Statistics per elevator, district and company, with hand-computed expectations."""

from __future__ import annotations

import csv
import io

import pytest

from collector.platform.rescue import open_case, transition
from collector.platform.statistics import AlarmFact, ElevatorRef, compute, group_of, p90, to_csv

H = 3_600_000
T0 = 1_764_000_000_000
T1 = T0 + 100 * H


@pytest.mark.parametrize(
    ("values", "expect"),
    [([], None), ([5.0], 5.0), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 9), ([10, 1, 2], 10), (list(range(1, 21)), 18)],
)
def test_p90_nearest_rank(values: list[float], expect: float | None) -> None:
    assert p90(values) == expect


def case(cid: str, dev: str, at_ms: int, steps: list[tuple[str, float]]):  # type: ignore[no-untyped-def]
    c = open_case(cid, dev, at_ms)
    for action, after_s in steps:
        c = transition(c, action, at_ms + round(after_s * 1000), "officer")
    return c


def fixture():  # type: ignore[no-untyped-def]
    elevators = [
        ElevatorRef("L1", "330602", "Acme", T0),
        ElevatorRef("L2", "330602", "Best", T0),
        ElevatorRef("L3", "330681", "Acme", T0 + 50 * H),  # registered half-way
    ]
    alarms = [
        AlarmFact("L1", "entrapment", T0 + H, T0 + 2 * H),
        AlarmFact("L1", "controller_fault", T0 + 3 * H, T0 + 4 * H),
        AlarmFact("L1", "door_open_too_long", T0 + 5 * H, None),
        AlarmFact("L1", "inspection", T0 + 6 * H, T0 + 7 * H),  # not a fault
        AlarmFact("L1", "device_offline", T0 + 10 * H, T0 + 20 * H),  # 10 h offline
        AlarmFact("L2", "entrapment", T0 + 8 * H, T0 + 9 * H),
        AlarmFact("L2", "device_offline", T0 + 90 * H, None),  # offline to the end: 10 h
        AlarmFact("L3", "device_offline", T0 + 40 * H, T0 + 60 * H),  # only 10 h after registration count
        AlarmFact("L3", "controller_fault", T0 - H, T0),  # before the window
        AlarmFact("L9", "entrapment", T0 + H, None),  # not registered
    ]
    cases = [
        case("A", "L1", T0 + H, [("respond", 20), ("arrive", 900), ("complete", 2000)]),
        case("B", "L2", T0 + 8 * H, [("respond", 60), ("arrive", 2400)]),  # arrived late
        case("C", "L2", T0 + 9 * H, [("respond", 30), ("false_alarm", 100)]),
        case("D", "L3", T0 + 99 * H, [("respond", 40)]),  # open, 1 h before the end: late
    ]
    return elevators, alarms, cases


def test_per_elevator_figures() -> None:
    figs = group_of(compute(*fixture(), T0, T1), "elevator")
    l1 = figs["L1"].as_dict()
    assert l1["faults_by_type"] == {
        "controller_fault": 1,
        "device_offline": 1,
        "door_open_too_long": 1,
        "entrapment": 1,
    }
    assert l1["entrapments"] == 1
    assert l1["online_rate"] == 0.9
    assert l1["mtbf_h"] == 45.0  # 90 online hours / 2 equipment faults
    assert l1["response_mean_s"] == 20.0
    assert l1["arrival_within_limit_share"] == 1.0
    l2 = figs["L2"].as_dict()
    assert l2["false_alarms"] == 1
    assert l2["rescue_cases"] == 2
    assert l2["arrival_within_limit_share"] == 0.0
    assert l2["mtbf_h"] is None
    l3 = figs["L3"].as_dict()
    assert l3["online_rate"] == 0.8  # 50 h observed, 10 h of them offline
    assert l3["faults_total"] == 1  # the device_offline raised before registration, inside the window
    assert l3["arrival_within_limit_share"] == 0.0


def test_district_company_and_all_aggregate_the_elevators() -> None:
    figs = compute(*fixture(), T0, T1)
    district = group_of(figs, "district")["330602"].as_dict()
    assert district["elevators"] == 2
    assert district["entrapments"] == 2
    assert district["response_mean_s"] == 36.7  # 20, 60 and the false alarm's 30
    assert district["response_p90_s"] == 60.0
    assert district["arrival_within_limit_share"] == 0.5
    assert district["online_rate"] == 0.9  # 20 h offline of 200 h
    acme = group_of(figs, "company")["Acme"].as_dict()
    assert acme["elevators"] == 2
    assert acme["online_rate"] == round(130 / 150, 4)
    everything = group_of(figs, "all")["all"].as_dict()
    assert everything["elevators"] == 3
    assert everything["rescue_cases"] == 4


def test_csv_has_a_row_per_group_and_gbt_coded_fault_columns() -> None:
    text = to_csv(compute(*fixture(), T0, T1))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["scope"], r["key"]) for r in rows][:3] == [("elevator", "L1"), ("elevator", "L2"), ("elevator", "L3")]
    assert "faults_entrapment_gbt11" in rows[0]
    assert "faults_device_offline" in rows[0]
    assert rows[0]["faults_entrapment_gbt11"] == "1"
    assert rows[1]["mtbf_h"] == ""
    only = to_csv(compute(*fixture(), T0, T1), scopes=["district"])
    assert len(list(csv.DictReader(io.StringIO(only)))) == 2


def test_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="empty window"):
        compute([], [], [], T1, T0)


def test_company_figures_follow_the_company_in_charge_at_each_moment() -> None:
    """Issue 17: L1 moves from Acme to Best at T0 + 50 h; each fact stays with its company."""
    moved = ElevatorRef("L1", "330602", "Best", T0, companies=((0, "Acme"), (T0 + 50 * H, "Best")))
    alarms = [
        AlarmFact("L1", "controller_fault", T0 + 10 * H, T0 + 11 * H),  # Acme's
        AlarmFact("L1", "device_offline", T0 + 45 * H, T0 + 55 * H),  # 5 h each
        AlarmFact("L1", "entrapment", T0 + 60 * H, T0 + 61 * H),  # Best's
    ]
    cases = [case("A", "L1", T0 + 60 * H, [("respond", 20), ("arrive", 900)])]
    figs = compute([moved], alarms, cases, T0, T1)
    acme, best = group_of(figs, "company")["Acme"], group_of(figs, "company")["Best"]
    faults = {"controller_fault": 1, "device_offline": 1}  # the outage was raised while Acme had it
    assert (acme.faults_by_type, acme.equipment_faults, acme.rescue_cases) == (faults, 1, 0)
    assert (best.faults_by_type, best.entrapments, best.rescue_cases) == ({"entrapment": 1}, 1, 1)
    assert (acme.observed_ms, acme.offline_ms) == (50 * H, 5 * H)
    assert (best.observed_ms, best.offline_ms) == (50 * H, 5 * H)
    (lift,) = [f for f in figs if f.scope == "elevator"]
    assert (lift.observed_ms, lift.offline_ms, lift.rescue_cases) == (100 * H, 10 * H, 1)  # the elevator is whole
    # a window before the move is Acme's alone, as it was before Best took over
    before = group_of(compute([moved], alarms, cases, T0, T0 + 50 * H), "company")
    assert set(before) == {"Acme"}


def test_company_periods_clip_to_the_window_and_join_repeats() -> None:
    ref = ElevatorRef("L1", None, "C", T0, companies=((T0 + H, "A"), (T0 + 2 * H, "A"), (T0 + 3 * H, "B")))
    assert ref.company_periods(T0, T0 + 4 * H) == [("A", T0, T0 + 3 * H), ("B", T0 + 3 * H, T0 + 4 * H)]
    assert ref.company_periods(T0 + 5 * H, T0 + 6 * H) == [("B", T0 + 5 * H, T0 + 6 * H)]
    assert ElevatorRef("L2", None, None, T0).company_periods(T0, T1) == [("(unknown)", T0, T1)]
