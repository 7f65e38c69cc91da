"""Label a noise-free trace with the events `../shared/contract/detection.md` says must follow.

This is the corpus' answer key, so it must not share code or shortcuts with the agent's detector
(a corpus labeled by the detector would only test the detector against itself). It works on the
whole ground-truth timeline at once, the way the rules are written: first the maximal intervals
during which each condition holds, then the hold / clear / suppression rules applied to those
intervals, with every time computed exactly (a raise at start + T even between rows).

Input is the list of true rows the simulator rendered (each row holds until the next one; the last
row's `t_ms` is the end of the trace). The debounce and presence-bridging rules are applied here
too, so the labels are the rules applied to the truth even if the truth itself had a short
excursion; sensor noise is added to the trace after labeling and never changes a label.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from protocols.events import DETECTION_TYPES
from protocols.signals import Door, Mode, SignalSnapshot

BOUNCE_MS = 100
PRESENCE_BRIDGE_MS = 5000
CLEAR_MS = 1000
NEVER = -(10**15)

# (type, hold ms) of the events that follow the general clear rule.
_GENERAL: tuple[tuple[str, int], ...] = (
    ("stop_outside_door_zone", 15000),
    ("door_open_outside_zone", 2000),
    ("door_open_while_running", 100),
    ("moving_with_door_open", 100),
    ("overspeed", 500),
    ("run_timeout", 45000),
    ("safety_circuit_open", 500),
    ("door_lock_lost", 100),
    ("power_failure", 1000),
    ("door_open_too_long", 60000),
    ("position_lost", 500),
    ("alarm_button", 500),
    ("inspection", 1000),
)
_ORDER = {name: i for i, name in enumerate(DETECTION_TYPES)}

Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Label:
    t_ms: int
    type: str
    action: str
    fault_code: int | None = None

    def to_json_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"t_ms": self.t_ms, "type": self.type, "action": self.action}
        if self.fault_code is not None:
            out["fault_code"] = self.fault_code
        return out


def _debounce(times: list[int], values: list[bool], only_from: bool | None = None) -> list[bool]:
    """Drop excursions shorter than BOUNCE_MS (a change that returns to the previous value).

    `only_from`: if set, only excursions away from that value count as bounce.
    """
    changes: list[tuple[int, bool]] = []
    prev = values[0]
    for t, v in zip(times, values, strict=True):
        if v != prev:
            changes.append((t, v))
            prev = v
    kept: list[tuple[int, bool]] = []
    initial = values[0]
    for t, v in changes:
        before = kept[-1][1] if kept else initial
        if v == before:  # the excursion this change closed was dropped already
            continue
        if kept:
            t_prev, v_prev = kept[-1]
            before_prev = kept[-2][1] if len(kept) > 1 else initial
            if v == before_prev and t - t_prev < BOUNCE_MS and (only_from is None or before_prev == only_from):
                kept.pop()
                continue
        kept.append((t, v))
    out: list[bool] = []
    k = 0
    cur = initial
    for t in times:
        while k < len(kept) and kept[k][0] <= t:
            cur = kept[k][1]
            k += 1
        out.append(cur)
    return out


def _intervals(times: list[int], flags: list[bool], end_t: int) -> list[Interval]:
    out: list[Interval] = []
    start: int | None = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = times[i]
        elif not f and start is not None:
            out.append((start, times[i]))
            start = None
    if start is not None:
        out.append((start, end_t))
    return [iv for iv in out if iv[1] > iv[0] or iv[1] == end_t]


def _general(intervals: list[Interval], hold_ms: int, end_t: int) -> list[tuple[int, str]]:
    """Raise when held `hold_ms`; clear when false for 1 s."""
    out: list[tuple[int, str]] = []
    i, n = 0, len(intervals)
    while i < n:
        s, e = intervals[i]
        if not (e - s >= hold_ms and s + hold_ms <= end_t):
            i += 1
            continue
        out.append((s + hold_ms, "raise"))
        j = i
        while True:
            e_j = intervals[j][1]
            nxt = intervals[j + 1][0] if j + 1 < n else None
            if nxt is None or nxt - e_j >= CLEAR_MS:
                if e_j + CLEAR_MS <= end_t and not (nxt is None and e_j >= end_t):
                    out.append((e_j + CLEAR_MS, "clear"))
                else:
                    return out
                i = j + 1
                break
            j += 1
    return out


def label_rows(
    rows: Sequence[SignalSnapshot], lowest_floor: int, highest_floor: int, rated_speed_mm_s: int
) -> list[Label]:
    """Every raise and clear the contract's rules give for this (noise-free) trace, in time order."""
    if not rows:
        return []
    times = [r.t_ms for r in rows]
    end_t = times[-1]
    n = len(rows)
    zone = _debounce(times, [r.door_zone for r in rows])
    lock = _debounce(times, [r.door_lock for r in rows])
    closed = _debounce(times, [r.door is Door.CLOSED for r in rows], only_from=True)
    door_open = [r.door is Door.OPEN and not closed[i] for i, r in enumerate(rows)]
    running = [r.running for r in rows]
    insp = [r.mode is Mode.INSPECTION for r in rows]
    oos = [r.mode is Mode.OUT_OF_SERVICE for r in rows]
    normal = [r.mode is Mode.NORMAL for r in rows]
    over_limit = rated_speed_mm_s * 115  # speed * 100 > 1.15 * rated * 100

    flags: dict[str, list[bool]] = {name: [False] * n for name, _ in _GENERAL}
    run_start = NEVER
    door_left = NEVER
    for i, r in enumerate(rows):
        t = times[i]
        if running[i] and (i == 0 or not running[i - 1]):
            run_start = t if i > 0 else NEVER
        if not closed[i] and (i == 0 or closed[i - 1]):
            door_left = t if i > 0 else NEVER
        sup = insp[i]
        if sup:
            flags["power_failure"][i] = not r.power
            flags["alarm_button"][i] = r.alarm_button
            flags["inspection"][i] = True
            continue
        ru, z, c = running[i], zone[i], closed[i]
        if not ru and not z:
            if c:
                flags["stop_outside_door_zone"][i] = not oos[i]
            else:
                flags["door_open_outside_zone"][i] = True
        if ru and not c:
            if run_start < door_left:
                flags["door_open_while_running"][i] = True
            else:
                flags["moving_with_door_open"][i] = True
        flags["overspeed"][i] = r.speed_mm_s * 100 > over_limit
        flags["run_timeout"][i] = ru and not z
        flags["safety_circuit_open"][i] = (not r.safety_circuit) and r.power
        flags["door_lock_lost"][i] = ru and c and not lock[i]
        flags["power_failure"][i] = not r.power
        flags["door_open_too_long"][i] = (not c) and (not ru) and normal[i]
        flags["position_lost"][i] = r.floor < lowest_floor or r.floor > highest_floor
        flags["alarm_button"][i] = r.alarm_button

    labels: list[Label] = []
    for name, hold in _GENERAL:
        for t, action in _general(_intervals(times, flags[name], end_t), hold, end_t):
            labels.append(Label(t, name, action))

    labels += _controller_fault(times, rows, insp, end_t)
    labels += _overtravel(times, rows, running, zone, insp, end_t, highest_floor, 1, "overtravel_top")
    labels += _overtravel(times, rows, running, zone, insp, end_t, lowest_floor, -1, "overtravel_bottom")
    labels += _reopen(times, running, closed, door_open, [a or b for a, b in zip(insp, oos, strict=True)], end_t)
    labels += _entrapment(times, rows, running, zone, closed, insp, oos, end_t)
    labels = [lab for lab in labels if lab.t_ms <= end_t]
    labels.sort(key=lambda lab: (lab.t_ms, 0 if lab.action == "clear" else 1, _ORDER.get(lab.type, 99)))
    return labels


