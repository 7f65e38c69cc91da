"""The rescue case lifecycle, table-driven against the platform convention (01 -> 02 -> 04 -> 00 / 05)."""

from __future__ import annotations

import pytest

from collector.platform.rescue import (
    Action,
    Escalation,
    RescueCase,
    RescueConfig,
    RescueError,
    Status,
    due_escalations,
    next_deadline_ms,
    open_case,
    transition,
)

T0 = 1_764_400_000_000
CFG = RescueConfig()


def walk(actions: list[str]) -> RescueCase:
    case = open_case("C1", "lift-1", T0, alarm_id=7, floor=3)
    for i, a in enumerate(actions, start=1):
        case = transition(case, a, T0 + i * 1000, "officer-wang")
    return case


@pytest.mark.parametrize(
    ("actions", "status"),
    [
        ([], Status.OCCURRED),
        (["respond"], Status.RESPONDED),
        (["respond", "arrive"], Status.ON_SITE),
        (["respond", "arrive", "complete"], Status.DONE),
        (["false_alarm"], Status.FALSE_ALARM),
        (["respond", "false_alarm"], Status.FALSE_ALARM),
        (["respond", "arrive", "false_alarm"], Status.FALSE_ALARM),
    ],
)
def test_allowed_paths(actions: list[str], status: Status) -> None:
    case = walk(actions)
    assert case.status is status
    assert [s.status for s in case.steps][0] is Status.OCCURRED
    assert len(case.steps) == len(actions) + 1
    assert all(s.actor == "officer-wang" for s in case.steps[1:])
    assert case.steps[0].actor == "system"


@pytest.mark.parametrize(
    ("actions", "bad", "reason"),
    [
        ([], "arrive", "01 occurred: 'arrive' is not allowed now (allowed: respond, false_alarm)"),
        ([], "complete", "not allowed"),
        (["respond"], "respond", "02 responded: 'respond' is not allowed"),
        (["respond"], "complete", "allowed: arrive, false_alarm"),
        (["respond", "arrive", "complete"], "false_alarm", "is closed (00 done)"),
        (["false_alarm"], "respond", "is closed (05 false alarm)"),
        ([], "close", "unknown action 'close'"),
    ],
)
def test_refused_transitions_say_why(actions: list[str], bad: str, reason: str) -> None:
    case = walk(actions)
    with pytest.raises(RescueError, match=None) as info:
        transition(case, bad, T0 + 60_000, "officer-wang")
    assert reason in str(info.value)


def test_a_person_must_act() -> None:
    case = walk([])
    for actor in ("", "  ", "system"):
        with pytest.raises(RescueError):
            transition(case, Action.RESPOND, T0 + 1, actor)


def test_steps_cannot_go_back_in_time() -> None:
    case = walk(["respond"])
    with pytest.raises(RescueError, match="earlier than the previous"):
        transition(case, "arrive", T0, "tech-li")


def test_response_and_arrival_times() -> None:
    case = open_case("C", "d", T0)
    case = transition(case, "respond", T0 + 30_000, "officer")
    case = transition(case, "arrive", T0 + 20 * 60_000, "tech")
    assert case.response_s == 30.0
    assert case.arrival_s == 1200.0
    assert case.at(Status.DONE) is None


# (actions with their offsets in s, already sent, now in s) -> escalations due
ESCALATIONS = [
    ([], [], 44.999, []),
    ([], [], 45, [Escalation.NO_RESPONSE]),
    ([], ["no_response"], 100, []),
    ([("respond", 40)], [], 100, []),
    ([("respond", 50)], [], 100, []),  # responded late: no_response no longer due (and was sent before)
    ([], ["no_response"], 1800, [Escalation.NO_ARRIVAL]),
    ([], [], 1800, [Escalation.NO_RESPONSE, Escalation.NO_ARRIVAL]),  # after a long outage: both at once
    ([("respond", 10)], [], 1799.999, []),
    ([("respond", 10)], [], 1800, [Escalation.NO_ARRIVAL]),
    ([("respond", 10), ("arrive", 1700)], [], 4000, []),
    ([("respond", 10)], ["no_arrival"], 4000, []),
    ([("false_alarm", 5)], [], 4000, []),
    ([("respond", 10), ("arrive", 1000), ("complete", 2000)], [], 4000, []),
]


@pytest.mark.parametrize(("steps", "sent", "now_s", "due"), ESCALATIONS)
def test_due_escalations(steps: list[tuple[str, float]], sent: list[str], now_s: float, due: list[Escalation]) -> None:
    case = open_case("C", "d", T0)
    for action, at_s in steps:
        case = transition(case, action, T0 + round(at_s * 1000), "officer")
    assert due_escalations(case, sent, T0 + round(now_s * 1000), CFG) == due


def test_escalation_limits_are_configurable_and_next_deadline() -> None:
    cfg = RescueConfig(response_limit_s=10, arrival_limit_s=600)
    case = open_case("C", "d", T0)
    assert next_deadline_ms(case, [], cfg) == T0 + 10_000
    assert next_deadline_ms(case, ["no_response"], cfg) == T0 + 600_000
    assert due_escalations(case, [], T0 + 10_000, cfg) == [Escalation.NO_RESPONSE]
    closed = transition(case, "false_alarm", T0 + 1, "officer")
    assert next_deadline_ms(closed, [], cfg) is None
    with pytest.raises(RescueError):
        RescueConfig(response_limit_s=0)
    with pytest.raises(RescueError):
        RescueConfig(response_limit_s=60, arrival_limit_s=30)
