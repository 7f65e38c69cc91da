"""One scenario per rule of detection.md, fed step by step, asserting what is decided after each step.

Times are ms. The car of `support.Car` starts at floor 3 of 1..10 (rated 1600 mm/s, so overspeed is
above 1840 mm/s), in the door zone, door closed, nobody inside. A debounced signal (`door_zone`,
`door_lock`, the door leaving `closed`) is only known 100 ms after it changed, but its events are
dated at the raw change.
"""

from __future__ import annotations

from typing import Any

from protocols.signals import Door, Mode

from .support import Car

OPENING, OPEN, CLOSING, CLOSED = Door.OPENING, Door.OPEN, Door.CLOSING, Door.CLOSED


def stuck_between_floors(**initial: Any) -> Car:
    """A car that ran up out of the zone and stopped between floors 4 and 5 at t=5000."""
    car = Car(**{"floor": 4, **initial})
    assert car.at(0, running=True, direction=1, speed_mm_s=800) == []
    assert car.at(1_000, door_zone=False) == []
    assert car.at(5_000, running=False, direction=0, speed_mm_s=0) == []
    return car


# ----------------------------------------------------------------------------- entrapment


def test_entrapment_outside_zone_with_presence_then_rescue_and_lockout() -> None:
    car = stuck_between_floors(occupied=True)
    assert car.advance(19_999) == []
    assert car.advance(20_000) == [(20_000, "stop_outside_door_zone", "raise")]
    assert car.advance(24_999) == []
    # S = 5000 outside a zone: T = 20 s, occupied all along -> raised at S + 20 s.
    assert car.advance(25_000) == [(25_000, "entrapment", "raise")]
    assert car.active == {"stop_outside_door_zone", "entrapment"}
    # The crew opens the door: the door has been other than closed for 1 s -> clear.
    assert car.at(60_000, door=OPENING, door_lock=False) == []
    assert car.advance(60_999) == []
    assert sorted(car.advance(61_000)) == [(61_000, "entrapment", "clear"), (61_000, "stop_outside_door_zone", "clear")]
    assert car.advance(62_000) == [(62_000, "door_open_outside_zone", "raise")]
    # The door closes again with people still inside: would raise at 63 s + 20 s, but the 60 s
    # lock-out after the clear at 61 s moves it to 121 s.
    assert car.at(63_000, door=CLOSED, door_lock=True) == []
    assert car.advance(64_000) == [(64_000, "door_open_outside_zone", "clear")]
    assert car.advance(78_000) == [(78_000, "stop_outside_door_zone", "raise")]
    assert car.advance(120_999) == []
    assert car.advance(121_000) == [(121_000, "entrapment", "raise")]


def test_entrapment_lockout_needs_the_conditions_still_to_hold() -> None:
    car = stuck_between_floors(occupied=True)
    car.advance(25_000)
    car.at(30_000, door=OPEN, door_lock=False)
    assert (31_000, "entrapment", "clear") in car.advance(31_000)
    car.at(33_000, door=CLOSED, door_lock=True)
    car.at(40_000, occupied=False)  # everybody left: occupancy ends at 45 s
    assert "entrapment" not in [e[1] for e in car.advance(200_000)]
    assert "entrapment" not in car.active


def test_entrapment_in_zone_waits_90_s_of_occupancy_and_bridges_short_dropouts() -> None:
    car = Car()
    assert car.at(0) == []  # standing in the zone, door closed: S = 0, T = 90 s
    assert car.at(10_000, occupied=True) == []  # someone is in the car from 10 s
    assert car.at(40_000, occupied=False) == []
    assert car.at(44_900, occupied=True) == []  # a 4.9 s drop-out does not end occupancy
    assert car.advance(99_999) == []
    assert car.advance(100_000) == [(100_000, "entrapment", "raise")]
    # It clears when the car has run for 2 s (and not earlier).
    assert car.at(110_000, running=True, direction=1, speed_mm_s=200) == []
    assert car.advance(111_999) == []
    assert car.advance(112_000) == [(112_000, "entrapment", "clear")]


