"""`elev-sim inject`: a tester injects a fault into a running simulator by hand.

    elev-sim inject --control HOST:PORT FAULT [--duration-s N] [--elevator I] [key=value ...]
    elev-sim inject --control HOST:PORT --status [--elevator I]

The simulator (started with `--control HOST:PORT`) starts the fault at once and prints its usual
`{"ts": ..., "inject": FAULT, ...}` line on its own stdout; this command prints the same line on
its stdout and exits 0, or prints the simulator's refusal on stderr and exits 1. `key=value` are the
fault's own keys (as in a scenario's [[inject]] table, e.g. `code=4100`); values are read as TOML
would read them (42, 1.5, true, "text"), and anything else as a plain string. `--status` prints the
car's current registers and GPIO levels instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

from hw_sim.control import request
from hw_sim.endpoints import ConfigError, SimServeError, parse_hostport


def parse_param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"fault parameter must be key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def faults_help() -> str:
    """The epilog of --help: every fault, its own keys with their defaults, and its default duration."""
    from hw_sim.scenario import DEFAULT_DURATION_S, INJECTABLE, fault_keys

    lines = ["faults (key=default ...; duration when --duration-s is not given):"]
    for name in sorted(INJECTABLE):
        keys = " ".join(
            f"{k}={'auto' if default is None else str(default).lower() if isinstance(default, bool) else default}"
            for k, (_, default) in fault_keys(name).items()
        )
        duration = DEFAULT_DURATION_S.get(name, 0.0)
        until = f"{duration:g} s" if duration else "until done"
        note = "  (RTU line only)" if name == "serial_noise" else ""
        lines.append(f"  {name:24s} {until:>10s}  {keys}{note}".rstrip())
    lines += ["", "example: elev-sim inject --control 127.0.0.1:7502 trap_between_floors --duration-s 60"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elev-sim inject",
        description="Inject a fault into a running simulator.",
        epilog=faults_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--control", metavar="HOST:PORT", required=True, help="the simulator's --control address")
    p.add_argument("fault", nargs="?", metavar="FAULT", help="fault name, as in a scenario's [[inject]] table")
    p.add_argument("params", nargs="*", metavar="key=value", help="the fault's own keys")
    p.add_argument("--duration-s", type=float, metavar="N", help="how long the fault lasts (default: the fault's)")
    p.add_argument("--elevator", type=int, default=0, metavar="I", help="car index in a fleet (default 0)")
    p.add_argument("--status", action="store_true", help="print the car's registers and levels instead")
    p.add_argument("--timeout-s", type=float, default=5.0, help="how long to wait for the simulator")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)  # FAULT, options and key=value in any order
    try:
        host, port = parse_hostport(args.control, "--control")
        message: dict[str, Any] = {"elevator": args.elevator}
        if args.status:
            message["status"] = True
        elif not args.fault:
            raise ConfigError("name the FAULT to inject (or give --status)")
        else:
            message["inject"] = args.fault
            message["duration_s"] = args.duration_s
            message["params"] = dict(parse_param(p) for p in args.params)
        reply = asyncio.run(request(host, port, message, args.timeout_s))
    except ConfigError as exc:
        print(f"elev-sim inject: {exc}", file=sys.stderr)
        return 2
    except SimServeError as exc:
        print(f"elev-sim inject: {exc}", file=sys.stderr)
        return 1
    if not reply.get("ok"):
        print(f"elev-sim inject: refused: {reply.get('error', reply)}", file=sys.stderr)
        return 1
    body = reply["line"] if "line" in reply else {k: v for k, v in reply.items() if k != "ok"}
    print(json.dumps(body), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
