"""Reopening a closed rescue case (the duty room's "closed, but they are still trapped")."""

from __future__ import annotations

import pytest

from collector.platform.rescue import (
    Action,
    Escalation,
    RefusedTransition,
    RescueCase,
    RescueConfig,
    RescueError,
    Status,
    allowed_actions,
    due_escalations,
    open_case,
    transition,
)

T0 = 1_764_400_000_000


def walk(actions: list[str]) -> RescueCase:
    case = open_case("C1", "lift-1", T0, alarm_id=7, floor=3)
    for i, a in enumerate(actions, start=1):
        case = transition(case, a, T0 + i * 1000, "officer-wang")
    return case


@pytest.mark.parametrize(
    ("actions", "back_to"),
    [
        (["false_alarm"], Status.OCCURRED),
        (["respond", "false_alarm"], Status.RESPONDED),
        (["respond", "arrive", "false_alarm"], Status.ON_SITE),
        (["respond", "arrive", "complete"], Status.ON_SITE),
        (["respond", "arrive", "complete", "reopen", "complete"], Status.ON_SITE),
        (["false_alarm", "reopen", "respond", "false_alarm"], Status.RESPONDED),
    ],
)
def test_reopen_returns_to_the_status_before_the_close(actions: list[str], back_to: Status) -> None:
    closed = walk(actions)
    assert closed.closed and allowed_actions(closed.status) == (Action.REOPEN,)
    reopened = transition(closed, "reopen", T0 + 60_000, "officer-li", "alarm still active")
    assert reopened.status is back_to and not reopened.closed
    assert reopened.steps[:-1] == closed.steps, "every earlier step is kept"
    assert (reopened.steps[-1].actor, reopened.steps[-1].note) == ("officer-li", "alarm still active")


def test_only_a_closed_case_can_be_reopened_and_a_closed_one_says_reopen() -> None:
    with pytest.raises(RefusedTransition, match="only a closed case can be reopened"):
        transition(walk(["respond"]), "reopen", T0 + 60_000, "officer-wang")
    with pytest.raises(RefusedTransition, match=r"is closed \(00 done\): reopen it first"):
        transition(walk(["respond", "arrive", "complete"]), "respond", T0 + 60_000, "officer-wang")
    with pytest.raises(RescueError, match="reserved"):
        transition(walk(["false_alarm"]), "reopen", T0 + 60_000, "system")


def test_a_reopened_case_escalates_again_but_never_twice() -> None:
    cfg = RescueConfig(response_limit_s=45, arrival_limit_s=1800)
    reopened = transition(walk(["false_alarm"]), "reopen", T0 + 10_000, "officer-wang")
    now = T0 + 50_000
    assert due_escalations(reopened, [], now, cfg) == [Escalation.NO_RESPONSE]
    assert due_escalations(reopened, ["no_response"], now, cfg) == []
    on_site = transition(walk(["respond", "arrive", "complete"]), "reopen", T0 + 10_000, "officer-wang")
    assert due_escalations(on_site, [], T0 + 3_600_000, cfg) == [], "the rescuer is still on site"