def test_entrapment_dropout_of_5_s_ends_occupancy_unless_presence_is_back_that_moment() -> None:
    car = Car()
    car.at(0, occupied=True)
    car.at(40_000, occupied=False)
    car.at(45_001, occupied=True)  # occupancy ended at 45 s and starts again 1 ms later
    assert car.advance(135_000) == []
    assert car.advance(135_001) == [(135_001, "entrapment", "raise")]
    # Back exactly 5 s after the last occupied=1: occupancy ended and resumed at the same moment,
    # no moment without it.
    car = Car()
    car.at(0, occupied=True)
    car.at(40_000, occupied=False)
    car.at(45_000, occupied=True)
    assert car.advance(90_000) == [(90_000, "entrapment", "raise")]


def test_entrapment_without_presence_sensor_needs_the_alarm_button_held_500_ms() -> None:
    car = stuck_between_floors(occupied=None)  # S = 5000, T = 20 s
    assert car.at(8_000, alarm_button=True) == []
    assert car.at(8_300, alarm_button=False) == []  # 300 ms: not a press that counts
    assert car.advance(29_000) == [(20_000, "stop_outside_door_zone", "raise")]
    assert car.at(30_000, alarm_button=True) == []
    assert car.advance(30_499) == []
    # Held 500 ms at 30.5 s, after S + T: both the alarm and the entrapment are raised then.
    assert sorted(car.advance(30_500)) == [(30_500, "alarm_button", "raise"), (30_500, "entrapment", "raise")]
    assert car.at(31_000, alarm_button=False) == []
    assert car.advance(32_000) == [(32_000, "alarm_button", "clear")]
    assert "entrapment" in car.active


def test_entrapment_without_presence_sensor_alarm_before_s_plus_t() -> None:
    car = stuck_between_floors(occupied=None)
    assert car.at(6_000, alarm_button=True) == []
    # Held 500 ms at 6.5 s, at or after S: counts, though released long before S + T.
    assert car.at(7_000, alarm_button=False) == [(6_500, "alarm_button", "raise")]
    assert car.advance(24_999) == [(8_000, "alarm_button", "clear"), (20_000, "stop_outside_door_zone", "raise")]
    assert car.advance(25_000) == [(25_000, "entrapment", "raise")]


def test_entrapment_suppressed_out_of_service_restarts_when_it_ends() -> None:
    car = stuck_between_floors(occupied=True, mode=Mode.OUT_OF_SERVICE)
    assert car.advance(100_000) == []  # entrapment and stop_outside_door_zone are suppressed
    car.at(100_000, mode=Mode.NORMAL)  # S restarts at 100 s
    assert car.advance(119_999) == [(115_000, "stop_outside_door_zone", "raise")]
    assert car.advance(120_000) == [(120_000, "entrapment", "raise")]
    # Suppression does not clear an entrapment: it clears only by its own rules.
    car.at(130_000, mode=Mode.OUT_OF_SERVICE)
    assert car.advance(200_000) == [(131_000, "stop_outside_door_zone", "clear")]
    assert "entrapment" in car.active


# ----------------------------------------------------------------------------- stops and doors


def test_stop_outside_door_zone() -> None:
    car = stuck_between_floors()  # nobody inside: no entrapment
    assert car.advance(19_999) == []
    assert car.advance(20_000) == [(20_000, "stop_outside_door_zone", "raise")]
    # A short hop (< 1 s running) does not clear it.
    assert car.at(30_000, running=True, direction=1, speed_mm_s=100) == []
    assert car.at(30_500, running=False, direction=0, speed_mm_s=0) == []
    assert car.advance(40_000) == []
    # Re-levelled into the zone: clears 1 s later.
    assert car.at(50_000, door_zone=True) == []
    assert car.advance(50_999) == []
    assert car.advance(51_000) == [(51_000, "stop_outside_door_zone", "clear")]
    assert car.active == set()


