"""The simulated elevator: car, doors, passengers, controller and the faults it can suffer.

Pure: no IO, no wall clock. Time is the argument of `advance(t_ms)`; randomness comes from one
seeded `random.Random` for what really happens (traffic, fault details) and a second one for
sensor noise, so turning noise on or off never changes the ground truth.

How it runs: a discrete-event simulation. The controller, the traffic source, trapped passengers
pressing the alarm button and each fault are small generator "processes" that yield how long they
wait (ms) or `None` to sleep until woken. Car motion is an exact piecewise-cubic profile
(`hw_sim.physics`), so the state between events is known at any millisecond, and the moments at
which a sensor changes while the car moves (door-zone edges, floor boundaries) are found by
bisection and exposed through `next_change_ms()`. The trace renderer jumps from change to change;
the real-time server just calls `advance(now)` every few tens of ms.

Fault procedures mirror what a NICE3000+-class controller does: an emergency stop sets the fault
code (E-code x 100 + sub-code), keeps the car where it stopped until the fault is reset, then
re-levels at low speed to the nearest landing, opens the doors and lets everyone out.
"""

from __future__ import annotations

import functools
import heapq
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from hw_sim import physics
from hw_sim.physics import Profile
from hw_sim.scenario import DEFAULT_DURATION_S, ElevatorSpec, Injection, Scenario, ScenarioError, fault_params
from hw_sim.traffic import PATTERNS, next_party, pattern_at
from protocols.registers import CarState
from protocols.signals import Door, Mode, SignalSnapshot

Proc = Generator[int | None, None, Any]

LOCK_DELAY_MS = 300  # door-lock circuit made after the door is fully closed
BRAKE_LIFT_MS = 500  # from lock made to direction set
START_DELAY_MS = 300  # from direction set to running
STOP_HOLD_MS = 100  # running stays 1 at zero speed while the brake drops
OPEN_DELAY_MS = 400  # from stop to door opening
RELEVEL_SPEED_MM_S = 300
CREEP_SPEED_MM_S = 100  # a worn brake lets the car creep on at about this speed before it holds
EMERGENCY_DECEL_MM_S2 = 2500
SAFETY_GEAR_DECEL_MM_S2 = 4000
PERSON_KG = 75
RATED_LOAD_KG = 1000
SERVE_CLOSE_BY_MS = 35000  # a normal stop starts closing this long after the door began opening


class SimError(ValueError):
    """Bad use of the model (time going backwards, unknown fault)."""


@dataclass(slots=True)
class Passenger:
    dest: int  # building floor


@dataclass(slots=True)
class _Proc:
    gen: Proc
    name: str
    alive: bool = True
    parked: bool = False


@dataclass(slots=True)
class _Armed:
    """A fault waiting for its moment (the next trip, the next stop, a safe point)."""

    fault: str
    duration_ms: int
    params: dict[str, Any]
    armed_ms: int
    desc: dict[str, Any]


