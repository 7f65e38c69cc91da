#!/usr/bin/env python3
"""How much faster than real time `elev-sim trace` renders, per traffic pattern and rendering.

    python bench/sim_speed.py [--hours 10] [--patterns morning,lunch,evening,night]

Prints a table: simulated hours, wall seconds, simulated-to-real ratio and rows per second, for
the full pipeline (model + labels + noise, no file IO) and for writing the CSV as well.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw_sim.render import render  # noqa: E402
from hw_sim.scenario import Scenario, default_elevator  # noqa: E402
from protocols.signals import write_trace  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--patterns", default="morning,lunch,evening,night")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON line, last")
    args = ap.parse_args(argv)
    results = []
    print(f"{'traffic':10s} {'rendering':12s} {'sim h':>6s} {'wall s':>7s} {'ratio':>8s} {'rows':>9s} {'rows/s':>8s}")
    for pattern in args.patterns.split(","):
        for period in (None, 100):
            sc = Scenario(default_elevator(), (), pattern, args.seed)
            t0 = time.perf_counter()
            r = render(sc, duration_s=args.hours * 3600, period_ms=period, noise=True)
            write_trace(io.StringIO(), r.settings, r.rows)
            wall = time.perf_counter() - t0
            name = "on-change" if period is None else f"period-{period}ms"
            print(
                f"{pattern:10s} {name:12s} {args.hours:6.1f} {wall:7.2f} {args.hours * 3600 / wall:7.0f}x "
                f"{len(r.rows):9d} {len(r.rows) / wall:8.0f}"
            )
            results.append(
                {
                    "traffic": pattern,
                    "rendering": name,
                    "ratio": round(args.hours * 3600 / wall),
                    "rows_per_s": round(len(r.rows) / wall),
                }
            )
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
