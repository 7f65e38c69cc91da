"""The simulator wears out: weeks of an elevator's life rendered in seconds, with wear labels.

A wear scenario is an elevator, a wear kind with a rate, and a number of days. Each simulated day
has one busy window (`window_s` of `traffic`, from `window_hour`); the rest of the day the car
stands parked, door closed, and costs nothing: the renderer jumps from change to change, with no
repeat rows. One `ElevatorSim` runs the whole trace (traffic comes in through `call_at`), and the
wear is applied at each day's start (`retune_at`), so the trace is continuous: no jumps of floor
or state at a day boundary.

Wear kinds (`KINDS`; rate per day from the onset, `onset_day`):

| kind | what wears | rate unit | breakdown (the trace ends there) |
|---|---|---|---|
| `door_slow` | door operator: opening and closing take longer | fraction of nominal time | 1.6 x nominal |
| `brake` | brake: the car creeps on after the drive stops (stopping distance) | mm | 60 mm past the nominal 10 mm |
| `level_drift` | leveling sensor: stops land above the landing | mm | 40 mm |
| `door_reopen` | light curtain / door edge: closes turn back more often | chance per close | 0.6 |

A healthy elevator (`kind=None`) has what every real one has: door times that vary (+-100 ms),
stops scattered around the landing (sd 3 mm; a stop more than 10 mm off is re-leveled), and a
10 mm brake creep the controller allows for.

Labels go into the trace's own `# key=value` settings (unknown keys are ignored by every reader):
`wear`, `wear_rate_per_day`, `wear_onset_ms`, `wear_detectable_ms` (when the true figure crosses
the trend rule's fixed margin, docs/trend-watch.md; the advisory needs its hold days more) and
`breakdown_ms`. `detectable` uses the rule's fixed margins only (`DETECT_MARGIN`): a noisy figure's
learned bound can be wider, so it is the earliest a correct rule could speak.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

from hw_sim.model import ElevatorSim
from hw_sim.noise import apply_noise, noise_windows
from hw_sim.render import truth_rows
from hw_sim.scenario import ElevatorSpec, NoiseSpec, Scenario, ScenarioError
from hw_sim.traffic import PATTERNS, next_party
from protocols.signals import SignalSnapshot, TraceSettings

DAY_MS = 86_400_000
HOLD_DAYS = 3  # the trend rule's hold (docs/trend-watch.md): the advisory comes after this many days

HEALTHY = dict(
    door_jitter_ms=100,
    level_scatter_mm=3.0,
    brake_slide_mm=10.0,
    brake_comp_mm=10.0,
    relevel_tolerance_mm=10.0,
)


@dataclass(frozen=True, slots=True)
class WearKind:
    what: str
    unit: str
    breakdown: float  # the worn amount at which the elevator breaks down
    detect_at: float  # the worn amount at which the trend rule's fixed margin is crossed
    shows: tuple[str, ...]  # the advisories (protocols.events) that name this wear


KINDS: dict[str, WearKind] = {
    # opening 2000 ms: margin max(15 %, 150 ms) = +15 %
    "door_slow": WearKind(
        "door operator slows", "fraction of nominal", 0.6, 0.15, ("trend_door_opening", "trend_door_closing")
    ),
    # overshoot past the allowed-for creep is re-leveled: rate +0.08 at ~6 mm (as level_drift); the
    # stopping time's margin (25 % of ~1.4 s) comes at ~18 mm more creep
    "brake": WearKind(
        "brake stopping distance grows", "mm", 60.0, 6.0, ("trend_relevels", "trend_stopping", "trend_travel_time")
    ),
    # re-level rate +0.08: P(N(off, 3 mm) > 10 mm) = 0.08 at off ~ 5.8 mm
    "level_drift": WearKind("leveling sensor drifts", "mm", 40.0, 6.0, ("trend_relevels",)),
    # re-opening rate: learned margin ~ 4 spreads of a 3-day pooled rate ~ +0.2 per cycle
    "door_reopen": WearKind("door re-opens more often", "chance per close", 0.48, 0.2, ("trend_door_reopens",)),
}


@dataclass(frozen=True, slots=True)
class Wear:
    kind: str
    rate_per_day: float
    onset_day: float = 10.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ScenarioError(f"wear kind {self.kind!r}: one of {', '.join(sorted(KINDS))}")
        if not self.rate_per_day > 0:
            raise ScenarioError(f"wear rate_per_day must be > 0, got {self.rate_per_day!r}")
        if self.onset_day < 0:
            raise ScenarioError(f"wear onset_day must be >= 0, got {self.onset_day!r}")

    def amount(self, day: float) -> float:
        return max(0.0, day - self.onset_day) * self.rate_per_day

    def day_of(self, amount: float) -> float:
        return self.onset_day + amount / self.rate_per_day

    @property
    def breakdown_day(self) -> float:
        return self.day_of(KINDS[self.kind].breakdown)

    @property
    def detectable_day(self) -> float:
        """The true figure crosses the rule's fixed margin (the advisory follows within the hold)."""
        return self.day_of(KINDS[self.kind].detect_at)


