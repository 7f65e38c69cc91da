"""The reporting policy: which records a stream of snapshots becomes, for a metered uplink.

Sans-IO: snapshots and the time go in, record bodies come out; no clock is read here. The agent
feeds every poll's snapshot to `Reporter.step`; events do not pass through here (the detector's
events are always committed and sent at once).

Policy `budget` (the default) sends what a platform needs, not every sample:

- a **trip** record at the end of each run of the car: from and to floor, start and stop time
  (the agent's monotonic ms; the collector orders by sequence number), peak speed and how the
  run ended (`StopQuality`: level in the door zone, outside it, or with the safety circuit open
  or the power gone);
- a **door-cycle** record when the door is closed again and locked: floor, start and end, how
  long it stood open and how often closing turned back to opening;

Both carry the statistics trend watch needs (issue 18, docs/trend-watch.md): a trip says whether it
was a re-level (a low-speed correction at the landing the car just stopped at, the door still
closed) and its stopping time (from the speed last falling below `STOPPING_FROM_MM_S` to the
stop); a door cycle its first opening time, last closing time and lock time (closed to lock made;
the cycle ends at the lock, or `LOCK_WAIT_MS` after closing without one, lock_ms then unknown).
Each carries the counters GB/T 24476 asks for after a run (runs, running time, door cycles), kept
since this agent started. Trend watch gets them all on the gateway; over the air most records go
with the short body (`edge_agent.report.tails`: which keep their tail, `stats_every_s`).
- a **status** record when a state a platform shows changes: mode, fault code, power, safety
  circuit, alarm button (`SHOWN`). While the car is not in normal service (inspection, fire,
  out of service) every state change is sent, as with `full`: a maintenance session's floors
  come from those records.

Policy `full` sends a status record on every change of the snapshot's state (the speed included),
as the agent did before this policy existed.

**Live view**: `Reporter.live(now_ms, duration_s)` switches to `full` until `now_ms + duration_s`
(at most `live_max_s`); the current state goes out at once so a viewer sees it, and the policy
falls back to its configured one by itself when the time is up.

A heartbeat is the agent's business: it sends one only when nothing else was sent for its period.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.frames import STOPPING_FROM_MM_S, Body, DoorCycle, RecordKind, StopQuality, Trip
from protocols.signals import Door, Mode, SignalSnapshot

POLICIES = ("budget", "full")
LOCK_WAIT_MS = 5000  # a closed door whose lock is not made by then ends its cycle without a lock time


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """`[report]` in agent.toml."""

    policy: str = "budget"  # "budget": trips, door cycles, shown state; "full": every state change
    live_max_s: float = 600.0  # the longest live view (full rate) one request can ask for
    # budget policy: a trip/door cycle carries its statistics tail over the air at least this often
    # (and a re-level or unlevel stop always); 0 = every record carries it (edge_agent.report.tails)
    stats_every_s: float = 900.0


def shown(s: SignalSnapshot) -> tuple[object, ...]:
    """The state a platform shows between trips (the floor and door are in trip and door records)."""
    return (s.mode, s.fault_code, s.power, s.safety_circuit, s.alarm_button)


def stop_quality(s: SignalSnapshot) -> StopQuality:
    if not s.safety_circuit or not s.power:
        return StopQuality.EMERGENCY
    return StopQuality.LEVEL if s.door_zone else StopQuality.OUT_OF_ZONE


class Reporter:
    """Snapshots -> (kind, body) pairs to put in the outbox, in order."""

    def __init__(self, cfg: ReportConfig = ReportConfig()) -> None:
        self.cfg = cfg
        self.live_until_ms: int | None = None
        self._last_state: tuple[object, ...] | None = None
        self._last_shown: tuple[object, ...] | None = None
        self._force_status = False
        self._run: _RunInProgress | None = None
        self._door: _DoorInProgress | None = None
        self._prev: SignalSnapshot | None = None
        # (floor, in door zone) of the last stop while the door has stayed closed since: a run
        # starting there in the door zone is a re-level of that stop
        self._stopped_at: int | None = None
        self.runs = 0
        self.running_ms = 0
        self.door_cycles = 0

    # --- live view ------------------------------------------------------------------------------

    def live(self, now_ms: int, duration_s: float) -> int:
        """Full rate until now + duration (capped at live_max_s); returns the end (mono ms)."""
        duration_ms = round(min(max(duration_s, 0.0), self.cfg.live_max_s) * 1000)
        end = now_ms + duration_ms
        if self.live_until_ms is None or end > self.live_until_ms:
            if not self.is_live(now_ms):
                self._force_status = True
            self.live_until_ms = end
        return self.live_until_ms

    def is_live(self, now_ms: int) -> bool:
        return self.live_until_ms is not None and now_ms < self.live_until_ms

    def full_rate(self, now_ms: int) -> bool:
        return self.cfg.policy == "full" or self.is_live(now_ms)

    # --- one snapshot ---------------------------------------------------------------------------

    def step(self, s: SignalSnapshot) -> list[tuple[RecordKind, Body]]:
        out: list[tuple[RecordKind, Body]] = []
        if self.live_until_ms is not None and not self.is_live(s.t_ms):
            self.live_until_ms = None
        self._track_run(s, out)
        self._track_door(s, out)
        state = s.state()
        if self.full_rate(s.t_ms) or s.mode is not Mode.NORMAL:
            send = state != self._last_state
        else:
            send = shown(s) != self._last_shown
        if send or self._force_status:
            out.append((RecordKind.STATUS, s))
            self._force_status = False
        self._last_state = state
        self._last_shown = shown(s)
        self._prev = s
        return out

    def _track_run(self, s: SignalSnapshot, out: list[tuple[RecordKind, Body]]) -> None:
        run = self._run
        if s.running:
            if run is None:
                start_floor = self._prev.floor if self._prev is not None else s.floor
                relevel = self._stopped_at == start_floor and s.door_zone and s.door is Door.CLOSED
                run = self._run = _RunInProgress(s.t_ms, start_floor, s.speed_mm_s, relevel)
                if s.speed_mm_s < STOPPING_FROM_MM_S:
                    run.slow_since_ms = s.t_ms
            else:
                run.peak = max(run.peak, s.speed_mm_s)
                if s.speed_mm_s >= STOPPING_FROM_MM_S:
                    run.slow_since_ms = None
                elif run.slow_since_ms is None:
                    run.slow_since_ms = s.t_ms
            return
        if run is not None:
            self._run = None
            self.runs += 1
            self.running_ms += s.t_ms - run.start_ms
            slow_since = run.slow_since_ms if run.slow_since_ms is not None else s.t_ms
            quality = stop_quality(s)
            self._stopped_at = s.floor if quality is StopQuality.LEVEL and s.door is Door.CLOSED else None
            trip = Trip(
                run.start_ms,
                s.t_ms,
                run.from_floor,
                s.floor,
                run.peak,
                quality,
                run.relevel,
                s.t_ms - slow_since,
                self.runs,
                self.running_ms // 1000,
            )
            out.append((RecordKind.TRIP, trip))
        if s.door is not Door.CLOSED or s.mode is not Mode.NORMAL:
            self._stopped_at = None

    def _track_door(self, s: SignalSnapshot, out: list[tuple[RecordKind, Body]]) -> None:
        prev_door = self._prev.door if self._prev is not None else Door.CLOSED
        cycle = self._door
        if s.door is Door.CLOSED:
            if cycle is None:
                return
            if cycle.closed_ms is None:
                if cycle.open_since_ms is not None:
                    cycle.open_ms += s.t_ms - cycle.open_since_ms
                    cycle.open_since_ms = None
                cycle.closed_ms = s.t_ms
                if cycle.closing_since_ms is not None:
                    cycle.closing_ms = s.t_ms - cycle.closing_since_ms
            if s.door_lock:
                self._end_door(cycle, s.t_ms, s.t_ms - cycle.closed_ms, out)
            elif s.t_ms - cycle.closed_ms >= LOCK_WAIT_MS:
                self._end_door(cycle, s.t_ms, None, out)
            return
        if cycle is None:
            cycle = self._door = _DoorInProgress(s.t_ms, s.floor)
        elif cycle.closed_ms is not None:
            # opened again before the lock was made: the same cycle, one more re-opening
            cycle.closed_ms = None
            cycle.reopens += 1
        if s.door is Door.OPEN:
            if cycle.open_since_ms is None:
                cycle.open_since_ms = s.t_ms
            if cycle.opening_ms is None:
                cycle.opening_ms = s.t_ms - cycle.start_ms
        elif cycle.open_since_ms is not None:
            cycle.open_ms += s.t_ms - cycle.open_since_ms
            cycle.open_since_ms = None
        if s.door is Door.CLOSING:
            if prev_door is not Door.CLOSING:
                cycle.closing_since_ms = s.t_ms
        else:
            cycle.closing_since_ms = None
        if s.door is Door.OPENING and prev_door is Door.CLOSING:
            cycle.reopens += 1

    def _end_door(
        self, cycle: _DoorInProgress, t_ms: int, lock_ms: int | None, out: list[tuple[RecordKind, Body]]
    ) -> None:
        self._door = None
        self.door_cycles += 1
        facts = DoorCycle(
            cycle.start_ms,
            t_ms,
            cycle.floor,
            cycle.open_ms,
            cycle.reopens,
            cycle.opening_ms,
            cycle.closing_ms,
            lock_ms,
            self.door_cycles,
        )
        out.append((RecordKind.DOOR_CYCLE, facts))


@dataclass(slots=True)
class _RunInProgress:
    start_ms: int
    from_floor: int
    peak: int
    relevel: bool
    slow_since_ms: int | None = None  # the speed has been below STOPPING_FROM_MM_S since


@dataclass(slots=True)
class _DoorInProgress:
    start_ms: int
    floor: int
    open_since_ms: int | None = None
    open_ms: int = 0
    reopens: int = 0
    opening_ms: int | None = None
    closing_since_ms: int | None = None
    closing_ms: int | None = None
    closed_ms: int | None = None  # closed, waiting for the lock