def test_stop_outside_door_zone_clears_1_s_after_suppression_begins() -> None:
    car = stuck_between_floors()
    car.advance(20_000)
    assert car.at(30_000, mode=Mode.INSPECTION) == []
    assert car.advance(31_000) == [(31_000, "inspection", "raise"), (31_000, "stop_outside_door_zone", "clear")][::-1]


def test_door_open_outside_zone() -> None:
    car = stuck_between_floors()
    assert car.at(6_000, door=OPENING, door_lock=False) == []
    assert car.advance(7_999) == []
    assert car.advance(8_000) == [(8_000, "door_open_outside_zone", "raise")]
    assert car.at(9_000, door=CLOSED, door_lock=True) == []
    assert car.advance(9_999) == []
    assert car.advance(10_000) == [(10_000, "door_open_outside_zone", "clear")]


def test_door_open_while_running_and_bounce_in_travel() -> None:
    car = Car()
    car.at(0)
    car.at(1_000, running=True, direction=1, speed_mm_s=300)
    car.at(2_000, door_zone=False, speed_mm_s=1000)
    assert car.at(2_500, door=OPENING) == []  # a 60 ms door-contact bounce in travel
    assert car.at(2_560, door=CLOSED) == []
    assert car.advance(2_900) == []
    assert car.at(3_000, door=OPENING, door_lock=False) == []  # the run started before the door left closed
    assert car.advance(3_099) == []
    assert car.advance(3_100) == [(3_100, "door_open_while_running", "raise")]
    assert car.active == {"door_open_while_running"}  # not moving_with_door_open
    assert car.at(4_000, running=False, direction=0, speed_mm_s=0) == []
    assert car.advance(5_000) == [(5_000, "door_open_while_running", "clear")]
    assert car.advance(6_000) == [(6_000, "door_open_outside_zone", "raise")]


def test_moving_with_door_open() -> None:
    car = Car()
    assert car.at(0, door=OPEN, door_lock=False) == []  # open at the landing
    assert car.at(5_000, running=True, direction=1, speed_mm_s=50) == []  # the car moves away with it open
    assert car.advance(5_099) == []
    assert car.advance(5_100) == [(5_100, "moving_with_door_open", "raise")]
    assert car.active == {"moving_with_door_open"}
    assert car.at(5_600, running=False, direction=0, speed_mm_s=0) == []
    assert car.advance(6_600) == [(6_600, "moving_with_door_open", "clear")]


def test_moving_with_door_open_when_the_trace_starts_that_way_or_both_change_at_once() -> None:
    car = Car(running=True, direction=-1, speed_mm_s=100, door=OPENING, door_lock=False)
    assert car.at(0) == []
    assert car.advance(100) == [(100, "moving_with_door_open", "raise")]
    car = Car()
    car.at(0)
    # The door leaves closed at the very moment the run starts: "before or at the moment".
    assert car.at(1_000, running=True, direction=1, speed_mm_s=20, door=OPENING) == []
    assert car.advance(1_100) == [(1_100, "moving_with_door_open", "raise")]


def test_door_open_too_long_and_not_in_fire_mode() -> None:
    car = Car()
    car.at(0)
    assert car.at(1_000, door=OPENING, door_lock=False) == []
    assert car.at(3_000, door=OPEN) == []
    assert car.advance(60_999) == []
    assert car.advance(61_000) == [(61_000, "door_open_too_long", "raise")]
    assert car.at(70_000, door=CLOSING) == []
    assert car.at(72_000, door=CLOSED, door_lock=True) == []
    assert car.advance(73_000) == [(73_000, "door_open_too_long", "clear")]
    fire = Car(mode=Mode.FIRE)
    fire.at(0, door=OPEN, door_lock=False)
    assert fire.advance(200_000) == []