def healthy_spec(base: ElevatorSpec) -> ElevatorSpec:
    return replace(base, **HEALTHY)  # type: ignore[arg-type]


def spec_on_day(healthy: ElevatorSpec, wear: Wear | None, day: float) -> ElevatorSpec:
    """The elevator as worn on `day` (a healthy one does not change)."""
    if wear is None:
        return healthy
    x = wear.amount(day)
    if wear.kind == "door_slow":
        return replace(
            healthy,
            door_open_ms=round(healthy.door_open_ms * (1 + x)),
            door_close_ms=round(healthy.door_close_ms * (1 + x)),
        )
    if wear.kind == "brake":
        return replace(healthy, brake_slide_mm=healthy.brake_slide_mm + x)
    if wear.kind == "level_drift":
        return replace(healthy, level_offset_mm=x)
    return replace(healthy, reopen_chance=min(0.95, healthy.reopen_chance + x))


@dataclass(frozen=True, slots=True)
class WeeksRendering:
    settings: TraceSettings
    rows: list[SignalSnapshot]
    wear: Wear | None
    days: int
    breakdown_ms: int | None
    detectable_ms: int | None


def render_weeks(
    elevator: ElevatorSpec,
    days: int,
    wear: Wear | None = None,
    *,
    seed: int = 0,
    window_s: float = 1800.0,
    window_hour: float = 12.0,
    traffic: str = "lunch",
    noise: bool = False,
) -> WeeksRendering:
    """`days` days of `elevator` (wearing as `wear` says), ending at the breakdown if it comes first.

    `noise`: add hw_sim.noise's sensor noise (contact bounces on door, door zone and lock, all day
    long, and PIR drop-outs) to the ground truth, as `elev-sim trace` does; about 2.7 x the rows.
    """
    if days < 1:
        raise ScenarioError(f"days must be >= 1, got {days}")
    if traffic not in PATTERNS or PATTERNS[traffic].parties_per_hour <= 0:
        raise ScenarioError(f"traffic {traffic!r}: one of {', '.join(p for p in PATTERNS if p != 'none')}")
    if not 0 < window_s <= 20 * 3600:
        raise ScenarioError(f"window_s must be in (0, 72000], got {window_s}")
    healthy = healthy_spec(elevator)
    breakdown_ms = None
    end_day = float(days)
    if wear is not None and wear.breakdown_day < days:
        end_day = wear.breakdown_day
        breakdown_ms = round(end_day * DAY_MS)
    detectable_ms = None
    if wear is not None and wear.detectable_day < end_day:
        detectable_ms = round(wear.detectable_day * DAY_MS)
    end_ms = round(end_day * DAY_MS)
    scenario = Scenario(healthy, traffic="none", seed=seed, noise=NoiseSpec(enabled=False))
    sim = ElevatorSim(scenario, live_noise=False)
    rng = random.Random(seed * 1_000_003 + 11)
    for day in range(days):
        day_ms = day * DAY_MS
        if day_ms >= end_ms:
            break
        sim.retune_at(day_ms, spec_on_day(healthy, wear, day))
        for t_ms, origin, dest, size in _parties(
            rng, healthy, traffic, day_ms + round(window_hour * 3_600_000), window_s
        ):
            if t_ms < end_ms:
                sim.call_at(t_ms, origin, dest, size)
    rows = truth_rows(sim, end_ms, None, random.Random(seed), None)
    if noise:
        rows = apply_noise(rows, noise_windows(rows, NoiseSpec(), random.Random(seed * 15485863 + 3)))
    extra = {
        "generator": "hw_sim.wear",
        "seed": str(seed),
        "traffic": f"{traffic} {window_s:g} s a day from {window_hour:g} h",
        "days": f"{end_day:g}",
        "wear": wear.kind if wear is not None else "none",
        "noise": "1" if noise else "0",
    }
    if wear is not None:
        extra.update(wear_rate_per_day=f"{wear.rate_per_day:g}", wear_onset_ms=str(round(wear.onset_day * DAY_MS)))
        if detectable_ms is not None:
            extra["wear_detectable_ms"] = str(detectable_ms)
        if breakdown_ms is not None:
            extra["breakdown_ms"] = str(breakdown_ms)
    settings = TraceSettings(elevator.rated_speed_mm_s, elevator.lowest_floor, elevator.highest_floor, extra)
    return WeeksRendering(settings, rows, wear, days, breakdown_ms, detectable_ms)


