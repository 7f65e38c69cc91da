"""`elev-agent trends TRACE [--config FILE] [--debug]`: trend watch over a (multi-week) trace.

The trace's rows go through the very reporting policy the live agent runs (`Reporter`, which
turns them into trip and door-cycle records with their statistics) and into `TrendWatch`, with
the trace's t_ms as the clock. Prints one JSON object per advisory raise or clear, in time order
(`Advisory.to_json_dict`: type, action, class "advisory", the figure, its daily value, baseline
and bound); `--summary` adds one last line with the baselines and the advisories still raised.

Exit status and errors as `elev-agent replay`: a malformed trace or config prints one line
`FILE:LINE: problem` on stderr, prints no advisories and exits 2.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Iterable
from typing import IO

from edge_agent.report.policy import Reporter
from edge_agent.trend.watch import Advisory, TrendConfig, TrendConfigError, TrendWatch
from protocols.frames import DoorCycle, Trip
from protocols.signals import SignalSnapshot, TraceError, TraceReader

log = logging.getLogger("elev-agent.trends")


class TrendsError(Exception):
    """A problem with the input or configuration; `str()` is the one line to print."""


def load_trend_config(path: str) -> TrendConfig:
    """The `[trend]` table of the agent's TOML file (absent: the documented defaults)."""
    from edge_agent.replay import read_table  # replay imports this module lazily for --trends

    return TrendConfig.from_mapping(read_table(path, "trend", TrendsError), path)


def watch_rows(rows: Iterable[SignalSnapshot], config: TrendConfig | None = None) -> tuple[list[Advisory], TrendWatch]:
    """Every advisory of a stream of snapshots, in time order, and the watch (for its baselines)."""
    reporter = Reporter()
    watch = TrendWatch(config)
    out: list[Advisory] = []
    last_t = 0
    for s in rows:
        last_t = s.t_ms
        for _, body in reporter.step(s):
            if isinstance(body, Trip):
                out += watch.trip(body, s.t_ms)
            elif isinstance(body, DoorCycle):
                out += watch.door(body, s.t_ms)
    out += watch.tick(last_t)
    out += watch.finish(last_t)
    return out, watch


def trends(stream: IO[str], source: str, config: TrendConfig | None = None) -> tuple[list[Advisory], TrendWatch]:
    """Advisories of the trace in `stream`; raises TraceError for a malformed trace."""
    reader = TraceReader(stream, source)
    return watch_rows(reader, config)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elev-agent trends",
        description="Run trend watch over an elevator-trace/1 file (weeks of it) and print advisories as JSON lines.",
    )
    p.add_argument("trace", metavar="TRACE", help="trace file, or - for standard input")
    p.add_argument("--config", metavar="FILE", help="agent TOML file; its [trend] table sets the rule's numbers")
    p.add_argument("--summary", action="store_true", help="end with one line: baselines, bounds, still raised")
    p.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    return p


def read_trace_text(path: str) -> tuple[str, str]:
    """(source name, text) of a trace file or `-`; bytes that are not UTF-8 are named by line."""
    if path == "-":
        source, data = "<stdin>", sys.stdin.buffer.read()
    else:
        source = path
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise TrendsError(f"{path}: cannot open trace: {exc.strerror or exc}") from None
    try:
        return source, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TraceError(source, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def summary(watch: TrendWatch) -> dict[str, object]:
    return {
        "summary": True,
        "days": watch.days_seen,
        "learned": watch.learned,
        "baselines": {k: {"baseline": round(b, 3), "bound": round(u, 3)} for k, (b, u) in watch.baselines().items()},
        "raised": watch.raised(),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_trend_config(args.config) if args.config else TrendConfig()
        source, text = read_trace_text(args.trace)
        advisories, watch = trends(io.StringIO(text), source, config)
    except (TraceError, TrendsError, TrendConfigError) as exc:
        if args.debug:
            log.exception("trends failed")
        print(str(exc), file=sys.stderr)
        return 2
    lines = [json.dumps(a.to_json_dict(), separators=(",", ":")) for a in advisories]
    if args.summary:
        lines.append(json.dumps(summary(watch), separators=(",", ":")))
    try:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    return 0