def test_door_reopen_repeated_counts_openings_of_300_ms() -> None:
    car = Car()
    car.at(0)
    t = 1_000
    for _ in range(9):  # nine full door cycles, 5 s apart: nine openings
        car.at(t, door=OPENING, door_lock=False)
        car.at(t + 1_000, door=OPEN)
        car.at(t + 2_000, door=CLOSING)
        assert car.at(t + 3_000, door=CLOSED, door_lock=True) == []
        t += 5_000
    # 46 s: an `open` of only 299 ms does not count.
    car.at(t, door=OPEN, door_lock=False)
    car.at(t + 299, door=CLOSING)
    # open -> closing -> open without reaching closed counts: the 10th opening at t + 1000 + 300.
    assert car.at(t + 1_000, door=OPEN) == []
    assert car.advance(t + 1_299) == []
    assert car.advance(t + 1_300) == [(t + 1_300, "door_reopen_repeated", "raise")]
    car.at(t + 2_000, door=CLOSING)
    car.at(t + 3_000, door=CLOSED, door_lock=True)
    # Clears when the door has stayed closed for 60 s.
    assert car.advance(t + 62_999) == []
    assert car.advance(t + 63_000) == [(t + 63_000, "door_reopen_repeated", "clear")]


def test_door_reopen_repeated_restarts_counting_when_the_car_runs_and_clears_on_a_run() -> None:
    def cycles(car: Car, t: int, n: int) -> int:
        for _ in range(n):
            car.at(t, door=OPEN, door_lock=False)
            car.at(t + 1_000, door=CLOSING)
            car.at(t + 2_000, door=CLOSED, door_lock=True)
            t += 3_000
        return t

    car = Car()
    car.at(0)
    t = cycles(car, 1_000, 9)
    car.at(t, running=True, direction=1, speed_mm_s=100)  # counting restarts from zero
    car.at(t + 500, running=False, direction=0, speed_mm_s=0)
    t = cycles(car, t + 1_000, 9)
    car.advance(t)
    assert "door_reopen_repeated" not in [e.type for e in car.events]  # 18 openings, but 9 since the run
    t = cycles(car, t, 1)  # the 10th since the run: counted 300 ms after it opened
    opened = t - 3_000
    assert [(e.t_ms, e.type) for e in car.events if e.type == "door_reopen_repeated"] == [
        (opened + 300, "door_reopen_repeated")
    ]
    # A run of 1 s clears it.
    car.at(t + 10_000, running=True, direction=-1, speed_mm_s=100)
    assert car.advance(t + 10_999) == []
    assert car.advance(t + 11_000) == [(t + 11_000, "door_reopen_repeated", "clear")]


# ----------------------------------------------------------------------------- travel


def test_overspeed_above_115_percent_of_rated_for_500_ms() -> None:
    car = Car(running=True, direction=1, door_zone=False, speed_mm_s=1600)
    car.at(0)
    car.at(1_000, speed_mm_s=1840)  # exactly 1.15 x 1600: not above
    assert car.advance(5_000) == []
    car.at(5_000, speed_mm_s=1841)
    car.at(5_200, speed_mm_s=1900)
    assert car.advance(5_499) == []
    assert car.advance(5_500) == [(5_500, "overspeed", "raise")]
    car.at(6_000, speed_mm_s=1500)
    assert car.advance(7_000) == [(7_000, "overspeed", "clear")]


def test_overtravel_top_once_per_run_with_its_own_clear() -> None:
    car = Car(floor=9, running=True, direction=1, speed_mm_s=500, door_zone=False)
    car.at(0)
    assert car.at(2_000, floor=10, door_zone=True) == []  # in the top landing's door zone
    assert car.at(2_500, door_zone=False) == []  # and on upwards past it
    assert car.advance(2_799) == []
    assert car.advance(2_800) == [(2_800, "overtravel_top", "raise")]
    car.at(3_000, door_zone=True)  # a short pass through a zone (< 1 s) does not clear it
    assert car.at(3_500, door_zone=False) == []
    assert car.advance(4_000) == []  # and no second raise in the same run
    car.at(4_000, running=False, direction=0, speed_mm_s=0)
    assert car.advance(6_000) == []  # stopping does not clear it (no general clear)
    car.at(10_000, running=True, direction=-1, speed_mm_s=100)
    car.at(12_000, door_zone=True, running=False, direction=0, speed_mm_s=0)
    assert car.advance(12_999) == []
    assert car.advance(13_000) == [(13_000, "overtravel_top", "clear")]