def _parties(
    rng: random.Random, spec: ElevatorSpec, traffic: str, start_ms: int, window_s: float
) -> Iterator[tuple[int, int, int, int]]:
    pattern = PATTERNS[traffic]
    t_s = 0.0
    while True:
        gap_s, origin, dest, size = next_party(rng, pattern, spec.lowest_floor, spec.highest_floor, spec.lobby_floor)
        t_s += gap_s
        if t_s >= window_s:
            return
        yield start_ms + round(t_s * 1000), origin, dest, size


@dataclass(frozen=True, slots=True)
class CorpusTrace:
    name: str
    days: int
    wear: Wear | None
    seed: int
    window_s: float


def corpus(full: bool = False) -> list[CorpusTrace]:
    """The labeled corpus: every wear kind degrading to its breakdown, and healthy elevators.

    Quick (the tests): one trace per kind, 15-minute daily windows, wear from day 8, and
    three healthy weeks. Full (bench/trend_watch.py): each kind at a fast and a slow rate, 30-minute
    windows, and ten healthy elevator-months (30 days each).
    """
    if not full:
        out = [
            CorpusTrace("door_slow", 24, Wear("door_slow", 0.05, 8.0), 11, 900.0),
            CorpusTrace("brake", 24, Wear("brake", 5.0, 8.0), 12, 900.0),
            CorpusTrace("level_drift", 24, Wear("level_drift", 3.0, 8.0), 13, 900.0),
            CorpusTrace("door_reopen", 24, Wear("door_reopen", 0.04, 8.0), 14, 900.0),
            CorpusTrace("healthy", 21, None, 15, 900.0),
        ]
        return out
    rates = {"door_slow": (0.05, 0.02), "brake": (5.0, 2.0), "level_drift": (3.0, 1.2), "door_reopen": (0.04, 0.015)}
    out = []
    seed = 100
    for kind, (fast, slow) in rates.items():
        for rate in (fast, slow):
            wear = Wear(kind, rate, 10.0)
            seed += 1
            out.append(CorpusTrace(f"{kind}@{rate:g}", int(wear.breakdown_day) + 2, wear, seed, 1800.0))
    for i in range(10):
        out.append(CorpusTrace(f"healthy-{i + 1}", 30, None, 200 + i, 1800.0))
    return out
