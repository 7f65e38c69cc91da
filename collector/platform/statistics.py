"""Statistics per elevator, district (GB/T 2260 area code) and maintenance company.

Sans-IO: alarm records, rescue cases and the registry go in, figures come out; the window
[since_ms, until_ms) and all times are arguments (Unix ms).

Definitions (also in docs/statistics.md):

- faults by type: alarm records raised in the window, by event type (`inspection` is a
  maintenance session, not a fault, and is left out);
- entrapments: `entrapment` alarms raised in the window;
- response / arrival: seconds from the entrapment to the 02 (responded) / 04 (on site) step of
  rescue cases that occurred in the window; mean and p90 (nearest rank); "within 30 min" is the
  share of real cases (not false alarms) whose rescuer arrived within the arrival limit, counting a
  case with no arrival whose limit has passed at `until_ms` as late;
- online rate: the share of the observed time (from registration or `since_ms`, to `until_ms`)
  not covered by a `device_offline` alarm;
- MTBF: online hours divided by the number of equipment faults (severity `fault` in the event
  catalog, without the link states `comms_lost` and `device_offline`);
- advisories by type: trend watch's advisories (severity `advisory`, docs/trend-watch.md) raised
  in the window; they are not faults and count in nothing else.

A company's figures count each alarm and case against the company in charge of the elevator when
it was raised / occurred (the registry's effective-dated history, docs/registry.md), and its
observed time only while it was in charge: moving an elevator to another company leaves the
months before the move with the old one. An elevator that changed company within the window is
counted in the `elevators` of both. Districts and "all" use the elevator's whole window.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collector.platform.rescue import RescueCase, Status
from protocols.events import ADVISORY_TYPES, BY_NAME, CATALOG, Severity

LINK_STATES = frozenset({"comms_lost", "device_offline"})
NOT_FAULTS = frozenset({"inspection"})
EQUIPMENT_FAULTS = frozenset(e.name for e in CATALOG if e.severity is Severity.FAULT) - LINK_STATES


@dataclass(frozen=True, slots=True)
class AlarmFact:
    device_id: str
    type: str
    raised_ms: int
    cleared_ms: int | None


@dataclass(frozen=True, slots=True)
class ElevatorRef:
    """What statistics need from the registry: where an elevator is and who maintains it."""

    device_id: str
    area_code: str | None
    maintenance_company: str | None
    registered_ms: int
    # (valid_from_ms, company) in time order, from the registry's history; empty: the current
    # `maintenance_company` for all time.
    companies: tuple[tuple[int, str], ...] = ()

    def company_periods(self, since_ms: int, until_ms: int) -> list[tuple[str, int, int]]:
        """(company, start, end) of each stretch of [since_ms, until_ms) one company was in charge."""
        known = self.companies or ((0, self.maintenance_company or "(unknown)"),)
        out: list[tuple[str, int, int]] = []
        for n, (start, company) in enumerate(known):
            end = known[n + 1][0] if n + 1 < len(known) else until_ms
            if n == 0:
                start = min(start, since_ms)  # before the first version: the first company
            lo, hi = max(start, since_ms), min(end, until_ms)
            if lo < hi:
                if out and out[-1][0] == company and out[-1][2] == lo:
                    out[-1] = (company, out[-1][1], hi)
                else:
                    out.append((company, lo, hi))
        return out


def p90(values: Sequence[float]) -> float | None:
    """90th percentile by nearest rank (the value 90 % of the sample is at or below)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def mean(values: Sequence[float]) -> float | None:
    return None if not values else sum(values) / len(values)


