"""The labeler against detection.md, rule by rule, on small hand-made timelines."""

from __future__ import annotations

from typing import Any

from hw_sim.labels import label_rows
from protocols.signals import Door, Mode, SignalSnapshot

BASE = SignalSnapshot(0, 3, 0, False, 0, Door.CLOSED, True, True, True, False, False, True, Mode.NORMAL, 0)


def timeline(end: int, *steps: tuple[int, dict[str, Any]], base: SignalSnapshot = BASE) -> list[SignalSnapshot]:
    rows = [base]
    cur = base
    for t, changes in steps:
        cur = cur._replace(t_ms=t, **changes)
        rows.append(cur)
    rows.append(cur._replace(t_ms=end))
    return rows


def labels(rows: list[SignalSnapshot]) -> list[tuple[int, str, str]]:
    return [(lab.t_ms, lab.type, lab.action) for lab in label_rows(rows, 0, 10, 1000)]


OUT = {"door_zone": False}
IN = {"door_zone": True}


def test_stop_outside_zone_hold_and_clear() -> None:
    rows = timeline(40_000, (1000, OUT), (30_000, IN))
    assert labels(rows) == [(16_000, "stop_outside_door_zone", "raise"), (31_000, "stop_outside_door_zone", "clear")]


def test_bounce_does_not_break_a_hold_but_100_ms_does() -> None:
    short = timeline(40_000, (1000, OUT), (8000, IN), (8050, OUT), (30_000, IN))
    assert labels(short)[0] == (16_000, "stop_outside_door_zone", "raise")
    real = timeline(40_000, (1000, OUT), (8000, IN), (8100, OUT), (30_000, IN))
    assert labels(real)[0] == (23_100, "stop_outside_door_zone", "raise")


def test_inspection_suppresses_and_clears_a_raised_event() -> None:
    rows = timeline(200_000, (1000, OUT), (21_000, {"mode": Mode.INSPECTION}), (100_000, {"mode": Mode.NORMAL}))
    assert labels(rows) == [
        (16_000, "stop_outside_door_zone", "raise"),
        (22_000, "stop_outside_door_zone", "clear"),
        (22_000, "inspection", "raise"),
        (101_000, "inspection", "clear"),
        (115_000, "stop_outside_door_zone", "raise"),
    ]


def test_out_of_service_suppresses_entrapment_but_not_door_open_outside_zone() -> None:
    rows = timeline(
        60_000,
        (0, {"mode": Mode.OUT_OF_SERVICE, "occupied": True}),
        (1000, OUT),
        (30_000, {"door": Door.OPENING, "door_lock": False}),
    )
    assert labels(rows) == [(32_000, "door_open_outside_zone", "raise")]


def test_entrapment_with_presence_in_zone_and_lockout() -> None:
    rows = timeline(
        400_000,
        (5000, {"occupied": True}),
        (120_000, {"door": Door.OPEN, "door_lock": False}),
        (123_000, {"door": Door.CLOSED, "door_lock": True}),
    )
    assert labels(rows) == [
        (95_000, "entrapment", "raise"),
        (121_000, "entrapment", "clear"),
        (213_000, "entrapment", "raise"),
    ]
    # outside the zone the next raise would fall in the 60 s lock-out: it moves to clear + 60 s
    out = timeline(
        200_000,
        (0, {"door_zone": False, "occupied": True}),
        (30_000, {"door": Door.OPEN, "door_lock": False}),
        (31_500, {"door": Door.CLOSED, "door_lock": True}),
    )
    assert [x for x in labels(out) if x[1] == "entrapment"] == [
        (20_000, "entrapment", "raise"),
        (31_000, "entrapment", "clear"),
        (91_000, "entrapment", "raise"),
    ]


def test_presence_drop_outs_under_5_s_are_bridged() -> None:
    bridged = timeline(
        100_000, (0, {"occupied": True, **OUT}), (10_000, {"occupied": False}), (14_000, {"occupied": True})
    )
    assert (20_000, "entrapment", "raise") in labels(bridged)
    broken = timeline(
        100_000, (0, {"occupied": True, **OUT}), (10_000, {"occupied": False}), (16_000, {"occupied": True})
    )
    assert (36_000, "entrapment", "raise") in labels(broken)


