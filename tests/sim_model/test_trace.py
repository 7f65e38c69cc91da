"""`elev-sim trace`: renderings round-trip, noise never changes a label, labels follow the contract."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hw_sim import trace_cmd
from hw_sim.labels import label_rows
from hw_sim.render import render
from hw_sim.scenario import ElevatorSpec, Scenario, default_elevator
from protocols.signals import Door, SignalSnapshot, TraceReader
from tests.conftest import SAMPLES
from tests.sim_model.util import periods, scenario

SCENARIO = """
seed = 9
duration_s = 600
[elevator]
lowest_floor = -1
highest_floor = 12
rated_speed_mm_s = 1750
floor_height_mm = 3500
[[inject]]
at_s = 60
fault = "trap_between_floors"
duration_s = 100
"""


def _labels(rows: list[SignalSnapshot], spec: ElevatorSpec) -> list[dict[str, object]]:
    return [
        lab.to_json_dict() for lab in label_rows(rows, spec.lowest_floor, spec.highest_floor, spec.rated_speed_mm_s)
    ]


@pytest.mark.parametrize("mode", [[], ["--period-ms", "100"], ["--on-change", "--no-noise"]])
def test_trace_command_writes_trace_and_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    scen = tmp_path / "trap.toml"
    scen.write_text(SCENARIO)
    out = tmp_path / "out" / "trap.csv"
    assert trace_cmd.main(["--scenario", str(scen), "--out", str(out), *mode]) == 0
    injected = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [i["inject"] for i in injected] == ["trap_between_floors"]
    with out.open() as f:
        reader = TraceReader(f, str(out))
        rows = list(reader)
    assert reader.settings.lowest_floor == -1 and reader.settings.rated_speed_mm_s == 1750
    assert rows[0].t_ms == 0 and rows[-1].t_ms == 600_000
    events = [json.loads(line) for line in (tmp_path / "out" / "trap.events.jsonl").read_text().splitlines()]
    assert [e["t_ms"] for e in events] == sorted(e["t_ms"] for e in events)
    assert {"entrapment", "stop_outside_door_zone"} <= {e["type"] for e in events if e["action"] == "raise"}
    assert all(set(e) <= {"t_ms", "type", "action", "fault_code"} for e in events)
    if "--period-ms" in mode:
        grid = [r for r in rows if r.t_ms % 100 == 0]
        assert len(grid) == 6001


@pytest.mark.parametrize("period_ms", [None, 100])
def test_noise_is_below_thresholds_and_never_changes_labels(period_ms: int | None) -> None:
    sc = scenario(
        ("trap_between_floors", 100.0, 90.0, {}),
        ("door_reopen_repeated", 400.0, None, {}),
        traffic="lunch",
        seed=21,
    )
    r = render(sc, duration_s=1800, period_ms=period_ms, noise=True)
    clean = render(sc, duration_s=1800, period_ms=period_ms, noise=False)
    assert r.truth == clean.truth == clean.rows
    assert len(r.rows) > len(r.truth)
    assert r.labels == clean.labels
    # the labeler applies the contract's debounce itself: labeling the noisy rows gives the same answer
    assert _labels(r.rows, sc.elevator) == [lab.to_json_dict() for lab in r.labels]
    # every disturbance is an excursion well under its threshold
    for name, limit in (("door_zone", 100), ("door_lock", 100), ("occupied", 5000)):
        excursions = periods(r.rows, lambda row, n=name: getattr(row, n) != getattr(_state_at(r.truth, row.t_ms), n))
        assert excursions, f"no {name} noise at all"
        for s, e in excursions:
            assert e - s < limit * 0.9, (name, s, e)
    door_bounces = periods(
        r.rows, lambda row: row.door is Door.OPENING and _state_at(r.truth, row.t_ms).door is Door.CLOSED
    )
    assert door_bounces and all(e - s < 90 for s, e in door_bounces)


def _state_at(truth: list[SignalSnapshot], t: int) -> SignalSnapshot:
    lo, hi = 0, len(truth) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if truth[mid].t_ms <= t:
            lo = mid
        else:
            hi = mid - 1
    return truth[lo]


@pytest.mark.parametrize("sample", sorted(p.stem for p in SAMPLES.glob("*.csv")))
def test_labeler_reproduces_contract_samples(sample: str) -> None:
    """The contract's own noisy samples: the labeler gives exactly their events."""
    with (SAMPLES / f"{sample}.csv").open() as f:
        reader = TraceReader(f, sample)
        rows = list(reader)
    st = reader.settings
    got = [lab.to_json_dict() for lab in label_rows(rows, st.lowest_floor, st.highest_floor, st.rated_speed_mm_s)]
    want = [json.loads(line) for line in (SAMPLES / f"{sample}.events.jsonl").read_text().splitlines() if line]
    key = lambda e: (e["t_ms"], e["type"], e["action"])  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, want))


