"""Motion profiles: trips land exactly, respect speed/acceleration limits, crossings are consistent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw_sim import physics


@settings(max_examples=60, deadline=None)
@given(
    dist=st.floats(min_value=50, max_value=120_000),
    vmax=st.sampled_from([500.0, 1000.0, 1750.0, 2500.0, 4000.0]),
    accel=st.sampled_from([400.0, 800.0, 1200.0]),
    jerk=st.sampled_from([800.0, 1600.0, 3000.0]),
    down=st.booleans(),
)
def test_trip_is_limited_and_lands_on_target(dist: float, vmax: float, accel: float, jerk: float, down: bool) -> None:
    p0 = 50_000.0
    p1 = p0 - dist if down else p0 + dist
    prof = physics.trip(1000, p0, p1, vmax, accel, jerk)
    assert prof.at(prof.end_ms) == (p1, 0.0)
    prev_v = 0.0
    prev_p = p0
    step = max(1, (prof.end_ms - prof.start_ms) // 400)
    for t in range(prof.start_ms, prof.end_ms + 1, step):
        p, v = prof.at(t)
        assert abs(v) <= vmax + 1e-6
        assert abs(v - prev_v) / (step / 1000) <= accel * 1.01 + 1e-6  # acceleration limit
        assert (p - prev_p) * (-1 if down else 1) >= -1e-6  # monotone, one direction
        prev_v, prev_p = v, p
    # the integrated end matches the target (the profile is not just pinned to it)
    last = prof.segments[-1]
    assert last.at(prof.end_ms)[0] == pytest.approx(p1, abs=1.0)


def test_short_trip_does_not_reach_rated_speed() -> None:
    prof = physics.trip(0, 0.0, 1000.0, 2500.0, 800.0, 1600.0)
    peak = max(abs(prof.at(t)[1]) for t in range(0, prof.end_ms, 10))
    assert 300 < peak < 2500


def test_crossing_is_first_ms_past_the_point() -> None:
    prof = physics.trip(0, 0.0, 3500.0, 1750.0, 800.0, 1600.0)
    t = prof.crossing_ms(3300.0)
    assert t is not None
    assert prof.at(t)[0] >= 3300.0 > prof.at(t - 1)[0]
    assert prof.crossing_ms(4000.0) is None


def test_brake_stops_at_constant_deceleration() -> None:
    prof = physics.brake(0, 1000.0, -2000.0, 2500.0)
    assert prof.end_ms == pytest.approx(800, abs=1)
    assert prof.p_end == pytest.approx(1000.0 - 2000.0**2 / (2 * 2500.0))
