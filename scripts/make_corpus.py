#!/usr/bin/env python3
"""Write a labeled trace corpus for checking the detector: every fault in several variants plus
hours of normal traffic that must produce no event at all.

    python scripts/make_corpus.py OUT_DIR [--hours-normal 10] [--variants 3] [--seed 1]

For each trace NAME the directory gets NAME.csv (elevator-trace/1, with sensor noise),
NAME.events.jsonl (the events detection.md says must follow, from the simulator's ground truth)
and NAME.scenario.toml (the scenario that made it, to re-render with `elev-sim trace`). Variants
differ in building, speed, presence sensor, traffic, fault timing, duration and fault keys, and
alternate between on-change and periodic renderings. MANIFEST.json lists every trace.

Check a detector against it with ../shared/tools/check_replay.py OUT_DIR.
Exit status 1 if a normal-traffic trace got a label (the simulator would be raising false alarms).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw_sim.render import render, write_rendering  # noqa: E402
from hw_sim.scenario import FAULTS, SERVICE_MODES, ScenarioError, load_scenario  # noqa: E402

BUILDINGS: tuple[dict[str, int], ...] = (
    {"lowest_floor": -1, "highest_floor": 12, "rated_speed_mm_s": 1750, "floor_height_mm": 3500},
    {"lowest_floor": 0, "highest_floor": 20, "rated_speed_mm_s": 2500, "floor_height_mm": 3300},
    {"lowest_floor": 1, "highest_floor": 7, "rated_speed_mm_s": 1000, "floor_height_mm": 3000},
    {"lowest_floor": -2, "highest_floor": 30, "rated_speed_mm_s": 3000, "floor_height_mm": 3600},
)
PATTERNS = ("office", "morning", "lunch", "evening", "night", "day")


def fault_variant(fault: str, k: int, rng: random.Random) -> tuple[dict[str, Any], float | None]:
    """Fault-specific keys and duration for variant k (None = the fault's default duration)."""
    pick = rng.choice
    if fault == "trap_between_floors":
        return {"passengers": 1 + k % 3, "code": pick([0, 0, 3601, 2201])}, float(rng.randint(90, 300))
    if fault == "trap_at_landing":
        return {"passengers": 1 + k % 2, "code": pick([0, 4801])}, float(rng.randint(120, 300))
    if fault == "power_failure":
        return {"when": ("running", "now")[k % 2]}, float(rng.randint(20, 150))
    if fault == "safety_circuit_open":
        return {"when": ("running", "now")[k % 2], "code": pick([4100, 0, 4101])}, float(rng.randint(20, 120))
    if fault == "door_open_while_running":
        return {"open_s": round(rng.uniform(3, 10), 1)}, float(rng.randint(12, 40))
    if fault == "overspeed":
        return {"factor": round(rng.uniform(1.2, 1.35), 2)}, float(rng.randint(30, 120))
    if fault in ("overtravel_top", "overtravel_bottom"):
        return {"final_limit": k % 2 == 0}, float(rng.randint(40, 120))
    if fault == "run_timeout":
        return {"limit_s": float(rng.randint(48, 60))}, float(rng.randint(70, 150))
    if fault == "door_lock_lost":
        return {"lost_s": round(rng.uniform(0.5, 3.0), 1)}, float(rng.randint(10, 40))
    if fault == "door_reopen_repeated":
        return {"cycles": rng.randint(10, 16)}, None
    if fault == "door_open_too_long":
        return {}, float(rng.randint(65, 180))
    if fault == "controller_fault":
        return {"code": pick([3601, 4201, 2201, 3002, 5101])}, float(rng.randint(5, 120))
    if fault == "alarm_button":
        return {"presses": 1 + k % 3, "interval_s": float(rng.randint(5, 20))}, round(rng.uniform(0.8, 5.0), 1)
    if fault == "inspection":
        return {"alarm_test": k % 2 == 1, "moves": rng.randint(2, 6)}, float(rng.randint(240, 900))
    return {}, float(rng.randint(20, 120))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def scenario_toml(
    building: dict[str, int],
    presence: bool,
    traffic: str,
    seed: int,
    duration_s: float,
    injections: list[dict[str, Any]],
    noise: dict[str, Any] | None = None,
) -> str:
    lines = [f"seed = {seed}", f"duration_s = {duration_s}", f'traffic = "{traffic}"', "", "[elevator]"]
    lines += [f"{k} = {v}" for k, v in building.items()]
    lines.append(f"presence_sensor = {_toml_value(presence)}")
    if noise:
        lines += ["", "[noise]"] + [f"{k} = {_toml_value(v)}" for k, v in noise.items()]
    for inj in injections:
        lines += ["", "[[inject]]"] + [f"{k} = {_toml_value(v)}" for k, v in inj.items()]
    return "\n".join(lines) + "\n"


# The event each fault must raise in its trace (None: no single event is guaranteed).
PRIMARY: dict[str, str | None] = {
    "trap_between_floors": "stop_outside_door_zone",
    "trap_at_landing": None,  # entrapment needs presence for 90 s, or an alarm press
    "power_failure": "power_failure",
    "safety_circuit_open": "safety_circuit_open",
    "door_open_while_running": "door_open_while_running",
    "overspeed": "overspeed",
    "overtravel_top": "overtravel_top",
    "overtravel_bottom": "overtravel_bottom",
    "run_timeout": "run_timeout",
    "door_lock_lost": "door_lock_lost",
    "door_reopen_repeated": "door_reopen_repeated",
    "door_open_too_long": "door_open_too_long",
    "controller_fault": "controller_fault",
    "alarm_button": "alarm_button",
    "inspection": "inspection",
}
# Several things at once: faults during faults, suppression by service modes, code changes.
COMBOS: dict[str, list[dict[str, Any]]] = {
    "trap_then_power": [
        {"at_s": 0.0, "fault": "trap_between_floors", "duration_s": 240.0},
        {"at_s": 100.0, "fault": "power_failure", "duration_s": 60.0},
    ],
    "inspection_masks_faults": [
        {"at_s": 0.0, "fault": "inspection", "duration_s": 600.0, "alarm_test": True},
        {"at_s": 150.0, "fault": "controller_fault", "duration_s": 60.0, "code": 3601},
        {"at_s": 250.0, "fault": "alarm_button", "duration_s": 2.0},
    ],
    "fault_code_change": [
        {"at_s": 0.0, "fault": "controller_fault", "duration_s": 30.0, "code": 3601},
        {"at_s": 15.0, "fault": "controller_fault", "duration_s": 40.0, "code": 4201},
    ],
    "out_of_service_then_trap": [
        {"at_s": 0.0, "fault": "out_of_service", "duration_s": 200.0},
        {"at_s": 260.0, "fault": "trap_at_landing", "duration_s": 150.0},
    ],
}
NOISY = {"bounce_per_hour": 600.0, "dropout_per_min": 4.0}
# Just under and just over a rule's threshold (the labels say which side each falls on).
EDGES: tuple[tuple[str, float, dict[str, Any]], ...] = (
    ("alarm_button", 0.4, {}),
    ("alarm_button", 0.65, {}),
    ("power_failure", 0.8, {"when": "now"}),
    ("power_failure", 1.4, {"when": "now"}),
    ("safety_circuit_open", 0.4, {"when": "now", "code": 0}),
    ("safety_circuit_open", 0.7, {"when": "now", "code": 0}),
    ("door_open_too_long", 55.0, {}),  # the door is not closed for duration + closing (2.5 s)
    ("door_open_too_long", 59.0, {}),
    ("door_reopen_repeated", 0.0, {"cycles": 8}),  # the first opening + 8 reopenings = 9
    ("door_reopen_repeated", 0.0, {"cycles": 9}),
    ("trap_between_floors", 8.0, {}),
    ("trap_between_floors", 16.0, {}),
)
END_MARGIN_MS = 30_000  # no label this close to the end, where a checker's tolerance gets cut off


def make_one(out: Path, name: str, toml_text: str, period_ms: int | None, fault: str | None = None) -> dict[str, Any]:
    """Render one trace; if its fault did not show (or a label falls near the end), try a longer run."""
    scen_path = out / f"{name}.scenario.toml"
    for attempt in range(4):
        scen_path.write_text(toml_text, encoding="utf-8")
        scenario = load_scenario(scen_path)
        r = render(scenario, period_ms=period_ms)
        raised = {lab.type for lab in r.labels if lab.action == "raise"}
        want = PRIMARY.get(fault or "")
        near_end = any(lab.t_ms > r.duration_ms - END_MARGIN_MS for lab in r.labels)
        if (want is None or want in raised) and not near_end:
            break
        if attempt == 3:
            raise ScenarioError(f"{name}: the fault did not produce {want!r} or labels fall at the very end")
        longer = f"duration_s = {(scenario.duration_s or 0) + 600}"
        toml_text = toml_text.replace(f"duration_s = {scenario.duration_s}", longer, 1)  # the top-level one
        if want is not None and want not in raised:
            toml_text = toml_text.replace(f"seed = {scenario.seed}", f"seed = {scenario.seed + 1}", 1)
    write_rendering(r, out / f"{name}.csv")
    return {
        "name": name,
        "rendering": "on-change" if period_ms is None else f"period-{period_ms}ms",
        "duration_s": r.duration_ms / 1000,
        "rows": len(r.rows),
        "events": len(r.labels),
        "raises": sorted({lab.type for lab in r.labels if lab.action == "raise"}),
        "injections": r.injections,
        "presence_sensor": scenario.elevator.presence_sensor,
        "traffic": scenario.traffic,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--hours-normal", type=float, default=10.0, help="hours of fault-free traffic (default 10)")
    ap.add_argument("--variants", type=int, default=3, help="variants per fault (default 3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-service-modes", action="store_true", help="skip fire_service / out_of_service traces")
    args = ap.parse_args(argv)
    if args.variants < 1 or args.hours_normal < 0:
        print("make_corpus: --variants must be >= 1 and --hours-normal >= 0", file=sys.stderr)
        return 2
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    manifest: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    faults = sorted(FAULTS) + ([] if args.no_service_modes else sorted(SERVICE_MODES))
    try:
        for fault in faults:
            for k in range(args.variants):
                building = BUILDINGS[(k + len(fault)) % len(BUILDINGS)]
                presence = (k + len(fault)) % 2 == 0
                traffic = PATTERNS[(k * 2 + len(fault)) % len(PATTERNS)]
                params, dur = fault_variant(fault, k, rng)
                at_s = float(rng.randint(60, 240))
                inj: dict[str, Any] = {"at_s": at_s, "fault": fault}
                if dur is not None:
                    inj["duration_s"] = dur
                inj.update(params)
                tail = (dur or 120.0) + rng.randint(400, 700)
                seed = rng.randint(1, 10**6)
                text = scenario_toml(building, presence, traffic, seed, at_s + tail, [inj])
                period = None if k % 2 == 0 else (100, 50, 200)[(k // 2) % 3]
                manifest.append({"kind": "fault", "fault": fault, **make_one(out, f"{fault}-{k}", text, period, fault)})
        for j, (fault, dur, params) in enumerate(EDGES):
            building = BUILDINGS[j % len(BUILDINGS)]
            inj = {"at_s": float(rng.randint(60, 180)), "fault": fault, **params}
            if dur:
                inj["duration_s"] = dur
            text = scenario_toml(building, j % 2 == 0, "night", rng.randint(1, 10**6), inj["at_s"] + 600.0, [inj])
            period = None if j % 3 else 100
            tag = f"{params['cycles']}x" if "cycles" in params else f"{dur:g}s".replace(".", "_")
            name = f"edge-{fault}-{tag}-{j}"
            manifest.append({"kind": "edge", "fault": fault, **make_one(out, name, text, period)})
        for combo, injections in COMBOS.items():
            for k in range(args.variants):
                building = BUILDINGS[(k + len(combo)) % len(BUILDINGS)]
                at0 = float(rng.randint(60, 180))
                injs = [{**inj, "at_s": at0 + inj["at_s"]} for inj in injections]
                end = max(i["at_s"] + i["duration_s"] for i in injs) + rng.randint(400, 700)
                text = scenario_toml(
                    building, k % 2 == 0, PATTERNS[k % len(PATTERNS)], rng.randint(1, 10**6), end, injs
                )
                period = None if k % 2 == 0 else 100
                manifest.append({"kind": "combo", "fault": combo, **make_one(out, f"combo-{combo}-{k}", text, period)})
        normal_names: list[str] = []
        left = args.hours_normal * 3600.0
        i = 0
        while left > 0:
            chunk = min(3600.0, left)
            left -= chunk
            building = BUILDINGS[i % len(BUILDINGS)]
            traffic = PATTERNS[i % len(PATTERNS)]
            noisy = i % 4 == 3  # every fourth hour with ten times the bounce and four times the drop-outs
            text = scenario_toml(
                building, i % 2 == 0, traffic, rng.randint(1, 10**6), chunk, [], NOISY if noisy else None
            )
            period = None if i % 3 != 2 else 100
            name = f"normal-{traffic}{'-noisy' if noisy else ''}-{i}"
            manifest.append({"kind": "normal", **make_one(out, name, text, period)})
            normal_names.append(name)
            i += 1
    except ScenarioError as exc:
        print(f"make_corpus: {exc}", file=sys.stderr)
        return 2
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - t0
    sim_s = sum(m["duration_s"] for m in manifest)
    print(
        f"{len(manifest)} traces, {sim_s / 3600:.1f} simulated h, "
        f"{sum(m['rows'] for m in manifest)} rows, {sum(m['events'] for m in manifest)} events "
        f"in {elapsed:.1f} s ({sim_s / elapsed:.0f}x real time) -> {out}"
    )
    bad = [m["name"] for m in manifest if m["kind"] == "normal" and m["events"]]
    if bad:
        print(f"make_corpus: normal traffic raised events (simulator bug): {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