def test_overtravel_top_needs_the_top_zone_earlier_in_the_same_run() -> None:
    car = Car(floor=10, door_zone=False)  # standing above the top zone (stop outside zone aside)
    car.at(0, running=True, direction=1, speed_mm_s=100)
    assert "overtravel_top" not in [e[1] for e in car.advance(30_000)]


def test_overtravel_bottom() -> None:
    car = Car(floor=2, running=True, direction=-1, speed_mm_s=500, door_zone=False)
    car.at(0)
    car.at(2_000, floor=1, door_zone=True)
    car.at(3_000, door_zone=False)
    assert car.advance(3_300) == [(3_300, "overtravel_bottom", "raise")]
    car.at(4_000, running=False, direction=0, speed_mm_s=0, door_zone=True)
    assert car.advance(5_000) == [(5_000, "overtravel_bottom", "clear")]


def test_run_timeout() -> None:
    car = Car()
    car.at(0)
    car.at(1_000, running=True, direction=1, speed_mm_s=300)
    car.at(2_000, door_zone=False)
    assert car.advance(46_999) == []
    assert car.advance(47_000) == [(47_000, "run_timeout", "raise")]
    car.at(50_000, door_zone=True)
    assert car.advance(51_000) == [(51_000, "run_timeout", "clear")]


def test_door_lock_lost_bounce_ignored_exactly_100_ms_is_real() -> None:
    car = Car(running=True, direction=1, speed_mm_s=1000, door_zone=False)
    car.at(0)
    car.at(2_000, door_lock=False)
    car.at(2_099, door_lock=True)  # 99 ms: contact bounce
    assert car.advance(4_000) == []
    car.at(5_000, door_lock=False)
    assert car.at(5_100, door_lock=True) == [(5_100, "door_lock_lost", "raise")]  # exactly 100 ms
    assert car.advance(6_099) == []
    assert car.advance(6_100) == [(6_100, "door_lock_lost", "clear")]


# ----------------------------------------------------------------------------- power, safety, faults


def test_safety_circuit_open_only_while_powered() -> None:
    car = Car()
    car.at(0)
    car.at(1_000, safety_circuit=False)
    assert car.advance(1_499) == []
    assert car.advance(1_500) == [(1_500, "safety_circuit_open", "raise")]
    car.at(2_000, safety_circuit=True)
    assert car.advance(3_000) == [(3_000, "safety_circuit_open", "clear")]
    car.at(10_000, power=False, safety_circuit=False)  # no mains: the safety circuit reads open
    assert car.advance(11_000) == [(11_000, "power_failure", "raise")]
    assert car.active == {"power_failure"}


def test_power_failure_never_suppressed() -> None:
    car = Car(mode=Mode.INSPECTION)
    car.at(0)
    assert car.advance(1_000) == [(1_000, "inspection", "raise")]
    car.at(2_000, power=False)
    assert car.advance(2_999) == []
    assert car.advance(3_000) == [(3_000, "power_failure", "raise")]
    car.at(4_000, power=True)
    assert car.advance(5_000) == [(5_000, "power_failure", "clear")]


def test_position_lost() -> None:
    car = Car(floor=10)
    car.at(0)
    car.at(1_000, floor=11)
    assert car.advance(1_499) == []
    assert car.advance(1_500) == [(1_500, "position_lost", "raise")]
    car.at(2_000, floor=10)
    assert car.advance(3_000) == [(3_000, "position_lost", "clear")]


