"""Trend watch: daily figures of an elevator's runs and door cycles against a learned baseline.

Sans-IO, like the detector: trip and door-cycle records (`protocols.frames.Trip`, `DoorCycle`,
as `edge_agent.report.policy.Reporter` makes them) and the time go in, `Advisory` raises and
clears come out. The clock is an argument (`now_ms`): the trace's t_ms in replay, the gateway's
wall clock live, so a day is a calendar day (UTC, shifted by `day_offset_ms`).

The rule, figure by figure (`FIGURES`; docs/trend-watch.md has the why and the sources):

1. Each day gives one value per figure. A time figure (door opening, closing and lock time;
   stopping time; travel time in excess of its floor pair's baseline) is the median of that day's
   samples; a day with fewer than `min_samples` samples gives no value (a quiet Sunday says
   nothing). A rate figure (re-openings per door cycle, re-levels per run) is pooled over the
   last `hold_days` days (their counts summed), because one day's few dozen cycles make a rate
   too noisy to judge; it needs `min_samples` cycles or runs in those days.
2. The first `learn_days` days with activity are the baseline: each figure's median over those
   days' values and its spread (1.4826 x the median absolute deviation of the values, a robust
   standard deviation). The floor pairs' travel-time baselines are the medians of those days'
   trips per pair (pairs with at least 3 trips); other pairs' trips are not judged.
3. The bound is baseline + max(`k_spread` x spread, the figure's relative margin x baseline, its
   absolute margin). Only worse counts: slower doors, more re-openings, more re-levels, longer
   stops; a faster door is no advisory.
4. A time figure's advisory is raised when its daily value has been above the bound on
   `hold_days` consecutive days with a value; a rate figure's when its pooled value (already
   `hold_days` days long) is above the bound. It is stamped at the end of the deciding day (the
   first moment of the next day). It clears in the same way at or below the clear level
   (`clear_fraction` of the way from baseline to bound).

An advisory is not an alarm: it travels as an event of severity `advisory` (protocols.events),
which no collector path turns into a rescue case or a page; it is for the maintenance company.
The baseline is fixed once learned; after a repair, `relearn()` (the figure returns to a new normal).
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from protocols.frames import DoorCycle, StopQuality, Trip

DAY_MS = 86_400_000
MAD_TO_SD = 1.4826  # MAD x this estimates the standard deviation of normally distributed values


class TrendConfigError(ValueError):
    """A bad `[trend]` table; the message names the key."""


class TrendStateError(ValueError):
    """A saved state that cannot be restored (another version, a damaged file)."""


STATE_VERSION = 1


class Aggregate(enum.Enum):
    MEDIAN = "median"
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    event: str  # the advisory's event type (protocols.events, severity advisory)
    unit: str
    aggregate: Aggregate
    rel_margin: float  # the bound is at least this fraction above the baseline
    abs_margin: float  # and at least this much (in the figure's unit)


FIGURES: tuple[Figure, ...] = (
    Figure("door_opening_ms", "trend_door_opening", "ms", Aggregate.MEDIAN, 0.15, 150.0),
    Figure("door_closing_ms", "trend_door_closing", "ms", Aggregate.MEDIAN, 0.15, 150.0),
    Figure("door_lock_ms", "trend_door_lock", "ms", Aggregate.MEDIAN, 0.5, 200.0),
    Figure("door_reopen_rate", "trend_door_reopens", "per cycle", Aggregate.RATE, 0.0, 0.10),
    Figure("relevel_rate", "trend_relevels", "per run", Aggregate.RATE, 0.0, 0.08),
    Figure("stopping_ms", "trend_stopping", "ms", Aggregate.MEDIAN, 0.25, 150.0),
    Figure("travel_excess_ms", "trend_travel_time", "ms", Aggregate.MEDIAN, 0.0, 400.0),
)
BY_FIGURE: dict[str, Figure] = {f.name: f for f in FIGURES}


@dataclass(frozen=True, slots=True)
class TrendConfig:
    """`[trend]` in agent.toml."""

    learn_days: int = 7  # days with a value that make the baseline
    hold_days: int = 3  # consecutive days beyond the bound (or back within) before it changes
    k_spread: float = 4.0  # bound: this many robust standard deviations of the daily values ...
    min_samples: int = 10  # a day needs this many samples of a figure to give it a value
    clear_fraction: float = 0.5  # clears at baseline + this x (bound - baseline)
    day_offset_ms: int = 0  # where a day starts: 0 = UTC midnight; +28_800_000 = Beijing midnight

    def __post_init__(self) -> None:
        for key, lo in (("learn_days", 3), ("hold_days", 1), ("min_samples", 1)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise TrendConfigError(f"trend.{key} must be an integer >= {lo}, got {value!r}")
        if not isinstance(self.k_spread, int | float) or not self.k_spread > 0:
            raise TrendConfigError(f"trend.k_spread must be > 0, got {self.k_spread!r}")
        if not isinstance(self.clear_fraction, int | float) or not 0 <= self.clear_fraction < 1:
            raise TrendConfigError(f"trend.clear_fraction must be in [0, 1), got {self.clear_fraction!r}")
        if isinstance(self.day_offset_ms, bool) or not isinstance(self.day_offset_ms, int):
            raise TrendConfigError(f"trend.day_offset_ms must be an integer, got {self.day_offset_ms!r}")

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str = "<config>") -> TrendConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise TrendConfigError(f"{source}: trend.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        try:
            return cls(**table)  # type: ignore[arg-type]
        except TrendConfigError as exc:
            raise TrendConfigError(f"{source}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Advisory:
    """A raise or clear of one figure's advisory, at the first moment of the day after the evidence."""

    t_ms: int
    figure: str
    raised: bool  # False = cleared
    value: float  # the daily value of the day that decided it
    baseline: float
    bound: float

    @property
    def event_type(self) -> str:
        return BY_FIGURE[self.figure].event

    def to_json_dict(self) -> dict[str, object]:
        return {
            "t_ms": self.t_ms,
            "type": self.event_type,
            "action": "raise" if self.raised else "clear",
            "class": "advisory",
            "figure": self.figure,
            "value": round(self.value, 3),
            "baseline": round(self.baseline, 3),
            "bound": round(self.bound, 3),
        }


