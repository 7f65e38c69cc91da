"""Merging two open cases of one car (issue 15, hotline intake: one car, one case, one crew): the
pure rule in collector.platform.rescue, driven with plain values."""

from __future__ import annotations

import pytest

from collector.platform import rescue
from collector.platform.rescue import RefusedTransition, RescueError, Status

T = 1_800_000_000_000


def _auto() -> rescue.RescueCase:  # the detector's case: alarm 7, responded at +60 s
    c = rescue.open_case("AUTO", "lift-a", T + 30_000, alarm_id=7, floor=3)
    return rescue.transition(c, "respond", T + 60_000, "officer-li")


def _phone() -> rescue.RescueCase:  # the 96333 call came first, no alarm
    return rescue.open_case("PHONE", "lift-a", T, actor="officer-wang")


def test_the_survivor_keeps_the_earliest_occurrence_and_both_timelines_in_time_order() -> None:
    kept, gone = rescue.merge(_phone(), _auto(), T + 90_000, "officer-wang", "same car")
    assert kept.case_id == "PHONE" and kept.occurred_ms == T
    assert [s.at_ms for s in kept.steps] == [T, T + 30_000, T + 60_000, T + 90_000]
    assert [s.status for s in kept.steps] == [Status.OCCURRED, Status.OCCURRED, Status.RESPONDED, Status.RESPONDED]
    assert kept.steps[1].note == "[AUTO] entrapment" and kept.steps[2].actor == "officer-li"
    assert kept.steps[-1].note == "merged AUTO into this case: same car"
    assert kept.status is Status.RESPONDED, "the further progress of the two is kept"
    assert kept.response_s == 60.0
    assert kept.alarm_id == 7 and kept.floor == 3, "the phone case takes the detector's alarm and floor"
    assert gone.status is Status.MERGED and gone.closed and gone.alarm_id is None
    assert gone.steps[-1].note == "merged into PHONE" and gone.steps[:-1] == _auto().steps


def test_merging_the_other_way_keeps_the_earliest_occurrence_too() -> None:
    kept, gone = rescue.merge(_auto(), _phone(), T + 90_000, "officer-wang")
    assert kept.case_id == "AUTO" and kept.occurred_ms == T and kept.alarm_id == 7
    assert kept.steps[0].note == "[PHONE] entrapment"
    assert gone.steps[-1].note == "merged into AUTO" and gone.alarm_id is None


def test_a_merged_case_can_no_longer_be_acted_on_nor_reopened() -> None:
    _, gone = rescue.merge(_phone(), _auto(), T + 90_000, "officer-wang")
    for action in ("respond", "complete", "reopen"):
        with pytest.raises(RefusedTransition, match="AUTO was merged into PHONE: act on that case"):
            rescue.transition(gone, action, T + 100_000, "officer-wang")
    assert rescue.allowed_actions(Status.MERGED) == ()


def test_cases_of_different_cars_are_not_merged_and_the_reason_says_so() -> None:
    other = rescue.open_case("B", "lift-b", T)
    with pytest.raises(RefusedTransition, match="different cars are not merged: B is lift-b, PHONE is lift-a"):
        rescue.merge(_phone(), other, T + 1000, "officer-wang")


def test_refused_merges() -> None:
    closed = rescue.transition(_auto(), "false_alarm", T + 70_000, "officer-li")
    with pytest.raises(RefusedTransition, match="AUTO is closed .*only open cases are merged"):
        rescue.merge(_phone(), closed, T + 90_000, "officer-wang")
    with pytest.raises(RefusedTransition, match="into itself"):
        rescue.merge(_phone(), _phone(), T + 90_000, "officer-wang")
    with pytest.raises(RefusedTransition, match="earlier than the cases' last step"):
        rescue.merge(_phone(), _auto(), T + 50_000, "officer-wang")
    for actor in ("", rescue.SYSTEM_ACTOR):
        with pytest.raises(RescueError, match="a person merges cases"):
            rescue.merge(_phone(), _auto(), T + 90_000, actor)


def test_the_merged_case_travels_to_the_city_and_is_counted_once() -> None:
    from collector.http.city_api import body_problem
    from collector.outbound.city_feed import case_body, case_from_body
    from collector.platform import statistics

    kept, gone = rescue.merge(_phone(), _auto(), T + 90_000, "officer-wang")
    body = case_body(gone, {}, None)
    assert body_problem("rescue_case", body) is None, "the city intake accepts 06"
    assert case_from_body(body).status is Status.MERGED
    refs = [statistics.ElevatorRef("lift-a", "330602", "Acme Lift", 0)]
    (elevator, *_) = statistics.compute(refs, [], [kept, gone], T - 1000, T + 3_600_000)
    assert (elevator.scope, elevator.rescue_cases, elevator.false_alarms) == ("elevator", 1, 0)
