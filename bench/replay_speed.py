"""Replay speed: rows per second of the `elev-agent replay` path on one core, next to the goal.

usage: bench/replay_speed.py [--hours H] [--trace FILE ...]

Without `--trace` it measures three kinds of trace: the project simulator's office traffic
(`elev-sim trace`, with sensor noise) rendered on change and at a 100 ms period; a simple built-in
traffic generator rendered both ways; and the contract's samples end to end (on change, noisy).
On-change renderings are the hard case: nearly every row differs from the last. Each trace is
replayed in this process through `edge_agent.replay.replay` (parse + detect, the whole path but
interpreter start-up), pinned to one core; the best CPU time of five runs is reported.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.detect import DetectorConfig  # noqa: E402
from edge_agent.replay import replay  # noqa: E402
from protocols.signals import HEADER_LINE, TRACE_FORMAT  # noqa: E402

GOAL_ROWS_S = 200_000


def traffic(hours: float, seed: int = 7) -> list[tuple[int, list[str]]]:
    """Change points of normal traffic: (t_ms, row fields after t_ms)."""
    rng = random.Random(seed)
    end = int(hours * 3600_000)
    t = 0
    floor = 1
    rows: list[tuple[int, list[str]]] = []

    def put(t: int, fl: int, d: int, run: int, speed: int, door: str, zone: int, lock: int, occ: int) -> None:
        rows.append((t, [str(fl), str(d), str(run), str(speed), door, str(zone), str(lock), "1", str(occ), "0", "1"]))
        rows[-1][1].extend(["normal", "0"])

    occ = 0
    put(0, floor, 0, 0, 0, "closed", 1, 1, occ)
    while t < end:
        t += rng.randint(2_000, 40_000)  # idle
        target = rng.choice([f for f in range(1, 13) if f != floor])
        d = 1 if target > floor else -1
        put(t, floor, d, 1, 0, "closed", 1, 1, occ)
        speed = 0
        fl = floor
        steps = abs(target - floor) * 30
        for i in range(steps):  # 100 ms per step: accelerate, cruise, brake
            t += 100
            remaining = steps - i
            speed = min(1600, speed + 160) if remaining > 10 else max(60, speed - 150)
            if i % 30 == 29:
                fl += d
            zone = 1 if i % 30 in (0, 1, 28, 29) else 0
            put(t, fl, d, 1, speed, "closed", zone, 1, occ)
            if rng.random() < 0.01:  # leveling sensor glitch, 30 ms
                put(t + 30, fl, d, 1, speed, "closed", 1 - zone, 1, occ)
                put(t + 60, fl, d, 1, speed, "closed", zone, 1, occ)
        floor = target
        t += 100
        put(t, floor, 0, 0, 0, "closed", 1, 1, occ)
        for door, dur in (("opening", 2000), ("open", rng.randint(3000, 8000)), ("closing", 2500)):
            t += 400 if door == "opening" else 0
            put(t, floor, 0, 0, 0, door, 1, 0, occ)
            if door == "open":
                occ = rng.choice([0, 1])
                put(t + 700, floor, 0, 0, 0, door, 1, 0, occ)
            t += dur
        put(t, floor, 0, 0, 0, "closed", 1, 1, occ)
        if occ and rng.random() < 0.3:  # presence drop-out of 2 s
            put(t + 1000, floor, 0, 0, 0, "closed", 1, 1, 0)
            put(t + 3000, floor, 0, 0, 0, "closed", 1, 1, occ)
            t += 3000
        occ = 0 if rng.random() < 0.7 else occ
        put(t + 500, floor, 0, 0, 0, "closed", 1, 1, occ)
        t += 500
    rows.sort(key=lambda r: r[0])
    return rows


def render(rows: list[tuple[int, list[str]]], period_ms: int | None) -> str:
    out = io.StringIO()
    out.write(f"# format={TRACE_FORMAT}\n# rated_speed_mm_s=1600\n# lowest_floor=1\n# highest_floor=12\n")
    out.write(HEADER_LINE + "\n")
    if period_ms is None:
        for t, fields in rows:
            out.write(f"{t}," + ",".join(fields) + "\n")
        return out.getvalue()
    i = 0
    t = 0
    end = rows[-1][0]
    while t <= end:  # the state at each period tick, plus the change points themselves
        while i + 1 < len(rows) and rows[i + 1][0] <= t:
            i += 1
            out.write(f"{rows[i][0]}," + ",".join(rows[i][1]) + "\n")
        out.write(f"{t}," + ",".join(rows[i][1]) + "\n")
        t += period_ms
    return out.getvalue()


def samples_concatenated(copies: int) -> str | None:
    """The contract's sample traces (on-change renderings with noise) end to end, `copies` times."""
    samples = Path(__file__).resolve().parents[2] / "shared" / "contract" / "samples"
    body: list[str] = []
    offset = 0
    for _ in range(copies):
        for path in sorted(samples.glob("*.csv")):
            last = 0
            for line in path.read_text().splitlines():
                if line[:1].isdigit():
                    t, rest = line.split(",", 1)
                    last = int(t)
                    # Same limits for every copy, so floors stay in range.
                    body.append(f"{last + offset},{rest}")
            offset += last + 1000
    if not body:
        return None
    head = f"# format={TRACE_FORMAT}\n# rated_speed_mm_s=2500\n# lowest_floor=-2\n# highest_floor=24\n"
    return head + HEADER_LINE + "\n" + "\n".join(body) + "\n"


