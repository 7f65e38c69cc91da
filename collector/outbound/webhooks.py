"""Rescue notifications as webhooks: written to an outbox in the same transaction as the change
that caused them, then POSTed with retries until the receiver answers 2xx.

Who is told: the rescue centre (one URL) and the elevator's maintenance company (a URL per
company name, as written in the identity registry). A trend-watch advisory (`advisory.raised`,
`advisory.cleared`; docs/trend-watch.md) goes to the company only (`company_targets`): it is
maintenance work, never a rescue, so the rescue centre is never told of one. Each delivery carries an `Idempotency-Key`
header that stays the same across retries, so a receiver that saw it before can ignore it, and,
when a secret is configured, `X-Signature: sha256=HEX` (HMAC-SHA256 of the body).

Retries: exponential backoff with jitter (`backoff_s`), persisted per delivery (`attempts`,
`next_attempt_ms`), so a restart resumes where it stopped. After `max_attempts` the delivery is
marked failed and shown in the API (`GET /api/v1/webhooks?failed=true`) for a person to follow up.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from collector.config import redact
from collector.errors import CollectorError
from collector.store import Store

log = logging.getLogger("collector.outbound.webhooks")


class WebhookError(CollectorError):
    """Bad webhook settings."""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    rescue_centre_url: str | None = None
    company_urls: Mapping[str, str] = field(default_factory=dict)  # maintenance company -> URL
    secret: str | None = None
    timeout_s: float = 10.0
    retry_base_s: float = 1.0
    retry_cap_s: float = 300.0
    max_attempts: int = 30
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        urls = ([("rescue_centre_url", self.rescue_centre_url)] if self.rescue_centre_url else []) + [
            (f"company_urls.{k!r}", v) for k, v in self.company_urls.items()
        ]
        for key, url in urls:
            if not url.startswith(("http://", "https://")):
                raise WebhookError(f"webhooks.{key}: {redact(url)!r} must start with http:// or https://")
        for key in ("timeout_s", "retry_base_s", "retry_cap_s", "poll_s"):
            if getattr(self, key) <= 0:
                raise WebhookError(f"webhooks.{key} must be positive, got {getattr(self, key)!r}")
        if self.max_attempts < 1:
            raise WebhookError(f"webhooks.max_attempts must be at least 1, got {self.max_attempts!r}")

    def targets(self, company: str | None) -> list[tuple[str, str]]:
        """(target name, URL) for a rescue on an elevator maintained by `company`."""
        out = []
        if self.rescue_centre_url:
            out.append(("rescue_centre", self.rescue_centre_url))
        if company and company in self.company_urls:
            out.append((f"company:{company}", self.company_urls[company]))
        return out

    def company_targets(self, company: str | None) -> list[tuple[str, str]]:
        """(target name, URL) for maintenance news (an advisory): the company's URL, never the
        rescue centre's. None when the company has no URL (the advisory is still shown)."""
        if company and company in self.company_urls:
            return [(f"company:{company}", self.company_urls[company])]
        return []


