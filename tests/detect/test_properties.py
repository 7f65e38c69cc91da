"""Properties of the detector over random signal histories (hypothesis).

1. Contact bounce: adding `door_zone` / `door_lock` excursions, or the door leaving `closed` and
   coming back, shorter than 100 ms never changes the events (not even their times).
2. Sampling: a 100 ms periodic rendering and an on-change rendering (with occasional repeated
   rows) of the same run give the same events within 200 ms.

A history is a start state and a list of changes (gap, signal, value): random enough to raise
every event type, including the long-held ones (entrapment, run_timeout, door_open_too_long).
"""

from __future__ import annotations

import io
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.detect import DetectorConfig
from edge_agent.replay import replay
from protocols.signals import Door, Mode, SignalSnapshot, TraceSettings, write_trace

from .support import BASELINE, LIMITS, Ev, run

VALUES: dict[str, tuple[Any, ...]] = {
    "floor": (1, 3, 9, 10, 11, 0),
    "direction": (0, 1, -1),
    "running": (False, True),
    "speed_mm_s": (0, 400, 1600, 1900),
    "door": (Door.CLOSED, Door.OPENING, Door.OPEN, Door.CLOSING),
    "door_zone": (True, False),
    "door_lock": (True, False),
    "safety_circuit": (True, False),
    "occupied": (False, True),
    "alarm_button": (False, True),
    "power": (True, False),
    "mode": (Mode.NORMAL, Mode.NORMAL, Mode.NORMAL, Mode.INSPECTION, Mode.OUT_OF_SERVICE, Mode.FIRE),
    "fault_code": (0, 0, 0, 5, 12),
}
# Weighted towards the signals most rules read.
SIGNALS = tuple(VALUES) + ("running", "door", "door_zone", "door", "running", "occupied")

Change = tuple[int, str, Any]  # (t_ms, signal, value)


def history(rng: random.Random, n: int, min_gap_ms: int, gap_unit_ms: int = 1) -> list[Change]:
    """`n` episodes of changes after t=0: mostly single random changes, some bursts of door
    cycles (door_reopen_repeated) and runs through the top or bottom landing (overtravel), which
    random changes alone rarely produce. Gaps are multiples of `gap_unit_ms`, at least `min_gap_ms`."""

    def gap() -> int:
        hi = 3_000 if rng.random() < 0.8 else 100_000
        return rng.randrange(min_gap_ms, hi + 1, gap_unit_ms) // gap_unit_ms * gap_unit_ms

    spec: list[tuple[str, Any]] = []
    gaps: list[int] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.8:
            signal = rng.choice(SIGNALS)
            steps = [(signal, rng.choice(VALUES[signal]))]
        elif kind < 0.9:
            cycle = (Door.OPENING, Door.OPEN, Door.CLOSING, Door.OPEN, Door.CLOSING, Door.CLOSED)
            steps = []
            for _ in range(rng.randint(1, 12)):
                steps += [("door", d) for d in cycle[: rng.randint(3, 6)]]
            steps.append(("door", Door.CLOSED))
        else:
            top = rng.random() < 0.5
            d, near, end = (1, 9, 10) if top else (-1, 2, 1)
            steps = [
                ("floor", near),
                ("direction", d),
                ("running", True),
                ("door_zone", False),
                ("floor", end),
                ("door_zone", True),
                ("door_zone", False),
                ("door_zone", True),
                ("running", False),
                ("direction", 0),
            ][: rng.randint(6, 10)]
        for step in steps:
            spec.append(step)
            gaps.append(min_gap_ms if (step[0] == "door" and rng.random() < 0.3) else gap())
    out: list[Change] = []
    t = 0
    for g, (signal, value) in zip(gaps, spec, strict=True):
        t += g
        out.append((t, signal, value))
    return out


def shifted(chg: list[Change], by_ms: int) -> list[Change]:
    return [(t + by_ms, s, v) for t, s, v in chg]


def render(start: dict[str, Any], start_ms: int, chg: list[Change], end_ms: int) -> list[SignalSnapshot]:
    """On-change rendering: one row at the start, one per distinct change time, one at the end."""
    state = dict(start)
    rows = [SignalSnapshot(start_ms, **state)]
    for i, (t, signal, value) in enumerate(chg):
        state[signal] = value
        if i + 1 < len(chg) and chg[i + 1][0] == t:
            continue
        if rows[-1].t_ms == t:
            rows[-1] = SignalSnapshot(t, **state)
        else:
            rows.append(SignalSnapshot(t, **state))
    if rows[-1].t_ms < end_ms:
        rows.append(SignalSnapshot(end_ms, **state))
    return rows


def state_at(start: dict[str, Any], chg: list[Change], t_ms: int) -> dict[str, Any]:
    state = dict(start)
    for t, signal, value in chg:
        if t > t_ms:
            break
        state[signal] = value
    return state


def start_state(sensor: bool) -> dict[str, Any]:
    return {**BASELINE, "occupied": False if sensor else None}


def signal_changes(chg: list[Change], signal: str) -> list[int]:
    return [t for t, s, _ in chg if s == signal]


