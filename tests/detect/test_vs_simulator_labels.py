"""Two independent readings of detection.md must agree: the detector, and the simulator's labeler.

`hw_sim.labels.label_rows` is the answer key of the simulator's corpus. It shares no code with the
detector and works the other way round (whole-timeline intervals, not a streaming state machine).
On random histories, including contact chatter a few ms apart, both must give the very same raises
and clears at the very same milliseconds. A disagreement means one of them misreads the contract.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hw_sim.labels import label_rows
from protocols.signals import SignalSnapshot

from .support import LIMITS, run
from .test_properties import VALUES, history, render, start_state

CHATTER_SIGNALS = ("door_zone", "door_lock", "door", "door", "running", "occupied", "alarm_button", "mode", "floor")


def labels(rows: list[SignalSnapshot]) -> list[tuple[int, str, str]]:
    out = label_rows(rows, LIMITS.lowest_floor, LIMITS.highest_floor, LIMITS.rated_speed_mm_s)
    return sorted((lab.t_ms, lab.type, lab.action) for lab in out)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 40), sensor=st.booleans())
def test_detector_equals_simulator_labels_on_random_histories(seed: int, n: int, sensor: bool) -> None:
    rng = random.Random(seed)
    start = start_state(sensor)
    chg = history(rng, n, 1)
    if not sensor:
        chg = [c for c in chg if c[1] != "occupied"]
    rows = render(start, 0, chg, (chg[-1][0] if chg else 0) + rng.randint(0, 120_000))
    assert sorted(run(rows)) == labels(rows)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), sensor=st.booleans())
def test_detector_equals_simulator_labels_with_contact_chatter(seed: int, sensor: bool) -> None:
    rng = random.Random(seed)
    start = start_state(sensor)
    t = 0
    chg = []
    for _ in range(rng.randint(5, 80)):
        short, medium, long = rng.randint(1, 150), rng.randint(100, 3_000), rng.randint(3_000, 100_000)
        t += rng.choice((short, short, medium, long))
        signal = rng.choice(CHATTER_SIGNALS)
        if signal != "occupied" or sensor:
            chg.append((t, signal, rng.choice(VALUES[signal])))
    rows = render(start, 0, chg, t + rng.randint(0, 100_000))
    assert sorted(run(rows)) == labels(rows)
