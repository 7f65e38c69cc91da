"""Passenger traffic patterns: how often people arrive, where they come from and where they go.

Rates are parties per hour (a party is 1-3 people travelling together). The patterns follow the
classic lift-traffic shapes: an up-peak in the office morning (most trips leave the lobby), a
two-way lunch peak, a busy residential evening (people come home, some go out), a quiet night,
and `day`, which walks through them by the time of day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pattern:
    parties_per_hour: float
    from_lobby: float  # share of parties going lobby -> upper floors
    to_lobby: float  # share going upper floors -> lobby; the rest go floor to floor


PATTERNS: dict[str, Pattern] = {
    "office": Pattern(50.0, 0.4, 0.4),
    "night": Pattern(5.0, 0.4, 0.4),
    "morning": Pattern(110.0, 0.85, 0.05),
    "lunch": Pattern(90.0, 0.45, 0.45),
    "evening": Pattern(80.0, 0.65, 0.25),
    "none": Pattern(0.0, 0.0, 0.0),
}

# The `day` pattern: which pattern holds at each hour of the day (an office building with flats).
DAY: tuple[tuple[float, str], ...] = (
    (0.0, "night"),
    (6.5, "office"),
    (7.5, "morning"),
    (9.5, "office"),
    (12.0, "lunch"),
    (14.0, "office"),
    (17.0, "evening"),
    (20.5, "office"),
    (22.5, "night"),
)


def pattern_at(name: str, start_hour: float, t_ms: int) -> Pattern:
    """The pattern in force at `t_ms` (only `day` changes with the time of day)."""
    if name != "day":
        return PATTERNS[name]
    hour = (start_hour + t_ms / 3_600_000.0) % 24.0
    current = "night"
    for start, pattern in DAY:
        if hour >= start:
            current = pattern
    return PATTERNS[current]


def next_party(
    rng: random.Random, pattern: Pattern, lowest: int, highest: int, lobby: int
) -> tuple[float, int, int, int]:
    """(seconds until the party arrives, origin floor, destination floor, size)."""
    gap_s = rng.expovariate(pattern.parties_per_hour / 3600.0)
    others = [f for f in range(lowest, highest + 1) if f != lobby]
    r = rng.random()
    if r < pattern.from_lobby:
        origin, dest = lobby, rng.choice(others)
    elif r < pattern.from_lobby + pattern.to_lobby:
        origin, dest = rng.choice(others), lobby
    else:
        origin = rng.randint(lowest, highest)
        dest = rng.randint(lowest, highest - 1)
        if dest >= origin:
            dest += 1
    size = rng.choices((1, 2, 3), weights=(70, 20, 10))[0]
    return gap_s, origin, dest, size