def bounced(seed: int, n: int, bounces: int, sensor: bool) -> tuple[dict[str, Any], list[Change], list[Change], int]:
    """A history, the same history with short excursions added, and the common end time."""
    rng = random.Random(seed)
    start = start_state(sensor)
    chg = history(rng, n, 100)
    if not sensor:
        chg = [(t, s, v) for t, s, v in chg if s != "occupied"]
    end = (chg[-1][0] if chg else 0) + rng.randint(0, 120_000)
    noise: list[Change] = []
    for _ in range(bounces):
        signal = rng.choice(("door_zone", "door_lock", "door"))
        # Near a real change of another signal half of the time, where a bounce would matter most.
        if chg and rng.random() < 0.5:
            a = rng.choice(chg)[0] + rng.randint(-150, 150)
        else:
            a = rng.randint(1, max(1, end - 200))
        d = rng.randint(1, 99)
        # The same signal must not really change within 100 ms of the excursion (else it is not
        # an excursion that "returns to the previous value"), nor bounce there already.
        busy = signal_changes(chg, signal) + [t for t, s, _ in noise if s == signal]
        if a < 1 or any(a - 100 <= t <= a + d + 100 for t in busy) or a + d + 100 > end:
            continue
        before = state_at(start, chg, a)[signal]
        if signal == "door":
            if before is not Door.CLOSED:
                continue
            away: Any = rng.choice((Door.OPENING, Door.OPEN, Door.CLOSING))
        else:
            away = not before
        noise += [(a, signal, away), (a + d, signal, before)]
    noisy = sorted(chg + noise, key=lambda c: c[0])
    return start, chg, noisy, end


@settings(max_examples=250, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(1, 40),
    bounces=st.integers(1, 30),
    sensor=st.booleans(),
)
def test_excursions_shorter_than_100_ms_never_change_the_events(seed: int, n: int, bounces: int, sensor: bool) -> None:
    start, clean, noisy, end = bounced(seed, n, bounces, sensor)
    expected = run(render(start, 0, clean, end))
    assert run(render(start, 0, noisy, end)) == expected


def periodic(start: dict[str, Any], start_ms: int, chg: list[Change], end_ms: int) -> list[SignalSnapshot]:
    """The state sampled every 100 ms, as a polling agent logs it."""
    rows = []
    i = 0
    state = dict(start)
    for tick in range(start_ms, end_ms + 1, 100):
        while i < len(chg) and chg[i][0] <= tick:
            state[chg[i][1]] = chg[i][2]
            i += 1
        rows.append(SignalSnapshot(tick, **state))
    return rows


def with_repeats(rows: list[SignalSnapshot], every: int) -> list[SignalSnapshot]:
    """On-change rows plus a repeat of the current state half-way to the next row, now and then."""
    out = []
    for i, row in enumerate(rows):
        out.append(row)
        if i % every == 0 and i + 1 < len(rows) and rows[i + 1].t_ms - row.t_ms > 1:
            out.append(row._replace(t_ms=(row.t_ms + rows[i + 1].t_ms) // 2))
    return out


def close_enough(a: list[Ev], b: list[Ev], tolerance_ms: int) -> bool:
    if len(a) != len(b):
        return False
    key = sorted({(e[1], e[2]) for e in a + b})
    for k in key:
        ta = sorted(e[0] for e in a if (e[1], e[2]) == k)
        tb = sorted(e[0] for e in b if (e[1], e[2]) == k)
        if len(ta) != len(tb) or any(abs(x - y) > tolerance_ms for x, y in zip(ta, tb, strict=True)):
            return False
    return True


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(1, 30),
    sensor=st.booleans(),
    offset_ms=st.integers(1, 99),
    tail_ticks=st.integers(0, 1200),
    every=st.integers(1, 7),
)
def test_periodic_and_on_change_renderings_agree_within_200_ms(
    seed: int, n: int, sensor: bool, offset_ms: int, tail_ticks: int, every: int
) -> None:
    start = start_state(sensor)
    # Changes fall between the 100 ms ticks (at k*100 + offset); the periodic rendering sees each
    # at the next tick. The on-change trace starts at `offset_ms`, the periodic one at tick 100.
    chg = shifted(history(random.Random(seed), n, 100, gap_unit_ms=100), offset_ms)
    if not sensor:
        chg = [(t, s, v) for t, s, v in chg if s != "occupied"]
    end = (chg[-1][0] if chg else offset_ms) + tail_ticks * 100
    on_change = run(with_repeats(render(start, offset_ms, chg, end), every))
    sampled = run(periodic(start, 100, chg, end - offset_ms + 100))
    assert close_enough(on_change, sampled, 200), (on_change, sampled)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 25), sensor=st.booleans(), periodic_rendering=st.booleans())
def test_replay_text_fast_paths_match_the_detector_fed_snapshot_by_snapshot(
    seed: int, n: int, sensor: bool, periodic_rendering: bool
) -> None:
    """`elev-agent replay` skips repeated rows, caches parsed rows and splices speed-only changes;
    none of that may change a single event."""
    start, _, noisy, end = bounced(seed, n, 10, sensor)
    rows = periodic(start, 0, noisy, end) if periodic_rendering else render(start, 0, noisy, end)
    text = io.StringIO()
    write_trace(text, TraceSettings(LIMITS.rated_speed_mm_s, LIMITS.lowest_floor, LIMITS.highest_floor), rows)
    replayed = [(e.t_ms, e.type, e.action.value) for e in replay(io.StringIO(text.getvalue()), "t", DetectorConfig())]
    assert replayed == run(rows)
