"""Maintenance supervision: sessions from `inspection` events, overdue elevators, company compliance.

Sans-IO: the store hands over events and status points, time is an argument (Unix ms).

A technician puts the car into inspection mode to work on it; the agent raises `inspection` when
that mode has held 1 s and clears it when normal service returns. One raise and the following
clear of the same elevator make one **session**. The floors the car reported during the session
(from status records) show whether the technician went up and down the shaft. A session shorter
than `min_session_s` is flagged `too_short`: a quick switch to inspection and back is not a
maintenance visit, and does not count as the elevator's last maintenance.

The regulation (TSG T5002) asks for maintenance at least every 15 days; an elevator whose last
counted session ended more than `interval_days` ago (or that never had one and was registered
longer ago than that) is **overdue**.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from collector.errors import CollectorError

DAY_MS = 86_400_000


class MaintenanceError(CollectorError):
    """Bad maintenance settings."""


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    interval_days: float = 15.0
    min_session_s: float = 900.0

    def __post_init__(self) -> None:
        if self.interval_days <= 0:
            raise MaintenanceError(f"interval_days must be positive, got {self.interval_days!r}")
        if self.min_session_s < 0:
            raise MaintenanceError(f"min_session_s must not be negative, got {self.min_session_s!r}")

    @property
    def interval_ms(self) -> int:
        return round(self.interval_days * DAY_MS)


@dataclass(frozen=True, slots=True)
class InspectionEvent:
    device_id: str
    action: str  # "raise" | "clear"
    time_ms: int


@dataclass(frozen=True, slots=True)
class StatusPoint:
    device_id: str
    time_ms: int
    floor: int | None


@dataclass(frozen=True, slots=True)
class Session:
    device_id: str
    start_ms: int
    end_ms: int | None  # None while the car is still in inspection
    floors_visited: tuple[int, ...] = ()
    too_short: bool = False

    @property
    def duration_s(self) -> float | None:
        return None if self.end_ms is None else (self.end_ms - self.start_ms) / 1000.0

    @property
    def counts(self) -> bool:
        """Whether this session counts as a maintenance visit."""
        return self.end_ms is not None and not self.too_short


def build_sessions(
    events: Iterable[InspectionEvent], statuses: Iterable[StatusPoint], config: MaintenanceConfig
) -> list[Session]:
    """Pair raises with the next clear per elevator; a clear without a raise is ignored, a raise
    that follows an unclosed raise keeps the earlier start (the clear in between was lost)."""
    per_dev: dict[str, list[InspectionEvent]] = defaultdict(list)
    for e in events:
        per_dev[e.device_id].append(e)
    floors: dict[str, list[StatusPoint]] = defaultdict(list)
    for p in statuses:
        if p.floor is not None:
            floors[p.device_id].append(p)
    for pts in floors.values():
        pts.sort(key=lambda p: p.time_ms)
    out: list[Session] = []
    min_ms = round(config.min_session_s * 1000)
    for device_id, evs in per_dev.items():
        evs.sort(key=lambda e: (e.time_ms, e.action != "raise"))
        start: int | None = None
        spans: list[tuple[int, int | None]] = []
        for e in evs:
            if e.action == "raise":
                if start is None:
                    start = e.time_ms
            elif e.action == "clear" and start is not None:
                spans.append((start, e.time_ms))
                start = None
        if start is not None:
            spans.append((start, None))
        for s, end in spans:
            visited = sorted(
                {
                    p.floor
                    for p in floors.get(device_id, [])
                    if p.floor is not None and s <= p.time_ms and (end is None or p.time_ms <= end)
                }
            )
            short = end is not None and end - s < min_ms
            out.append(Session(device_id, s, end, tuple(visited), short))
    out.sort(key=lambda x: (x.start_ms, x.device_id))
    return out


def last_maintenance(sessions: Iterable[Session]) -> dict[str, Session]:
    """Each elevator's latest session that counts (ended, long enough)."""
    last: dict[str, Session] = {}
    for s in sessions:
        if s.counts and s.end_ms is not None:
            prev = last.get(s.device_id)
            if prev is None or (prev.end_ms or 0) < s.end_ms:
                last[s.device_id] = s
    return last


@dataclass(frozen=True, slots=True)
class Overdue:
    device_id: str
    last_maintenance_ms: int | None
    due_ms: int  # when maintenance fell due
    overdue_days: float


def overdue(
    registered_ms: Mapping[str, int], last: Mapping[str, Session], now_ms: int, config: MaintenanceConfig
) -> list[Overdue]:
    """Elevators whose maintenance fell due before `now_ms`, most overdue first.

    An elevator never maintained is counted from its registration, so a new registration is not
    overdue on its first day."""
    out = []
    for device_id, reg_ms in registered_ms.items():
        s = last.get(device_id)
        ref = s.end_ms if s is not None and s.end_ms is not None else reg_ms
        due = ref + config.interval_ms
        if due < now_ms:
            out.append(Overdue(device_id, ref if s is not None else None, due, (now_ms - due) / DAY_MS))
    out.sort(key=lambda o: (o.due_ms, o.device_id))
    return out


@dataclass(slots=True)
class CompanyCompliance:
    company: str
    elevators: int = 0
    overdue: int = 0
    sessions: int = 0
    short_sessions: int = 0
    total_duration_s: float = 0.0
    overdue_devices: list[str] = field(default_factory=list)

    @property
    def compliance_rate(self) -> float | None:
        """Share of the company's elevators that are not overdue."""
        return None if self.elevators == 0 else (self.elevators - self.overdue) / self.elevators

    @property
    def mean_session_s(self) -> float | None:
        counted = self.sessions - self.short_sessions
        return None if counted <= 0 else self.total_duration_s / counted

    def as_dict(self) -> dict[str, object]:
        rate = self.compliance_rate
        mean = self.mean_session_s
        return {
            "maintenance_company": self.company,
            "elevators": self.elevators,
            "overdue": self.overdue,
            "overdue_devices": sorted(self.overdue_devices),
            "sessions": self.sessions,
            "short_sessions": self.short_sessions,
            "mean_session_s": None if mean is None else round(mean, 1),
            "compliance_rate": None if rate is None else round(rate, 4),
        }


UNASSIGNED = "(no maintenance company)"


def compliance_report(
    company_of: Mapping[str, str | None],
    sessions: Iterable[Session],
    overdue_list: Iterable[Overdue],
    since_ms: int,
    until_ms: int,
) -> list[CompanyCompliance]:
    """Per maintenance company: elevators, how many are overdue now, and the sessions that ended
    in [since_ms, until_ms). Elevators without a company are reported under UNASSIGNED."""
    rows: dict[str, CompanyCompliance] = {}

    def row(device_id: str) -> CompanyCompliance:
        name = company_of.get(device_id) or UNASSIGNED
        if name not in rows:
            rows[name] = CompanyCompliance(name)
        return rows[name]

    for device_id in company_of:
        row(device_id).elevators += 1
    for o in overdue_list:
        if o.device_id in company_of:
            r = row(o.device_id)
            r.overdue += 1
            r.overdue_devices.append(o.device_id)
    for s in sessions:
        if s.device_id not in company_of or s.end_ms is None or not since_ms <= s.end_ms < until_ms:
            continue
        r = row(s.device_id)
        r.sessions += 1
        if s.too_short:
            r.short_sessions += 1
        else:
            r.total_duration_s += (s.end_ms - s.start_ms) / 1000.0
    return sorted(rows.values(), key=lambda r: r.company)
