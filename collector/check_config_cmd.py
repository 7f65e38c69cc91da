"""`elev-collector check-config --config FILE`: validate a configuration file, start nothing.

Checks what `run` would check before starting: the `[collector]` table (types, the broker and
database addresses, the token file), the `[accounts]` table (lock-out, sessions) and the
`[platform]` table (rescue, maintenance, webhooks, city feed and city settings, the token files
they name). One line per outcome: `FILE: ok`, or
the file and key that is wrong. No error shows a password, a token or a secret.
"""

from __future__ import annotations

import argparse
import sys

from collector.config import load, read_toml
from collector.errors import ConfigError


def check(path: str) -> None:
    """Raise ConfigError naming the file and key of the first problem in `path`."""
    values = read_toml(path)
    values = {k: v for k, v in values.items() if k != "platform"}  # a file with no [collector] table
    config = load(values, {}, path)
    try:
        config.api_token()
    except ConfigError as exc:
        raise ConfigError(f"{path}: api_token_file: {exc}") from None
    from collector.platform.service import load_config  # the platform's own loader, imported when needed

    load_config(path)
    from collector.accounts.store import load_accounts_config  # [accounts]: lock-out and sessions

    load_accounts_config(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elev-collector check-config", description=__doc__)
    parser.add_argument("--config", metavar="FILE", required=True, help="the TOML file `run --config` reads")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check(args.config)
    except ConfigError as exc:
        print(f"elev-collector check-config: {exc}", file=sys.stderr)
        return 2
    print(f"{args.config}: ok")
    return 0
