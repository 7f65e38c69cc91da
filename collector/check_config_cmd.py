"""`elev-collector check-config --config FILE`: validate a configuration file, start nothing.

Checks what `run` would check before starting: the `[collector]` table (types, the broker and
database addresses, the token file), the `[accounts]` table (lock-out, sessions) and the
`[platform]` table (rescue, maintenance, webhooks, city feed and city settings, the token files
they name). One line per outcome: `FILE: ok`, or
the file and key that is wrong. A file with only `[platform]` (and `[accounts]`) is checked as
`elev-collector platform`'s, and the line says so. No error shows a password, a token or a secret.
"""

from __future__ import annotations

import argparse
import sys
import tomllib

from collector.config import load, read_toml
from collector.errors import ConfigError


def check(path: str) -> str:
    """Raise ConfigError naming the file and key of the first problem in `path`; else say which
    command the file is for. A file with `[platform]` (and `[accounts]`) only and no collector
    key is `elev-collector platform`'s (the city role, or a county platform run on its own): it
    has no broker to check, and saying "no broker given" of it sent operators looking for one."""
    values = read_toml(path)
    values = {k: v for k, v in values.items() if k != "platform"}  # a file with no [collector] table
    from collector.platform.service import load_config  # the platform's own loader, imported when needed

    if not values and _has_platform(path):
        platform = load_config(path)
        from collector.accounts.store import load_accounts_config

        load_accounts_config(path)
        n = len(platform.city.counties)
        role = f"city role, {n} count{'y' if n == 1 else 'ies'}" if n else "county role"
        return f" (a file for elev-collector platform, {role}: no [collector] keys, so not one for run)"
    config = load(values, {}, path)
    try:
        config.api_token()
    except ConfigError as exc:
        raise ConfigError(f"{path}: api_token_file: {exc}") from None
    load_config(path)
    from collector.accounts.store import load_accounts_config  # [accounts]: lock-out and sessions

    load_accounts_config(path)
    return ""


def _has_platform(path: str) -> bool:
    with open(path, "rb") as f:  # read_toml has already read and parsed it
        return isinstance(tomllib.load(f).get("platform"), dict)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elev-collector check-config", description=__doc__)
    parser.add_argument("--config", metavar="FILE", required=True, help="the TOML file `run --config` reads")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        what = check(args.config)
    except ConfigError as exc:
        print(f"elev-collector check-config: {exc}", file=sys.stderr)
        return 2
    print(f"{args.config}: ok{what}")
    return 0