def _controller_fault(times: list[int], rows: Sequence[SignalSnapshot], insp: list[bool], end_t: int) -> list[Label]:
    out: list[Label] = []
    raised: int | None = None
    zero_since: int | None = None
    for i, r in enumerate(rows):
        t = times[i]
        code = 0 if insp[i] else r.fault_code
        seg_end = times[i + 1] if i + 1 < len(rows) else end_t
        if code:
            zero_since = None
            if raised is None:
                out.append(Label(t, "controller_fault", "raise", code))
                raised = code
            elif raised != code:
                out.append(Label(t, "controller_fault", "clear", raised))
                out.append(Label(t, "controller_fault", "raise", code))
                raised = code
        elif raised is not None:
            if zero_since is None:
                zero_since = t
            if zero_since + CLEAR_MS <= seg_end:
                out.append(Label(zero_since + CLEAR_MS, "controller_fault", "clear", raised))
                raised = None
                zero_since = None
    return out


def _overtravel(
    times: list[int],
    rows: Sequence[SignalSnapshot],
    running: list[bool],
    zone: list[bool],
    insp: list[bool],
    end_t: int,
    end_floor: int,
    direction: int,
    name: str,
) -> list[Label]:
    out: list[Label] = []
    raised = False
    run_id = 0
    raised_run = -1
    visited = False
    cond_since: int | None = None
    zone_since: int | None = None
    n = len(rows)
    for i, r in enumerate(rows):
        t = times[i]
        seg_end = times[i + 1] if i + 1 < n else end_t
        if running[i] and (i == 0 or not running[i - 1]):
            run_id += 1
            visited = False
        if running[i] and zone[i] and r.floor == end_floor:
            visited = True
        if not running[i]:
            visited = False
        if raised:
            if zone[i]:
                if zone_since is None:
                    zone_since = t
                if zone_since + CLEAR_MS <= seg_end:
                    out.append(Label(zone_since + CLEAR_MS, name, "clear"))
                    raised = False
                    zone_since = None
            else:
                zone_since = None
            continue
        cond = (
            running[i]
            and r.direction == direction
            and r.floor == end_floor
            and not zone[i]
            and visited
            and not insp[i]
            and raised_run != run_id
        )
        if cond:
            if cond_since is None:
                cond_since = t
            if cond_since + 300 <= seg_end:
                out.append(Label(cond_since + 300, name, "raise"))
                raised = True
                raised_run = run_id
                cond_since = None
                zone_since = None
        else:
            cond_since = None
    return out


