"""Maintenance sessions, last maintenance, overdue elevators and the company compliance report."""

from __future__ import annotations

import pytest

from collector.platform.maintenance import (
    DAY_MS,
    UNASSIGNED,
    InspectionEvent,
    MaintenanceConfig,
    MaintenanceError,
    Session,
    StatusPoint,
    build_sessions,
    compliance_report,
    last_maintenance,
    overdue,
)

T0 = 1_764_400_000_000
MIN = 60_000
CFG = MaintenanceConfig(interval_days=15, min_session_s=600)


def ev(dev: str, action: str, at_min: float) -> InspectionEvent:
    return InspectionEvent(dev, action, T0 + round(at_min * MIN))


@pytest.mark.parametrize(
    ("events", "expect"),
    [
        # (start min, end min or None, too_short)
        ([("raise", 0), ("clear", 30)], [(0, 30, False)]),
        ([("raise", 0), ("clear", 5)], [(0, 5, True)]),
        ([("raise", 0), ("clear", 10)], [(0, 10, False)]),  # exactly the minimum counts
        ([("raise", 0)], [(0, None, False)]),  # still in inspection
        ([("clear", 3), ("raise", 10), ("clear", 40)], [(10, 40, False)]),  # orphan clear ignored
        ([("raise", 0), ("raise", 5), ("clear", 40)], [(0, 40, False)]),  # lost clear: keep first start
        ([("raise", 0), ("clear", 20), ("raise", 60), ("clear", 61)], [(0, 20, False), (60, 61, True)]),
        ([("clear", 40), ("raise", 0)], [(0, 40, False)]),  # out of order delivery
    ],
)
def test_sessions_from_inspection_events(events: list[tuple[str, float]], expect: list[tuple]) -> None:
    sessions = build_sessions([ev("L1", a, t) for a, t in events], [], CFG)
    got = [
        ((s.start_ms - T0) / MIN, None if s.end_ms is None else (s.end_ms - T0) / MIN, s.too_short) for s in sessions
    ]
    assert got == [(float(a), None if b is None else float(b), c) for a, b, c in expect]


def test_floors_visited_come_from_status_records_inside_the_session() -> None:
    statuses = [
        StatusPoint("L1", T0 - MIN, 9),  # before: not visited
        StatusPoint("L1", T0 + 1 * MIN, 1),
        StatusPoint("L1", T0 + 2 * MIN, 3),
        StatusPoint("L1", T0 + 3 * MIN, 2),
        StatusPoint("L1", T0 + 4 * MIN, 3),
        StatusPoint("L1", T0 + 5 * MIN, None),
        StatusPoint("L2", T0 + 2 * MIN, 7),  # another elevator
        StatusPoint("L1", T0 + 40 * MIN, 8),  # after
    ]
    (s,) = build_sessions([ev("L1", "raise", 0), ev("L1", "clear", 30)], statuses, CFG)
    assert s.floors_visited == (1, 2, 3)
    assert s.duration_s == 1800.0


def test_last_maintenance_ignores_short_and_open_sessions() -> None:
    sessions = [
        Session("L1", T0, T0 + 30 * MIN),
        Session("L1", T0 + DAY_MS, T0 + DAY_MS + MIN, too_short=True),
        Session("L1", T0 + 2 * DAY_MS, None),
        Session("L2", T0, T0 + 20 * MIN),
    ]
    last = last_maintenance(sessions)
    assert last["L1"].end_ms == T0 + 30 * MIN
    assert set(last) == {"L1", "L2"}


@pytest.mark.parametrize(
    ("registered_days_ago", "last_end_days_ago", "is_overdue"),
    [
        (100, 14.9, False),
        (100, 15.1, True),
        (100, None, True),  # never maintained, registered long ago
        (3, None, False),  # new registration gets its first 15 days
    ],
)
def test_overdue(registered_days_ago: float, last_end_days_ago: float | None, is_overdue: bool) -> None:
    now = T0 + 200 * DAY_MS
    last = {}
    if last_end_days_ago is not None:
        end = now - round(last_end_days_ago * DAY_MS)
        last["L1"] = Session("L1", end - 30 * MIN, end)
    got = overdue({"L1": now - round(registered_days_ago * DAY_MS)}, last, now, CFG)
    assert bool(got) is is_overdue
    if got:
        assert got[0].overdue_days == pytest.approx((last_end_days_ago or registered_days_ago) - 15, abs=1e-6)


def test_interval_is_configurable() -> None:
    now = T0 + 10 * DAY_MS
    last = {"L1": Session("L1", T0, T0 + 30 * MIN)}
    assert overdue({"L1": T0 - DAY_MS}, last, now, MaintenanceConfig(interval_days=7))
    assert not overdue({"L1": T0 - DAY_MS}, last, now, MaintenanceConfig(interval_days=15))
    with pytest.raises(MaintenanceError):
        MaintenanceConfig(interval_days=0)


def test_compliance_report_per_company() -> None:
    now = T0 + 30 * DAY_MS
    company = {"L1": "Acme Lift", "L2": "Acme Lift", "L3": "Best Maint", "L4": None}
    sessions = [
        Session("L1", now - 2 * DAY_MS, now - 2 * DAY_MS + 40 * MIN),
        Session("L2", now - 3 * DAY_MS, now - 3 * DAY_MS + 2 * MIN, too_short=True),
        Session("L3", now - 20 * DAY_MS, now - 20 * DAY_MS + 30 * MIN),
    ]
    over = overdue({d: T0 for d in company}, last_maintenance(sessions), now, CFG)
    assert {o.device_id for o in over} == {"L2", "L3", "L4"}
    report = {r.company: r.as_dict() for r in compliance_report(company, sessions, over, now - 30 * DAY_MS, now)}
    assert report["Acme Lift"]["elevators"] == 2
    assert report["Acme Lift"]["overdue"] == 1
    assert report["Acme Lift"]["short_sessions"] == 1
    assert report["Acme Lift"]["compliance_rate"] == 0.5
    assert report["Acme Lift"]["mean_session_s"] == 2400.0
    assert report["Best Maint"]["compliance_rate"] == 0.0
    assert report[UNASSIGNED]["overdue_devices"] == ["L4"]
