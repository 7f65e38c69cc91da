"""The detector: snapshots in, raises and clears out, at the exact moment each rule is met.

Sans-IO: the caller passes every snapshot (`step`) and tells it when time moves on without a new
one (`advance`); the detector never reads a clock. The same object runs live and in replay.

How time works
--------------
Signals are piecewise constant: a snapshot holds from its `t_ms` until the next. Every rule is
evaluated on the debounced signals at each change, and everything that must happen later (a hold
completing, a clear, occupancy ending, an opening being counted) is a deadline in one small table
(`_due`, one slot per rule or timer). Deadlines fire in time order, each at its own moment, also
between rows; at equal times rule slots fire before helper timers, and both before a change at that
same moment (so a condition that held exactly T still raises). Two exceptions wait for a change at
their very moment: occupancy ending, and the entrapment raise, whose conditions must hold at it.

Debouncing (Words: noise)
-------------------------
A `door_zone` or `door_lock` change, or the door leaving `closed`, is pending until it has lasted
`debounce_ms`; if it reverts earlier it never happened. A confirmed change is dated at the raw
change, so debouncing never delays an event's `t_ms`. While a change is pending the detector
cannot know the debounced state from that moment on, so later rows wait in a small buffer and are
released, in order, once it is decided; events are therefore *decided* up to `debounce_ms` late
but *dated* exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from protocols.events import Action, Event
from protocols.signals import COLUMNS, Door, Mode, SignalSnapshot

from .config import DetectError, DetectorConfig, ElevatorLimits
from .rules import HELD_RULES, HeldRule, Signals, suppressing_modes

NEVER = 1 << 62

# Positions in a snapshot's state (`snapshot[1:]`, protocols.signals.COLUMNS without t_ms).
_S_DOOR, _S_ZONE, _S_LOCK = 4, 5, 6

# One bit per signal, to re-evaluate only what reads a changed signal.
_SIGNAL_BITS = {name: 1 << i for i, name in enumerate(COLUMNS[1:])}  # every column but t_ms
_B_FLOOR, _B_DIRECTION, _B_RUNNING, _B_SPEED, _B_DOOR, _B_ZONE, _B_LOCK = (
    _SIGNAL_BITS[n] for n in ("floor", "direction", "running", "speed_mm_s", "door", "door_zone", "door_lock")
)
_B_SAFETY, _B_OCCUPIED, _B_ALARM, _B_POWER, _B_MODE, _B_FAULT = (
    _SIGNAL_BITS[n] for n in ("safety_circuit", "occupied", "alarm_button", "power", "mode", "fault_code")
)
_B_ALL = sum(_SIGNAL_BITS.values())
_B_STATIONARY = _B_RUNNING | _B_DOOR | _B_MODE
_B_FAULT_RULE = _B_FAULT | _B_MODE
_B_REOPEN = _B_DOOR | _B_RUNNING
_B_ENTRAPMENT = _B_RUNNING | _B_DOOR | _B_MODE | _B_OCCUPIED | _B_ALARM


def _bits(names: str) -> int:
    return sum(_SIGNAL_BITS[n] for n in names.split())


_RAISE, _CLEAR = Action.RAISE, Action.CLEAR
_CLOSED, _OPEN = Door.CLOSED, Door.OPEN


class _Held:
    """Run-time state of one HeldRule."""

    __slots__ = (
        "name",
        "condition",
        "reads",
        "hold_ms",
        "suppressed",
        "clears",
        "once_per_run",
        "on",
        "since",
        "raised",
    )

    def __init__(self, rule: HeldRule, config: DetectorConfig) -> None:
        self.name = rule.name
        self.condition = rule.condition
        self.reads = _bits(rule.reads) | _B_MODE  # the mode suppresses every rule
        self.hold_ms = config.ms(rule.hold)
        self.suppressed = suppressing_modes(rule.name)
        self.clears = tuple((c.since, config.ms(c.hold)) for c in rule.clear)
        self.once_per_run = rule.once_per_run
        self.on = False  # the condition, suppression applied
        self.since = 0  # when `on` took its current value
        self.raised = False


class Detector:
    """Runs every rule of detection.md over a stream of snapshots (t_ms non-decreasing)."""

    def __init__(self, limits: ElevatorLimits, config: DetectorConfig | None = None) -> None:
        config = DetectorConfig() if config is None else config
        self.limits = limits
        self.config = config
        self._sig = Signals(limits, config)
        self._held = [_Held(rule, config) for rule in HELD_RULES]
        self._overspeed_slot = next(i for i, h in enumerate(self._held) if h.name == "overspeed")
        self._overspeed = self._held[self._overspeed_slot]
        self._by_mask: dict[int, tuple[tuple[int, _Held], ...]] = {}
        self._started = False
        self._applied_tail: tuple[object, ...] = ()
        self._done_in_run: set[str] = set()
        n = len(self._held)
        # Deadline slots; the order is the tie-break at equal times.
        self._slot_reopen = n
        self._slot_fault = n + 1
        self._slot_reopen_count = n + 2
        # The last two wait for a row at their very moment (see `_fire`).
        self._slot_occupancy_end = n + 3
        self._slot_entrapment = n + 4
        self._due = [NEVER] * (n + 5)
        self._next = NEVER

        ms = config.ms
        self._debounce_ms = ms("debounce_ms")
        self._clear_ms = ms("clear_s")
        self._dropout_ms = ms("presence_dropout_s")
        self._trap_out_ms = ms("entrapment_outside_zone_s")
        self._trap_in_ms = ms("entrapment_in_zone_s")
        self._trap_alarm_ms = ms("entrapment_alarm_ms")
        self._trap_clear_door_ms = ms("entrapment_clear_door_s")
        self._trap_clear_run_ms = ms("entrapment_clear_run_s")
        self._trap_lockout_ms = ms("entrapment_lockout_s")
        self._reopen_count = config.door_reopen_count
        self._reopen_window_ms = ms("door_reopen_window_s")
        self._reopen_open_ms = ms("door_reopen_open_ms")
        self._reopen_clear_run_ms = ms("door_reopen_clear_run_s")
        self._reopen_clear_closed_ms = ms("door_reopen_clear_closed_s")
        self._trap_suppressed = suppressing_modes("entrapment")
        self._reopen_suppressed = suppressing_modes("door_reopen_repeated")
        self._fault_suppressed = suppressing_modes("controller_fault")

        # Entrapment state (contract section "Entrapment").
        self._trap_raised = False
        self._stationary = False  # running=0 and door=closed, not suppressed
        self._stationary_since = 0  # S
        self._trap_t_ms = 0  # T, from door_zone at S
        self._alarm_since: int | None = None  # start of the current alarm-button press
        self._alarm_mark: int | None = None  # first moment >= S with the button held entrapment_alarm_ms
        self._occupancy = False  # presence with drop-outs bridged
        self._occupancy_since = 0
        self._lockout_until = -NEVER

        # door_reopen_repeated state.
        self._reopen_raised = False
        self._door_open = False  # door=open (an opening is counted once it has lasted door_reopen_open_ms)
        self._openings: deque[int] = deque()

        # controller_fault state.
        self._fault_effective = 0  # the code, 0 while suppressed
        self._fault_raised: int | None = None  # code of the raised event

        # Debouncer state: debounced values, pending-change start (NEVER: none), rows held back.
        self._deb_zone = False
        self._deb_lock = False
        self._deb_closed = True
        self._zone_pending = NEVER
        self._lock_pending = NEVER
        self._door_pending = NEVER
        self._pending = NEVER  # min of the three
        self._held_back: list[tuple[int, list[object]]] = []
        self._raw_last: tuple[object, ...] | None = None
        self._now = -1
        self._events: list[Event] = []
        self._restored: set[str] = set()  # restored raises not yet cleared (their clear is marked)

    # ------------------------------------------------------------------ public API

    @property
    def active(self) -> frozenset[str]:
        """Event types currently raised."""
        out = {h.name for h in self._held if h.raised}
        if self._trap_raised:
            out.add("entrapment")
        if self._reopen_raised:
            out.add("door_reopen_repeated")
        if self._fault_raised is not None:
            out.add("controller_fault")
        return frozenset(out)

    def restore(self, active: Mapping[str, int | None], t_ms: int) -> None:
        """Continue the alarms a previous run raised and did not clear (the agent's restart).

        `active`: event type -> fault code (controller_fault) or None, as the outbox committed
        them; `t_ms`: now, on the clock of the snapshots to come. Call once, before the first
        `step`. Reconciliation then happens on the first snapshot by the rules' own clear logic,
        as if the detector had raised these itself: a condition that still holds stays raised
        (no second raise: the collector keeps one alarm), one that no longer holds is cleared
        when its clear rule is met, and that clear carries `after_restart=True`.
        """
        if self._started or self._now >= 0:
            raise DetectError("restore() must come before the first snapshot")
        unknown = set(active) - self.restorable()
        if unknown:
            raise DetectError(f"cannot restore unknown event type(s) {sorted(unknown)}")
        self._now = t_ms
        for h in self._held:
            if h.name in active:
                # As if the condition had held up to now: the first snapshot decides whether it still does.
                h.raised = h.on = True
                h.since = t_ms
                if h.once_per_run:
                    self._done_in_run.add(h.name)
        if "entrapment" in active:
            self._trap_raised = True
        if "door_reopen_repeated" in active:
            self._reopen_raised = True
        if "controller_fault" in active:
            code = active["controller_fault"] or 0
            if code:
                self._fault_raised = self._fault_effective = code
        self._restored = set(active) & self.active

    def restorable(self) -> frozenset[str]:
        """The event types `restore` accepts."""
        return frozenset({h.name for h in self._held} | {"entrapment", "door_reopen_repeated", "controller_fault"})

    def step(self, snap: SignalSnapshot) -> list[Event]:
        """Feed the next snapshot; returns the raises and clears now decided, in time order."""
        return self.step_state(snap[0], snap[1:])

    def step_state(self, t_ms: int, state: tuple[object, ...], only_speed: bool = False) -> list[Event]:
        """`step` for a snapshot given as its time and `snapshot[1:]` (replay's fast path).

        `only_speed`: the caller knows that only `speed_mm_s` differs from the previous snapshot.
        """
        t = t_ms
        if t < self._now:
            raise DetectError(f"snapshot time went backwards: {t} after {self._now}")
        events: list[Event] = []
        self._events = events
        self._now = t
        if only_speed and self._pending == NEVER:
            if t >= self._next:
                self._fire(t, t)
            self._raw_last = state
            self._speed_changed(t, state[3])  # type: ignore[arg-type]
            if t >= self._next:
                self._fire(t)
            return events
        if self._pending == NEVER:
            last = self._raw_last
            if state == last:
                if t >= self._next:
                    self._fire(t)
                return events
            if t >= self._next:
                self._fire(t, t)
            if last is not None and state[4:] == last[4:] and state[:3] == last[:3]:
                # Only the speed changed (most rows of a run): only overspeed reads it.
                self._raw_last = state
                self._speed_changed(t, state[3])  # type: ignore[arg-type]
                if t >= self._next:
                    self._fire(t)
                return events
        else:
            self._settle(t, t)
        self._take(t, state)
        return events

    def advance(self, now_ms: int) -> list[Event]:
        """No new snapshot, but time moved on to `now_ms`: fire what is due (the last snapshot still holds)."""
        events: list[Event] = []
        self._events = events
        if now_ms < self._now:
            return events
        self._now = now_ms
        if self._raw_last is not None:
            self._settle(now_ms)
        return events

    # ------------------------------------------------------------------ debouncing

    def finish(self, end_ms: int) -> list[Event]:
        """The input ends at `end_ms` (replay: the last row's time): decide what is still open and
        fire everything due up to then, nothing later. A debounced change still pending has not
        reverted, so it is a change, not an excursion."""
        events: list[Event] = []
        self._events = events
        if self._raw_last is None or end_ms < self._now:
            return events
        self._now = end_ms
        self._settle(end_ms, force=True)
        return events

    def _settle(self, now: int, row_at: int | None = None, force: bool = False) -> None:
        """Decide pending changes that have lasted debounce_ms by `now`; release rows; fire timers.

        `row_at`: the time of a row about to be taken, if any. `force`: decide every pending change.
        """
        if self._pending != NEVER:
            # A change is decided once it has lasted debounce_ms (or, with `force`, as it stands).
            until = NEVER - 1 if force else now - self._debounce_ms
            if self._zone_pending <= until:
                self._deb_zone = not self._deb_zone
                self._zone_pending = NEVER
            if self._lock_pending <= until:
                self._deb_lock = not self._deb_lock
                self._lock_pending = NEVER
            if self._door_pending <= until:
                self._deb_closed = False
                self._door_pending = NEVER
            self._pending = min(self._zone_pending, self._lock_pending, self._door_pending)
            self._release()
        if now < self._pending:
            if now >= self._next:
                self._fire(now, row_at)
        elif self._pending >= self._next:
            self._fire(self._pending, self._pending)  # a held-back row starts there

    def _take(self, t: int, state: tuple[object, ...]) -> None:
        """Debounce a new raw row (timers up to its time have fired), then apply it or hold it back."""
        self._raw_last = state
        zone, lock, closed = state[_S_ZONE], state[_S_LOCK], state[_S_DOOR] is _CLOSED
        if not self._started:  # first row: it defines the debounced state
            self._deb_zone = zone  # type: ignore[assignment]
            self._deb_lock = lock  # type: ignore[assignment]
            self._deb_closed = closed
            self._apply(t, state)
            if t >= self._next:
                self._fire(t)
            return
        if (
            self._pending == NEVER
            and zone == self._deb_zone
            and lock == self._deb_lock
            and closed == self._deb_closed
            and not self._held_back
        ):  # no debounced signal moves: the common case
            self._apply(t, state)
            if t >= self._next:
                self._fire(t)
            return
        if self._zone_pending != NEVER:
            if zone == self._deb_zone:
                self._cancel(self._zone_pending, _S_ZONE, self._deb_zone)
                self._zone_pending = NEVER
        elif zone != self._deb_zone:
            self._zone_pending = t
        if self._lock_pending != NEVER:
            if lock == self._deb_lock:
                self._cancel(self._lock_pending, _S_LOCK, self._deb_lock)
                self._lock_pending = NEVER
        elif lock != self._deb_lock:
            self._lock_pending = t
        if self._deb_closed:
            if self._door_pending != NEVER:
                if closed:
                    self._cancel(self._door_pending, _S_DOOR, _CLOSED)
                    self._door_pending = NEVER
            elif not closed:
                self._door_pending = t
        elif closed:  # entering `closed` is never debounced
            self._deb_closed = True
        pending = min(self._zone_pending, self._lock_pending, self._door_pending)
        self._pending = pending
        if pending == NEVER and not self._held_back:
            self._apply(t, state)
            if t >= self._next:
                self._fire(t)
            return
        self._held_back.append((t, list(state)))
        if self._debounce_ms == 0:
            self._settle(t)
            return
        self._release()
        if pending > t:  # nothing pending any more: every row up to this one is applied
            if t >= self._next:
                self._fire(t)
        elif pending >= self._next:
            self._fire(pending, pending)  # a held-back row starts there

    def _cancel(self, since: int, field: int, value: object) -> None:
        """A pending excursion reverted in time: rewrite the rows held back since it began."""
        for t, state in self._held_back:
            if t >= since:
                state[field] = value

    def _release(self) -> None:
        """Apply, in order, the held-back rows that lie before every still-pending change."""
        rows = self._held_back
        pending = self._pending
        i = 0
        while i < len(rows) and rows[i][0] < pending:
            t, state = rows[i]
            if t >= self._next:
                self._fire(t, t)
            self._apply(t, tuple(state))
            if t >= self._next:
                self._fire(t)
            i += 1
        if i:
            del rows[:i]

    # ------------------------------------------------------------------ timers

    def _fire(self, now: int, row_at: int | None = None) -> None:
        """Fire every deadline up to `now`, earliest first; ties in slot order.

        `row_at`: a row at that time is still to be applied. Two things due then wait for it.
        Occupancy ending: a presence signal back at exactly 5 s leaves no moment unoccupied.
        An entrapment raise: its conditions must hold *at* the raise moment (a car that starts, a
        door that opens, an alarm released or occupancy ending at that very moment prevents it),
        whereas a "held for T" rule is met by T of holding even if its condition ends right then.
        """
        due = self._due
        nheld = len(self._held)
        while self._next <= now:
            t = self._next
            slot = due.index(t)
            if t == row_at and (
                slot == self._slot_occupancy_end or (slot == self._slot_entrapment and not self._trap_raised)
            ):
                break  # the last slots: everything else due at t has fired
            due[slot] = NEVER
            if slot < nheld:
                self._fire_held(self._held[slot], t)
            elif slot == self._slot_entrapment:
                self._fire_entrapment(t)
            elif slot == self._slot_reopen:
                self._clear_reopen(t)
            elif slot == self._slot_fault:
                code = self._fault_raised
                self._fault_raised = None
                self._emit(t, "controller_fault", _CLEAR, code)
            elif slot == self._slot_occupancy_end:
                self._occupancy = False
                self._due[self._slot_entrapment] = self._entrapment_due()
            else:  # slot_reopen_count: an opening has lasted door_reopen_open_ms
                self._count_opening(t)
            self._next = min(due)

    def _emit(self, t: int, name: str, action: Action, code: int | None = None) -> None:
        restored = name in self._restored
        if restored:
            self._restored.discard(name)
        self._events.append(Event(t, name, action, self._sig.floor, code, restored and action is _CLEAR))

    # ------------------------------------------------------------------ held rules

    def _schedule_held(self, h: _Held, slot: int) -> None:
        if h.raised:
            if h.clears:
                s = self._sig
                due = NEVER
                for since_of, hold in h.clears:
                    since = since_of(s)
                    if since is not None and since + hold < due:
                        due = since + hold
            else:
                due = NEVER if h.on else h.since + self._clear_ms
        elif h.on and not (h.once_per_run and h.name in self._done_in_run):
            due = h.since + h.hold_ms
        else:
            due = NEVER
        self._due[slot] = due

    def _fire_held(self, h: _Held, t: int) -> None:
        if h.raised:
            h.raised = False
            self._emit(t, h.name, _CLEAR)
        else:
            h.raised = True
            if h.once_per_run:
                self._done_in_run.add(h.name)
            self._emit(t, h.name, _RAISE)
        self._schedule_held(h, self._held.index(h))

    def _held_reading(self, mask: int) -> tuple[tuple[int, _Held], ...]:
        """The held rules that read a signal in `mask` (cached: a few masks recur row after row)."""
        rules = self._by_mask.get(mask)
        if rules is None:
            rules = tuple((slot, h) for slot, h in enumerate(self._held) if h.reads & mask)
            self._by_mask[mask] = rules
        return rules

    # ------------------------------------------------------------------ applying a debounced row

    def _apply(self, t: int, state: tuple[object, ...]) -> None:
        """The debounced state changes to `state` at `t` (timers up to `t` have fired)."""
        s = self._sig
        floor, direction, running, speed, door, zone, lock, safety, occupied, alarm, power, mode, fault = state
        first = not self._started
        if self._started:
            mask = 0
            if speed != s.speed_mm_s:
                mask = _B_SPEED
            if floor != s.floor:
                mask |= _B_FLOOR
            if direction != s.direction:
                mask |= _B_DIRECTION
            if running != s.running:
                mask |= _B_RUNNING
            if door is not s.door:
                mask |= _B_DOOR
            if zone != s.door_zone:
                mask |= _B_ZONE
            if lock != s.door_lock:
                mask |= _B_LOCK
            if state[7:] != self._applied_tail:  # the rarely changing rest, in one comparison
                self._applied_tail = state[7:]
                if safety != s.safety_circuit:
                    mask |= _B_SAFETY
                if occupied != s.occupied:
                    mask |= _B_OCCUPIED
                if alarm != s.alarm_button:
                    mask |= _B_ALARM
                if power != s.power:
                    mask |= _B_POWER
                if mode is not s.mode:
                    mask |= _B_MODE
                if fault != s.fault_code:
                    mask |= _B_FAULT
            if mask == _B_SPEED:
                self._speed_changed(t, speed)  # type: ignore[arg-type]
                return
            if not mask:
                return
        else:
            self._started = True
            self._applied_tail = state[7:]
            mask = _B_ALL
            s.door_closed = door is not _CLOSED  # so the door bookkeeping below runs
            s.running = not running
        assert isinstance(mode, Mode) and isinstance(door, Door) and isinstance(fault, int)
        if mask & _B_RUNNING:
            if running:
                s.run_start = t
                s.top_zone_seen = s.bottom_zone_seen = False
                self._done_in_run.clear()
                self._openings.clear()  # door_reopen_repeated: counting restarts whenever the car runs
            else:
                s.run_start = None
        closed = door is _CLOSED
        if mask & _B_DOOR and closed != s.door_closed:
            if closed:
                s.door_closed_since = t
                s.door_left_closed_at = None
            else:
                s.door_left_closed_at = t
                s.door_closed_since = None
        if mask & _B_ZONE:
            s.door_zone_since = t
        s.floor = floor  # type: ignore[assignment]
        s.direction = direction  # type: ignore[assignment]
        s.running = running  # type: ignore[assignment]
        s.speed_mm_s = speed  # type: ignore[assignment]
        s.door = door
        s.door_closed = closed
        s.door_zone = zone  # type: ignore[assignment]
        s.door_lock = lock  # type: ignore[assignment]
        s.safety_circuit = safety  # type: ignore[assignment]
        s.power = power  # type: ignore[assignment]
        s.mode = mode
        s.fault_code = fault
        if running and zone:
            if floor == s.highest_floor:
                s.top_zone_seen = True
            if floor == s.lowest_floor:
                s.bottom_zone_seen = True

        if mask & _B_OCCUPIED:
            # Presence: occupancy ends presence_dropout_s after the last occupied=1.
            was_occupied = s.occupied
            s.occupied = occupied  # type: ignore[assignment]
            if occupied:
                if not self._occupancy:
                    self._occupancy = True
                    self._occupancy_since = t
                self._due[self._slot_occupancy_end] = NEVER
            elif was_occupied:
                self._due[self._slot_occupancy_end] = t + self._dropout_ms

        if mask & _B_ALARM:
            # Alarm button presses (the no-sensor entrapment rule).
            if alarm:
                self._alarm_since = t
            elif self._alarm_since is not None:
                if self._stationary and self._alarm_mark is None:
                    mark = max(self._stationary_since, self._alarm_since + self._trap_alarm_ms)
                    if mark < t:  # still pressed at that moment
                        self._alarm_mark = mark
                self._alarm_since = None
            s.alarm_button = alarm  # type: ignore[assignment]

        if mask & _B_STATIONARY:
            # Entrapment condition 1: running=0 and door=closed without a break since S.
            stationary = not running and closed and mode not in self._trap_suppressed
            if stationary != self._stationary:
                self._stationary = stationary
                self._alarm_mark = None
                if stationary:
                    self._stationary_since = t
                    self._trap_t_ms = self._trap_in_ms if zone else self._trap_out_ms

        for slot, h in self._held_reading(mask):
            on = h.condition(s) and mode not in h.suppressed
            if on != h.on:
                h.on = on
                h.since = t
                self._schedule_held(h, slot)
            elif h.raised and h.clears:
                self._schedule_held(h, slot)
        if mask & _B_FAULT_RULE:
            self._update_fault(t, fault, mode)
        if mask & _B_REOPEN:
            self._update_reopen(t, door)
        if mask & _B_ENTRAPMENT:
            self._due[self._slot_entrapment] = self._entrapment_due()
        self._next = min(self._due)
        if first and self._restored:
            self._reconciled()

    def _reconciled(self) -> None:
        """After the first row: a restored alarm whose clear is not under way still holds, so its
        eventual clear is an ordinary one; only those found ended are marked after_restart."""
        slots = {h.name: i for i, h in enumerate(self._held)}
        slots.update(
            entrapment=self._slot_entrapment,
            door_reopen_repeated=self._slot_reopen,
            controller_fault=self._slot_fault,
        )
        self._restored = {name for name in self._restored if self._due[slots[name]] != NEVER}

    def _speed_changed(self, t: int, speed: int) -> None:
        """Only the speed changed: only overspeed reads it."""
        s = self._sig
        s.speed_mm_s = speed
        h = self._overspeed
        on = speed > s.overspeed_mm_s and s.mode not in h.suppressed
        if on != h.on:
            h.on = on
            h.since = t
            self._schedule_held(h, self._overspeed_slot)
            self._next = min(self._due)

    # ------------------------------------------------------------------ entrapment

    def _entrapment_due(self) -> int:
        """When entrapment will next raise (or, while raised, clear) if nothing else changes."""
        s = self._sig
        if self._trap_raised:
            due = NEVER
            if s.door_left_closed_at is not None:
                due = s.door_left_closed_at + self._trap_clear_door_ms
            if s.run_start is not None:
                due = min(due, s.run_start + self._trap_clear_run_ms)
            return due
        if not self._stationary:
            return NEVER
        start = self._stationary_since
        if s.occupied is None:
            # No presence sensor: the alarm button held entrapment_alarm_ms at some moment >= S.
            mark = self._alarm_mark
            if mark is None:
                if self._alarm_since is None:
                    return NEVER
                mark = max(start, self._alarm_since + self._trap_alarm_ms)
            due = max(start + self._trap_t_ms, mark)
        else:
            # Presence sensor: occupancy held for the whole of the last T.
            if not self._occupancy:
                return NEVER
            due = max(start, self._occupancy_since) + self._trap_t_ms
        return max(due, self._lockout_until)

    def _fire_entrapment(self, t: int) -> None:
        if self._trap_raised:
            self._trap_raised = False
            self._lockout_until = t + self._trap_lockout_ms
            self._emit(t, "entrapment", _CLEAR)
        else:
            self._trap_raised = True
            self._emit(t, "entrapment", _RAISE)
        self._due[self._slot_entrapment] = self._entrapment_due()

    # ------------------------------------------------------------------ controller_fault

    def _update_fault(self, t: int, fault: int, mode: Mode) -> None:
        code = 0 if mode in self._fault_suppressed else fault
        if code == self._fault_effective:
            return
        self._fault_effective = code
        raised = self._fault_raised
        if raised is None:
            if code:
                self._fault_raised = code
                self._emit(t, "controller_fault", _RAISE, code)
        elif code == raised:
            self._due[self._slot_fault] = NEVER
        elif code == 0:
            self._due[self._slot_fault] = t + self._clear_ms
        else:  # another non-zero code: clear the old event and raise the new one at this moment
            self._due[self._slot_fault] = NEVER
            self._emit(t, "controller_fault", _CLEAR, raised)
            self._fault_raised = code
            self._emit(t, "controller_fault", _RAISE, code)

    # ------------------------------------------------------------------ door_reopen_repeated

    def _update_reopen(self, t: int, door: Door) -> None:
        is_open = door is _OPEN
        if is_open != self._door_open:
            self._door_open = is_open
            self._due[self._slot_reopen_count] = t + self._reopen_open_ms if is_open else NEVER
        if self._reopen_raised:
            self._due[self._slot_reopen] = self._reopen_clear_due()

    def _reopen_clear_due(self) -> int:
        s = self._sig
        due = NEVER
        if s.run_start is not None:
            due = s.run_start + self._reopen_clear_run_ms
        if s.door_closed_since is not None:
            due = min(due, s.door_closed_since + self._reopen_clear_closed_ms)
        return due

    def _count_opening(self, t: int) -> None:
        """An opening has lasted door_reopen_open_ms: it counts if the car stands and it is not suppressed."""
        s = self._sig
        if s.running or s.mode in self._reopen_suppressed:
            return
        openings = self._openings
        openings.append(t)
        oldest = t - self._reopen_window_ms
        while openings[0] < oldest:
            openings.popleft()
        if len(openings) >= self._reopen_count and not self._reopen_raised:
            self._reopen_raised = True
            self._emit(t, "door_reopen_repeated", _RAISE)
            self._due[self._slot_reopen] = self._reopen_clear_due()

    def _clear_reopen(self, t: int) -> None:
        self._reopen_raised = False
        self._openings.clear()
        self._emit(t, "door_reopen_repeated", _CLEAR)
