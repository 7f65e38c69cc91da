"""Render a scenario as an elevator-trace/1 file with its labeled events, faster than real time.

The model is stepped from change to change (`ElevatorSim.next_change_ms`) instead of every
millisecond, so quiet hours cost almost nothing. Two renderings:

- on-change: a row whenever the true state changes, a row every 100 ms on the 100 ms grid while
  the car runs (the speed ramps), and now and then a repeat of an unchanged state;
- periodic: a row every `period_ms` with the state sampled at that instant.

Labels (`hw_sim.labels`) are computed on the true rows of the chosen rendering; sensor noise
(`hw_sim.noise`) is added afterwards as extra rows at the exact edges of each disturbance, in both
renderings, so a bounce keeps its true (sub-100 ms) length even in a periodic trace.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hw_sim.labels import Label, label_rows
from hw_sim.model import ElevatorSim
from hw_sim.noise import apply_noise, noise_windows
from hw_sim.scenario import DEFAULT_DURATION_S, Scenario
from protocols.signals import SignalSnapshot, TraceSettings, write_trace

MOTION_TICK_MS = 100


@dataclass(frozen=True, slots=True)
class Rendering:
    settings: TraceSettings
    truth: list[SignalSnapshot]  # the noise-free rows the labels were computed on
    rows: list[SignalSnapshot]  # what the trace file holds (truth + noise rows)
    labels: list[Label]
    injections: list[dict[str, Any]]
    duration_ms: int


def default_duration_s(scenario: Scenario) -> float:
    """Scenario's own duration, else long enough for every injection to play out, then a quiet tail."""
    if scenario.duration_s is not None:
        return scenario.duration_s
    end = 600.0
    for inj in scenario.injections:
        dur = inj.duration_s if inj.duration_s is not None else DEFAULT_DURATION_S[inj.fault]
        end = max(end, inj.at_s + dur + 300.0)
    return end


def truth_rows(
    sim: ElevatorSim,
    end_ms: int,
    period_ms: int | None = None,
    rng: random.Random | None = None,
    repeat_every_ms: float | None = None,
) -> list[SignalSnapshot]:
    """The true rows of a rendering from the sim's current time (0) to `end_ms`.

    On change (`period_ms=None`): repeats of an unchanged state come about every `repeat_every_ms`
    (never if None). Periodic: the state sampled every `period_ms`, plus a last row at `end_ms`.
    """
    if period_ms is not None:
        return _truth_periodic(sim, end_ms, period_ms)
    return _truth_on_change(sim, end_ms, rng or random.Random(0), repeat_every_ms or 1e15)


def _truth_on_change(sim: ElevatorSim, end_ms: int, rng: random.Random, repeat_every_ms: float) -> list[SignalSnapshot]:
    rows = [sim.true_snapshot()]
    last_state = rows[0].state()
    t = 0
    next_repeat = int(rng.expovariate(1.0 / repeat_every_ms))
    running = rows[0].running
    while t < end_ms:
        nxt = sim.next_change_ms()
        cand = end_ms if nxt is None else min(nxt, end_ms)
        if running:
            cand = min(cand, (t // MOTION_TICK_MS + 1) * MOTION_TICK_MS)
        if next_repeat < cand:
            sim.advance(next_repeat)
            t = next_repeat
            s = sim.true_snapshot()
            rows.append(s)
            last_state = s.state()
            running = s.running
            next_repeat = t + 1 + int(rng.expovariate(1.0 / repeat_every_ms))
            continue
        t = cand
        sim.advance(t)
        s = sim.true_snapshot()
        running = s.running
        st = s.state()
        if st != last_state:
            rows.append(s)
            last_state = st
    if rows[-1].t_ms < end_ms:
        rows.append(sim.true_snapshot())
    return rows


def _truth_periodic(sim: ElevatorSim, end_ms: int, period_ms: int) -> list[SignalSnapshot]:
    rows = []
    for t in range(0, end_ms + 1, period_ms):
        sim.advance(t)
        rows.append(sim.true_snapshot())
    if rows[-1].t_ms < end_ms:
        sim.advance(end_ms)
        rows.append(sim.true_snapshot())
    return rows


def render(
    scenario: Scenario,
    duration_s: float | None = None,
    period_ms: int | None = None,
    noise: bool | None = None,
    seed: int | None = None,
) -> Rendering:
    """Simulate, label and add noise. `period_ms=None` renders on change."""
    if seed is not None:
        scenario = replace(scenario, seed=seed)
    if noise is not None:
        scenario = replace(scenario, noise=replace(scenario.noise, enabled=noise))
    dur_s = default_duration_s(scenario) if duration_s is None else duration_s
    end_ms = round(dur_s * 1000)
    sim = ElevatorSim(scenario, live_noise=False)
    render_rng = random.Random(scenario.seed * 104729 + 17)
    injections: list[dict[str, Any]] = []
    truth = truth_rows(sim, end_ms, period_ms, render_rng, scenario.noise.repeat_every_s * 1000.0)
    injections = sim.injections_due()
    spec = scenario.elevator
    labels = label_rows(truth, spec.lowest_floor, spec.highest_floor, spec.rated_speed_mm_s)
    noise_rng = random.Random(scenario.seed * 15485863 + 3)
    rows = apply_noise(truth, noise_windows(truth, scenario.noise, noise_rng))
    extra = {
        "generator": "elev-sim trace",
        "seed": str(scenario.seed),
        "traffic": scenario.traffic,
        "rendering": "on-change" if period_ms is None else f"period-{period_ms}ms",
        "noise": "1" if scenario.noise.enabled else "0",
        "floor_height_mm": str(spec.floor_height_mm),
        "presence_sensor": "1" if spec.presence_sensor else "0",
    }
    settings = TraceSettings(spec.rated_speed_mm_s, spec.lowest_floor, spec.highest_floor, extra)
    return Rendering(settings, truth, rows, labels, injections, end_ms)


def events_path(trace_path: Path) -> Path:
    name = trace_path.name
    stem = name[:-4] if name.endswith(".csv") else name
    return trace_path.with_name(stem + ".events.jsonl")


def write_rendering(r: Rendering, trace_path: Path) -> tuple[Path, Path]:
    """Write TRACE.csv and TRACE.events.jsonl next to it (atomically: temp file, then rename)."""
    ev_path = events_path(trace_path)
    tmp = trace_path.with_name(trace_path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        write_trace(f, r.settings, r.rows)
    tmp.replace(trace_path)
    write_events(ev_path, r.labels)
    return trace_path, ev_path


def write_events(path: Path, labels: Sequence[Label]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        for lab in labels:
            f.write(json.dumps(lab.to_json_dict()) + "\n")
    tmp.replace(path)
