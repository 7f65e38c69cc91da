"""Trend watch, pure: table-driven days of trips and door cycles, a manual clock, no IO."""

from __future__ import annotations

import pytest

from edge_agent.trend.watch import DAY_MS, Advisory, TrendConfig, TrendConfigError, TrendWatch
from protocols.frames import DoorCycle, StopQuality, Trip

HOUR = 3_600_000


def day_of(
    watch: TrendWatch,
    day: int,
    *,
    opening_ms: int = 2000,
    reopen_every: int = 0,
    relevel_every: int = 0,
    stopping_ms: int = 1400,
    travel_ms: int = 9000,
    n: int = 40,
) -> list[Advisory]:
    """n stops at noon of `day`: a trip 0 -> 5 or back, a door cycle; some re-open, some re-level."""
    out: list[Advisory] = []
    t = day * DAY_MS + 12 * HOUR
    for i in range(n):
        frm, to = (0, 5) if i % 2 == 0 else (5, 0)
        out += watch.trip(Trip(t, t + travel_ms, frm, to, 1750, StopQuality.LEVEL, False, stopping_ms), t + travel_ms)
        t += travel_ms
        if relevel_every and i % relevel_every == 0:
            out += watch.trip(Trip(t + 800, t + 2000, to, to, 80, StopQuality.LEVEL, True, 1200), t + 2000)
            t += 2000
        reopens = 1 if reopen_every and i % reopen_every == 0 else 0
        out += watch.door(DoorCycle(t + 400, t + 12_000, to, 5000, reopens, opening_ms, 2500, 300), t + 12_000)
        t += 20_000
    return out


def learn(watch: TrendWatch, days: int = 7, start: int = 0, **kw: int) -> None:
    for d in range(start, start + days):
        assert day_of(watch, d, **kw) == []
    watch.tick((start + days) * DAY_MS)


def test_nothing_is_judged_while_learning_and_a_steady_elevator_stays_quiet() -> None:
    w = TrendWatch()
    learn(w, reopen_every=8)
    assert w.learned
    base = w.baselines()
    assert base["door_opening_ms"] == (2000.0, 2300.0)  # no spread: the 15 % margin
    assert base["door_reopen_rate"][0] == pytest.approx(0.125)
    assert base["relevel_rate"] == (0.0, 0.08)
    for d in range(7, 60):
        assert day_of(w, d, reopen_every=8) == []
    assert w.raised() == []


def test_slower_doors_raise_after_the_hold_and_clear_when_they_return() -> None:
    w = TrendWatch()
    learn(w)
    out = day_of(w, 7, opening_ms=2400) + day_of(w, 8, opening_ms=2400)
    out += day_of(w, 9, opening_ms=2200)  # back within: the run of days beyond the bound restarts
    out += day_of(w, 10, opening_ms=2400) + day_of(w, 11, opening_ms=2400)
    assert out == []
    out = day_of(w, 12, opening_ms=2400) + w.tick(13 * DAY_MS)
    assert out == [Advisory(13 * DAY_MS, "door_opening_ms", True, 2400.0, 2000.0, 2300.0)]
    assert out[0].to_json_dict()["type"] == "trend_door_opening"
    # between bound and clear level (2150): still raised
    assert day_of(w, 13, opening_ms=2200) + day_of(w, 14, opening_ms=2200) + day_of(w, 15, opening_ms=2200) == []
    out = []
    for d in (16, 17, 18):
        out += day_of(w, d, opening_ms=2100)
    out += w.tick(19 * DAY_MS)
    assert [(a.t_ms, a.raised) for a in out] == [(19 * DAY_MS, False)]
    assert w.raised() == []


def test_a_faster_door_or_a_quiet_day_raises_nothing() -> None:
    w = TrendWatch()
    learn(w)
    for d in range(7, 20):
        # a quiet Sunday with 5 stops and 3 s doors says nothing; faster doors are no drift
        assert day_of(w, d, opening_ms=3000 if d % 7 == 0 else 1500, n=5 if d % 7 == 0 else 40) == []


def test_rates_are_pooled_over_the_hold_days() -> None:
    w = TrendWatch()
    learn(w)
    out = day_of(w, 7, relevel_every=2) + w.tick(8 * DAY_MS)  # 20 re-levels in 40 runs, pooled with 2 days of 0
    assert [(a.figure, a.t_ms, round(a.value, 3)) for a in out] == [("relevel_rate", 8 * DAY_MS, 0.167)]


def test_longer_stops_and_trips_per_floor_pair() -> None:
    w = TrendWatch()
    learn(w)
    out: list[Advisory] = []
    for d in range(7, 10):
        out += day_of(w, d, stopping_ms=1800, travel_ms=9500)
    out += w.tick(10 * DAY_MS)
    assert sorted(a.figure for a in out) == ["stopping_ms", "travel_excess_ms"]


def test_relearn_forgets_the_baseline() -> None:
    w = TrendWatch()
    learn(w)
    w.relearn()
    assert not w.learned and w.baselines() == {}
    learn(w, start=7, opening_ms=2600)  # the door after its repair is a little slower: the new normal
    assert w.baselines()["door_opening_ms"][0] == 2600.0


def test_the_day_starts_where_configured() -> None:
    w = TrendWatch(TrendConfig(day_offset_ms=8 * HOUR))
    w.tick(8 * HOUR - 1)
    assert w.tick(8 * HOUR) == [] and w.days_seen == 1  # Beijing midnight closes the UTC+8 day


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"learn_days": 2}, "trend.learn_days must be an integer >= 3"),
        ({"hold_days": 1.5}, "trend.hold_days must be an integer >= 1"),
        ({"k_spread": 0}, "trend.k_spread must be > 0"),
        ({"clear_fraction": 1}, "trend.clear_fraction must be in [0, 1)"),
        ({"bound": 3}, "trend.bound: unknown key"),
    ],
)
def test_bad_config_names_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(TrendConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        TrendConfig.from_mapping(table, "agent.toml")
