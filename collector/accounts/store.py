"""Accounts, API tokens, sign-in sessions and the audit trail in the collector's database.

The tables live beside the collector's and the platform's in the same database (SQLite or
PostgreSQL) and come with the store's migrations (`collector.store.schema`, step 4); the triggers
that keep the audit trail append-only are (re)made by `create_schema` (their bodies hold `;`,
which the migration runner's statement split does not allow). Secrets are never stored:
passwords as argon2id hashes, API tokens and session ids as SHA-256 digests (both are 256-bit
random strings, so a fast digest is enough and keeps the per-request lookup cheap).

    store = AccountStore(db)          # db: an open collector.store.Store
    await store.create_schema()
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.accounts import passwords, roles
from collector.errors import CollectorError, ConfigError
from collector.store import Store
from collector.times import iso

APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgres": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}
AUDIT_LIMIT_MAX = 10_000
MAX_SESSIONS = 20  # per account: a browser per desk and phone, not a table that grows with every sign-in


class AccountError(CollectorError):
    """An account operation that cannot be done (unknown user, name taken, bad role)."""


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """`[accounts]` of the collector's TOML file."""

    max_failed_logins: int = 5
    lockout_s: float = 300.0
    session_ttl_s: float = 12 * 3600.0


def load_accounts_config(path: str | None) -> AccountsConfig:
    if path is None:
        return AccountsConfig()
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("accounts", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    known = {"max_failed_logins": int, "lockout_s": float, "session_ttl_s": float}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{path}: [accounts].{key}: unknown key (known: {', '.join(known)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{path}: [accounts].{key}: {value!r} must be a positive number")
        if known[key] is int and not isinstance(value, int):
            raise ConfigError(f"{path}: [accounts].{key}: {value!r} must be a whole number")
        values[key] = known[key](value)
    return AccountsConfig(**values)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as. `name` is what the audit trail records."""

    name: str
    role: str
    company: str | None = None
    via: str = "token"  # "token" (Authorization: Bearer) or "session" (the sign-in cookie)
    csrf_token: str | None = None


@dataclass(frozen=True, slots=True)
class LoginRefused(Exception):
    status: int  # 401 wrong name or password, 429 locked out
    reason: str
    retry_after_s: int = 0


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountStore:
    """Async façade over the account tables; every method is one transaction."""

    def __init__(self, db: Store, config: AccountsConfig | None = None) -> None:
        self.db = db
        self.config = config or AccountsConfig()

    async def create_schema(self) -> None:
        engine = "postgres" if self.db.engine_name == "PostgreSQL" else "sqlite"

        def tx(cur: Any) -> None:
            if engine == "postgres":
                cur.execute("SELECT pg_advisory_xact_lock(7240018)")  # collectors starting at once
            for stmt in APPEND_ONLY[engine]:
                cur.execute(stmt)

        await self.db.run(tx)

    # --- accounts ---------------------------------------------------------------------------------
    async def add_user(self, username: str, role: str, company: str | None, password: str, now_ms: int) -> None:
        _check_name(username, "user name")
        try:
            roles.check_role(role, company)
            pw_hash = await asyncio.to_thread(passwords.hash_password, password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        q = self.db.q

        def tx(cur: Any) -> None:
            cur.execute(q("SELECT 1 FROM accounts WHERE username = ?"), (username,))
            if cur.fetchone() is not None:
                raise AccountError(f"user {username!r} exists (use passwd to change the password)")
            cur.execute(
                q(
                    "INSERT INTO accounts (username, role, company, password_hash, created_ms, updated_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (username, role, company, pw_hash, now_ms, now_ms),
            )

        await self.db.run(tx)

    async def users(self) -> list[dict[str, Any]]:
        def tx(cur: Any) -> list[dict[str, Any]]:
            cur.execute(
                "SELECT username, role, company, disabled, locked_until_ms, created_ms FROM accounts ORDER BY username"
            )
            return [
                {
                    "username": r[0],
                    "role": r[1],
                    "company": r[2],
                    "disabled": bool(r[3]),
                    "locked_until": iso(r[4]) if r[4] else None,
                    "created_at": iso(r[5]),
                }
                for r in cur.fetchall()
            ]

        return await self.db.run(tx)

    async def disable_user(self, username: str, now_ms: int) -> None:
        q = self.db.q

        def tx(cur: Any) -> None:
            cur.execute(
                q("UPDATE accounts SET disabled = ?, updated_ms = ? WHERE username = ?"), (True, now_ms, username)
            )
            if cur.rowcount == 0:
                raise AccountError(f"no user {username!r}")
            cur.execute(q("DELETE FROM account_sessions WHERE username = ?"), (username,))

        await self.db.run(tx)

    async def set_password(self, username: str, password: str, now_ms: int) -> None:
        try:
            pw_hash = await asyncio.to_thread(passwords.hash_password, password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        q = self.db.q

        def tx(cur: Any) -> None:
            cur.execute(
                q(
                    "UPDATE accounts SET password_hash = ?, failed_logins = 0, locked_until_ms = 0, updated_ms = ? "
                    "WHERE username = ?"
                ),
                (pw_hash, now_ms, username),
            )
            if cur.rowcount == 0:
                raise AccountError(f"no user {username!r}")
            cur.execute(q("DELETE FROM account_sessions WHERE username = ?"), (username,))  # sign out elsewhere

        await self.db.run(tx)

    # --- sign-in ----------------------------------------------------------------------------------
    async def login(self, username: str, password: str, now_ms: int) -> tuple[str, Principal]:
        """A new session id (for the cookie) and who it is, or LoginRefused."""
        q, cfg = self.db.q, self.config

        def read(cur: Any) -> tuple[Any, ...] | None:
            cur.execute(
                q("SELECT password_hash, role, company, disabled, locked_until_ms FROM accounts WHERE username = ?"),
                (username,),
            )
            row = cur.fetchone()
            return None if row is None else tuple(row)

        row = await self.db.run(read)
        if row is not None and row[4] > now_ms:
            wait_s = max(1, -(-(row[4] - now_ms) // 1000))
            raise LoginRefused(429, f"too many failed sign-ins: try again in {wait_s} s", wait_s)
        usable = row is not None and not row[3]
        ok = await asyncio.to_thread(passwords.verify, row[0] if usable and row else None, password)
        if not ok or row is None:

            def fail(cur: Any) -> bool:
                if row is None:
                    return False
                cur.execute(q("UPDATE accounts SET failed_logins = failed_logins + 1 WHERE username = ?"), (username,))
                cur.execute(q("SELECT failed_logins FROM accounts WHERE username = ?"), (username,))
                if cur.fetchone()[0] < cfg.max_failed_logins:
                    return False
                until = now_ms + int(cfg.lockout_s * 1000)
                cur.execute(
                    q("UPDATE accounts SET failed_logins = 0, locked_until_ms = ? WHERE username = ?"),
                    (until, username),
                )
                record(
                    self.db,
                    cur,
                    now_ms,
                    Principal(username, row[1], row[2]),
                    "session",
                    "locked_out",
                    detail={"failed_logins": cfg.max_failed_logins, "lockout_s": cfg.lockout_s},
                )
                return True

            await self.db.run(fail)
            raise LoginRefused(401, "wrong user name or password")
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        who = Principal(username, row[1], row[2], via="session", csrf_token=csrf)

        def ok_tx(cur: Any) -> None:
            cur.execute(q("UPDATE accounts SET failed_logins = 0 WHERE username = ?"), (username,))
            cur.execute(q("DELETE FROM account_sessions WHERE expires_ms < ?"), (now_ms,))
            # Bounded: an account keeps its newest MAX_SESSIONS - 1 sessions besides this one.
            cur.execute(
                q(
                    "DELETE FROM account_sessions WHERE username = ? AND id_sha256 NOT IN (SELECT id_sha256 "
                    "FROM account_sessions WHERE username = ? ORDER BY created_ms DESC, id_sha256 LIMIT ?)"
                ),
                (username, username, MAX_SESSIONS - 1),
            )
            cur.execute(
                q(
                    "INSERT INTO account_sessions (id_sha256, username, csrf_token, created_ms, expires_ms) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                (_sha256(session_id), username, csrf, now_ms, now_ms + int(cfg.session_ttl_s * 1000)),
            )
            record(self.db, cur, now_ms, who, "session", "login")

        await self.db.run(ok_tx)
        return session_id, who

    async def session(self, session_id: str, now_ms: int) -> Principal | None:
        q = self.db.q

        def tx(cur: Any) -> Principal | None:
            cur.execute(
                q(
                    "SELECT a.username, a.role, a.company, s.csrf_token FROM account_sessions s "
                    "JOIN accounts a ON a.username = s.username "
                    "WHERE s.id_sha256 = ? AND s.expires_ms > ? AND NOT a.disabled"
                ),
                (_sha256(session_id), now_ms),
            )
            r = cur.fetchone()
            return None if r is None else Principal(r[0], r[1], r[2], via="session", csrf_token=r[3])

        return await self.db.run(tx)

    async def logout(self, session_id: str) -> None:
        q = self.db.q
        await self.db.run(
            lambda cur: cur.execute(q("DELETE FROM account_sessions WHERE id_sha256 = ?"), (_sha256(session_id),))
        )

    # --- API tokens -------------------------------------------------------------------------------
    async def add_token(self, name: str, role: str, company: str | None, now_ms: int) -> str:
        """The new token, to print once; only its digest is kept."""
        _check_name(name, "token name")
        try:
            roles.check_role(role, company)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        token = "elv_" + secrets.token_urlsafe(32)
        q = self.db.q

        def tx(cur: Any) -> None:
            cur.execute(q("SELECT 1 FROM api_tokens WHERE name = ?"), (name,))
            if cur.fetchone() is not None:
                raise AccountError(f"token {name!r} exists (revoke it first)")
            cur.execute(
                q("INSERT INTO api_tokens (name, role, company, token_sha256, created_ms) VALUES (?, ?, ?, ?, ?)"),
                (name, role, company, _sha256(token), now_ms),
            )

        await self.db.run(tx)
        return token

    async def tokens(self) -> list[dict[str, Any]]:
        def tx(cur: Any) -> list[dict[str, Any]]:
            cur.execute("SELECT name, role, company, disabled, created_ms FROM api_tokens ORDER BY name")
            return [
                {"name": r[0], "role": r[1], "company": r[2], "disabled": bool(r[3]), "created_at": iso(r[4])}
                for r in cur.fetchall()
            ]

        return await self.db.run(tx)

    async def revoke_token(self, name: str) -> None:
        q = self.db.q

        def tx(cur: Any) -> None:
            cur.execute(q("UPDATE api_tokens SET disabled = ? WHERE name = ?"), (True, name))
            if cur.rowcount == 0:
                raise AccountError(f"no token {name!r}")

        await self.db.run(tx)

    async def token(self, token: str) -> Principal | None:
        q = self.db.q

        def tx(cur: Any) -> Principal | None:
            cur.execute(
                q("SELECT name, role, company FROM api_tokens WHERE token_sha256 = ? AND NOT disabled"),
                (_sha256(token),),
            )
            r = cur.fetchone()
            return None if r is None else Principal(r[0], r[1], r[2])

        return await self.db.run(tx)

    # --- what a company account sees --------------------------------------------------------------
    async def company_devices(self, company: str) -> frozenset[str]:
        q = self.db.q

        def tx(cur: Any) -> frozenset[str]:
            cur.execute(q("SELECT device_id FROM elevator_identity WHERE maintenance_company = ?"), (company,))
            return frozenset(r[0] for r in cur.fetchall())

        return await self.db.run(tx)

    # --- audit ------------------------------------------------------------------------------------
    async def audit(
        self,
        who: Principal,
        kind: str,
        action: str,
        now_ms: int,
        device_id: str | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.db.run(lambda cur: record(self.db, cur, now_ms, who, kind, action, device_id, target, detail))

    async def audit_entries(
        self,
        actor: str | None = None,
        kind: str | None = None,
        device_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("actor", actor), ("kind", kind), ("device_id", device_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since_ms is not None:
            where.append("at_ms >= ?")
            args.append(since_ms)
        if until_ms is not None:
            where.append("at_ms < ?")
            args.append(until_ms)
        sql = "SELECT id, at_ms, actor, role, kind, action, device_id, target, detail FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at_ms DESC, id DESC LIMIT ?"
        args.append(min(limit, AUDIT_LIMIT_MAX))

        def tx(cur: Any) -> list[dict[str, Any]]:
            cur.execute(self.db.q(sql), tuple(args))
            return [
                {
                    "id": r[0],
                    "at": iso(r[1]),
                    "actor": r[2],
                    "role": r[3],
                    "kind": r[4],
                    "action": r[5],
                    "device_id": r[6],
                    "target": r[7],
                    "detail": json.loads(r[8]),
                }
                for r in cur.fetchall()
            ]

        return await self.db.run(tx)


def record(
    db: Store,
    cur: Any,
    now_ms: int,
    who: Principal,
    kind: str,
    action: str,
    device_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry inside the caller's transaction (so the change and its entry commit together)."""
    cur.execute(
        db.q(
            "INSERT INTO audit_log (at_ms, actor, role, kind, action, device_id, target, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        (now_ms, who.name, who.role, kind, action, device_id, target, json.dumps(detail or {}, ensure_ascii=False)),
    )


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError(f"{what} {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@'")
