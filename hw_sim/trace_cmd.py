"""`elev-sim trace`: render a scenario as an elevator-trace/1 file plus its labeled events.

    elev-sim trace --scenario FILE --out TRACE.csv [--duration-s N] [--period-ms 100 | --on-change]
                   [--seed N] [--noise | --no-noise] [--traffic PATTERN]

Writes TRACE.csv and TRACE.events.jsonl (the events detection.md says must follow, labeled from
the simulator's ground truth) and prints one JSON line per injected fault on stdout, like
`elev-sim run` does (`t_ms` is the trace time; there is no wall clock in a rendering).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from hw_sim.render import render, write_rendering
from hw_sim.scenario import TRAFFIC_PATTERNS, Scenario, ScenarioError, default_elevator, load_scenario

log = logging.getLogger("elev-sim.trace")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="elev-sim trace", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", type=Path, help="scenario TOML (default: a 14-landing car, office traffic, no faults)")
    p.add_argument("--out", type=Path, required=True, help="trace to write (NAME.csv; NAME.events.jsonl beside it)")
    p.add_argument("--duration-s", type=float, help="simulated seconds (default: scenario's, or until faults play out)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--period-ms", type=int, help="a row every N ms (sampled state)")
    g.add_argument("--on-change", action="store_true", help="a row on every change (default)")
    p.add_argument("--seed", type=int, help="override the scenario's random seed")
    p.add_argument("--noise", dest="noise", action="store_true", default=None, help="add sensor noise (default)")
    p.add_argument("--no-noise", dest="noise", action="store_false", help="render the ground truth only")
    p.add_argument("--traffic", choices=TRAFFIC_PATTERNS, help="override the scenario's traffic pattern")
    p.add_argument("--debug", action="store_true", help="tracebacks and debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.duration_s is not None and not 0 < args.duration_s <= 30 * 24 * 3600:
            raise ScenarioError(f"--duration-s: must be > 0 and at most 30 days, got {args.duration_s}")
        if args.period_ms is not None and not 10 <= args.period_ms <= 1000:
            raise ScenarioError(f"--period-ms: must be 10..1000, got {args.period_ms}")
        scenario = load_scenario(args.scenario) if args.scenario else Scenario(default_elevator())
        if args.traffic:
            scenario = replace(scenario, traffic=args.traffic)
        t0 = time.perf_counter()
        r = render(scenario, args.duration_s, args.period_ms, args.noise, args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        trace_path, ev_path = write_rendering(r, args.out)
        elapsed = time.perf_counter() - t0
    except ScenarioError as exc:
        if args.debug:
            raise
        print(f"elev-sim trace: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        print(f"elev-sim trace: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for desc in r.injections:
        print(json.dumps(desc), flush=True)
    ratio = (r.duration_ms / 1000.0) / elapsed if elapsed > 0 else float("inf")
    log.info(
        "%s: %d rows, %d events, %.0f simulated s in %.2f s (%.0fx real time); events in %s",
        trace_path,
        len(r.rows),
        len(r.labels),
        r.duration_ms / 1000.0,
        elapsed,
        ratio,
        ev_path,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