@dataclass(slots=True)
class _Day:
    door_opening_ms: list[int] = field(default_factory=list)
    door_closing_ms: list[int] = field(default_factory=list)
    door_lock_ms: list[int] = field(default_factory=list)
    stopping_ms: list[int] = field(default_factory=list)
    trips: list[tuple[int, int, int]] = field(default_factory=list)  # (from, to, travel ms) of level stops
    runs: int = 0
    relevels: int = 0
    cycles: int = 0
    reopens: int = 0


def _day_of(d: Mapping[str, Any]) -> _Day:
    def ints(key: str) -> list[int]:
        return [int(x) for x in d[key]]

    return _Day(
        door_opening_ms=ints("door_opening_ms"),
        door_closing_ms=ints("door_closing_ms"),
        door_lock_ms=ints("door_lock_ms"),
        stopping_ms=ints("stopping_ms"),
        trips=[(int(f), int(t), int(ms)) for f, t, ms in d["trips"]],
        runs=int(d["runs"]),
        relevels=int(d["relevels"]),
        cycles=int(d["cycles"]),
        reopens=int(d["reopens"]),
    )


@dataclass(slots=True)
class _State:
    """One figure's baseline and where its advisory stands."""

    baseline: float | None = None
    bound: float = 0.0
    clear: float = 0.0
    raised: bool = False
    run: int = 0  # consecutive days beyond the bound (not raised) or back within (raised)


