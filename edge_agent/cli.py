"""`elev-agent`: one command, one subcommand per job. Each subcommand lives in its own module.

Subcommand modules expose `main(argv: list[str]) -> int` and are imported only when chosen, so
`elev-agent replay` starts fast and does not need the hardware libraries.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

SUBCOMMANDS = {
    "run": ("edge_agent.run_cmd", "run the agent: read the elevator, detect, buffer and upload"),
    "replay": ("edge_agent.replay", "run the detector over an elevator-trace/1 file and print events"),
    "trends": ("edge_agent.trend.trends_cmd", "run trend watch over a (multi-week) trace and print advisories"),
    "status": ("edge_agent.status_cmd", "show the link, outbox depth and error counters of a running agent"),
    "check": ("edge_agent.check_cmd", "commissioning: show live signals and wiring verdicts, then exit"),
}


def _usage() -> str:
    lines = ["usage: elev-agent COMMAND [options]   (elev-agent COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:8s} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"elev-agent {importlib.metadata.version('smart-elevator')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"elev-agent: unknown command {name!r}\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
