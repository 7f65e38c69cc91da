"""`elev-sim`: the hardware simulator's command; one module per subcommand, imported when chosen."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

SUBCOMMANDS = {
    "run": ("hw_sim.run_cmd", "simulate one elevator in real time on Modbus TCP/RTU and GPIO"),
    "trace": ("hw_sim.trace_cmd", "render a scenario as an elevator-trace/1 file with its labeled events"),
    "weeks": ("hw_sim.weeks_cmd", "render weeks of an elevator wearing out (or healthy) as one labeled trace"),
    "fleet": ("hw_sim.fleet", "simulate many elevators at once for load tests"),
    "inject": ("hw_sim.inject_cmd", "inject a fault into a running simulator by hand"),
}


def _usage() -> str:
    lines = ["usage: elev-sim COMMAND [options]   (elev-sim COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:8s} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"elev-sim {importlib.metadata.version('smart-elevator')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"elev-sim: unknown command {name!r}\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