@pytest.mark.parametrize(
    ("traffic", "period_ms", "elevator"),
    [
        ("morning", None, default_elevator()),
        ("lunch", 100, ElevatorSpec(0, 20, 2500, 3300)),
        ("evening", None, ElevatorSpec(1, 7, 1000, 3000, presence_sensor=False)),
        ("night", 50, ElevatorSpec(-2, 30, 3000, 3600)),
    ],
)
def test_normal_traffic_has_no_labels(traffic: str, period_ms: int | None, elevator: ElevatorSpec) -> None:
    r = render(Scenario(elevator, (), traffic, seed=33), duration_s=3600, period_ms=period_ms, noise=True)
    assert r.labels == []
    assert sum(1 for a, b in zip(r.truth, r.truth[1:], strict=False) if not a.running and b.running) > 3


def _stop_outside(rows: list[SignalSnapshot]) -> int:
    return periods(rows, lambda r: not r.running and not r.door_zone and r.door is Door.CLOSED)[0][0]


def test_trap_between_floors_with_presence_sensor_labels() -> None:
    r = render(scenario(("trap_between_floors", 60.0, 120.0, {})), duration_s=600, noise=True)
    stop = _stop_outside(r.truth)
    raises = {lab.type: lab.t_ms for lab in r.labels if lab.action == "raise"}
    assert raises["stop_outside_door_zone"] == stop + 15_000
    assert raises["entrapment"] == stop + 20_000
    clears = {lab.type: lab.t_ms for lab in r.labels if lab.action == "clear"}
    relevel = next(s.t_ms for s in r.truth if s.t_ms > stop and s.running)
    assert clears["entrapment"] == relevel + 2000  # the re-level run clears it after 2 s


def test_trap_without_presence_sensor_waits_for_the_alarm_button() -> None:
    spec = ElevatorSpec(-1, 12, 1750, 3500, presence_sensor=False)
    r = render(scenario(("trap_between_floors", 60.0, 150.0, {}), elevator=spec), duration_s=600)
    stop = _stop_outside(r.truth)
    first_press = periods(r.truth, lambda s: s.alarm_button)[0][0]
    assert first_press > stop + 20_000
    raises = [lab for lab in r.labels if lab.type == "entrapment" and lab.action == "raise"]
    assert [lab.t_ms for lab in raises] == [first_press + 500]


def test_trap_at_landing_raises_after_90_s() -> None:
    r = render(scenario(("trap_at_landing", 60.0, 150.0, {})), duration_s=600)
    stuck = periods(r.truth, lambda s: not s.running and s.door_zone and s.door is Door.CLOSED and s.occupied)
    start = max(stuck, key=lambda p: p[1] - p[0])[0]
    assert [lab.t_ms for lab in r.labels if lab.type == "entrapment" and lab.action == "raise"] == [start + 90_000]


def test_controller_fault_label_carries_code() -> None:
    r = render(scenario(("controller_fault", 60.0, 20.0, {"code": 4201})), duration_s=300)
    assert [lab.to_json_dict() for lab in r.labels] == [
        {"t_ms": 60_000, "type": "controller_fault", "action": "raise", "fault_code": 4201},
        {"t_ms": 81_000, "type": "controller_fault", "action": "clear", "fault_code": 4201},
    ]


def test_rendering_is_far_faster_than_real_time() -> None:
    sc = Scenario(default_elevator(), (), "lunch", seed=3)
    t0 = time.perf_counter()
    r = render(sc, duration_s=3600, noise=True)
    elapsed = time.perf_counter() - t0
    ratio = 3600 / elapsed
    print(f"on-change render: {ratio:.0f}x real time ({len(r.rows)} rows)")
    assert ratio > 100
