"""`elev-agent replay TRACE [--config FILE] [--trends] [--debug]`: run the detector over an elevator-trace/1 file.

Prints one JSON object per raise or clear, in time order (`../shared/contract/trace.md`). The
detector is the very object the live agent runs; replay only feeds it rows and, at the end, lets
time run on to the last row's `t_ms` (nothing is raised or cleared after it).

`--trends` adds trend watch's advisories (`elev-agent trends`, docs/trend-watch.md) to the events,
in time order; without it the output is exactly the contract's.

A malformed trace exits with status 2 and one line `FILE:LINE: problem` on stderr, and prints no
events: a half-replayed trace must not be mistaken for a clean one.

Speed (goal 200,000 rows/s on one core): the header is read by `protocols.signals.TraceReader`,
the rows by a loop here that recognises a row repeating the previous row's state by its text,
so periodic renderings cost a string comparison per unchanged row. Rows that differ are parsed by
the same `parse_row` as the reader (and cached by their text, as states recur run after run).
Timers need no per-row call: the next changed row, or the end of the trace, fires them at their
exact moments.

A row states the state from its `t_ms` until the next row, so a row followed by another at the
same `t_ms` held for no time: it is validated but not fed to the detector (a zero-length state
neither starts nor breaks a hold).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tomllib
from collections.abc import Iterator
from typing import IO, Any

from edge_agent.detect import Detector, DetectorConfig, DetectorConfigError, ElevatorLimits
from edge_agent.trend.watch import TrendConfigError
from protocols.events import Event
from protocols.signals import TraceError, TraceReader, parse_row

log = logging.getLogger("elev-agent.replay")

_CACHE_MAX = 50_000


class ReplayError(Exception):
    """A problem with replay's input or configuration; `str()` is the one line to print."""


class _CountingLines:
    """Iterates lines and counts them, so rows read after the header keep the right line numbers."""

    def __init__(self, lines: IO[str]) -> None:
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def read_table(path: str, name: str, error: type[Exception]) -> dict[str, Any]:
    """Table `[name]` of the agent's TOML file ({} when absent); `error` is the command's one-line error."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise error(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise error(f"{path}: [{name}] must be a table")
    return table


def load_detection_config(path: str) -> DetectorConfig:
    """The `[detection]` table of the agent's TOML file (absent: contract defaults)."""
    return DetectorConfig.from_mapping(read_table(path, "detection", ReplayError), path)


def replay(stream: IO[str], source: str, config: DetectorConfig) -> list[Event]:
    """Every event of the trace in `stream`, in time order; raises TraceError for a malformed trace."""
    lines = _CountingLines(stream)
    reader = TraceReader(lines, source)
    detector = Detector(ElevatorLimits.from_settings(reader.settings), config)
    step = detector.step_state
    events: list[Event] = []
    cache: dict[str, tuple[object, ...]] = {}
    lineno = lines.count
    last_t = 0
    prev_rest: str | None = None
    prev_state: tuple[object, ...] | None = None
    prev_parts: list[str] = [""]
    # The latest row waits until a later t_ms shows it held for some time (see below).
    held: tuple[object, ...] | None = None
    held_t = -1
    held_only_speed = False
    for line in lines._lines:
        lineno += 1
        t_text, _, rest = line.partition(",")
        if rest == prev_rest:
            # Same state as the previous row: only its time needs checking.
            try:
                t = int(t_text)
            except ValueError:
                t = -1
            if t < last_t:
                _check_row(line, source, lineno, last_t)
            last_t = t
            continue
        parts = rest.split(",", 4)
        only_speed = False
        state = None
        if parts[-1] == prev_parts[-1] and parts[:3] == prev_parts[:3] and prev_state is not None:
            # Only the speed differs from the previous row (most rows of a run, on change).
            try:
                speed = int(parts[3])
            except (ValueError, IndexError):
                speed = -1
            if speed >= 0:
                state = (*prev_state[:3], speed, *prev_state[4:])
                only_speed = True
        if state is None:
            state = cache.get(rest)
        if state is None:
            text = line.strip()
            if not text:
                continue
            if text[0] == "#":
                raise TraceError(source, lineno, "'#' lines are only allowed before the header")
            try:
                snap = parse_row(text.split(","))
            except ValueError as exc:
                raise TraceError(source, lineno, str(exc)) from None
            t = snap.t_ms
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            state = cache[rest] = snap[1:]
        else:
            try:
                t = int(t_text)
            except ValueError:
                t = -1
            if t < 0:
                _check_row(line, source, lineno, last_t)
        if t < last_t:
            raise TraceError(source, lineno, f"t_ms goes backwards ({t} after {last_t})")
        prev_rest = rest
        prev_state = state
        prev_parts = parts
        last_t = t
        if t == held_t:
            # A row at the same t_ms as the row before replaces it: that one held for no time.
            held = state
            held_only_speed = False
            continue
        if held is not None:
            out = step(held_t, held, held_only_speed)
            if out:
                events += out
        held_t = t
        held = state
        held_only_speed = only_speed
    if held is not None:
        events += step(held_t, held, held_only_speed)
    events += detector.finish(last_t)
    return events


def _decode(data: bytes, source: str) -> str:
    """The trace as text; a byte that is not UTF-8 is reported with its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TraceError(source, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def _check_row(line: str, source: str, lineno: int, last_t: int) -> None:
    """Raise the TraceError for a row whose time is bad (the slow path, only for broken traces)."""
    try:
        snap = parse_row(line.strip().split(","))
    except ValueError as exc:
        raise TraceError(source, lineno, str(exc)) from None
    raise TraceError(source, lineno, f"t_ms goes backwards ({snap.t_ms} after {last_t})")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elev-agent replay",
        description="Run the detector over an elevator-trace/1 file and print its events as JSON lines.",
    )
    p.add_argument("trace", metavar="TRACE", help="trace file, or - for standard input")
    p.add_argument("--config", metavar="FILE", help="agent TOML file; its [detection] table sets the thresholds")
    p.add_argument(
        "--trends",
        action="store_true",
        help="also run trend watch (elev-agent trends) and print its advisories among the events, in time order",
    )
    p.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_detection_config(args.config) if args.config else DetectorConfig()
        if args.trace == "-":
            source, data = "<stdin>", sys.stdin.buffer.read()
        else:
            source = args.trace
            try:
                with open(args.trace, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise ReplayError(f"{args.trace}: cannot open trace: {exc.strerror or exc}") from None
        text = _decode(data, source)
        events = replay(io.StringIO(text), source, config)
        lines = [(e.t_ms, e.to_json_dict()) for e in events]
        if args.trends:
            from edge_agent.trend.trends_cmd import TrendsError, load_trend_config, trends

            try:
                trend_config = load_trend_config(args.config) if args.config else None
                advisories, _ = trends(io.StringIO(text), source, trend_config)
            except (TrendsError, TrendConfigError) as exc:
                raise ReplayError(str(exc)) from None
            lines += [(a.t_ms, a.to_json_dict()) for a in advisories]
            lines.sort(key=lambda tl: tl[0])  # stable: an event before an advisory of the same ms
    except (TraceError, ReplayError, DetectorConfigError) as exc:
        if args.debug:
            log.exception("replay failed")
        print(str(exc), file=sys.stderr)
        return 2
    dumps = json.dumps
    out = "".join(dumps(d, separators=(",", ":")) + "\n" for _, d in lines)
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    log.debug("%d events", len(events))
    return 0