def test_controller_fault_at_once_code_change_and_clear() -> None:
    car = Car()
    car.at(0)
    assert car.at(1_000, fault_code=1201) == [(1_000, "controller_fault", "raise")]
    assert car.events[-1].fault_code == 1201
    # Another code: the old event clears and the new one is raised at the same moment.
    changed = car.at(2_000, fault_code=3402)
    assert changed == [(2_000, "controller_fault", "clear"), (2_000, "controller_fault", "raise")]
    assert [e.fault_code for e in car.events[-2:]] == [1201, 3402]
    car.at(3_000, fault_code=0)
    car.at(3_500, fault_code=3402)  # back within 1 s: still the same raised event
    car.at(4_000, fault_code=0)
    assert car.advance(4_999) == []
    assert car.advance(5_000) == [(5_000, "controller_fault", "clear")]
    assert car.events[-1].fault_code == 3402


def test_controller_fault_counts_as_0_in_inspection() -> None:
    car = Car()
    car.at(0, fault_code=7)
    car.at(10_000, mode=Mode.INSPECTION)
    assert sorted(car.advance(11_000)) == [(11_000, "controller_fault", "clear"), (11_000, "inspection", "raise")]
    assert car.at(20_000, mode=Mode.NORMAL) == [(20_000, "controller_fault", "raise")]
    assert car.advance(21_000) == [(21_000, "inspection", "clear")]


def test_alarm_button_held_500_ms() -> None:
    car = Car()
    car.at(0)
    car.at(1_000, alarm_button=True)
    car.at(1_499, alarm_button=False)
    assert car.advance(5_000) == []
    car.at(5_000, alarm_button=True)
    assert car.advance(5_500) == [(5_500, "alarm_button", "raise")]
    car.at(6_000, alarm_button=False)
    assert car.advance(7_000) == [(7_000, "alarm_button", "clear")]


def test_inspection_raises_after_1_s_and_suppresses_the_rest() -> None:
    car = Car()
    car.at(0)
    car.at(1_000, mode=Mode.INSPECTION)
    assert car.advance(1_999) == []
    assert car.advance(2_000) == [(2_000, "inspection", "raise")]
    # Maintenance runs with the door open and stops outside zones: nothing but inspection.
    car.at(3_000, door=OPEN, door_lock=False, running=True, direction=1, speed_mm_s=100, door_zone=False)
    car.at(60_000, running=False, direction=0, speed_mm_s=0)
    car.at(70_000, alarm_button=True)  # never suppressed
    assert car.advance(100_000) == [(70_500, "alarm_button", "raise")]
    car.at(100_000, mode=Mode.NORMAL, alarm_button=False, door=CLOSED, door_lock=True, door_zone=True)
    assert sorted(car.advance(101_000)) == [(101_000, "alarm_button", "clear"), (101_000, "inspection", "clear")]


# ----------------------------------------------------------------------------- exact moments


def test_entrapment_conditions_must_hold_at_the_raise_moment() -> None:
    # The car restarts exactly at S + T: condition 1 no longer holds then, so no entrapment.
    car = stuck_between_floors(occupied=True)
    car.at(25_000, running=True, direction=1, speed_mm_s=100)
    assert "entrapment" not in [e.type for e in car.events + car.detector.advance(40_000)]
    # Occupancy ends (5 s after the last occupied=1) exactly at S + T: not occupied for the whole
    # of the last T at that moment.
    car = stuck_between_floors(occupied=True)
    car.at(20_000, occupied=False)
    assert "entrapment" not in [e[1] for e in car.advance(60_000)]
    # A moment later would have been enough.
    car = stuck_between_floors(occupied=True)
    car.at(20_001, occupied=False)
    assert (25_000, "entrapment", "raise") in car.advance(60_000)


