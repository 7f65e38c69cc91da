"""Properties over many generated inputs: the rescue lifecycle never leaves its table, and the
registry CSV survives any text a clerk may type into an address."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as hs

from collector.platform.identity import ElevatorIdentity, parse_csv, to_csv
from collector.platform.rescue import (
    CLOSED,
    TRANSITIONS,
    Action,
    RefusedTransition,
    RescueConfig,
    Status,
    due_escalations,
    next_deadline_ms,
    open_case,
    transition,
)

T0 = 1_764_400_000_000


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.tuples(hs.sampled_from(list(Action)), hs.integers(0, 4_000_000)), max_size=8))
def test_random_action_sequences_follow_the_table(steps: list[tuple[Action, int]]) -> None:
    case = open_case("C", "d", T0)
    now = T0
    cfg = RescueConfig()
    for action, dt in steps:
        now += dt
        before = case
        try:
            case = transition(case, action, now, "officer")
        except RefusedTransition:
            if action is Action.REOPEN:
                assert before.status not in CLOSED  # only a closed case is refused nothing by reopen
            else:
                assert (before.status, action) not in TRANSITIONS
            continue
        if action is Action.REOPEN:  # back to where it was before the close, never to a closed status
            assert before.status in CLOSED
            assert case.status is before.steps[-2].status and case.status not in CLOSED
        else:
            assert TRANSITIONS[(before.status, action)] is case.status
        assert case.steps[:-1] == before.steps
    at = [s.at_ms for s in case.steps]
    assert at == sorted(at)
    assert case.steps[0].status is Status.OCCURRED
    # nothing but a reopen follows a close
    for prev, step in zip(case.steps, case.steps[1:], strict=False):
        if prev.status in CLOSED:
            assert step.status not in CLOSED
    if case.closed or case.status is Status.ON_SITE:  # nothing left to escalate
        assert due_escalations(case, [], now + 10**9, cfg) == []
        assert next_deadline_ms(case, [], cfg) is None
    else:
        deadline = next_deadline_ms(case, [], cfg)
        assert deadline is not None and deadline <= T0 + 1_800_000
        assert due_escalations(case, [], deadline - 1, cfg) == []
        assert due_escalations(case, [], deadline, cfg) != []


_text = hs.text(hs.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s != ""
)


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.tuples(_text, _text, _text), min_size=1, max_size=5))
def test_registry_csv_round_trips_any_text(rows: list[tuple[str, str, str]]) -> None:
    items = [
        ElevatorIdentity(f"lift-{i}", f"{31103306020000000000 + i}", f"{100000 + i}", "330603", addr, unit, company)
        for i, (addr, unit, company) in enumerate(rows)
    ]
    assert parse_csv(to_csv(items)) == items