def backoff_s(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number `attempt` (1 = first retry): exponential, capped, with "equal
    jitter" (between half and all of the step) so many senders do not retry in lockstep."""
    step = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return step / 2 + rand() * step / 2


def enqueue(
    db: Store,
    cur: Any,
    config: WebhookConfig,
    company: str | None,
    dedupe: str,
    body: dict[str, Any],
    now_ms: int,
    targets: list[tuple[str, str]] | None = None,
) -> int:
    """Queue `body` for every target (by default a rescue's: `config.targets(company)`); `dedupe`
    makes a repeat of the same notification a no-op."""
    n = 0
    for target, url in config.targets(company) if targets is None else targets:
        cur.execute(
            db.q(
                "INSERT INTO webhook_outbox (dedupe_key, target, url, body, created_ms, next_attempt_ms) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"
            ),
            (f"{dedupe}:{target}", target, url, json.dumps(body, ensure_ascii=False), now_ms, now_ms),
        )
        n += cur.rowcount
    return n


def _due(db: Store, cur: Any, now_ms: int, limit: int) -> list[tuple[int, str, str, str, int]]:
    cur.execute(
        db.q(
            "SELECT id, dedupe_key, url, body, attempts FROM webhook_outbox "
            "WHERE sent_ms IS NULL AND failed_ms IS NULL "
            "AND next_attempt_ms <= ? ORDER BY id LIMIT ?"
        ),
        (now_ms, limit),
    )
    return [tuple(r) for r in cur.fetchall()]


def _next_due(db: Store, cur: Any) -> int | None:
    cur.execute("SELECT MIN(next_attempt_ms) FROM webhook_outbox WHERE sent_ms IS NULL AND failed_ms IS NULL")
    row = cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _mark(
    db: Store, cur: Any, row_id: int, ok: bool, error: str, attempts: int, next_ms: int, failed: bool, now_ms: int
) -> None:
    if ok:
        cur.execute(
            db.q("UPDATE webhook_outbox SET sent_ms = ?, attempts = ? WHERE id = ?"), (now_ms, attempts, row_id)
        )
    else:
        cur.execute(
            db.q(
                "UPDATE webhook_outbox SET attempts = ?, next_attempt_ms = ?, last_error = ?, failed_ms = ? "
                "WHERE id = ?"
            ),
            (attempts, next_ms, error[:500], now_ms if failed else None, row_id),
        )


def list_deliveries(db: Store, cur: Any, failed: bool | None, limit: int) -> list[dict[str, Any]]:
    sql = "SELECT id, target, url, created_ms, attempts, sent_ms, failed_ms, last_error, body FROM webhook_outbox"
    if failed is True:
        sql += " WHERE failed_ms IS NOT NULL"
    elif failed is False:
        sql += " WHERE failed_ms IS NULL"
    cur.execute(db.q(sql + " ORDER BY id DESC LIMIT ?"), (limit,))
    keys = ("id", "target", "url", "created_ms", "attempts", "sent_ms", "failed_ms", "last_error", "body")
    out = []
    for row in cur.fetchall():
        d = dict(zip(keys, row, strict=True))
        d["body"] = json.loads(d["body"])
        out.append(d)
    return out


class WebhookSender:
    """Delivers due webhooks; `wake()` after queueing to skip the poll delay."""

    def __init__(self, db: Store, config: WebhookConfig, clock: Callable[[], int]) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def _sign(self, body: bytes) -> dict[str, str]:
        if not self.config.secret:
            return {}
        mac = hmac.new(self.config.secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Signature": f"sha256={mac}"}

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self.deliver_due(session)
                next_ms = await self.db.run(lambda cur: _next_due(self.db, cur))
                wait_s = self.config.poll_s
                if next_ms is not None:
                    wait_s = min(wait_s, max(0.0, (next_ms - self.clock()) / 1000))
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=max(wait_s, 0.01))
                except TimeoutError:
                    pass

    async def deliver_due(self, session: aiohttp.ClientSession) -> int:
        """Try every due delivery once; the number delivered."""
        due = await self.db.run(lambda cur: _due(self.db, cur, self.clock(), 50))
        sent = 0
        for row_id, key, url, body, attempts in due:
            data = body.encode()
            headers = {"Content-Type": "application/json", "Idempotency-Key": key, **self._sign(data)}
            ok, error = False, ""
            try:
                async with session.post(url, data=data, headers=headers) as resp:
                    ok = 200 <= resp.status < 300
                    error = "" if ok else f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            attempts += 1
            now = self.clock()
            failed = not ok and attempts >= self.config.max_attempts
            next_ms = now + round(backoff_s(attempts, self.config.retry_base_s, self.config.retry_cap_s) * 1000)
            if not ok:
                log.warning("webhook %s to %s failed (attempt %d): %s", key, url, attempts, error)
                if failed:
                    log.error("webhook %s to %s given up after %d attempts", key, url, attempts)
            await self.db.run(
                lambda cur, r=row_id, a=attempts, n=next_ms, f=failed, o=ok, e=error, t=now: _mark(
                    self.db, cur, r, o, e, a, n, f, t
                )
            )
            sent += ok
        return sent
