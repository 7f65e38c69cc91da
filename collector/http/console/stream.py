"""Server push for the console: `GET /api/v1/stream`, Server-Sent Events that say *what* changed.

The page keeps one stream open; when ingest commits an alarm or the platform opens, moves or
escalates a rescue case, every open stream gets `event: alarms` / `event: cases` and the page
fetches that list at once (through the same authorised API it always used, so the stream itself
carries no data a role could not see). Nothing is polled on the server: the committing code tells
the hub (STYLE 12).

Bounds: each client holds at most one pending entry per kind (a set of `KINDS`): a change already
pending is not queued twice (the page refetches the whole list anyway), so a slow client falls
behind by at most one fetch per kind, never by memory. At most `MAX_CLIENTS` streams are open at once (503
past that). A comment line every `HEARTBEAT_S` keeps proxies from closing an idle stream and lets
the page see a dead link (it reconnects when the heartbeat stops). Authorisation happens before
the stream starts: the route is under `/api/v1/`, behind the API's auth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger("collector.http.console.stream")

KINDS = ("alarms", "cases")
MAX_CLIENTS = 64
HEARTBEAT_S = 15.0
RETRY_MS = 2000


class _Client:
    """One open stream: the kinds changed since it last wrote (a set: bounded by KINDS)."""

    __slots__ = ("pending", "wake")

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.wake = asyncio.Event()


class ConsoleHub:
    """Fan-out of "something changed" from the committing code to the console's open streams."""

    def __init__(self, heartbeat_s: float = HEARTBEAT_S, max_clients: int = MAX_CLIENTS) -> None:
        self.heartbeat_s = heartbeat_s
        self.max_clients = max_clients
        self._clients: set[_Client] = set()
        self._closing = False

    def close(self) -> None:
        """End every open stream (the service is stopping).

        An open stream never ends by itself; without this the HTTP server's clean-up waited for
        each browser tab's stream until its shutdown timeout, and `systemctl stop` of a collector
        with a console open took two minutes (past systemd's 90 s, which then kills it)."""
        self._closing = True
        for c in self._clients:
            c.wake.set()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def changed(self, kind: str) -> None:
        """Tell every open stream that `kind` changed (call it on the event loop's thread)."""
        if kind not in KINDS:
            raise ValueError(f"unknown change kind {kind!r} (known: {', '.join(KINDS)})")
        for c in self._clients:
            c.pending.add(kind)  # already pending: one fetch serves both changes
            c.wake.set()

    def listener(self, kind: str) -> Callable[[], None]:
        """A no-argument callable for the ingest's and the platform's listener lists."""
        if kind not in KINDS:
            raise ValueError(f"unknown change kind {kind!r} (known: {', '.join(KINDS)})")
        return lambda: self.changed(kind)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            return web.json_response({"error": "the collector is stopping"}, status=503)
        if len(self._clients) >= self.max_clients:
            return web.json_response(
                {"error": f"too many console streams open ({self.max_clients}); close a tab"}, status=503
            )
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        client = _Client()
        self._clients.add(client)
        try:
            await resp.prepare(request)
            # `ready` first: the page fetches everything once the stream is up, so nothing that
            # changed between its last fetch and the subscription is missed.
            await resp.write(f"retry: {RETRY_MS}\nevent: ready\ndata: {{}}\n\n".encode())
            while not self._closing:
                try:
                    await asyncio.wait_for(client.wake.wait(), timeout=self.heartbeat_s)
                except TimeoutError:
                    await resp.write(b": heartbeat\n\n")
                    continue
                client.wake.clear()
                if self._closing:
                    break
                kinds, client.pending = sorted(client.pending), set()
                for kind in kinds:
                    await resp.write(f"event: {kind}\ndata: {{}}\n\n".encode())
        except ConnectionResetError:
            log.debug("console stream closed by the browser")
        finally:
            self._clients.discard(client)
        return resp
