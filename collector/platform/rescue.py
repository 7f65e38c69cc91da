"""Rescue cases: what happens after an `entrapment` alarm, until a person closes the case.

Sans-IO: values in, values out, time is an argument (Unix ms). The store and the HTTP API drive
these functions; the tests drive them with plain data.

Status codes follow the supervision platforms' convention (the codes travel to the city as is):

    01 occurred ──respond──> 02 responded ──arrive──> 04 on site ──complete──> 00 done
      │                        │                        │
      └──────────────── false_alarm ──────────────────┴──> 05 false alarm

    00 done / 05 false alarm ──reopen──> the status the case had before it was closed
    any open case ──merge into another open case of the same car──> 06 merged (final)

Reopening exists for the duty room's worst moment: a case closed while the passengers are still
trapped (the alarm is still active, or a closed "false alarm" was not one). The case goes back to
where it was (a rescuer who was on site is still on site), keeps every step, and its deadlines
count again from the occurrence; an escalation already sent is not sent twice.

Merging exists for two cases already open for one car (opened before the one-car rule, or at two
counties' consoles): one car, one case, one crew. `merge(into, away, ...)` gives the surviving
case both timelines' steps in time order (the merged-away case's notes say where they came from),
the earliest occurrence (so its deadlines count from the first report), the alarm of whichever had
one, and a last step at the merge that keeps the further of the two progresses; the merged-away case
gets a final 06 step "merged into X" and can no longer be acted on or reopened.

Every step records its time and its actor (a duty officer, a maintenance technician, "system" for
the automatic opening). A case is opened by the alarm; clearing the alarm (the door opened, the
car moved) does not close it: only `complete` or `false_alarm`, done by a person, does.

Escalation
----------
Two deadlines, both counted from the moment the entrapment occurred, so they survive a restart
(they are recomputed from the persisted steps, never held in a timer):

- `no_response`: still 01 after `response_limit_s` (default 45 s): nobody acknowledged the alarm;
- `no_arrival`: no 04 step after `arrival_limit_s` (default 30 min, the regulation's limit for a
  rescuer to reach the car) while the case is open.

`due_escalations(case, already_sent, now_ms, config)` says which are due and not yet sent; the
caller persists what it sent and passes it back next time, so each escalation goes out once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from collector.errors import CollectorError


class RescueError(CollectorError):
    """A rescue operation that cannot be done as asked (bad action, no actor); the message says why."""


class RefusedTransition(RescueError):
    """The step is well formed but the case's status does not allow it now (HTTP 409)."""


class Status(enum.StrEnum):
    OCCURRED = "01"
    RESPONDED = "02"
    ON_SITE = "04"
    DONE = "00"
    FALSE_ALARM = "05"
    MERGED = "06"


STATUS_TITLE = {
    Status.OCCURRED: "occurred",
    Status.RESPONDED: "responded",
    Status.ON_SITE: "on site",
    Status.DONE: "done",
    Status.FALSE_ALARM: "false alarm",
    Status.MERGED: "merged",
}


class Action(enum.StrEnum):
    RESPOND = "respond"
    ARRIVE = "arrive"
    COMPLETE = "complete"
    FALSE_ALARM = "false_alarm"
    REOPEN = "reopen"


# The whole lifecycle in one table: (current status, action) -> next status.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.OCCURRED, Action.RESPOND): Status.RESPONDED,
    (Status.RESPONDED, Action.ARRIVE): Status.ON_SITE,
    (Status.ON_SITE, Action.COMPLETE): Status.DONE,
    (Status.OCCURRED, Action.FALSE_ALARM): Status.FALSE_ALARM,
    (Status.RESPONDED, Action.FALSE_ALARM): Status.FALSE_ALARM,
    (Status.ON_SITE, Action.FALSE_ALARM): Status.FALSE_ALARM,
}

