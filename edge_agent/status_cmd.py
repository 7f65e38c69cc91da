"""`elev-agent status (--data-dir DIR | --config FILE)`: what a running (or stopped) agent is doing.

Reads the `status.json` the agent rewrites every few seconds and the outbox database itself
(read-only), so it works while the agent runs, after it died, and without talking to it. Prints
the link state, the outbox depth and its oldest unacknowledged record, and the error counters;
`--json` prints the same as one JSON object (with `"running": true|false`).

Whether the agent runs is decided by its process, not by the file's age: the pid the file names
must exist and be an `elev-agent` (or `python -m edge_agent...`) process. A live process whose file
stopped changing is reported as hung. Exit 0 when the agent runs and updates its file, 1 when it is
stopped or hung, 2 when DIR holds no agent data or the command line / configuration is unusable.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from edge_agent.config import OUTBOX_FILE, STATUS_FILE, ConfigError, load_file

# A live process whose status file is older than this is reported hung (the agent rewrites it every
# status_file_s, 5 s by default; --config FILE gives the real period and the bound is 3 periods).
STALE_S = 30.0


def process_alive(pid: object) -> bool:
    """Is `pid` a running agent? A pid reused by another program after a crash does not count."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
        return False  # a zombie: exited, not yet reaped by its parent
    words = cmdline.decode(errors="replace").split("\0")
    return any(w.endswith("elev-agent") or w.startswith("edge_agent") for w in words)


def liveness(status: dict[str, Any] | None, stale_s: float) -> tuple[bool, str]:
    """(running, what to print after the device id)."""
    if status is None:
        return False, "no status file (never started here?)"
    pid = status.get("pid")
    age = time.time() - status.get("updated_wall_ms", 0) / 1000
    if not process_alive(pid):
        return False, f"STOPPED (pid {pid} is not running; last status {_age(status.get('updated_wall_ms'))} ago)"
    if age > stale_s:
        return False, f"HUNG? pid {pid} runs but its status file is {age:.0f} s old"
    return True, f"running, pid {pid}, up {status.get('uptime_s')} s"


def outbox_summary(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        depth, events = db.execute("SELECT count(*), coalesce(sum(prio = 0), 0) FROM records").fetchone()
        oldest = db.execute("SELECT seq, kind, wall_ms, synced FROM records ORDER BY seq LIMIT 1").fetchone()
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    finally:
        db.close()
    out: dict[str, Any] = {
        "epoch": f"{int(meta.get('epoch', 0)):08x}",
        "depth": depth,
        "events": events,
        "last_seq": row[0] if row else 0,
        "evicted_status": int(meta.get("evicted_status", 0)),
        "dropped_status": int(meta.get("dropped_status", 0)),
    }
    if oldest:
        out["oldest"] = {"seq": oldest[0], "kind": oldest[1], "wall_ms": oldest[2], "clock_synced": bool(oldest[3])}
    return out


def _age(ms: int | None) -> str:
    if ms is None:
        return "?"
    s = max(0.0, time.time() - ms / 1000)
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def render(status: dict[str, Any] | None, outbox: dict[str, Any] | None, stale_s: float = STALE_S) -> str:
    lines = []
    _, state = liveness(status, stale_s)
    if status is None:
        lines.append(f"agent:      {state}")
    else:
        lines.append(f"agent:      {status.get('device_id')} {state}")
        link = status.get("link", {})
        lines.append(
            f"link:       {'online' if link.get('online') else 'OFFLINE'} to {link.get('broker')}"
            + f" for {link.get('since_s')} s"
            + (f" (last error: {link['last_error']})" if link.get("last_error") and not link.get("online") else "")
        )
        ctl = status.get("controller", {})
        lines.append(
            f"controller: {'answering' if ctl.get('answering') else 'NOT answering'}"
            + (" - comms_lost raised" if ctl.get("comms_lost") else "")
            + (f" ({ctl['last_error']})" if ctl.get("last_error") and not ctl.get("answering") else "")
        )
        c = ctl.get("counters", {})
        lines.append(
            "bus:        "
            + ", ".join(
                f"{k} {c.get(k, 0)}" for k in ("requests", "ok", "timeouts", "bad_frames", "exceptions", "retries")
            )
        )
        lines.append(f"clock:      {'synchronized' if status.get('clock_synced') else 'NOT synchronized'}")
        active = status.get("active_events") or []
        lines.append(f"active:     {', '.join(active) if active else 'none'}")
        uc = link.get("counters", {})
        lines.append(
            "uplink:     "
            + ", ".join(f"{k} {uc.get(k, 0)}" for k in ("frames_sent", "records_sent", "records_acked", "resends"))
        )
    if outbox is None:
        lines.append("outbox:     none")
    elif "error" in outbox:
        lines.append(f"outbox:     unreadable: {outbox['error']}")
    else:
        lines.append(
            f"outbox:     {outbox['depth']} unacknowledged ({outbox['events']} events), epoch {outbox['epoch']}"
        )
        old = outbox.get("oldest")
        if old:
            lines.append(f"oldest:     seq {old['seq']}, {_age(old['wall_ms'])} old")
        if outbox["evicted_status"] or outbox["dropped_status"]:
            lines.append(
                f"evicted:    {outbox['evicted_status']} status records evicted, "
                f"{outbox['dropped_status']} dropped (disk full); events are never evicted"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="elev-agent status", description="Show what the agent in DIR is doing.")
    p.add_argument("--data-dir", metavar="DIR", help="the agent's data directory (overrides data_dir of --config)")
    p.add_argument("--config", metavar="FILE", help="the agent's TOML configuration (its data_dir)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        data_dir, stale_s = _where(args.data_dir, args.config)
    except ConfigError as exc:
        print(f"elev-agent status: {exc}", file=sys.stderr)
        return 2
    data = Path(data_dir)
    status: dict[str, Any] | None = None
    try:
        status = json.loads((data / STATUS_FILE).read_text())
    except FileNotFoundError:
        status = None
    except (OSError, ValueError) as exc:
        print(f"elev-agent status: {data / STATUS_FILE}: unreadable: {exc}", file=sys.stderr)
    outbox = outbox_summary(data / OUTBOX_FILE)
    if status is None and outbox is None:
        print(f"elev-agent status: {data}: no agent data (status.json or outbox.db)", file=sys.stderr)
        return 2
    running, _ = liveness(status, stale_s)
    if args.json:
        print(json.dumps({"running": running, "status": status, "outbox": outbox}))
    else:
        print(render(status, outbox, stale_s))
    return 0 if running else 1


def _where(data_dir: str | None, config: str | None) -> tuple[str, float]:
    """The data directory and the staleness bound from the flags and, if given, the config file."""
    stale_s = STALE_S
    if config is not None:
        doc = load_file(config)
        agent = doc.get("agent", {})
        period = agent.get("status_file_s") if isinstance(agent, dict) else None
        if isinstance(period, (int, float)) and not isinstance(period, bool) and period > 0:
            stale_s = max(3 * float(period), 2.0)
        if data_dir is None:
            value = doc.get("data_dir")
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{config}: data_dir: missing (or give --data-dir DIR)")
            data_dir = value
    if data_dir is None:
        raise ConfigError("--data-dir DIR or --config FILE is required")
    return data_dir, stale_s


if __name__ == "__main__":
    sys.exit(main())