def _reopen(
    times: list[int], running: list[bool], closed: list[bool], door_open: list[bool], sup: list[bool], end_t: int
) -> list[Label]:
    name = "door_reopen_repeated"
    opens = _intervals(times, door_open, end_t)
    runs = _intervals(times, running, end_t)
    closes = _intervals(times, closed, end_t)
    run_starts = [s for s, _ in runs]

    def state_at(flags: list[bool], t: int) -> bool:
        k = bisect.bisect_right(times, t) - 1
        return flags[max(k, 0)]

    counts: list[int] = []
    for s, e in opens:
        c = s + 300
        if e - s >= 300 and c <= end_t and not state_at(running, c) and not state_at(sup, c):
            counts.append(c)
    out: list[Label] = []
    window: list[int] = []
    last_reset = NEVER
    k = 0
    while k < len(counts):
        c = counts[k]
        k += 1
        # counting restarts whenever the car runs
        r = bisect.bisect_right(run_starts, c) - 1
        if r >= 0 and run_starts[r] > last_reset:
            last_reset = run_starts[r]
            window = [w for w in window if w > last_reset]
        window = [w for w in window if w >= c - 120000]
        window.append(c)
        if len(window) < 10:
            continue
        out.append(Label(c, name, "raise"))
        clear: int | None = None
        for s, e in runs:
            if s > c and e - s >= 1000:
                clear = s + 1000
                break
        for s, e in closes:
            if s > c and e - s >= 60000:
                clear = s + 60000 if clear is None else min(clear, s + 60000)
                break
        if clear is None or clear > end_t:
            break
        out.append(Label(clear, name, "clear"))
        window = []
        last_reset = clear
        while k < len(counts) and counts[k] <= clear:
            k += 1
    return out


def _entrapment(
    times: list[int],
    rows: Sequence[SignalSnapshot],
    running: list[bool],
    zone: list[bool],
    closed: list[bool],
    insp: list[bool],
    oos: list[bool],
    end_t: int,
) -> list[Label]:
    name = "entrapment"
    n = len(rows)
    still = [(not running[i]) and closed[i] and not insp[i] and not oos[i] for i in range(n)]
    stills = _intervals(times, still, end_t)
    runs = _intervals(times, running, end_t)
    opens = _intervals(times, [not c for c in closed], end_t)
    sensor = rows[0].occupied is not None
    occ: list[Interval] = []
    if sensor:
        for s, e in _intervals(times, [bool(r.occupied) for r in rows], end_t):
            e2 = e + PRESENCE_BRIDGE_MS if e < end_t else end_t + PRESENCE_BRIDGE_MS
            if occ and s <= occ[-1][1]:
                occ[-1] = (occ[-1][0], max(occ[-1][1], e2))
            else:
                occ.append((s, e2))
    alarms = _intervals(times, [r.alarm_button for r in rows], end_t)

    out: list[Label] = []
    lock_end = NEVER
    after = NEVER
    for s_still, e_still in stills:
        if s_still < after:
            continue
        k = bisect.bisect_right(times, s_still) - 1
        hold = 20000 if not zone[k] else 90000
        limit_end = e_still if e_still < end_t else end_t + 1  # condition 1 holds through the end
        base = max(lock_end, s_still + hold)
        raise_t: int | None = None
        if sensor:
            for o_s, o_e in occ:
                t = max(base, o_s + hold)
                if t < min(limit_end, o_e) and t >= o_s + hold:
                    raise_t = t if raise_t is None else min(raise_t, t)
        else:
            for a_s, a_e in alarms:
                m = max(a_s + 500, s_still)
                if m < a_e or (a_e == end_t and m <= end_t):
                    t = max(base, m)
                    if t < limit_end:
                        raise_t = t
                    break
        if raise_t is None or raise_t > end_t:
            continue
        out.append(Label(raise_t, name, "raise"))
        clear: int | None = None
        for s, e in opens:
            if s >= raise_t and e - s >= 1000:
                clear = s + 1000
                break
        for s, e in runs:
            if s >= raise_t and e - s >= 2000:
                clear = s + 2000 if clear is None else min(clear, s + 2000)
                break
        if clear is None or clear > end_t:
            break
        out.append(Label(clear, name, "clear"))
        lock_end = clear + 60000
        after = clear
    return out
