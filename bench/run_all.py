"""Every performance measurement of the project, one table: `make bench`.

    .venv/bin/python bench/run_all.py [--only NAME,...] [--no-write] [--quick]

Runs each bench script of this folder one after another (never two at once: they measure the
same two cores), with parameters that finish in about 15 minutes on the project's 2-core machine,
reads each script's machine-readable line (`--json`), prints one table

    figure | measured | goal | result | command to rerun

and writes it to docs/benchmarks.md with the machine (CPUs, CPU model, RAM, Python, OS), the
date, the load average before and after, and a note per figure on how it was measured. A goal the
issues do not state is marked so ("n/a"), not invented. Exit status 1 when a figure misses its
goal or a bench fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = ".venv/bin/python"
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass
class Row:
    figure: str
    measured: str
    goal: str
    verdict: str  # "pass", "FAIL", "n/a"
    command: str


@dataclass
class Bench:
    name: str
    args: list[str]
    rows: Callable[[Any], list[Row]]
    note: str
    timeout_s: float = 900.0
    quick_args: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def last_json(stdout: str) -> Any:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


# --- how each script's output becomes rows ---------------------------------------------------------


def frame_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: list[dict[str, Any]]) -> list[Row]:
        out = []
        for f in r:
            if f["goal"] is None:
                continue
            out.append(
                Row(
                    f"frame size: {f['frame']}",
                    f"{f['msgpack']} B",
                    f"<= {f['goal']:,} B (issue 2)",
                    verdict(f["msgpack"] <= f["goal"]),
                    cmd,
                )
            )
        return out

    return rows


def replay_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: list[dict[str, Any]]) -> list[Row]:
        worst = min(r, key=lambda x: x["rows_per_cpu_s"])
        best = max(r, key=lambda x: x["rows_per_cpu_s"])
        return [
            Row(
                "replay rows/s, one core (slowest of the traces)",
                f"{worst['rows_per_cpu_s']:,} ({worst['trace']}); fastest {best['rows_per_cpu_s']:,}",
                ">= 200,000 (issue 4)",
                verdict(worst["rows_per_cpu_s"] >= 200_000),
                cmd,
            )
        ]

    return rows


def footprint_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        req = r["request"]
        return [
            Row(
                "Modbus RTU request: agent software time vs wire time at 19,200 baud",
                f"{req['agent_cpu_ms']:.2f} ms agent CPU per request ({req['registers']} registers; round trip over "
                f"the pty {req['round_trip_ms']:.2f} ms) vs {req['wire_ms_19200']:.1f} ms on the wire",
                "well under the wire time (issue 5; checked as < 1/4)",
                verdict(req["agent_cpu_ms"] < req["wire_ms_19200"] / 4),
                cmd,
            ),
            Row(
                "agent resident memory",
                f"{r['rss_mb']} MB (peak {r['peak_rss_mb']} MB)",
                "<= 40 MB (issue 5)",
                verdict(r["rss_mb"] <= 40),
                cmd,
            ),
            Row(
                "agent CPU at 10 Hz polling (Modbus TCP)",
                f"{r['cpu_pct']} % of one core",
                "<= 5 % (issue 5)",
                verdict(r["cpu_pct"] <= 5),
                cmd,
            ),
            Row(
                "agent SD writes per elevator-day (busy traffic, extrapolated from the window)",
                f"{r['wchar_mb_per_day']} MB asked, {r['write_bytes_mb_per_day']} MB to the block layer",
                "n/a (issue 5 asks for the figure)",
                "n/a",
                cmd,
            ),
        ]

    return rows


def latency_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        return [
            Row(
                "alarm latency, detector decision -> collector API",
                f"p50 {1000 * r['p50_s']:.0f} ms, p99 {1000 * r['p99_s']:.0f} ms (max {1000 * r['max_s']:.0f} ms, "
                f"{r['alarms']} alarms; to collector receipt p50 {1000 * r['decision_to_received_p50_s']:.0f} ms)",
                "'in seconds' (issue 4); checked as p99 <= 1 s",
                verdict(r["p99_s"] <= 1.0),
                cmd,
            )
        ]

    return rows


def uplink_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        d, dr = r["day"], r["drain"]
        kinds = d["records_by_kind"]
        return [
            Row(
                f"uplink bytes per elevator-day, '{d['traffic']}' traffic, MQTT level",
                f"{d['uplink_bytes_per_day']:,} B ({d['records']:,} records: {kinds.get('status', 0):,} status, "
                f"{kinds.get('heartbeat', 0):,} heartbeats, {kinds.get('event', 0):,} events; {d['frames']:,} frames)",
                "n/a (no figure in the issues)",
                "n/a",
                cmd,
            ),
            Row(
                "time to drain a 24-hour outage backlog to the collector",
                f"{dr['drain_s']} s for {dr['records']:,} records ({dr['records_per_s']:,} records/s)",
                "n/a (no figure in the issues)",
                "n/a",
                cmd,
            ),
        ]

    return rows


def budget_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        out = []
        for d in r["days"]:
            kinds = d["records_by_kind"]
            busy = d["day"] != "night"
            out.append(
                Row(
                    f"uplink bytes per elevator-day, '{d['day']}' ({d['what']}), MQTT level at a TCP relay",
                    f"{d['uplink_bytes_per_day']:,} B ({d['records']:,} records: {kinds.get('trip', 0):,} trips, "
                    f"{kinds.get('door_cycle', 0):,} door cycles, {kinds.get('status', 0):,} status, "
                    f"{kinds.get('heartbeat', 0):,} heartbeats, {kinds.get('event', 0):,} events; "
                    f"{d['frames']:,} frames)",
                    "<= 100 KB/day busy office (issue 14)" if busy else "n/a (quiet day: reported)",
                    verdict(d["uplink_bytes_per_day"] <= 100 * 1024) if busy else "n/a",
                    cmd,
                )
            )
            out.append(
                Row(
                    f"SD bytes written per elevator-day, '{d['day']}' (a full simulated day)",
                    f"{d['sd_block_bytes_per_day']:,} B to the block layer ({d['sd_asked_bytes_per_day']:,} B asked; "
                    f"{d['commits']:,} commits)",
                    "<= 50 MB/day (issue 14)",
                    verdict(d["sd_block_bytes_per_day"] <= 50 * 1024 * 1024),
                    cmd,
                )
            )
        return out

    return rows


def live_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        return [
            Row(
                "live view: controller state change -> broker",
                f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms ({r['measured']} of {r['changes']} "
                f"changes; {r['missed']} shorter than a poll missed)",
                "p95 <= 150 ms (issue 14)",
                verdict(r["p95_ms"] <= 150),
                cmd,
            )
        ]

    return rows


def drain_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        return [
            Row(
                f"drain a 24-hour backlog of {x['records']:,} records, batch_max_records {x['batch_max_records']}",
                f"{x['drain_s']} s ({x['records_per_s']:,} records/s, {x['frames']:,} frames); "
                f"last of {x['events']} events after {x['last_event_s']} s",
                "<= 60 s, alarms first (issue 14)",
                verdict(x["drain_s"] <= 60 and x["events_seen"] >= x["events"]),
                cmd,
            )
            for x in r["runs"]
        ]

    return rows


def ingest_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        tp = r["throughput"]
        names = list(tp)
        bare, fast = tp[names[0]], tp[names[1]]
        ceiling = max(bare, fast)
        out = [
            Row(
                "broker delivery ceiling (bare client, stores nothing, one core)",
                f"{bare:,.0f} frames/s (iterator), {fast:,.0f} frames/s (queue hook)",
                "reference",
                "n/a",
                cmd,
            )
        ]
        for name in names[2:]:
            rate = tp[name]
            out.append(
                Row(
                    f"collector ingest per core: {name.strip()}",
                    f"{rate:,.0f} frames/s = {100 * rate / ceiling:.0f} % of the stricter ceiling "
                    f"({100 * rate / bare:.0f} % of the iterator client)",
                    ">= 70 % of the ceiling (issue 6)",
                    verdict(rate >= 0.7 * ceiling),
                    cmd,
                )
            )
        for store, lag in r.get("lag", {}).items():
            out.append(
                Row(
                    f"collector lag, {store}, simulated elevators at realistic rates",
                    f"p50 {1000 * lag['p50']:.0f} ms, p99 {1000 * lag['p99']:.0f} ms "
                    f"({lag['offered_per_s']:,.0f} records/s offered, {int(lag['stored']):,} stored)",
                    "< 1 s (issue 6)",
                    verdict(lag["p99"] < 1.0),
                    cmd,
                )
            )
        return out

    return rows


def sim_speed_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: list[dict[str, Any]]) -> list[Row]:
        return [
            Row(
                f"simulator trace speed, {x['traffic']} {x['rendering']}",
                f"{x['ratio']:,}x real time ({x['rows_per_s']:,} rows/s)",
                "n/a",
                "n/a",
                cmd,
            )
            for x in r
        ]

    return rows


def fleet_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        tried = ", ".join(f"{s['n']}{'' if s['ok'] else ' (not kept up)'}" for s in r["sizes"])
        return [
            Row(
                "simulator fleet: cars one process serves at 10 Hz polling",
                f"{r['largest_sustained']} (sizes tried: {tried})",
                "n/a",
                "n/a",
                cmd,
            )
        ]

    return rows


def trend_rows(cmd: str) -> Callable[[Any], list[Row]]:
    def rows(r: dict[str, Any]) -> list[Row]:
        degrading = [t for t in r["traces"] if not t["healthy"]]
        advised = sum(t["advised_before_breakdown"] for t in degrading)
        lead = r["min_lead_days"]
        return [
            Row(
                "trend watch: degrading traces advised before their breakdown",
                f"{advised} of {len(degrading)} (shortest lead {lead:.1f} days)" if lead is not None else "none",
                "all",
                verdict(r["all_advised_before_breakdown"]),
                cmd,
            ),
            Row(
                "trend watch: false advisories on healthy traces",
                f"{r['false_advisories']} in {r['healthy_elevator_months']:.0f} elevator-months",
                "0 in >= 10 elevator-months",
                verdict(r["false_advisories"] == 0) if r["healthy_elevator_months"] >= 10 else "n/a",
                cmd,
            ),
        ]

    return rows


def benches(quick: bool) -> list[Bench]:
    def cmd(script: str, args: list[str]) -> str:
        return " ".join([PY, f"bench/{script}", *map(shlex.quote, args)])

    table: list[tuple[Any, ...]] = [
        (
            "frame_sizes.py",
            ["--json"],
            frame_rows,
            "Frames as a long-lived gateway sends them (stream 1.5 M records old, up 30 days), encoded with "
            "protocols.frames and checked to round-trip; bytes of the msgpack frame.",
        ),
        (
            "replay_speed.py",
            ["--hours", "4", "--json"],
            replay_rows,
            "`edge_agent.replay.replay` (parse + detect) in one process pinned to one core, best CPU time of 5 runs, "
            "over `elev-sim trace` office traffic (on change, 100 ms period), a built-in traffic generator and the "
            "contract samples x20.",
        ),
        (
            "agent_footprint.py",
            ["--seconds", "15" if quick else "20", "--json"],
            footprint_rows,
            "`elev-agent run` as a subprocess against `elev-sim run` (Modbus TCP, simulated GPIO, office traffic) "
            "and a private Mosquitto with an in-bench acknowledger; RSS and CPU ticks from /proc over the window "
            "after a 5 s warm-up; then this process reads the largest NICE3000+ block 300 times over the "
            "simulator's pty with the agent's ModbusBus and divides its own CPU time, against the RTU wire time "
            "of request + answer at 19,200 baud 8N1 (edge_agent.hw.modbus.rtu_wire_time_s).",
        ),
        (
            "alarm_latency.py",
            ["--alarms", "20" if quick else "60", "--json"],
            latency_rows,
            "Real stack: private Mosquitto, `elev-collector run` (SQLite), `elev-sim run`, `elev-agent run` at 10 Hz. "
            "A 0.4 s `controller_fault` is injected through the simulator's control socket, repeatedly, each after "
            "the previous alarm cleared. controller_fault is raised at once, so the detector decides it in the poll "
            "that reads the code and the agent stamps the event's wall_ms at that moment; with the agent's clock "
            "marked synchronized (one host, one clock) that is the API's raised_at. A thread GETs "
            "/api/v1/alarms?active=true every 50 ms; latency = end of the first GET listing the alarm - raised_at. "
            "Resolution: ms timestamps; the sighting is late by at most one poll interval (50 ms) plus one request.",
        ),
        (
            "uplink_day.py",
            ["--hours", "6" if quick else "24", "--json"],
            uplink_rows,
            "Bytes: the agent's reporting path (Agent.poll_once: fusion, detector, status on change, 60 s heartbeats; "
            "the real Outbox and Uplink) in-process on simulated time, 10 polls per simulated second for 24 hours of "
            "hw_sim `office` traffic (50 parties an hour around the clock, sensor noise on); status committed when "
            "5 simulated seconds old, each commit published before the next poll, so frames are cut as live. Every "
            "byte the agent's MQTT client writes is counted at a TCP relay in front of a private Mosquitto and split "
            "by MQTT packet; acks come from the real collector. TCP/IP/TLS framing is not included, nor keep-alive "
            "PINGREQs at the real 30 s rate (<= 5.8 KB/day, and none while the lift is busy). "
            "Drain: every record of that day (as a subscriber decoded it) is put into a fresh outbox with the real "
            "put_status/put_event API, committed in 5 s groups; then a real Uplink connects to the broker and the "
            "real collector, timed until every record is acknowledged and GET /api/v1/streams shows all stored.",
        ),
        (
            "edge_budget.py",
            ["--hours", "6" if quick else "24", "--json"],
            budget_rows,
            "A full simulated day per kind of day through the agent's real reporting path in-process on simulated "
            "time (Agent.poll_once with the budget policy, GPIO edges of the model's noise windows, real Outbox on "
            "this machine's disk, real Uplink to a private Mosquitto, real collector acking). Bytes: every byte the "
            "agent's MQTT client writes, counted at a TCP relay (acks' PUBACKs, heartbeats, CONNECT included; "
            "TCP/IP/TLS and keep-alive PINGREQs not, <= 5.8 KB/day). SD: /proc/self/io of the process (the outbox "
            "writer thread is its only writer): write_bytes = sent to the block layer, wchar = asked.",
            3600.0,
        ),
        (
            "edge_live_latency.py",
            ["--seconds", "60" if quick else "150", "--json"],
            live_rows,
            "Real time: the agent's poll loop (10 Hz) in-process reading hw_sim's model at the wall-clock moment, "
            "live view switched on by POST /api/v1/elevators/{id}/live to the real collector, records stamped at a "
            "subscriber of the uplink topic; truth = a deterministic twin of the model stepped every 5 ms (floor, "
            "direction, running, door changes).",
        ),
        (
            "edge_drain.py",
            ["--batch", "100,500", "--json"],
            drain_rows,
            "A fresh outbox filled through the real API with a full-rate office day's 145,898 records (561 events "
            "spread in it), then drained by the real Uplink through a private Mosquitto to the real collector; time "
            "until every record is acknowledged and the API reports all stored; the last event's arrival at a "
            "subscriber shows alarms go first.",
            1800.0,
        ),
        (
            "collector_ingest.py",
            [
                "--frames",
                "10000",
                "--repeat",
                "1",
                "--lag-seconds",
                "10",
                "--elevators",
                "10000",
            ],
            ingest_rows,
            "Throughput: N single-record status frames queued in a private Mosquitto for a persistent shared-"
            "subscription session, then drained by one consumer process pinned to one core: a bare aiomqtt client "
            "that stores nothing (the ceiling; iterator and queue-hook variants), the collector's ingest on SQLite and "
            "on PostgreSQL; one run each (the script defaults to best of 3). "
            "Lag: a publisher process offers 10,000 elevators' traffic "
            "(status change every 5 s on average, heartbeat every 60 s); lag = durable commit - record time.",
        ),
        (
            "sim_speed.py",
            ["--hours", "0.5", "--patterns", "office", "--json"],
            sim_speed_rows,
            "hw_sim.render of office traffic with noise, plus writing the CSV to memory; simulated time / wall time.",
        ),
        (
            "trend_watch.py",
            ["--quick", "--json"] if quick else ["--json"],
            trend_rows,
            "hw_sim.wear's labeled corpus rendered from its seeds (each wear kind at a fast and a slow rate to its "
            "breakdown; ten healthy elevators x 30 days; 30 busy minutes a day), judged by the agent's Reporter and "
            "TrendWatch as `elev-agent trends` does; lead = breakdown - first advisory naming the wear "
            "(docs/trend-watch.md).",
        ),
        (
            "sim_fleet.py",
            ["--sizes", "10,25", "--window-s", "4", "--json"],
            fleet_rows,
            "`elev-sim fleet --count N` polled by a raw-socket Modbus TCP master at 10 Hz per car (4 block reads); "
            "sustained = tick lag p99 < 50 ms, no timeouts, >= 95 % of polls.",
        ),
    ]
    out = []
    for script, args, rows, note, *timeout in table:
        c = cmd(script, args)
        slow = script == "trend_watch.py"  # weeks of simulated life: ~15 min on the loaded 2-core machine
        out.append(Bench(script, args, rows(c), note, *(timeout or [1800.0 if slow else 900.0])))
    return out


# --- the machine and the document ----------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    osname = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
                osname = f"{pretty} (kernel {platform.release()})"
    except OSError:
        pass
    return {
        "CPUs (nproc)": str(len(os.sched_getaffinity(0))),
        "CPU model": model,
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "Python": platform.python_version(),
        "OS": osname,
    }


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(rows: list[Row]) -> str:
    lines = ["| figure | measured | goal | result | command to rerun |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {md_escape(r.figure)} | {md_escape(r.measured)} | {md_escape(r.goal)} | {r.verdict} | "
            f"`{md_escape(r.command)}` |"
        )
    return "\n".join(lines)


def write_doc(
    rows: list[Row],
    benches_run: list[tuple[Bench, float, str]],
    started: datetime,
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
    total_s: float,
) -> None:
    m = machine()
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python bench/run_all.py`), which runs every bench script of `bench/`",
        "one after another and collects each figure. Every figure below was measured in that run; none is",
        "estimated. A goal the issues do not state is shown as n/a rather than invented.",
        "",
        f"**Date:** {started.strftime('%Y-%m-%d %H:%M UTC')}, {total_s / 60:.1f} minutes in all.",
        "",
        "**Machine:** " + "; ".join(f"{k}: {v}" for k, v in m.items()) + ".",
        "",
        f"**Load:** load average (1, 5, 15 min) {', '.join(f'{x:.1f}' for x in load_before)} before the run and "
        f"{', '.join(f'{x:.1f}' for x in load_after)} after it. The machine was shared with other sessions' test "
        "suites and services at the time, so CPU-bound figures are lower and latencies higher than on an idle "
        "machine.",
        "",
        render_table(rows),
        "",
        "## How each figure was measured",
        "",
    ]
    for b, secs, status in benches_run:
        parts.append(f"**{b.name}** ({secs:.0f} s{', ' + status if status else ''}): {b.note}")
        parts.append("")
    DOC.write_text("\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--only", default="", help="comma-separated script names (e.g. alarm_latency.py)")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--quick", action="store_true", help="smaller runs (about 6 minutes), for a smoke check")
    args = ap.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    t_start = time.monotonic()
    rows: list[Row] = []
    ran: list[tuple[Bench, float, str]] = []
    failed = False
    for b in benches(args.quick):
        if only and b.name not in only:
            continue
        cmd = [sys.executable, str(ROOT / "bench" / b.name), *b.args]
        print(f"--- {b.name} {' '.join(b.args)}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        err = ""
        try:
            p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = p.communicate(timeout=b.timeout_s)
            except subprocess.TimeoutExpired:
                p.terminate()  # SIGTERM: the bench stops the broker, collector, simulator it started
                p.communicate(timeout=60)
                raise
            status = "" if p.returncode == 0 else f"exit status {p.returncode}"
            new = b.rows(last_json(out))
        except (subprocess.TimeoutExpired, ValueError, KeyError, json.JSONDecodeError) as exc:
            tail = (err or "").strip().splitlines()[-3:]
            status = f"failed: {type(exc).__name__}: {exc} {' / '.join(tail)}"[:300]
            cmd_text = " ".join([PY, f"bench/{b.name}", *b.args])
            new = [Row(b.name, "not measured: " + status, "-", "FAIL", cmd_text)]
        secs = time.monotonic() - t0
        failed |= any(r.verdict == "FAIL" for r in new)
        rows += new
        ran.append((b, secs, status))
        print(f"    {secs:.0f} s {status}", file=sys.stderr, flush=True)
    total = time.monotonic() - t_start
    widths = (58, 70, 34, 6)
    print()
    print(
        " | ".join(h.ljust(w) for h, w in zip(("figure", "measured", "goal", "result"), widths, strict=True))
        + " | command"
    )
    for r in rows:
        cells = (r.figure, r.measured, r.goal, r.verdict)
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + f" | {r.command}")
    print(f"\n{total / 60:.1f} minutes; load average {os.getloadavg()[0]:.1f}")
    if not args.no_write:
        write_doc(rows, ran, started, load_before, os.getloadavg(), total)
        print(f"written: {DOC.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