def test_entrapment_alarm_press_must_still_be_held_when_it_reaches_500_ms() -> None:
    car = stuck_between_floors(occupied=None)
    car.at(30_000, alarm_button=True)
    # Released exactly at 500 ms: the alarm_button event is met (held 500 ms) but the button is
    # not pressed at that moment, so it does not confirm someone is inside.
    assert car.at(30_500, alarm_button=False) == [(30_500, "alarm_button", "raise")]
    assert "entrapment" not in [e[1] for e in car.advance(60_000)]
    car.at(70_000, alarm_button=True)
    assert (70_500, "entrapment", "raise") in car.advance(70_500)


def test_held_for_t_is_met_even_if_the_condition_ends_right_then() -> None:
    car = Car()
    car.at(0)
    car.at(1_000, alarm_button=True)
    assert car.at(1_500, alarm_button=False) == [(1_500, "alarm_button", "raise")]
    assert car.advance(2_500) == [(2_500, "alarm_button", "clear")]


def test_door_openings_are_not_counted_in_inspection_but_earlier_ones_still_count() -> None:
    car = Car()
    car.at(0)
    t = 1_000
    for k in range(12):
        if k == 5:
            car.at(t, mode=Mode.INSPECTION)  # openings 6-7 happen during maintenance
        if k == 7:
            car.at(t, mode=Mode.NORMAL)
        car.at(t, door=OPEN, door_lock=False)
        car.at(t + 1_000, door=CLOSED, door_lock=True)
        t += 3_000
    raised = [e for e in car.events if e.type == "door_reopen_repeated"]
    # Openings 1-5 and 8-12 count (10), 6 and 7 do not: the 12th opening (k=11) raises.
    assert [(e.t_ms, e.action.value) for e in raised] == [(1_000 + 11 * 3_000 + 300, "raise")]


def test_end_of_trace_decides_a_change_still_pending_and_fires_what_is_due() -> None:
    from protocols.signals import SignalSnapshot

    from .support import BASELINE, run

    rows = [
        SignalSnapshot(0, **{**BASELINE, "alarm_button": True}),
        # The car leaves the zone 70 ms before the end: not yet 100 ms, but it never reverted.
        SignalSnapshot(450, **{**BASELINE, "alarm_button": True, "door_zone": False}),
        SignalSnapshot(520, **{**BASELINE, "alarm_button": True, "door_zone": False}),
    ]
    assert run(rows) == [(500, "alarm_button", "raise")]
    car = Car()
    car.at(0, alarm_button=True)
    car.at(450, door_zone=False)
    assert car.advance(520) == []  # live: the zone change is not decided yet, so neither is 500 ms
    assert car.detector.finish(520)[0][:3] == (500, "alarm_button", "raise")


def test_a_row_replaced_at_the_same_t_ms_held_for_no_time() -> None:
    import io

    from edge_agent.detect import DetectorConfig
    from edge_agent.replay import replay
    from protocols.signals import SignalSnapshot, TraceSettings, write_trace

    from .support import BASELINE, LIMITS, run

    rows = [
        SignalSnapshot(0, **{**BASELINE, "power": False}),
        SignalSnapshot(500, **{**BASELINE, "power": True}),  # stated for 0 ms: no break in the outage
        SignalSnapshot(500, **{**BASELINE, "power": False, "fault_code": 9}),
        SignalSnapshot(700, **{**BASELINE, "power": False, "fault_code": 5}),  # nor does a code seen for 0 ms
        SignalSnapshot(700, **{**BASELINE, "power": False, "fault_code": 0}),
        SignalSnapshot(3_000, **{**BASELINE, "power": False}),
    ]
    assert run(rows) == [(500, "controller_fault", "raise"), (1_000, "power_failure", "raise"),
                         (1_700, "controller_fault", "clear")]  # fmt: skip
    text = io.StringIO()
    write_trace(text, TraceSettings(LIMITS.rated_speed_mm_s, LIMITS.lowest_floor, LIMITS.highest_floor), rows)
    events = replay(io.StringIO(text.getvalue()), "t", DetectorConfig())
    assert [(e.t_ms, e.type, e.action.value) for e in events] == run(rows)
