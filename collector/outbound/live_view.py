"""Live view on demand (issue 14): ask one agent for full-rate status for a bounded time.

Under the `budget` reporting policy an agent sends trips, door cycles and shown state changes, not
every sample. When an operator opens an elevator's live view the collector publishes a
`LiveViewFrame` on that device's command topic (`elev/v1/{device}/cmd`, QoS 1; the broker's ACL
lets only that device read it); the agent sends every state change at once for `seconds`, then
falls back to its policy by itself. Nothing has to turn it off: a console that is closed, or a
collector that dies, costs at most one bounded period of full rate.

While a rescue case is open, its elevator is kept in live view the same way (`live_while_rescued`:
renewed every RESCUE_RENEW_S for RESCUE_LIVE_S, and at once when a case opens or changes), so the
duty officer and the crew see the car's every move; once the case closes the renewals stop and the
agent falls back by itself.

    POST /api/v1/elevators/{device_id}/live      body (optional): {"seconds": 1..600}, default 120
    roles: duty_officer, admin (the API's bearer token until per-user roles exist)
    202 {"device_id", "seconds", "until"}; 404 unknown device; 503 broker not connected
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from collector.http.body import read_json_object
from collector.ingest.pipeline import Ingest
from protocols import topics
from protocols.frames import LiveViewFrame, encode_command

log = logging.getLogger(__name__)

DEFAULT_S = 120
RESCUE_RENEW_S = 60.0
RESCUE_LIVE_S = 150  # > RESCUE_RENEW_S: one lost renewal does not end the view
MAX_S = 600
ROLES = ("duty_officer", "admin")
PATH = "/api/v1/elevators/{device_id}/live"


def request_live(ingest: Ingest, device_id: str, seconds: int) -> bool:
    """Publish the request (QoS 1); False when the broker session is down."""
    return ingest.session.publish(topics.command_topic(device_id), encode_command(LiveViewFrame(seconds)))


class OpenCases(Protocol):
    """What `live_while_rescued` needs of the platform (collector.platform.service.Platform)."""

    case_listeners: list[Callable[[], None]]

    async def cases(self, open_: bool | None, device_id: str | None, limit: int) -> list[dict[str, Any]]: ...


async def live_while_rescued(platform: OpenCases, ingest: Ingest, renew_s: float = RESCUE_RENEW_S) -> None:
    """Keep every elevator with an open rescue case in live view; told by the platform when cases change."""
    changed = asyncio.Event()
    platform.case_listeners.append(changed.set)
    while True:
        changed.clear()
        devices = sorted({c["device_id"] for c in await platform.cases(True, None, 1000)})
        for device_id in devices:
            if not request_live(ingest, device_id, RESCUE_LIVE_S):
                log.debug("live view for %s's rescue case not requested: broker not connected", device_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), renew_s)


def make_handler(ingest_key: web.AppKey[Ingest]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def h_live(request: web.Request) -> web.Response:
        """Credentials were checked by the auth middleware before this reads the body."""
        ingest = request.app[ingest_key]
        device_id = request.match_info["device_id"]
        try:
            topics.validate_device_id(device_id)
        except topics.TopicError as exc:
            return web.json_response({"error": f"device_id: {exc}"}, status=400)
        seconds = DEFAULT_S
        if request.can_read_body:
            doc = await read_json_object(request)
            unknown = sorted(set(doc) - {"seconds"})
            if unknown:
                return web.json_response({"error": f"unknown field(s): {', '.join(unknown)}"}, status=400)
            raw = doc.get("seconds", DEFAULT_S)
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_S:
                return web.json_response({"error": f"seconds: an integer 1..{MAX_S}, got {raw!r}"}, status=400)
            seconds = raw
        if device_id not in await ingest.store.device_ids():
            return web.json_response({"error": f"unknown device {device_id!r}"}, status=404)
        if not request_live(ingest, device_id, seconds):
            return web.json_response({"error": "broker not connected: live view not requested"}, status=503)
        until = datetime.fromtimestamp(time.time() + seconds, UTC).isoformat(timespec="milliseconds")
        return web.json_response({"device_id": device_id, "seconds": seconds, "until": until}, status=202)

    return h_live
