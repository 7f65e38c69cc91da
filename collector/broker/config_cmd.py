"""`elev-collector broker-config DIR --listen HOST:PORT --collector-password-file FILE`.

Writes a complete Mosquitto configuration into DIR (see collector.broker.files for the layout)
with the production access rules, so that `mosquitto -c DIR/mosquitto.conf` runs it. Device
logins are then added with `elev-collector devices add ID --broker-config DIR`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collector.broker import files
from collector.errors import CollectorError, ConfigError


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="elev-collector broker-config", description=__doc__.splitlines()[0])
    p.add_argument("dir", metavar="DIR", help="the directory to write (created if missing)")
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="the plain MQTT listener")
    p.add_argument("--collector-password-file", required=True, metavar="FILE", help="the `collector` login's password")
    p.add_argument("--user", default="mosquitto", help="the user the broker drops to (mosquitto)")
    p.add_argument("--plugin", metavar="PATH", help="mosquitto_dynamic_security.so (found under /usr/lib)")
    p.add_argument("--debug", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except ConfigError as exc:
        print(f"elev-collector broker-config: {exc}", file=sys.stderr)
        return 2
    try:
        password = files.read_secret(args.collector_password_file, "--collector-password-file")
        layout = files.write_config(Path(args.dir), args.listen, password, user=args.user, plugin=args.plugin)
    except CollectorError as exc:
        if args.debug:
            raise
        print(f"elev-collector broker-config: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {layout.conf}")
    print(f"run:  mosquitto -c {layout.conf}")
    print(f"add a device:  elev-collector devices add ID --broker-config {layout.root}")
    return 0
