"""`elev-collector`: the ingest daemon's command; one module per subcommand, imported when chosen."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

SUBCOMMANDS = {
    "run": ("collector.run_cmd", "run the ingest daemon: MQTT ingest, store, alarms, HTTP API"),
    "devices": ("collector.devices_cmd", "register, list and remove elevators (and broker credentials)"),
    "check-config": ("collector.check_config_cmd", "validate a configuration file (--config FILE) and exit"),
    "broker-config": ("collector.broker.config_cmd", "write a runnable Mosquitto configuration with the access rules"),
    "users": ("collector.accounts_cmd:users_main", "people's accounts: add, list, disable, passwd (password on stdin)"),
    "tokens": ("collector.accounts_cmd:tokens_main", "named API tokens with a role: add (printed once), list, revoke"),
    "platform": ("collector.http.platform_server", "rescue, maintenance, statistics, registry, city feed, city"),
}


def _usage() -> str:
    lines = [
        "usage: elev-collector COMMAND [options]   (elev-collector COMMAND --help for its options)",
        "",
        "commands:",
    ]
    lines += [f"  {name:13s} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"elev-collector {importlib.metadata.version('smart-elevator')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"elev-collector: unknown command {name!r}\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, function = SUBCOMMANDS[name][0].partition(":")
    module = importlib.import_module(module_name)
    return int(getattr(module, function or "main")(rest))


if __name__ == "__main__":
    sys.exit(main())
