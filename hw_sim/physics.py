"""Car motion as piecewise-cubic profiles: jerk-limited trips, emergency stops and creeps.

A `Profile` is a list of segments with constant jerk, so position, speed and acceleration are
exact at any millisecond without stepping. The model evaluates it when asked for a snapshot, and
finds the moments the car crosses a door-zone edge or a floor boundary by bisection, which lets
the trace renderer jump from change to change instead of simulating every millisecond.

Units: positions in mm (0 = lowest landing, up positive), times in ms at the interface and in
seconds inside a segment, speeds in mm/s. A profile is monotone: the car moves one way per profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    t0_ms: float
    p0: float
    v0: float
    a0: float
    jerk: float

    def at(self, t_ms: float) -> tuple[float, float]:
        s = (t_ms - self.t0_ms) / 1000.0
        p = self.p0 + self.v0 * s + self.a0 * s * s / 2 + self.jerk * s * s * s / 6
        v = self.v0 + self.a0 * s + self.jerk * s * s / 2
        return p, v


@dataclass(frozen=True, slots=True)
class Profile:
    """Motion from `start_ms` to `end_ms`; before it the car is at `p_start`, after it at `p_end`."""

    start_ms: int
    end_ms: int
    segments: tuple[Segment, ...]
    p_start: float
    p_end: float
    v_end: float = 0.0

    def at(self, t_ms: float) -> tuple[float, float]:
        """(position mm, signed speed mm/s) at `t_ms`."""
        if t_ms <= self.start_ms or not self.segments:
            return (self.p_start, 0.0) if t_ms <= self.start_ms else (self.p_end, self.v_end)
        if t_ms >= self.end_ms:
            return self.p_end, self.v_end
        for seg in reversed(self.segments):
            if seg.t0_ms <= t_ms:
                return seg.at(t_ms)
        return self.segments[0].at(t_ms)

    @property
    def direction(self) -> int:
        return 1 if self.p_end > self.p_start else (-1 if self.p_end < self.p_start else 0)

    def crossing_ms(self, x_mm: float) -> int | None:
        """First whole ms at which the car has reached `x_mm` (strictly inside the travel), or None."""
        d = self.direction
        if d == 0 or not (min(self.p_start, self.p_end) < x_mm < max(self.p_start, self.p_end)):
            return None
        lo, hi = self.start_ms, self.end_ms  # pos(lo) before x, pos(hi) past x
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if (self.at(mid)[0] - x_mm) * d >= 0:
                hi = mid
            else:
                lo = mid
        return hi


def build(start_ms: int, p0: float, v0: float, a0: float, pieces: list[tuple[float, float, float | None]]) -> Profile:
    """Integrate (duration s, jerk, acceleration set at the start or None) pieces into a profile.

    Setting the acceleration outright models a brake or safety gear biting (no jerk limit).
    """
    segs: list[Segment] = []
    t = float(start_ms)
    p, v, a = p0, v0, a0
    for dur, jerk, a_set in pieces:
        if a_set is not None:
            a = a_set
        if dur <= 0:
            continue
        segs.append(Segment(t, p, v, a, jerk))
        s = dur
        p = p + v * s + a * s * s / 2 + jerk * s**3 / 6
        v = v + a * s + jerk * s * s / 2
        a = a + jerk * s
        t += dur * 1000.0
    end_ms = math.ceil(t)
    return Profile(start_ms, end_ms, tuple(segs), p0, p, v)


def accel_phase(v_peak: float, amax: float, jerk: float) -> tuple[float, float, float]:
    """(jerk time s, constant-accel time s, distance mm) to go from rest to v_peak (S-curve)."""
    if v_peak >= amax * amax / jerk:
        tj = amax / jerk
        ta = v_peak / amax - tj
    else:
        tj = math.sqrt(v_peak / jerk)
        ta = 0.0
    dist = v_peak * (ta + 2 * tj) / 2
    return tj, ta, dist


def trip(start_ms: int, p0: float, p1: float, vmax: float, amax: float, jerk: float) -> Profile:
    """A jerk-limited point-to-point trip from rest to rest (7-segment S-curve, peak speed <= vmax)."""
    dist = abs(p1 - p0)
    d = 1.0 if p1 >= p0 else -1.0
    if dist < 1:
        return Profile(start_ms, start_ms, (), p0, p1)
    lo, hi = 0.0, vmax
    if 2 * accel_phase(vmax, amax, jerk)[2] > dist:
        for _ in range(60):
            mid = (lo + hi) / 2
            if 2 * accel_phase(mid, amax, jerk)[2] <= dist:
                lo = mid
            else:
                hi = mid
        v_peak = lo
    else:
        v_peak = vmax
    tj, ta, dacc = accel_phase(v_peak, amax, jerk)
    tc = max(0.0, (dist - 2 * dacc) / v_peak) if v_peak > 0 else 0.0
    j = jerk * d
    pieces = [(tj, j), (ta, 0.0), (tj, -j), (tc, 0.0), (tj, -j), (ta, 0.0), (tj, j)]
    prof = build(start_ms, p0, 0.0, 0.0, [(dur, jk, None) for dur, jk in pieces])
    # Integration error is well under a mm; pin the end exactly on the target.
    return Profile(prof.start_ms, prof.end_ms, prof.segments, p0, p1, 0.0)


def brake(start_ms: int, p0: float, v0: float, decel: float) -> Profile:
    """Constant deceleration from signed speed v0 to rest (emergency stop: brake or safety gear)."""
    if abs(v0) < 1e-6:
        return Profile(start_ms, start_ms, (), p0, p0)
    s = abs(v0) / decel
    a = -decel if v0 > 0 else decel
    prof = build(start_ms, p0, v0, a, [(s, 0.0, None)])
    return Profile(prof.start_ms, prof.end_ms, prof.segments, p0, prof.p_end, 0.0)


def accelerate_to(start_ms: int, p0: float, v0: float, v1: float, accel: float, hold_s: float = 0.0) -> Profile:
    """Constant acceleration from signed v0 to signed v1, then `hold_s` at v1 (the car keeps moving)."""
    s = abs(v1 - v0) / accel if accel > 0 else 0.0
    a = accel if v1 > v0 else -accel
    return build(start_ms, p0, v0, a, [(s, 0.0, None), (hold_s, 0.0, 0.0)])