class ElevatorSim:
    def __init__(self, scenario: Scenario, *, live_noise: bool = True) -> None:
        self.scenario = scenario
        self.spec = spec = scenario.elevator
        self._rng = random.Random(scenario.seed)
        self._noise_rng = random.Random((scenario.seed * 7919) ^ 0x5EED)
        self._now = 0
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._zone = spec.zone_mm
        self._height = spec.floor_height_mm
        self._top_mm = spec.landing_position_mm(spec.highest_floor)
        self._top_index = spec.highest_floor - spec.lowest_floor
        self._presence = spec.presence_sensor
        start_floor = spec.lobby_floor
        p0 = float(spec.landing_position_mm(start_floor))
        self._motion = Profile(0, 0, (), p0, p0)
        self._marks: list[int] = []
        # controller / car state
        self._running = False
        self._direction = 0
        self._door = Door.CLOSED
        self._lock = True
        self._safety = True
        self._power = True
        self._mode = Mode.NORMAL
        self._fault_code = 0
        self._alarm_presses = 0  # >0 while someone holds the alarm button
        self._car: list[Passenger] = []
        self._waiting: dict[int, list[Passenger]] = {}
        self._last_dir = 1
        self._target_floor: int | None = None
        self._armed: list[_Armed] = []
        self._happened: list[dict[str, Any]] = []
        self._trapped = 0  # token of the current trap (0 = nobody trapped)
        self._trap_seq = 0
        self._force_serve = False
        self._blocking: list[int] = []  # active controller faults that stop normal service
        self._power_holds = 0  # power failures in progress
        self._safety_holds: list[int] = []  # codes of safety-chain faults in progress (0 = no code)
        self._comms_until = -1
        self._serial_until = -1
        self._due: list[dict[str, Any]] = []
        self._noise_until: dict[str, int] = {}
        self._live_noise = live_noise and scenario.noise.enabled
        # processes
        self._service_proc = self._spawn(self._service(), "service")
        if scenario.traffic == "day" or PATTERNS[scenario.traffic].parties_per_hour > 0:
            self._spawn(self._arrivals(), "traffic")
        for inj in scenario.injections:
            self._at(round(inj.at_s * 1000), functools.partial(self._scheduled, inj))
        if self._live_noise:
            self._spawn(self._live_noise_proc(), "noise")
        self.advance(0)

    # ------------------------------------------------------------------ scheduling core
    def _at(self, t_ms: int, fn: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (max(t_ms, self._now), self._seq, fn))

    def _spawn(self, gen: Proc, name: str) -> _Proc:
        proc = _Proc(gen, name)
        self._at(self._now, lambda: self._step(proc))
        return proc

    def _step(self, proc: _Proc) -> None:
        if not proc.alive:
            return
        try:
            delay = next(proc.gen)
        except StopIteration:
            proc.alive = False
            return
        if delay is None:
            proc.parked = True
        else:
            self._at(self._now + int(delay), lambda: self._step(proc))

    def _wake(self, proc: _Proc) -> None:
        if proc.alive and proc.parked:
            proc.parked = False
            self._at(self._now, lambda: self._step(proc))

    def _kill(self, proc: _Proc) -> None:
        proc.alive = False
        proc.gen.close()

    def advance(self, t_ms: int) -> None:
        """Run everything that happens up to and including `t_ms` (ms since the start)."""
        if t_ms < self._now:
            raise SimError(f"time went backwards: {t_ms} ms after {self._now} ms")
        heap = self._heap
        while heap and heap[0][0] <= t_ms:
            t, _, fn = heapq.heappop(heap)
            self._now = t
            fn()
        self._now = t_ms

    def next_change_ms(self) -> int | None:
        """The next moment after now at which the true state may change (None: never)."""
        nxt = self._heap[0][0] if self._heap else None
        marks = self._marks
        while marks and marks[0] <= self._now:
            marks.pop(0)
        if marks and (nxt is None or marks[0] < nxt):
            nxt = marks[0]
        return nxt

    @property
    def now_ms(self) -> int:
        return self._now

    # ------------------------------------------------------------------ multi-week rendering
    def call_at(self, t_ms: int, origin: int, dest: int, size: int) -> None:
        """A party of `size` arrives at `origin` bound for `dest` at `t_ms` (traffic from outside)."""
        self._at(t_ms, functools.partial(self._add_waiting, origin, dest, size))

    def retune_at(self, t_ms: int, spec: ElevatorSpec) -> None:
        """From `t_ms` on the elevator is `spec` (wear progressing); its geometry must not change."""
        old = self.spec
        if (spec.lowest_floor, spec.highest_floor, spec.floor_height_mm, spec.zone_mm) != (
            old.lowest_floor,
            old.highest_floor,
            old.floor_height_mm,
            old.zone_mm,
        ):
            raise SimError("retune_at: wear may not change the building's floors or the door zone")
        self._at(t_ms, functools.partial(setattr, self, "spec", spec))

    # ------------------------------------------------------------------ observed state
    def _pv(self) -> tuple[float, float]:
        return self._motion.at(self._now)

    @property
    def position_mm(self) -> int:
        """Car position from the lowest landing (mm)."""
        return round(self._pv()[0])

    def _nearest_floor(self, pos: float) -> int:
        spec = self.spec
        idx = round(pos / self._height)
        idx = min(max(idx, 0), spec.highest_floor - spec.lowest_floor)
        return spec.lowest_floor + idx

    def _in_zone(self, pos: float) -> bool:
        floor = self._nearest_floor(pos)
        return abs(pos - self.spec.landing_position_mm(floor)) <= self._zone

    @property
    def floor(self) -> int:
        return self._nearest_floor(self._pv()[0])

    @property
    def landing(self) -> int:
        """Controller landing number, 1 = lowest."""
        return self.floor - self.spec.lowest_floor + 1

    @property
    def load_permille(self) -> int:
        return len(self._car) * PERSON_KG * 1000 // RATED_LOAD_KG

    @property
    def passengers(self) -> int:
        return len(self._car)

    @property
    def comms_silent(self) -> bool:
        return self._now < self._comms_until

    @property
    def serial_noise_active(self) -> bool:
        return self._now < self._serial_until

    @property
    def car_state(self) -> CarState:
        """The NICE3000+ car state of the system-state word (0x101D bits 8-11)."""
        if self._running:
            pos_v = self._pv()
            stopping = self._motion.end_ms > self._now and abs(pos_v[1]) > 0 and self._decelerating()
            return CarState.STOPPING if stopping else CarState.RUNNING
        return {
            Door.OPENING: CarState.OPENING,
            Door.OPEN: CarState.OPEN_HOLD,
            Door.CLOSING: CarState.CLOSING,
            Door.CLOSED: CarState.CLOSED_HOLD,
        }[self._door]

    def _decelerating(self) -> bool:
        _, v1 = self._motion.at(self._now)
        _, v2 = self._motion.at(self._now + 50)
        return abs(v2) < abs(v1)

    def true_snapshot(self) -> SignalSnapshot:
        """The noise-free state: what really happens (the labels are computed from this)."""
        pos, v = self._motion.at(self._now)
        spec = self.spec
        idx = min(max(round(pos / self._height), 0), self._top_index)
        return SignalSnapshot(
            self._now,
            spec.lowest_floor + idx,
            self._direction,
            self._running,
            round(abs(v)) if self._running else 0,
            self._door,
            abs(pos - idx * self._height) <= self._zone,
            self._lock,
            self._safety,
            (len(self._car) > 0) if self._presence else None,
            self._alarm_presses > 0,
            self._power,
            self._mode,
            self._fault_code,
        )

    def snapshot(self) -> SignalSnapshot:
        """The sensed state: the truth with live sensor noise (contact bounce, PIR drop-outs)."""
        s = self.true_snapshot()
        if not self._live_noise or not self._noise_until:
            return s
        now = self._now
        nu = self._noise_until
        if nu.get("door", -1) > now and s.door is Door.CLOSED:
            s = s._replace(door=Door.OPENING)
        if nu.get("door_zone", -1) > now:
            s = s._replace(door_zone=not s.door_zone)
        if nu.get("door_lock", -1) > now:
            s = s._replace(door_lock=not s.door_lock)
        if nu.get("occupied", -1) > now and s.occupied:
            s = s._replace(occupied=False)
        return s

    # ------------------------------------------------------------------ injections
    def inject(self, fault: str, t_ms: int, duration_s: float | None = None, **params: Any) -> dict[str, Any]:
        """Start a fault now; returns its JSON-able description (the serving side prints it)."""
        if t_ms > self._now:
            self.advance(t_ms)
        p = fault_params(fault, params, "inject")
        dur_s = DEFAULT_DURATION_S[fault] if duration_s is None else float(duration_s)
        if dur_s < 0:
            raise ScenarioError(f"inject.duration_s: must be >= 0, got {dur_s}")
        desc: dict[str, Any] = {"inject": fault, "t_ms": self._now, "duration_s": dur_s}
        desc.update({k: v for k, v in p.items() if v is not None})
        desc["floor"] = self.floor
        self._start_fault(fault, round(dur_s * 1000), p, desc)
        self.advance(self._now)  # what starts at once is visible in the next snapshot
        return desc

    def injections_due(self) -> list[dict[str, Any]]:
        """Descriptions of the scheduled injections that started since the last call."""
        out, self._due = self._due, []
        return out

    def faults_happened(self) -> list[dict[str, Any]]:
        """Armed faults that took effect since the last call (the car actually stopped, tripped...).

        An armed fault waits for its moment (a trip, a stop); testers time the alarm path from the
        moment the fault hits the elevator, so the serving side prints its `inject` line then.
        """
        out, self._happened = self._happened, []
        return out

    def _happens(self, armed: _Armed) -> None:
        d = {k: v for k, v in armed.desc.items() if k != "armed"}
        d.update(t_ms=self._now, floor=self.floor, armed_at_ms=armed.armed_ms)
        self._happened.append(d)

    def _scheduled(self, inj: Injection) -> None:
        desc = self.inject(inj.fault, self._now, inj.duration_s, **inj.params)
        self._due.append(desc)

    def _start_fault(self, fault: str, dur_ms: int, p: dict[str, Any], desc: dict[str, Any]) -> None:
        now = self._now
        if fault == "comms_loss":
            self._comms_until = now + dur_ms
            return
        if fault == "serial_noise":
            self._serial_until = now + dur_ms
            return
        if fault == "alarm_button":
            self._spawn(self._alarm_presser(p["presses"], round(p["interval_s"] * 1000), dur_ms), "alarm")
            return
        if fault == "controller_fault":
            self._spawn(self._controller_fault(p["code"], dur_ms), "controller_fault")
            return
        if fault in ("power_failure", "safety_circuit_open") and p["when"] == "now":
            self._immediate_fault(fault, dur_ms, p)
            return
        armed = _Armed(fault, dur_ms, p, now, desc)
        self._armed.append(armed)
        desc["armed"] = True
        if fault in _TRIP_FAULTS or fault == "trap_at_landing":
            self._call_passengers(armed)
        elif fault in ("door_reopen_repeated", "door_open_too_long"):
            self._force_serve = True
            if p.get("passengers"):
                self._add_waiting(self._origin_floor(), self._rng.choice(self._other_floors(self._origin_floor())), 1)
        self._wake(self._service_proc)

    # ------------------------------------------------------------------ traffic
    def _arrivals(self) -> Proc:
        spec = self.spec
        sc = self.scenario
        while True:
            pattern = pattern_at(sc.traffic, sc.start_hour, self._now)
            if pattern.parties_per_hour <= 0:
                yield 600_000
                continue
            gap_s, origin, dest, size = next_party(
                self._rng, pattern, spec.lowest_floor, spec.highest_floor, spec.lobby_floor
            )
            yield max(1, round(gap_s * 1000))
            self._add_waiting(origin, dest, size)

    def _add_waiting(self, origin: int, dest: int, size: int) -> None:
        q = self._waiting.setdefault(origin, [])
        room = self.spec.capacity_persons - len(q)
        for _ in range(min(size, max(room, 0))):
            q.append(Passenger(dest))
        self._wake(self._service_proc)

    def _other_floors(self, floor: int) -> list[int]:
        return [f for f in range(self.spec.lowest_floor, self.spec.highest_floor + 1) if f != floor]

    def _origin_floor(self) -> int:
        """Where the car stops next (or stands): new passengers for a fault wait there."""
        if self._target_floor is not None:
            return self._target_floor
        return self.floor

    def _call_passengers(self, armed: _Armed) -> None:
        """Put people where the car is about to be, bound for a trip on which the fault can happen."""
        n = armed.params.get("passengers", 0)
        if n <= 0:
            return
        spec = self.spec
        lo, hi = spec.lowest_floor, spec.highest_floor
        origin = self._origin_floor()
        f = armed.fault
        if f == "overtravel_top":
            if origin == hi:
                origin = max(lo, hi - 3)
            dest = hi
        elif f == "overtravel_bottom":
            if origin == lo:
                origin = min(hi, lo + 3)
            dest = lo
        elif f == "overspeed":
            dest = lo if origin - lo > hi - origin else hi
        else:
            far = [x for x in self._other_floors(origin) if abs(x - origin) >= 2] or self._other_floors(origin)
            dest = self._rng.choice(far)
        self._add_waiting(origin, dest, n)

    # ------------------------------------------------------------------ passengers and alarm
    def _alarm_presser(self, presses: int, interval_ms: int, hold_ms: int) -> Proc:
        for i in range(presses):
            if i:
                yield interval_ms
            self._alarm_presses += 1
            yield max(hold_ms, 100)
            self._alarm_presses -= 1

    def _trap_begin(self, alarm: bool | None) -> int:
        """Passengers are now shut in; while trapped they press the alarm button now and then.

        `alarm=None` (the default) presses only where no presence sensor is fitted: there the
        button is the only way the detector can know someone is inside.
        """
        if alarm is None:
            alarm = not self.spec.presence_sensor
        self._trap_seq += 1
        token = self._trap_seq
        self._trapped = token
        if alarm and self._car:
            self._spawn(self._trapped_alarm(token), "trapped-alarm")
        return token

    def _trap_end(self) -> None:
        self._trapped = 0

    def _trapped_alarm(self, token: int) -> Proc:
        rng = self._rng
        yield rng.randint(25000, 45000)
        while self._trapped == token and self._car:
            hold = rng.randint(1500, 4000)
            self._alarm_presses += 1
            yield hold
            self._alarm_presses -= 1
            yield rng.randint(30000, 90000)

    # ------------------------------------------------------------------ motion helpers
    def _set_motion(self, prof: Profile, extra_marks: tuple[float, ...] = ()) -> None:
        """Start a motion profile and precompute the moments a sensor will change during it."""
        self._motion = prof
        lo, hi = sorted((prof.p_start, prof.p_end))
        spec = self.spec
        h = self._height
        marks: list[int] = []
        first = max(0, int(lo // h) - 1)
        last = min(spec.highest_floor - spec.lowest_floor, int(hi // h) + 1)
        for i in range(first, last + 1):
            base = i * h
            for x in (base - self._zone, base + self._zone, base + h / 2):
                if lo < x < hi:
                    t = prof.crossing_ms(x)
                    if t is not None:
                        marks.append(t)
        for x in extra_marks:
            t = prof.crossing_ms(x)
            if t is not None:
                marks.append(t)
        self._marks = sorted(m for m in marks if m > self._now)

    def _trip_profile(self, target_mm: float, speed: float | None = None, slow: bool = False) -> Profile:
        spec = self.spec
        pos = self._pv()[0]
        v = speed if speed is not None else float(spec.rated_speed_mm_s)
        accel = 400.0 if slow else float(spec.acceleration_mm_s2)
        jerk = 800.0 if slow else float(spec.jerk_mm_s3)
        return physics.trip(self._now, pos, target_mm, v, accel, jerk)

    def _stop_here(self, decel: float) -> Profile:
        pos, v = self._pv()
        prof = physics.brake(self._now, pos, v, decel)
        self._set_motion(prof)
        return prof

    def _run_profile(self, prof: Profile, extra_marks: tuple[float, ...] = (), slide_mm: float = 0.0) -> Proc:
        """Direction, start, follow `prof` to rest, brake drop. The door must be closed and locked.

        `slide_mm`: the brake does not hold at once; the car creeps on this far (wear).
        """
        d = prof.direction
        yield BRAKE_LIFT_MS
        self._direction = d
        if d:
            self._last_dir = d
        yield START_DELAY_MS
        self._running = True
        prof = physics.Profile(
            self._now,
            self._now + (prof.end_ms - prof.start_ms),
            tuple(
                physics.Segment(s.t0_ms + (self._now - prof.start_ms), s.p0, s.v0, s.a0, s.jerk) for s in prof.segments
            ),
            prof.p_start,
            prof.p_end,
            prof.v_end,
        )
        self._set_motion(prof, extra_marks)
        yield prof.end_ms - self._now
        if slide_mm > 0 and d:
            pos = self._pv()[0]
            creep = physics.trip(self._now, pos, pos + d * slide_mm, CREEP_SPEED_MM_S, 400.0, 800.0)
            self._set_motion(creep)
            yield creep.end_ms - self._now
        yield STOP_HOLD_MS
        self._running = False

    def _relevel(self) -> Proc:
        """Low-speed run to the nearest landing (after a reset, or by a rescuer)."""
        pos = self._pv()[0]
        floor = self._nearest_floor(pos)
        target = self.spec.landing_position_mm(floor)
        if abs(pos - target) < 5:
            return
        prof = self._trip_profile(target, RELEVEL_SPEED_MM_S, slow=True)
        yield from self._run_profile(prof)

    # ------------------------------------------------------------------ doors
    def _open_door(self, full_ms: int | None = None) -> Proc:
        self._direction = 0
        self._door = Door.OPENING
        self._lock = False
        yield full_ms if full_ms is not None else self.spec.door_open_ms + self._door_jitter()
        self._door = Door.OPEN

    def _door_jitter(self) -> int:
        j = self.spec.door_jitter_ms
        return self._rng.randint(-j, j) if j else 0

    def _close_door(self, reopen_ok: bool, opened_ms: int) -> Proc:
        """Close (the light curtain may reopen the door up to twice on a normal stop), then lock."""
        spec = self.spec
        rng = self._rng
        reopens = 0
        while True:
            self._door = Door.CLOSING
            if (
                reopen_ok
                and reopens < 2
                and self._now - opened_ms < SERVE_CLOSE_BY_MS
                and rng.random() < (spec.reopen_chance if reopens == 0 else 0.05)
            ):
                part = rng.randint(400, spec.door_close_ms - 400)
                yield part
                reopens += 1
                self._door = Door.OPENING
                yield max(300, part * spec.door_open_ms // spec.door_close_ms)
                self._door = Door.OPEN
                yield rng.randint(2000, 3000)
                continue
            yield spec.door_close_ms + self._door_jitter()
            break
        self._door = Door.CLOSED
        yield LOCK_DELAY_MS
        self._lock = True

    # ------------------------------------------------------------------ normal service
    def _choose_stop(self) -> int | None:
        cur = self.floor
        full = len(self._car) >= self.spec.capacity_persons
        calls = {p.dest for p in self._car}
        for f, q in self._waiting.items():
            if q and not (full and f == cur):
                calls.add(f)
        if not calls:
            return None
        if cur in calls:
            return cur
        up = [c for c in calls if c > cur]
        down = [c for c in calls if c < cur]
        if self._last_dir >= 0:
            return min(up) if up else max(down)
        return max(down) if down else min(up)

    def _service(self) -> Proc:
        """The controller's normal operation: collective control, one landing at a time."""
        while True:
            if self._blocking:
                yield from self._park_for_fault()
                continue
            take = self._take_armed(("inspection", "fire_service", "out_of_service"))
            if take is not None:
                yield from self._service_mode(take)
                continue
            if self._force_serve:
                self._force_serve = False
                yield from self._serve(self.floor)
                continue
            target = self._choose_stop()
            if target is None:
                self._target_floor = None
                yield None
                continue
            if target == self.floor and self._in_zone(self._pv()[0]):
                self._target_floor = target
                yield from self._serve(target)
                continue
            self._target_floor = target
            arrived = yield from self._trip_to(target)
            if arrived:
                yield from self._serve(target)
            self._target_floor = None

    def _serve(self, floor: int, evacuate: bool = False) -> Proc:
        """Stop cycle at a landing: open, people out, people in, hold, close (with reopens), lock."""
        spec = self.spec
        rng = self._rng
        yield OPEN_DELAY_MS
        landing_fault = None if evacuate else self._take_armed(("door_reopen_repeated", "door_open_too_long"))
        if landing_fault is not None:
            self._force_serve = False
        opened = self._now
        yield from self._open_door()
        leaving = [p for p in self._car if evacuate or p.dest == floor]
        for p in leaving:
            yield rng.randint(700, 1200)
            self._car.remove(p)
        boarded = yield from self._board(floor, opened)
        if landing_fault is not None and landing_fault.fault == "door_open_too_long":
            # Someone holds the door (or the door operator hangs open) well past the 60 s rule.
            yield max(1000, landing_fault.duration_ms - (self._now - opened))
            yield from self._close_door(False, opened)
            return
        if landing_fault is not None:
            yield from self._obstructed_door(landing_fault)
            return
        hold = spec.door_hold_ms if boarded or leaving else spec.door_hold_ms // 2
        yield rng.randint(hold, hold + 2000)
        while self._waiting.get(floor) and len(self._car) < spec.capacity_persons and self._now - opened < 30000:
            yield from self._board(floor, opened)
            yield 1500
        if self._mode is Mode.FIRE:
            return
        yield from self._close_door(True, opened)

    def _board(self, floor: int, opened: int) -> Generator[int | None, None, int]:
        q = self._waiting.get(floor) or []
        n = 0
        while q and len(self._car) < self.spec.capacity_persons and self._now - opened < 28000:
            yield self._rng.randint(700, 1200)
            self._car.append(q.pop(0))
            n += 1
        return n

    def _obstructed_door(self, armed: _Armed) -> Proc:
        """Something keeps blocking the door: it starts closing and reopens, again and again."""
        rng = self._rng
        spec = self.spec
        for _ in range(armed.params["cycles"]):
            yield rng.randint(2000, 3000)
            self._door = Door.CLOSING
            part = rng.randint(500, 1300)
            yield part
            self._door = Door.OPENING
            yield max(400, part * spec.door_open_ms // spec.door_close_ms)
            self._door = Door.OPEN
        yield rng.randint(2000, 3000)
        yield from self._close_door(False, self._now)

    def _trip_to(self, target: int) -> Generator[int | None, None, bool]:
        """Run to `target`; a fault armed for the next trip may take over. True if it arrived normally."""
        fault = self._trip_fault(target)
        if fault is not None:
            handled = yield from self._faulty_trip(fault, target)
            if handled:
                return False
        landing_trap = self._take_armed(("trap_at_landing",), need_passengers=True)
        spec = self.spec
        landing = spec.landing_position_mm(target)
        if spec.level_offset_mm or spec.level_scatter_mm or spec.brake_slide_mm:
            # Wear: the stop lands off the landing (sensor drift, scatter, the brake's creep); the
            # controller re-levels a stop further off than its tolerance before opening the door.
            d = 1 if landing > self._pv()[0] else -1
            aim = landing + spec.level_offset_mm - d * spec.brake_comp_mm
            if spec.level_scatter_mm:
                aim += self._rng.gauss(0.0, spec.level_scatter_mm)
            yield from self._run_profile(self._trip_profile(aim), slide_mm=spec.brake_slide_mm)
            if abs(self._pv()[0] - landing) > spec.relevel_tolerance_mm and landing_trap is None:
                travel_dir = self._last_dir  # a re-level back is no change of the collective's direction
                yield from self._relevel()
                self._last_dir = travel_dir
        else:
            prof = self._trip_profile(landing)
            yield from self._run_profile(prof)
        if landing_trap is not None:
            yield from self._trap_at_landing(landing_trap)
            return False
        return True

    def _take_armed(self, names: tuple[str, ...], need_passengers: bool = False) -> _Armed | None:
        for a in self._armed:
            if a.fault in names:
                if need_passengers and a.params.get("passengers", 0) > 0 and not self._car:
                    continue
                self._armed.remove(a)
                self._happens(a)
                return a
        return None

    def _trip_fault(self, target: int) -> _Armed | None:
        spec = self.spec
        up = target > self.floor
        for a in self._armed:
            if a.fault not in _TRIP_FAULTS:
                continue
            if a.params.get("passengers", 0) > 0 and not self._car:
                continue
            if a.fault == "overtravel_top" and not (up and target == spec.highest_floor):
                continue
            if a.fault == "overtravel_bottom" and not (not up and target == spec.lowest_floor):
                continue
            return a
        return None

    # ------------------------------------------------------------------ fault procedures
    def _faulty_trip(self, armed: _Armed, target: int) -> Generator[int | None, None, bool]:
        f = armed.fault
        if f in ("overtravel_top", "overtravel_bottom"):
            self._armed.remove(armed)
            self._happens(armed)
            yield from self._overtravel(armed, target)
            return True
        if f == "overspeed":
            prof = self._overspeed_profile(armed, target)
            if prof is None:
                return False
            self._armed.remove(armed)
            self._happens(armed)
            yield from self._overspeed(armed, prof)
            return True
        if f == "run_timeout":
            self._armed.remove(armed)
            self._happens(armed)
            yield from self._run_timeout(armed, target)
            return True
        # Faults that stop the car between floors: find a moment whose emergency stop ends outside
        # every door zone (what makes them traps), or wait for a longer trip.
        reaction = {"door_open_while_running": 250, "door_lock_lost": 150}.get(f, 0)
        decel = 2000.0 if f == "power_failure" else float(EMERGENCY_DECEL_MM_S2)
        prof = self._trip_profile(self.spec.landing_position_mm(target))
        t_brake = self._estop_moment(prof, decel, reaction)
        if t_brake is None:
            return False
        self._armed.remove(armed)
        yield from self._estop_trip(armed, prof, t_brake - reaction, reaction, decel)
        return True

    def _estop_moment(self, prof: Profile, decel: float, reaction: int) -> int | None:
        """Offset (ms from profile start) of a brake start that leaves the car outside every zone."""
        margin = self._zone + 150
        dur = prof.end_ms - prof.start_ms
        cands = list(range(1000 + reaction, dur - 500, 50))
        self._rng.shuffle(cands)
        for off in cands[:200]:
            pos, v = prof.at(prof.start_ms + off)
            if abs(v) < 200:
                continue
            stop = pos + (v * abs(v)) / (2 * decel)
            floor = self._nearest_floor(stop)
            if abs(stop - self.spec.landing_position_mm(floor)) < margin:
                continue
            if not -self._zone < stop < self._top_mm + self._zone:
                continue
            return off
        return None

    def _estop_trip(self, armed: _Armed, prof: Profile, trig_off: int, reaction: int, decel: float) -> Proc:
        f = armed.fault
        p = armed.params
        yield BRAKE_LIFT_MS
        self._direction = prof.direction
        self._last_dir = prof.direction or self._last_dir
        yield START_DELAY_MS
        self._running = True
        shifted = physics.trip(
            self._now,
            prof.p_start,
            prof.p_end,
            self.spec.rated_speed_mm_s,
            self.spec.acceleration_mm_s2,
            self.spec.jerk_mm_s3,
        )
        self._set_motion(shifted)
        yield trig_off
        self._happens(armed)
        code = p.get("code", 0)
        if f == "door_open_while_running":
            self._door = Door.OPENING  # forced open / door operator fault: contact and lock break
            self._lock = False
        elif f == "door_lock_lost":
            self._lock = False
        if reaction:
            yield reaction
        if f == "power_failure":
            self._power = False
        elif f == "safety_circuit_open":
            self._safety = False
        if code:
            self._fault_code = code
        brake = self._stop_here(decel)
        yield max(0, brake.end_ms - self._now)
        yield STOP_HOLD_MS
        self._running = False
        yield 200
        self._direction = 0
        stopped = self._now
        self._trap_begin(p.get("alarm"))
        if f == "door_open_while_running":
            yield round(p["open_s"] * 1000)
            self._door = Door.CLOSING
            yield self.spec.door_close_ms
            self._door = Door.CLOSED
            yield LOCK_DELAY_MS
            self._lock = True
        if f == "door_lock_lost":
            yield max(0, round(p["lost_s"] * 1000) - (self._now - stopped))
            self._lock = True
        yield max(0, armed.duration_ms - (self._now - stopped))
        if f == "power_failure":
            self._power = True
            yield self._rng.randint(3000, 6000)  # controller boots
        self._safety = True
        if f == "door_open_while_running" and self._door is Door.CLOSED:
            yield LOCK_DELAY_MS
            self._lock = True
        self._fault_code = self._held_code()
        yield from self._recover()

    def _recover(self) -> Proc:
        """After a reset: close the door if needed, re-level to the nearest landing, let everyone out."""
        yield self._rng.randint(1500, 3000)
        if self._door is not Door.CLOSED:
            self._direction = 0
            self._door = Door.CLOSING
            yield self.spec.door_close_ms
            self._door = Door.CLOSED
        if not self._lock:
            yield LOCK_DELAY_MS
            self._lock = True
        pos = self._pv()[0]
        floor = self._nearest_floor(pos)
        if abs(pos - self.spec.landing_position_mm(floor)) > 5:
            yield from self._relevel()
        self._trap_end()
        yield from self._serve(self.floor, evacuate=True)

    def _trap_at_landing(self, armed: _Armed) -> Proc:
        """The car stopped level, but the door will not open: passengers are shut in."""
        self._armed_code(armed)
        yield OPEN_DELAY_MS
        self._direction = 0
        self._trap_begin(armed.params["alarm"])
        yield armed.duration_ms
        self._fault_code = self._held_code()
        self._trap_end()
        yield from self._serve(self.floor, evacuate=True)

    def _armed_code(self, armed: _Armed) -> None:
        code = armed.params.get("code", 0)
        if code:
            self._fault_code = code

    def _overtravel(self, armed: _Armed, target: int) -> Proc:
        """The car does not stop at the terminal landing: it runs through the zone into the final limit."""
        spec = self.spec
        d = 1 if target == spec.highest_floor else -1
        land = spec.landing_position_mm(target)
        over = self._zone + 500
        prof = self._trip_profile(land + d * over)
        limit_x = land + d * (self._zone + 380)
        extra = (limit_x,)
        yield BRAKE_LIFT_MS
        self._direction = d
        self._last_dir = d
        yield START_DELAY_MS
        self._running = True
        prof = self._trip_profile(land + d * over)
        self._set_motion(prof, extra)
        t_limit = prof.crossing_ms(limit_x)
        if armed.params["final_limit"] and t_limit is not None:
            yield t_limit - self._now
            self._safety = False  # final limit switch opens the safety chain
            self._armed_code(armed)
        yield max(0, prof.end_ms - self._now)
        yield STOP_HOLD_MS
        self._running = False
        yield 400
        self._direction = 0
        self._trap_begin(True)
        yield armed.duration_ms
        self._safety = True
        self._fault_code = self._held_code()
        yield from self._recover()

    def _overspeed_profile(self, armed: _Armed, target: int) -> Profile | None:
        spec = self.spec
        v = float(spec.rated_speed_mm_s)
        a = float(spec.acceleration_mm_s2)
        j = float(spec.jerk_mm_s3)
        pos = self._pv()[0]
        dest = spec.landing_position_mm(target)
        d = 1.0 if dest > pos else -1.0
        vf = v * armed.params["factor"]
        tj, ta, _ = physics.accel_phase(v, a, j)
        tj2, ta2, _ = physics.accel_phase(vf - v, a, j)
        pieces: list[tuple[float, float, float | None]] = [
            (tj, d * j, None),
            (ta, 0.0, None),
            (tj, -d * j, None),
            (0.8, 0.0, 0.0),
            (tj2, d * j, None),
            (ta2, 0.0, None),
            (tj2, -d * j, None),
            (1.2, 0.0, 0.0),
        ]
        run = physics.build(self._now, pos, 0.0, 0.0, pieces)
        vend = run.v_end
        stop = physics.build(
            run.end_ms,
            run.p_end,
            vend,
            -d * SAFETY_GEAR_DECEL_MM_S2,
            [(abs(vend) / SAFETY_GEAR_DECEL_MM_S2, 0.0, None)],
        )
        if not -self._zone < stop.p_end < self._top_mm + self._zone:
            return None
        segs = run.segments + stop.segments
        return Profile(self._now, stop.end_ms, segs, pos, stop.p_end, 0.0)

    def _overspeed(self, armed: _Armed, prof: Profile) -> Proc:
        """Uncommanded acceleration past rated speed until the governor trips the safety gear."""
        yield BRAKE_LIFT_MS
        self._direction = prof.direction
        yield START_DELAY_MS
        self._running = True
        shift = self._now - prof.start_ms
        segs = tuple(physics.Segment(s.t0_ms + shift, s.p0, s.v0, s.a0, s.jerk) for s in prof.segments)
        prof = Profile(self._now, prof.end_ms + shift, segs, prof.p_start, prof.p_end, 0.0)
        self._set_motion(prof)
        gear_ms = round(segs[-1].t0_ms)
        yield gear_ms - self._now
        self._safety = False  # governor switch
        self._armed_code(armed)
        yield max(0, prof.end_ms - self._now)
        yield STOP_HOLD_MS
        self._running = False
        yield 200
        self._direction = 0
        self._trap_begin(True)
        yield armed.duration_ms
        self._safety = True
        self._fault_code = self._held_code()
        yield from self._recover()

    def _run_timeout(self, armed: _Armed, target: int) -> Proc:
        """Traction lost: the motor runs, the car crawls and never reaches the next door zone."""
        spec = self.spec
        pos = self._pv()[0]
        d = 1.0 if spec.landing_position_mm(target) > pos else -1.0
        limit_ms = round(armed.params["limit_s"] * 1000)
        v1 = min(500.0, float(spec.rated_speed_mm_s))
        a = 400.0
        gap = self._height - 2 * self._zone - 200
        creep = max(5.0, min(40.0, (gap - 600) / (limit_ms / 1000.0)))
        t_up = v1 / a
        t_down = (v1 - creep) / a
        pieces: list[tuple[float, float, float | None]] = [
            (t_up, 0.0, d * a),
            (t_down, 0.0, -d * a),
            (limit_ms / 1000.0 - t_up - t_down, 0.0, 0.0),
        ]
        yield BRAKE_LIFT_MS
        self._direction = int(d)
        yield START_DELAY_MS
        self._running = True
        crawl = physics.build(self._now, pos, 0.0, 0.0, pieces)
        stop = physics.build(crawl.end_ms, crawl.p_end, crawl.v_end, -d * 1000.0, [(creep / 1000.0, 0.0, None)])
        self._set_motion(Profile(self._now, stop.end_ms, crawl.segments + stop.segments, pos, stop.p_end, 0.0))
        yield crawl.end_ms - self._now
        self._armed_code(armed)  # run-time limiter trips
        yield max(0, stop.end_ms - self._now)
        yield STOP_HOLD_MS
        self._running = False
        yield 200
        self._direction = 0
        self._trap_begin(True)
        yield max(1000, armed.duration_ms - limit_ms)
        self._fault_code = self._held_code()
        yield from self._recover()

    def _immediate_fault(self, fault: str, dur_ms: int, p: dict[str, Any]) -> None:
        """Mains or safety chain lost now: whatever the controller was doing is cut short."""
        self._kill(self._service_proc)
        self._cut_short()
        now = self._now
        if fault == "power_failure":
            self._power_holds += 1
            self._power = False
            self._at(now + dur_ms, self._end_power_hold)
            decel = 2000.0
        else:
            code = p["code"]
            self._safety_holds.append(code)
            self._safety = False
            if code:
                self._fault_code = code
            self._at(now + dur_ms, functools.partial(self._end_safety_hold, code))
            decel = float(EMERGENCY_DECEL_MM_S2)
        self._service_proc = self._spawn(self._halted(p["alarm"], decel), fault)

    def _cut_short(self) -> None:
        """Drop what only the interrupted procedure held: its safety trip, its fault code, its mode.

        An inspection, fire or out-of-service session ends with it; the controller comes back in
        normal service after the reset.
        """
        self._safety = not self._safety_holds
        self._fault_code = self._held_code()
        self._mode = Mode.NORMAL
        self._target_floor = None

    def _held_code(self) -> int:
        """The fault code still standing once a fault ends (0: none)."""
        for code in reversed(self._safety_holds):
            if code:
                return code
        return self._blocking[-1] if self._blocking else 0

    def _end_power_hold(self) -> None:
        self._power_holds -= 1
        if not self._power_holds:
            self._power = True
        self._wake(self._service_proc)

    def _end_safety_hold(self, code: int) -> None:
        self._safety_holds.remove(code)
        self._safety = not self._safety_holds
        if self._fault_code == code:
            self._fault_code = self._held_code()
        self._wake(self._service_proc)

    def _halted(self, alarm: bool | None, decel: float) -> Proc:
        """Stopped where the fault caught the car until mains and safety chain are back, then recover."""
        yield from self._emergency_halt(decel)
        self._trap_begin(alarm)
        boot = False
        while not self._power or self._safety_holds:
            boot = boot or not self._power
            yield None
        if boot:
            yield self._rng.randint(3000, 6000)  # controller boots
        yield from self._recover()
        yield from self._service()

    def _emergency_halt(self, decel: float) -> Proc:
        """Stop wherever the car is: brake if it moves, doors stay as they are."""
        self._target_floor = None
        if self._running:
            prof = self._stop_here(decel)
            yield max(0, prof.end_ms - self._now)
            yield STOP_HOLD_MS
            self._running = False
        pos = self._pv()[0]
        self._motion = Profile(self._now, self._now, (), pos, pos)
        self._marks = []
        yield 200
        self._direction = 0

    def _controller_fault(self, code: int, dur_ms: int) -> Proc:
        self._fault_code = code
        self._blocking.append(code)
        self._wake(self._service_proc)
        yield dur_ms
        self._blocking.remove(code)
        if self._fault_code == code:
            self._fault_code = self._held_code()
        self._wake(self._service_proc)

    def _park_for_fault(self) -> Proc:
        """A blocking controller fault: let passengers out at this landing, then stand until reset."""
        self._target_floor = None
        if self._car:
            yield from self._serve(self.floor, evacuate=True)
        while self._blocking:
            yield None

    def _service_mode(self, armed: _Armed) -> Proc:
        """Inspection, fire service or out of service, taken at a landing with the doors closed."""
        rng = self._rng
        if self._car:
            yield from self._serve(self.floor, evacuate=True)
        end = self._now + armed.duration_ms
        if armed.fault == "out_of_service":
            self._mode = Mode.OUT_OF_SERVICE
            yield armed.duration_ms
            self._mode = Mode.NORMAL
            return
        if armed.fault == "fire_service":
            self._mode = Mode.FIRE
            lobby = self.spec.lobby_floor
            if self.floor != lobby:
                prof = self._trip_profile(self.spec.landing_position_mm(lobby))
                yield from self._run_profile(prof)
                yield OPEN_DELAY_MS
            yield from self._open_door()
            yield max(1000, end - self._now)
            self._door = Door.CLOSING
            yield self.spec.door_close_ms
            self._door = Door.CLOSED
            yield LOCK_DELAY_MS
            self._lock = True
            self._mode = Mode.NORMAL
            return
        # inspection: a technician moves the car in short runs at inspection speed
        self._mode = Mode.INSPECTION
        moves = armed.params["moves"]
        alarm_at = rng.randint(0, max(moves, 1))
        span = max(armed.duration_ms - 30000, 10000)
        for i in range(moves + 1):
            yield max(3000, span // (moves + 2) + rng.randint(-2000, 2000))
            if armed.params["alarm_test"] and i == alarm_at:
                hold = rng.randint(2000, 4000)
                self._spawn(self._alarm_presser(1, 0, hold), "alarm-test")
                yield hold
            if i == moves or self._now > end - 20000:
                break
            pos = self._pv()[0]
            delta = rng.choice((-1, 1)) * rng.randint(600, 3000)
            target = min(max(pos + delta, 0.0), float(self._top_mm))
            if abs(target - pos) < 100:
                continue
            prof = self._trip_profile(target, 300.0, slow=True)
            yield from self._run_profile(prof)
        yield from self._relevel()
        yield max(1000, end - self._now)
        self._mode = Mode.NORMAL

    # ------------------------------------------------------------------ live noise (server only)
    def _live_noise_proc(self) -> Proc:
        """Contact bounce and PIR drop-outs for the real-time server; renders use hw_sim.noise."""
        rng = self._noise_rng
        spec = self.scenario.noise
        signals = ["door", "door_zone", "door_lock"]
        rate_per_ms = spec.bounce_per_hour * len(signals) / 3_600_000.0
        drop_per_ms = spec.dropout_per_min / 60_000.0
        while True:
            total = rate_per_ms + drop_per_ms
            if total <= 0:
                return
            yield max(1, round(rng.expovariate(total)))
            if rng.random() < drop_per_ms / total:
                if self._car and self.spec.presence_sensor:
                    self._noise_until["occupied"] = self._now + rng.randint(spec.dropout_min_ms, spec.dropout_max_ms)
            else:
                sig = rng.choice(signals)
                self._noise_until[sig] = self._now + rng.randint(spec.bounce_min_ms, spec.bounce_max_ms)


_TRIP_FAULTS = frozenset(
    {
        "trap_between_floors",
        "door_open_while_running",
        "door_lock_lost",
        "overspeed",
        "overtravel_top",
        "overtravel_bottom",
        "run_timeout",
        "power_failure",
        "safety_circuit_open",
    }
)