class TrendWatch:
    """One elevator's trend watch. Feed it every trip and door cycle; `tick` closes finished days."""

    def __init__(self, config: TrendConfig | None = None) -> None:
        self.cfg = config or TrendConfig()
        self._day: int | None = None
        self._bucket = _Day()
        self._learning: list[_Day] = []
        self._learning_rates: list[dict[str, float]] = []
        self._pairs: dict[tuple[int, int], float] = {}
        self._states = {f.name: _State() for f in FIGURES}
        self._learned = False
        self._recent: list[_Day] = []  # the last hold_days closed days with activity (rate pooling)
        self.days_seen = 0

    # --- input ----------------------------------------------------------------------------------

    def trip(self, trip: Trip, now_ms: int) -> list[Advisory]:
        out = self.tick(now_ms)
        b = self._bucket
        if trip.relevel:
            b.relevels += 1
            return out
        if trip.stop_quality is not StopQuality.LEVEL:
            return out
        b.runs += 1
        if trip.stopping_ms is not None:
            b.stopping_ms.append(trip.stopping_ms)
        if trip.from_floor != trip.to_floor:
            b.trips.append((trip.from_floor, trip.to_floor, trip.stop_ms - trip.start_ms))
        return out

    def door(self, cycle: DoorCycle, now_ms: int) -> list[Advisory]:
        out = self.tick(now_ms)
        if cycle.opening_ms is None:
            return out  # never fully open (a contact bounce, a door stopped by a fault): no cycle to judge
        b = self._bucket
        b.cycles += 1
        b.reopens += cycle.reopens
        b.door_opening_ms.append(cycle.opening_ms)
        if cycle.closing_ms is not None:
            b.door_closing_ms.append(cycle.closing_ms)
        if cycle.lock_ms is not None:
            b.door_lock_ms.append(cycle.lock_ms)
        return out

    def tick(self, now_ms: int) -> list[Advisory]:
        """Close the day in progress if `now_ms` is past it; advisories are stamped at its end."""
        day = (now_ms - self.cfg.day_offset_ms) // DAY_MS
        if self._day is None:
            self._day = day
            return []
        if day <= self._day:
            return []
        out = self._close(self._day)
        self._day = day
        return out

    def finish(self, now_ms: int) -> list[Advisory]:
        """The end of a trace: judge the day in progress with what it has, stamped at `now_ms`."""
        if self._day is None:
            return []
        out = self._close(self._day, now_ms)
        self._day = None
        return out

    def relearn(self) -> None:
        """Forget the baselines (after a repair): the next `learn_days` days are the new normal."""
        self._learning = []
        self._learning_rates = []
        self._pairs = {}
        self._states = {f.name: _State() for f in FIGURES}
        self._learned = False

    # --- saving and restoring (the agent keeps its baselines across restarts) --------------------

    def to_state(self) -> dict[str, object]:
        """Everything learned and counted so far, as JSON-able data."""
        return {
            "version": STATE_VERSION,
            "day": self._day,
            "bucket": asdict(self._bucket),
            "learning": [asdict(d) for d in self._learning],
            "learning_rates": self._learning_rates,
            "recent": [asdict(d) for d in self._recent],
            "pairs": [[f, t, ms] for (f, t), ms in sorted(self._pairs.items())],
            "states": {n: asdict(st) for n, st in self._states.items()},
            "learned": self._learned,
            "days_seen": self.days_seen,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], config: TrendConfig | None = None) -> TrendWatch:
        """A watch that goes on where `to_state` left it; TrendStateError if the data is not one."""
        w = cls(config)
        try:
            if state["version"] != STATE_VERSION:
                raise TrendStateError(f"state version {state['version']!r}, expected {STATE_VERSION}")
            day = state["day"]
            w._day = None if day is None else int(day)
            w._bucket = _day_of(state["bucket"])
            w._learning = [_day_of(d) for d in state["learning"]]
            w._learning_rates = [{str(k): float(v) for k, v in r.items()} for r in state["learning_rates"]]
            w._recent = [_day_of(d) for d in state["recent"]]
            w._pairs = {(int(f), int(t)): float(ms) for f, t, ms in state["pairs"]}
            states = state["states"]
            w._states = {f.name: _State(**states[f.name]) if f.name in states else _State() for f in FIGURES}
            w._learned = bool(state["learned"])
            w.days_seen = int(state["days_seen"])
        except TrendStateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TrendStateError(f"not a trend watch state: {type(exc).__name__}: {exc}") from None
        return w

    # --- state ----------------------------------------------------------------------------------

    @property
    def learned(self) -> bool:
        return self._learned

    def baselines(self) -> dict[str, tuple[float, float]]:
        """figure -> (baseline, bound), for the figures that have one."""
        return {n: (s.baseline, s.bound) for n, s in self._states.items() if s.baseline is not None}

    def raised(self) -> list[str]:
        return [n for n, s in self._states.items() if s.raised]

    # --- days -----------------------------------------------------------------------------------

    def _close(self, day: int, stamp_ms: int | None = None) -> list[Advisory]:
        bucket, self._bucket = self._bucket, _Day()
        self.days_seen += 1
        t_ms = (day + 1) * DAY_MS + self.cfg.day_offset_ms if stamp_ms is None else stamp_ms
        active = bucket.runs >= self.cfg.min_samples or bucket.cycles >= self.cfg.min_samples
        if active:
            self._recent = [*self._recent, bucket][-self.cfg.hold_days :]
        if not self._learned:
            if active:
                self._learning.append(bucket)
                self._learning_rates.append(self._rates(self._recent))
            if len(self._learning) >= self.cfg.learn_days:
                self._learn()
            return []
        out = []
        values = self._values(bucket)
        values.update(self._rates(self._recent) if active else {})
        for fig in FIGURES:
            value = values.get(fig.name)
            st = self._states[fig.name]
            if value is None or st.baseline is None:
                continue
            hold = 1 if fig.aggregate is Aggregate.RATE else self.cfg.hold_days
            if not st.raised:
                st.run = st.run + 1 if value > st.bound else 0
                if st.run >= hold:
                    st.raised, st.run = True, 0
                    out.append(Advisory(t_ms, fig.name, True, value, st.baseline, st.bound))
            else:
                st.run = st.run + 1 if value <= st.clear else 0
                if st.run >= hold:
                    st.raised, st.run = False, 0
                    out.append(Advisory(t_ms, fig.name, False, value, st.baseline, st.bound))
        return out

    def _values(self, b: _Day) -> dict[str, float]:
        n = self.cfg.min_samples
        out: dict[str, float] = {}
        for name in ("door_opening_ms", "door_closing_ms", "door_lock_ms", "stopping_ms"):
            samples: list[int] = getattr(b, name)
            if len(samples) >= n:
                out[name] = float(statistics.median(samples))
        if self._pairs:
            excess = [ms - self._pairs[(f, t)] for f, t, ms in b.trips if (f, t) in self._pairs]
            if len(excess) >= n:
                out["travel_excess_ms"] = float(statistics.median(excess))
        return out

    def _rates(self, days: list[_Day]) -> dict[str, float]:
        """The rate figures pooled over `days`."""
        n = self.cfg.min_samples
        out: dict[str, float] = {}
        cycles = sum(d.cycles for d in days)
        runs = sum(d.runs for d in days)
        if cycles >= n:
            out["door_reopen_rate"] = sum(d.reopens for d in days) / cycles
        if runs >= n:
            out["relevel_rate"] = sum(d.relevels for d in days) / runs
        return out

    def _learn(self) -> None:
        per_pair: dict[tuple[int, int], list[int]] = {}
        for b in self._learning:
            for f, t, ms in b.trips:
                per_pair.setdefault((f, t), []).append(ms)
        self._pairs = {k: float(statistics.median(v)) for k, v in per_pair.items() if len(v) >= 3}
        daily = [self._values(b) for b in self._learning]
        # a rate's pooled values before the hold window is full say less: learn from full windows
        full = self._learning_rates[self.cfg.hold_days - 1 :] or self._learning_rates
        for values, rates in zip(daily[-len(full) :], full, strict=True):
            values.update(rates)
        for fig in FIGURES:
            vals = [d[fig.name] for d in daily if fig.name in d]
            if len(vals) < 3:
                continue  # never measured here (no lock signal, say): not judged
            base = float(statistics.median(vals))
            spread = MAD_TO_SD * float(statistics.median(abs(v - base) for v in vals))
            margin = max(self.cfg.k_spread * spread, fig.rel_margin * abs(base), fig.abs_margin)
            st = self._states[fig.name]
            st.baseline, st.bound = base, base + margin
            st.clear = base + self.cfg.clear_fraction * margin
        self._learned = True
        self._learning = []
        self._learning_rates = []
