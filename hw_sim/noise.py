"""Sensor noise on a rendered trace: contact bounce and presence-sensor drop-outs.

Applied after the ground truth is complete and labeled, so noise can never change a label. Each
disturbance is placed where the contract says a detector must ignore it, with margins that keep it
unambiguous: a bounce (10-60 ms by default, the rule's limit is 100 ms) sits inside a stretch
where the true signal is steady for at least `GUARD_MS` on both sides; a drop-out (1-3.5 s, the
rule's limit is 5 s) starts and ends at least a second inside a truly occupied stretch, so the
last `occupied=1` is still the true last moment. Door bounce is `closed -> opening -> closed`
(the door contact chattering while the door is shut), as in the contract's samples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hw_sim.scenario import NoiseSpec
from protocols.signals import Door, SignalSnapshot

GUARD_MS = 300
DROPOUT_MARGIN_MS = 1000


def _stable_stretches(times: list[int], values: list[bool], end_t: int) -> list[tuple[int, int, bool]]:
    out: list[tuple[int, int, bool]] = []
    start = times[0]
    cur = values[0]
    for t, v in zip(times, values, strict=True):
        if v != cur:
            out.append((start, t, cur))
            start, cur = t, v
    out.append((start, end_t, cur))
    return out


def noise_windows(truth: Sequence[SignalSnapshot], spec: NoiseSpec, rng: random.Random) -> list[tuple[int, int, str]]:
    """(start ms, end ms, signal) of every disturbance to apply to `truth`."""
    if not truth or not spec.enabled:
        return []
    times = [r.t_ms for r in truth]
    end_t = times[-1]
    out: list[tuple[int, int, str]] = []
    rate = spec.bounce_per_hour / 3_600_000.0
    signals: dict[str, list[bool]] = {
        "door": [r.door is Door.CLOSED for r in truth],
        "door_zone": [r.door_zone for r in truth],
        "door_lock": [r.door_lock for r in truth],
    }
    if rate > 0:
        for name, values in signals.items():
            for a, b, v in _stable_stretches(times, values, end_t):
                if name == "door" and not v:
                    continue  # the door contact chatters only when it is made
                t = float(a + GUARD_MS)
                while True:
                    t += rng.expovariate(rate)
                    length = rng.randint(spec.bounce_min_ms, spec.bounce_max_ms)
                    if t + length + GUARD_MS > b:
                        break
                    out.append((int(t), int(t) + length, name))
                    t += length + GUARD_MS
    if truth[0].occupied is not None and spec.dropout_per_min > 0:
        drop_rate = spec.dropout_per_min / 60_000.0
        occ = [bool(r.occupied) for r in truth]
        for a, b, v in _stable_stretches(times, occ, end_t):
            if not v:
                continue
            t = float(a + DROPOUT_MARGIN_MS)
            while True:
                t += rng.expovariate(drop_rate)
                length = rng.randint(spec.dropout_min_ms, spec.dropout_max_ms)
                if t + length + DROPOUT_MARGIN_MS > b:
                    break
                out.append((int(t), int(t) + length, "occupied"))
                t += length + DROPOUT_MARGIN_MS
    out.sort()
    return out


def apply_noise(truth: Sequence[SignalSnapshot], windows: Sequence[tuple[int, int, str]]) -> list[SignalSnapshot]:
    """The sensed rows: every true row, plus a row at each edge of a disturbance."""
    if not windows:
        return list(truth)
    toggles: list[tuple[int, str, int]] = []
    for start, end, name in windows:
        toggles.append((start, name, 1))
        toggles.append((end, name, -1))
    toggles.sort()
    active = {"door": 0, "door_zone": 0, "door_lock": 0, "occupied": 0}
    out: list[SignalSnapshot] = []
    ti = 0
    ri = 0
    n_rows = len(truth)
    base = truth[0]
    while ri < n_rows or ti < len(toggles):
        t_row = truth[ri].t_ms if ri < n_rows else None
        t_tog = toggles[ti][0] if ti < len(toggles) else None
        if t_tog is not None and (t_row is None or t_tog < t_row):
            t = t_tog
            from_row = False
        else:
            assert t_row is not None
            t = t_row
            from_row = True
        while ti < len(toggles) and toggles[ti][0] == t:
            active[toggles[ti][1]] += toggles[ti][2]
            ti += 1
        if from_row:
            base = truth[ri]
            ri += 1
        elif t > truth[-1].t_ms:
            break
        s = base if base.t_ms == t else base._replace(t_ms=t)
        if active["door"] and s.door is Door.CLOSED:
            s = s._replace(door=Door.OPENING)
        if active["door_zone"]:
            s = s._replace(door_zone=not s.door_zone)
        if active["door_lock"]:
            s = s._replace(door_lock=not s.door_lock)
        if active["occupied"] and s.occupied:
            s = s._replace(occupied=False)
        out.append(s)
    return out