@dataclass(slots=True)
class Figures:
    scope: str  # "elevator" | "district" | "company" | "all"
    key: str
    elevators: int = 0
    faults_by_type: dict[str, int] = field(default_factory=dict)
    entrapments: int = 0
    rescue_cases: int = 0
    false_alarms: int = 0
    response_s: list[float] = field(default_factory=list)
    arrival_s: list[float] = field(default_factory=list)
    arrived_in_time: int = 0
    arrival_judged: int = 0
    observed_ms: int = 0
    offline_ms: int = 0
    equipment_faults: int = 0
    advisories_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def online_rate(self) -> float | None:
        return None if self.observed_ms <= 0 else (self.observed_ms - self.offline_ms) / self.observed_ms

    @property
    def mtbf_h(self) -> float | None:
        if self.equipment_faults == 0:
            return None
        return (self.observed_ms - self.offline_ms) / 3_600_000 / self.equipment_faults

    @property
    def within_limit_share(self) -> float | None:
        return None if self.arrival_judged == 0 else self.arrived_in_time / self.arrival_judged

    def as_dict(self) -> dict[str, object]:
        def r(x: float | None, nd: int = 1) -> float | None:
            return None if x is None else round(x, nd)

        return {
            "scope": self.scope,
            "key": self.key,
            "elevators": self.elevators,
            "faults_total": sum(self.faults_by_type.values()),
            "faults_by_type": dict(sorted(self.faults_by_type.items())),
            "entrapments": self.entrapments,
            "rescue_cases": self.rescue_cases,
            "false_alarms": self.false_alarms,
            "response_mean_s": r(mean(self.response_s)),
            "response_p90_s": r(p90(self.response_s)),
            "arrival_mean_s": r(mean(self.arrival_s)),
            "arrival_p90_s": r(p90(self.arrival_s)),
            "arrival_within_limit_share": r(self.within_limit_share, 4),
            "online_rate": r(self.online_rate, 4),
            "mtbf_h": r(self.mtbf_h, 2),
            "advisories_total": sum(self.advisories_by_type.values()),
            "advisories_by_type": dict(sorted(self.advisories_by_type.items())),
        }


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def compute(
    elevators: Iterable[ElevatorRef],
    alarms: Iterable[AlarmFact],
    cases: Iterable[RescueCase],
    since_ms: int,
    until_ms: int,
    arrival_limit_s: float = 1800.0,
) -> list[Figures]:
    """Figures for every elevator, district, company and the whole set ("all"), in that order."""
    if until_ms <= since_ms:
        raise ValueError(f"empty window: until_ms {until_ms} <= since_ms {since_ms}")
    refs = {e.device_id: e for e in elevators}
    alarms_of: dict[str, list[AlarmFact]] = {d: [] for d in refs}
    for a in alarms:
        if a.device_id in alarms_of:
            alarms_of[a.device_id].append(a)
    cases_of: dict[str, list[RescueCase]] = {d: [] for d in refs}
    for c in cases:
        if c.device_id in cases_of:
            cases_of[c.device_id].append(c)
    limit_ms = round(arrival_limit_s * 1000)

    def tally(d: str, lo: int, hi: int) -> Figures:
        """One elevator's figures for the facts of [lo, hi); cases are judged at `until_ms`."""
        f = Figures("elevator", d, elevators=1)
        start = max(lo, refs[d].registered_ms)
        f.observed_ms = max(0, hi - start)
        for a in alarms_of[d]:
            if a.type == "device_offline":
                f.offline_ms += _overlap(a.raised_ms, a.cleared_ms if a.cleared_ms is not None else until_ms, start, hi)
            if not lo <= a.raised_ms < hi or a.type in NOT_FAULTS:
                continue
            if a.type in ADVISORY_TYPES:
                f.advisories_by_type[a.type] = f.advisories_by_type.get(a.type, 0) + 1
                continue
            f.faults_by_type[a.type] = f.faults_by_type.get(a.type, 0) + 1
            if a.type == "entrapment":
                f.entrapments += 1
            if a.type in EQUIPMENT_FAULTS:
                f.equipment_faults += 1
        for c in cases_of[d]:
            if not lo <= c.occurred_ms < hi or c.status is Status.MERGED:
                continue  # a merged case is counted once, in the case it was merged into
            f.rescue_cases += 1
            if c.status is Status.FALSE_ALARM:
                f.false_alarms += 1
            if c.response_s is not None:
                f.response_s.append(c.response_s)
            if c.arrival_s is not None:
                f.arrival_s.append(c.arrival_s)
            if c.status is Status.FALSE_ALARM:
                continue
            arrived = c.at(Status.ON_SITE)
            if arrived is not None:
                f.arrival_judged += 1
                f.arrived_in_time += arrived - c.occurred_ms <= limit_ms
            elif until_ms - c.occurred_ms > limit_ms:
                f.arrival_judged += 1
        return f

    per_dev = {d: tally(d, since_ms, until_ms) for d in sorted(refs)}

    groups: dict[tuple[str, str], Figures] = {}

    def add(scope: str, key: str, f: Figures) -> None:
        g = groups.setdefault((scope, key), Figures(scope, key))
        g.elevators += f.elevators
        for t, n in f.faults_by_type.items():
            g.faults_by_type[t] = g.faults_by_type.get(t, 0) + n
        g.entrapments += f.entrapments
        g.rescue_cases += f.rescue_cases
        g.false_alarms += f.false_alarms
        g.response_s += f.response_s
        g.arrival_s += f.arrival_s
        g.arrived_in_time += f.arrived_in_time
        g.arrival_judged += f.arrival_judged
        g.observed_ms += f.observed_ms
        g.offline_ms += f.offline_ms
        g.equipment_faults += f.equipment_faults
        for t, n in f.advisories_by_type.items():
            g.advisories_by_type[t] = g.advisories_by_type.get(t, 0) + n

    for d, f in per_dev.items():
        e = refs[d]
        add("district", e.area_code or "(unknown)", f)
        periods = e.company_periods(since_ms, until_ms)
        if len(periods) == 1:
            add("company", periods[0][0], f)
        else:
            for company, lo, hi in periods:
                add("company", company, tally(d, lo, hi))
        add("all", "all", f)
    order = {"district": 0, "company": 1, "all": 2}
    rest = sorted(groups.values(), key=lambda g: (order[g.scope], g.key))
    return list(per_dev.values()) + rest


