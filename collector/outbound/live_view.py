"""Live view on demand (issue 14): ask one agent for full-rate status for a bounded time.

Under the `budget` reporting policy an agent sends trips, door cycles and shown state changes, not
every sample. When an operator opens an elevator's live view the collector publishes a
`LiveViewFrame` on that device's command topic (`elev/v1/{device}/cmd`, QoS 1; the broker's ACL
lets only that device read it); the agent sends every state change at once for `seconds`, then
falls back to its policy by itself. Nothing has to turn it off: a console that is closed, or a
collector that dies, costs at most one bounded period of full rate.

    POST /api/v1/elevators/{device_id}/live      body (optional): {"seconds": 1..600}, default 120
    roles: duty_officer, admin (the API's bearer token until per-user roles exist)
    202 {"device_id", "seconds", "until"}; 404 unknown device; 503 broker not connected
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from collector.http.body import read_json_object
from collector.ingest.pipeline import Ingest
from protocols import topics
from protocols.frames import LiveViewFrame, encode_command

DEFAULT_S = 120
MAX_S = 600
ROLES = ("duty_officer", "admin")
PATH = "/api/v1/elevators/{device_id}/live"


def request_live(ingest: Ingest, device_id: str, seconds: int) -> bool:
    """Publish the request (QoS 1); False when the broker session is down."""
    return ingest.session.publish(topics.command_topic(device_id), encode_command(LiveViewFrame(seconds)))


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
