"""`elev-sim weeks`: render weeks of an elevator's life, healthy or wearing out, as one trace.

    elev-sim weeks --out TRACE.csv --days N [--wear KIND --rate R [--onset-day D]]
                   [--scenario FILE] [--seed N] [--window-s S] [--traffic PATTERN] [--noise]

The trace's `# key=value` settings carry the labels (`wear`, `wear_onset_ms`,
`wear_detectable_ms`, `breakdown_ms`; hw_sim.wear); a wearing elevator's trace ends at its
breakdown. `elev-agent trends TRACE` judges it. Only the scenario's `[elevator]` is used (its
traffic and injections are not: the busy window's traffic is `--traffic`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from hw_sim.scenario import ScenarioError, default_elevator, load_scenario
from hw_sim.traffic import PATTERNS
from hw_sim.wear import DAY_MS, KINDS, Wear, render_weeks
from protocols.signals import write_trace

log = logging.getLogger("elev-sim.weeks")


def _parser() -> argparse.ArgumentParser:
    kinds = "; ".join(f"{k}: {v.what} (rate in {v.unit} a day)" for k, v in KINDS.items())
    p = argparse.ArgumentParser(prog="elev-sim weeks", description=__doc__.split("\n\n")[0], epilog=f"wear: {kinds}")
    p.add_argument("--out", type=Path, required=True, help="trace to write")
    p.add_argument("--days", type=int, required=True, help="simulated days (1..3650)")
    p.add_argument("--wear", choices=sorted(KINDS), help="what wears (default: a healthy elevator)")
    p.add_argument("--rate", type=float, help="wear per day, in the kind's unit (needed with --wear)")
    p.add_argument("--onset-day", type=float, default=10.0, help="the day the wear starts (default 10)")
    p.add_argument("--scenario", type=Path, help="scenario TOML whose [elevator] to simulate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window-s", type=float, default=1800.0, help="busy seconds a day (default 1800)")
    p.add_argument("--traffic", default="lunch", choices=[n for n, t in PATTERNS.items() if t.parties_per_hour > 0])
    p.add_argument("--noise", action="store_true", help="add sensor noise (contact bounces, PIR drop-outs)")
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
        if not 1 <= args.days <= 3650:
            raise ScenarioError(f"--days: must be 1..3650, got {args.days}")
        if (args.wear is None) != (args.rate is None):
            raise ScenarioError("--wear and --rate go together")
        wear = Wear(args.wear, args.rate, args.onset_day) if args.wear else None
        elevator = load_scenario(args.scenario).elevator if args.scenario else default_elevator()
        t0 = time.perf_counter()
        r = render_weeks(
            elevator, args.days, wear, seed=args.seed, window_s=args.window_s, traffic=args.traffic, noise=args.noise
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            write_trace(f, r.settings, r.rows)
        tmp.replace(args.out)
        elapsed = time.perf_counter() - t0
    except ScenarioError as exc:
        if args.debug:
            raise
        print(f"elev-sim weeks: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        print(f"elev-sim weeks: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    end = r.breakdown_ms if r.breakdown_ms is not None else args.days * DAY_MS
    log.info(
        "%s: %d rows, %.1f simulated days in %.1f s%s",
        args.out,
        len(r.rows),
        end / DAY_MS,
        elapsed,
        f"; breaks down on day {r.breakdown_ms / DAY_MS:.1f}" if r.breakdown_ms is not None else "",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