CLOSED = frozenset({Status.DONE, Status.FALSE_ALARM, Status.MERGED})
# `reopen` is the one step whose target is not fixed: it returns to the status before the close.
# A merged case is not reopened: its steps live on in the case it was merged into.
REOPENABLE = frozenset({Status.DONE, Status.FALSE_ALARM})
# How far a rescue got, for the status a merged case keeps.
PROGRESS = (Status.OCCURRED, Status.RESPONDED, Status.ON_SITE)
SYSTEM_ACTOR = "system"


class Escalation(enum.StrEnum):
    NO_RESPONSE = "no_response"
    NO_ARRIVAL = "no_arrival"


@dataclass(frozen=True, slots=True)
class RescueConfig:
    response_limit_s: float = 45.0
    arrival_limit_s: float = 30 * 60.0

    def __post_init__(self) -> None:
        if self.response_limit_s <= 0:
            raise RescueError(f"response_limit_s must be positive, got {self.response_limit_s!r}")
        if self.arrival_limit_s <= self.response_limit_s:
            raise RescueError(
                f"arrival_limit_s ({self.arrival_limit_s!r}) must be longer than response_limit_s "
                f"({self.response_limit_s!r})"
            )


@dataclass(frozen=True, slots=True)
class Step:
    status: Status
    at_ms: int
    actor: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class RescueCase:
    """One entrapment and what was done about it; `steps[0]` is always the 01 occurrence."""

    case_id: str
    device_id: str
    alarm_id: int | None
    steps: tuple[Step, ...]
    floor: int | None = None

    @property
    def status(self) -> Status:
        return self.steps[-1].status

    @property
    def occurred_ms(self) -> int:
        return self.steps[0].at_ms

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    def at(self, status: Status) -> int | None:
        """When the case reached `status`, or None if it never did."""
        for s in self.steps:
            if s.status is status:
                return s.at_ms
        return None

    @property
    def response_s(self) -> float | None:
        t = self.at(Status.RESPONDED)
        return None if t is None else (t - self.occurred_ms) / 1000.0

    @property
    def arrival_s(self) -> float | None:
        t = self.at(Status.ON_SITE)
        return None if t is None else (t - self.occurred_ms) / 1000.0


def open_case(
    case_id: str,
    device_id: str,
    occurred_ms: int,
    alarm_id: int | None = None,
    floor: int | None = None,
    actor: str = SYSTEM_ACTOR,
) -> RescueCase:
    """The case an entrapment opens: status 01 at the moment the entrapment was raised."""
    return RescueCase(case_id, device_id, alarm_id, (Step(Status.OCCURRED, occurred_ms, actor, "entrapment"),), floor)


def allowed_actions(status: Status) -> tuple[Action, ...]:
    if status in REOPENABLE:
        return (Action.REOPEN,)
    return tuple(a for (s, a) in TRANSITIONS if s is status)


def transition(case: RescueCase, action: Action | str, at_ms: int, actor: str, note: str = "") -> RescueCase:
    """The case after `actor` did `action` at `at_ms`; RescueError says why it is refused."""
    try:
        act = Action(action)
    except ValueError:
        raise RescueError(f"unknown action {action!r}: use one of {', '.join(a.value for a in Action)}") from None
    actor = actor.strip()
    if not actor:
        raise RescueError("an actor is required: say who did it")
    if actor == SYSTEM_ACTOR:
        raise RescueError(f"actor {SYSTEM_ACTOR!r} is reserved for automatic steps: a person must act")
    current = case.status
    if current is Status.MERGED:
        raise RefusedTransition(f"case {case.case_id} was {case.steps[-1].note}: act on that case")
    if act is Action.REOPEN:
        if current not in REOPENABLE:
            raise RefusedTransition(
                f"case {case.case_id} is {current.value} {STATUS_TITLE[current]}: only a closed case can be reopened"
            )
        nxt: Status | None = case.steps[-2].status  # a closed case has at least its 01 step and the close
    else:
        nxt = TRANSITIONS.get((current, act))
    if nxt is None:
        if current in CLOSED:
            raise RefusedTransition(
                f"case {case.case_id} is closed ({current.value} {STATUS_TITLE[current]}): reopen it first"
            )
        allowed = ", ".join(a.value for a in allowed_actions(current))
        raise RefusedTransition(
            f"case {case.case_id} is {current.value} {STATUS_TITLE[current]}: {act.value!r} is not allowed "
            f"now (allowed: {allowed})"
        )
    last = case.steps[-1].at_ms
    if at_ms < last:
        raise RefusedTransition(
            f"case {case.case_id}: a step cannot be earlier than the previous one ({at_ms} < {last})"
        )
    return RescueCase(
        case.case_id, case.device_id, case.alarm_id, (*case.steps, Step(nxt, at_ms, actor, note)), case.floor
    )