def test_entrapment_without_sensor_needs_an_alarm_press_held_500_ms() -> None:
    base = BASE._replace(occupied=None, door_zone=False)
    rows = timeline(
        100_000,
        (5000, {"alarm_button": True}),
        (8000, {"alarm_button": False}),
        (30_000, {"alarm_button": True}),
        (30_400, {"alarm_button": False}),
        (40_000, {"alarm_button": True}),
        (43_000, {"alarm_button": False}),
        base=base,
    )
    got = labels(rows)
    assert (20_000, "entrapment", "raise") in got  # the 5 s press was after S (0) and held 500 ms
    assert (5500, "alarm_button", "raise") in got and (30_500, "alarm_button", "raise") not in got


def test_controller_fault_code_change_clears_and_raises_at_once() -> None:
    rows = timeline(20_000, (1000, {"fault_code": 4100}), (5000, {"fault_code": 4201}), (9000, {"fault_code": 0}))
    got = [(lab.t_ms, lab.action, lab.fault_code) for lab in label_rows(rows, 0, 10, 1000)]
    assert got == [(1000, "raise", 4100), (5000, "clear", 4100), (5000, "raise", 4201), (10_000, "clear", 4201)]


def test_door_open_while_running_versus_moving_with_door_open() -> None:
    dowr = timeline(
        10_000,
        (1000, {"running": True, "direction": 1}),
        (2000, {"door": Door.OPENING, "door_lock": False}),
        (3000, {"running": False}),
        (3100, {"door": Door.CLOSED, "door_lock": True}),
    )
    assert labels(dowr) == [(2100, "door_open_while_running", "raise"), (4000, "door_open_while_running", "clear")]
    mwdo = timeline(
        10_000,
        (1000, {"door": Door.OPEN, "door_lock": False}),
        (1500, {"running": True, "direction": 1}),
        (3000, {"running": False}),
    )
    assert labels(mwdo) == [(1600, "moving_with_door_open", "raise"), (4000, "moving_with_door_open", "clear")]


def test_door_reopen_repeated_counts_openings_while_standing() -> None:
    steps: list[tuple[int, dict[str, Any]]] = []
    for i in range(10):
        t = 1000 + i * 5000
        steps += [(t, {"door": Door.OPEN, "door_lock": False}), (t + 500, {"door": Door.CLOSING})]
    steps.append((52_000, {"door": Door.CLOSED, "door_lock": True}))
    rows = timeline(200_000, *steps)
    assert labels(rows) == [(46_300, "door_reopen_repeated", "raise"), (112_000, "door_reopen_repeated", "clear")]
    # a run in between restarts the count: no raise
    run: list[tuple[int, dict[str, Any]]] = [
        (22_500, {"door": Door.CLOSED, "door_lock": True}),
        (23_000, {"running": True}),
        (24_000, {"running": False}),
    ]
    steps2 = steps[:10] + run + steps[10:]
    assert labels(timeline(200_000, *steps2)) == []


def test_overtravel_top_once_per_run_and_zone_clear() -> None:
    rows = timeline(
        30_000,
        (0, {"floor": 9}),
        (1000, {"running": True, "direction": 1, "door_zone": False}),
        (3000, {"floor": 10, "door_zone": True}),
        (3200, {"door_zone": False}),
        (5000, {"running": False}),
        (20_000, {"running": True, "direction": -1}),
        (21_000, {"door_zone": True}),
        (21_500, {"running": False}),
    )
    got = [x for x in labels(rows) if x[1] == "overtravel_top"]
    assert got == [(3500, "overtravel_top", "raise"), (22_000, "overtravel_top", "clear")]


def test_position_lost_and_overspeed() -> None:
    rows = timeline(
        10_000,
        (1000, {"floor": 11}),
        (1600, {"floor": 10}),
        (2000, {"running": True, "speed_mm_s": 1160}),
        (2400, {"speed_mm_s": 1140}),
        (3000, {"speed_mm_s": 1151}),
        (3600, {"running": False, "speed_mm_s": 0}),
    )
    assert labels(rows) == [
        (1500, "position_lost", "raise"),
        (2600, "position_lost", "clear"),
        (3500, "overspeed", "raise"),
        (4600, "overspeed", "clear"),
    ]


def test_nothing_after_the_end_of_the_trace() -> None:
    rows = timeline(15_500, (1000, OUT))
    assert labels(rows) == []
    rows = timeline(16_000, (1000, OUT))
    assert labels(rows) == [(16_000, "stop_outside_door_zone", "raise")]