CSV_FIXED = (
    "scope",
    "key",
    "elevators",
    "faults_total",
    "entrapments",
    "rescue_cases",
    "false_alarms",
    "response_mean_s",
    "response_p90_s",
    "arrival_mean_s",
    "arrival_p90_s",
    "arrival_within_limit_share",
    "online_rate",
    "mtbf_h",
)


def to_csv(figures: Sequence[Figures], scopes: Iterable[str] | None = None) -> str:
    """One row per group; one `faults_<type>` column per event type that occurred (catalog order,
    with the GB/T 24476 code in the header where the standard has one)."""
    wanted = set(scopes) if scopes is not None else None
    rows = [f for f in figures if wanted is None or f.scope in wanted]
    seen = {t for f in rows for t in f.faults_by_type}
    types = [e.name for e in CATALOG if e.name in seen] + sorted(seen - set(BY_NAME))

    def header(t: str) -> str:
        code = BY_NAME[t].gbt_code if t in BY_NAME else None
        return f"faults_{t}" + (f"_gbt{code}" if code else "")

    buf = io.StringIO()
    advised = {t for f in rows for t in f.advisories_by_type}
    advisory_types = [e.name for e in CATALOG if e.name in advised]  # columns only when there were any
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CSV_FIXED, *(header(t) for t in types), *(f"advisories_{t}" for t in advisory_types)])
    for f in rows:
        d = f.as_dict()
        w.writerow(
            [("" if d[c] is None else d[c]) for c in CSV_FIXED]
            + [f.faults_by_type.get(t, 0) for t in types]
            + [f.advisories_by_type.get(t, 0) for t in advisory_types]
        )
    return buf.getvalue()


def group_of(figures: Sequence[Figures], scope: str) -> Mapping[str, Figures]:
    return {f.key: f for f in figures if f.scope == scope}