def merge(
    into: RescueCase, away: RescueCase, at_ms: int, actor: str, note: str = ""
) -> tuple[RescueCase, RescueCase]:
    """(`into` with `away` folded in, `away` closed as merged into it); RescueError says why not."""
    actor = actor.strip()
    if not actor or actor == SYSTEM_ACTOR:
        raise RescueError("an actor is required: a person merges cases")
    if into.case_id == away.case_id:
        raise RefusedTransition(f"case {into.case_id} cannot be merged into itself")
    if into.device_id != away.device_id:
        raise RefusedTransition(
            f"cases of different cars are not merged: {away.case_id} is {away.device_id}, "
            f"{into.case_id} is {into.device_id}"
        )
    for c in (into, away):
        if c.closed:
            raise RefusedTransition(
                f"case {c.case_id} is closed ({c.status.value} {STATUS_TITLE[c.status]}): only open cases are merged"
            )
    last = max(into.steps[-1].at_ms, away.steps[-1].at_ms)
    if at_ms < last:
        raise RefusedTransition(f"a merge cannot be earlier than the cases' last step ({at_ms} < {last})")
    tagged = [(s.at_ms, 0, i, s) for i, s in enumerate(into.steps)] + [
        (s.at_ms, 1, i, Step(s.status, s.at_ms, s.actor, f"[{away.case_id}] {s.note}".rstrip()))
        for i, s in enumerate(away.steps)
    ]
    timeline = [t[3] for t in sorted(tagged, key=lambda t: t[:3])]
    further = max(into.status, away.status, key=PROGRESS.index)
    said = f"merged {away.case_id} into this case" + (f": {note}" if note else "")
    kept = RescueCase(
        into.case_id,
        into.device_id,
        into.alarm_id if into.alarm_id is not None else away.alarm_id,
        (*timeline, Step(further, at_ms, actor, said)),
        into.floor if into.floor is not None else away.floor,
    )
    gone = RescueCase(
        away.case_id,
        away.device_id,
        None if into.alarm_id is None and away.alarm_id is not None else away.alarm_id,
        (*away.steps, Step(Status.MERGED, at_ms, actor, f"merged into {into.case_id}")),
        away.floor,
    )
    return kept, gone


def _deadlines(case: RescueCase, config: RescueConfig) -> list[tuple[Escalation, int]]:
    if case.closed:
        return []
    out = []
    if case.status is Status.OCCURRED:
        out.append((Escalation.NO_RESPONSE, case.occurred_ms + round(config.response_limit_s * 1000)))
    if case.at(Status.ON_SITE) is None:
        out.append((Escalation.NO_ARRIVAL, case.occurred_ms + round(config.arrival_limit_s * 1000)))
    return out


def due_escalations(
    case: RescueCase, already_sent: Iterable[Escalation | str], now_ms: int, config: RescueConfig
) -> list[Escalation]:
    """Escalations whose deadline has passed at `now_ms` and that were not sent before."""
    sent = {Escalation(e) for e in already_sent}
    return [kind for kind, deadline in _deadlines(case, config) if deadline <= now_ms and kind not in sent]


def next_deadline_ms(case: RescueCase, already_sent: Iterable[Escalation | str], config: RescueConfig) -> int | None:
    """When the next unsent escalation falls due (for sleeping until then), or None."""
    sent = {Escalation(e) for e in already_sent}
    pending = [deadline for kind, deadline in _deadlines(case, config) if kind not in sent]
    return min(pending) if pending else None
