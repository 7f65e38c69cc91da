"""Helpers for the simulator-model tests: build scenarios in code and collect true rows."""

from __future__ import annotations

from typing import Any

from hw_sim.model import ElevatorSim
from hw_sim.render import truth_rows
from hw_sim.scenario import ElevatorSpec, Injection, Scenario, default_elevator, fault_params
from protocols.signals import SignalSnapshot


def scenario(
    *faults: tuple[str, float, float | None, dict[str, Any]],
    traffic: str = "office",
    seed: int = 1,
    elevator: ElevatorSpec | None = None,
) -> Scenario:
    inj = tuple(Injection(at, f, dur, fault_params(f, params, "test")) for f, at, dur, params in faults)
    return Scenario(elevator or default_elevator(), inj, traffic, seed, None)


def true_rows(sc: Scenario, duration_s: float) -> tuple[ElevatorSim, list[SignalSnapshot]]:
    sim = ElevatorSim(sc, live_noise=False)
    rows = truth_rows(sim, round(duration_s * 1000))
    return sim, rows


def periods(rows: list[SignalSnapshot], pred: Any) -> list[tuple[int, int]]:
    """Maximal [start, end) periods during which pred(row) holds."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for r in rows:
        if pred(r) and start is None:
            start = r.t_ms
        elif not pred(r) and start is not None:
            out.append((start, r.t_ms))
            start = None
    if start is not None:
        out.append((start, rows[-1].t_ms))
    return out