def simulator_traces(hours: float, tmp: Path) -> list[tuple[str, str]]:
    """Office traffic from `elev-sim trace` (empty if the simulator is not installed)."""
    sim = Path(sys.executable).parent / "elev-sim"
    out: list[tuple[str, str]] = []
    for label, flags in (("on change", ["--on-change"]), ("100 ms period", ["--period-ms", "100"])):
        path = tmp / f"sim-{len(out)}.csv"
        cmd = [str(sim), "trace", "--out", str(path), "--duration-s", str(int(hours * 3600)), *flags]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if r.returncode != 0:
            print(f"(elev-sim trace failed, skipped: {r.stderr.strip()[-200:]})", file=sys.stderr)
            return []
        out.append((f"elev-sim office {hours:g} h, {label}", path.read_text()))
    return out


def measure(text: str, name: str) -> tuple[int, float, float, int]:
    """(rows, best CPU seconds, best wall seconds, events) over five runs."""
    nrows = text.count("\n") - 5
    best_cpu = best_wall = float("inf")
    nevents = 0
    for _ in range(5):
        c0, w0 = time.process_time(), time.perf_counter()
        nevents = len(replay(io.StringIO(text), name, DetectorConfig()))
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return nrows, best_cpu, best_wall, nevents


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=4.0, help="simulated hours of traffic (default 4)")
    ap.add_argument("--trace", nargs="*", default=[], help="replay these trace files instead")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON line, last")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    cases: list[tuple[str, str]] = []
    if args.trace:
        cases = [(p, Path(p).read_text()) for p in args.trace]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            cases += simulator_traces(args.hours, Path(tmp))
        rows = traffic(args.hours)
        cases += [
            (f"traffic {args.hours:g} h, 100 ms period", render(rows, 100)),
            (f"traffic {args.hours:g} h, on change", render(rows, None)),
        ]
        concatenated = samples_concatenated(20)
        if concatenated is not None:
            cases.append(("contract samples x20, on change + noise", concatenated))
    print(f"{'trace':40s} {'rows':>8s} {'cpu s':>6s} {'rows/s':>8s} {'wall rows/s':>11s} {'goal':>8s}  verdict  events")
    ok = True
    results = []
    for name, text in cases:
        nrows, cpu, wall, nevents = measure(text, name)
        rate = nrows / cpu
        verdict = "ok" if rate >= GOAL_ROWS_S else "SLOW"
        ok &= rate >= GOAL_ROWS_S
        wall_rate = nrows / wall
        print(f"{name:40s} {nrows:8d} {cpu:6.2f} {rate:8.0f} {wall_rate:11.0f} {GOAL_ROWS_S:8d}  ", end="")
        print(f"{verdict:7s}  {nevents}")
        results.append({"trace": name, "rows": nrows, "rows_per_cpu_s": round(rate), "wall_rows_s": round(wall_rate)})
    print("rows/s = rows / CPU seconds of one process pinned to one core (best of 5); wall rows/s for reference")
    if args.json:
        print(json.dumps(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
