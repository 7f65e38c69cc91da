"""`elev-collector users add|list|disable|passwd` and `elev-collector tokens add|list|revoke`.

Passwords come on standard input, one line (never as an argument: arguments show in `ps` and the
shell's history), so a script can pipe them and a person can type them at a prompt. A new API
token is printed once; only its digest is kept. Every change is written to the audit trail with
the operating-system user who made it (`cli:NAME`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time

from collector.accounts import roles
from collector.accounts.store import AccountError, AccountStore, Principal
from collector.config import DEFAULT_DB_URL, read_toml
from collector.errors import CollectorError, ConfigError
from collector.store import open_store


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _common(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--db", metavar="DB_URL", help=f"the collector's database (default {DEFAULT_DB_URL})")
    sp.add_argument("--config", metavar="FILE", help="the collector's TOML file (its db_url)")
    sp.add_argument("--json", action="store_true", help="list as JSON")


def _role(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--role", required=True, choices=roles.ROLES)
    sp.add_argument("--company", metavar="NAME", help="for role company: the maintenance company, as in the registry")


def users_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="elev-collector users", description="people's accounts (sign-in on the console)")
    sub = p.add_subparsers(dest="action", required=True, metavar="{add,list,disable,passwd}")
    add = sub.add_parser("add", help="add an account; the password on standard input (one line)")
    add.add_argument("name")
    _role(add)
    _common(add)
    _common(sub.add_parser("list", help="list accounts"))
    dis = sub.add_parser("disable", help="disable an account (and end its sessions)")
    dis.add_argument("name")
    _common(dis)
    pw = sub.add_parser("passwd", help="set a new password from standard input (ends its sessions, lifts a lock-out)")
    pw.add_argument("name")
    _common(pw)
    return p


def tokens_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="elev-collector tokens", description="named API tokens with a role, for machines")
    sub = p.add_subparsers(dest="action", required=True, metavar="{add,list,revoke}")
    add = sub.add_parser("add", help="make a token and print it once")
    add.add_argument("name")
    _role(add)
    _common(add)
    _common(sub.add_parser("list", help="list tokens (never the tokens themselves)"))
    rev = sub.add_parser("revoke", help="revoke a token")
    rev.add_argument("name")
    _common(rev)
    return p


def _db_url(args: argparse.Namespace) -> str:
    file_values = read_toml(args.config) if args.config else {}
    db = args.db or file_values.get("db_url") or DEFAULT_DB_URL
    if not isinstance(db, str):
        raise ConfigError(f"{args.config}: db_url must be a string")
    return db


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise AccountError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise AccountError("no password on standard input (one line)")
    return line.rstrip("\r\n")


def _operator() -> Principal:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal(f"cli:{name}", roles.ADMIN)


async def _run(kind: str, args: argparse.Namespace) -> int:
    now = int(time.time() * 1000)
    async with open_store(_db_url(args)) as db:
        store = AccountStore(db)
        await store.create_schema()
        who = _operator()
        if kind == "users":
            if args.action == "add":
                await store.add_user(args.name, args.role, args.company, _read_password(), now)
                await store.audit(
                    who, "user", "add", now, target=args.name, detail={"role": args.role, "company": args.company}
                )
                print(f"user {args.name} added (role {args.role})")
            elif args.action == "passwd":
                await store.set_password(args.name, _read_password(), now)
                await store.audit(who, "user", "passwd", now, target=args.name)
                print(f"password of {args.name} changed; its sessions ended")
            elif args.action == "disable":
                await store.disable_user(args.name, now)
                await store.audit(who, "user", "disable", now, target=args.name)
                print(f"user {args.name} disabled; its sessions ended")
            else:
                _print(await store.users(), args.json, ("username", "role", "company", "disabled", "locked_until"))
        else:
            if args.action == "add":
                token = await store.add_token(args.name, args.role, args.company, now)
                await store.audit(
                    who, "token", "add", now, target=args.name, detail={"role": args.role, "company": args.company}
                )
                print(f"token: {token}")
                print(f"(token {args.name}, role {args.role}: shown once, only its digest is kept)", file=sys.stderr)
            elif args.action == "revoke":
                await store.revoke_token(args.name)
                await store.audit(who, "token", "revoke", now, target=args.name)
                print(f"token {args.name} revoked")
            else:
                _print(await store.tokens(), args.json, ("name", "role", "company", "disabled", "created_at"))
    return 0


def _print(rows: list[dict[str, object]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        print("  ".join(f"{c}={'' if r.get(c) is None else r.get(c)}" for c in columns))


def _main(kind: str, argv: list[str] | None) -> int:
    parser = users_parser() if kind == "users" else tokens_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        return asyncio.run(_run(kind, args))
    except CollectorError as exc:
        print(f"elev-collector {kind}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


def users_main(argv: list[str] | None = None) -> int:
    return _main("users", argv)


def tokens_main(argv: list[str] | None = None) -> int:
    return _main("tokens", argv)
