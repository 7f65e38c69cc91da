"""The HTTP API of surface.md: open health and metrics, bearer-protected /api/v1, JSON shapes."""

from __future__ import annotations

import re
from pathlib import Path

from protocols.events import Action
from tests.collector.conftest import Running, make_config, wait_until
from tests.collector.publisher import Publisher, event, heartbeat, status
from tests.support.services import Broker

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_api_needs_the_bearer_token(broker: Broker, sqlite_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, sqlite_url, token_file)).start(devices=("lift-1",))
    try:
        for path in ("/api/v1/elevators", "/api/v1/alarms?active=true", "/api/v1/events?device_id=lift-1"):
            assert (await col.get(path, token=None))[0] == 401
            assert (await col.get(path, token="wrong-token-123"))[0] == 401
            assert (await col.get(path))[0] == 200
        assert (await col.get("/healthz", token=None))[0] == 200
        code, text = await col.get("/metrics", token=None)
        assert code == 200 and "collector_frames_in_total" in text and "collector_devices_online" in text
        code, spec = await col.get("/openapi.json", token=None)
        assert code == 200 and "/api/v1/alarms" in spec["paths"]
    finally:
        await col.close()


async def test_alarm_event_and_elevator_shapes(broker: Broker, db_url: str, token_file: Path) -> None:
    col = await Running(make_config(broker, db_url, token_file)).start(devices=("lift-1", "lift-2"))
    try:
        async with Publisher(broker.port, "lift-1", batch=4) as p:
            recs = [
                status(1, 1000, floor=3),
                event(2, 2000, "entrapment", Action.RAISE, floor=3),
                heartbeat(3, 3000),
                event(4, 4000, "entrapment", Action.CLEAR, floor=3),
                event(5, 5000, "controller_fault", Action.RAISE, floor=3),
            ]
            await p.send(recs)
            await p.resend_until_acked(10)
        code, alarms = await col.get("/api/v1/alarms")
        assert code == 200 and isinstance(alarms, list) and len(alarms) == 2
        by_type = {a["type"]: a for a in alarms}
        ent = by_type["entrapment"]
        assert set(ent) >= {"id", "device_id", "type", "raised_at", "cleared_at", "received_at"}
        assert ent["device_id"] == "lift-1"
        for key in ("raised_at", "cleared_at", "received_at"):
            assert ISO_MS.match(ent[key]), ent[key]
        assert ent["raised_at"] < ent["cleared_at"]
        assert by_type["controller_fault"]["cleared_at"] is None
        assert by_type["controller_fault"]["fault_code"] == 4100
        code, active = await col.get("/api/v1/alarms?active=true")
        assert [a["type"] for a in active] == ["controller_fault"]

        code, events = await col.get("/api/v1/events?device_id=lift-1")
        assert [(e["type"], e["action"]) for e in events] == [
            ("entrapment", "raise"),
            ("entrapment", "clear"),
            ("controller_fault", "raise"),
        ]
        code, later = await col.get(f"/api/v1/events?device_id=lift-1&since={events[1]['at']}")
        assert [e["seq"] for e in later] == [4, 5]
        assert (await col.get("/api/v1/events?device_id=lift-1&since=yesterday"))[0] == 400
        assert (await col.get("/api/v1/events"))[0] == 400

        code, elevators = await col.get("/api/v1/elevators")
        assert [e["device_id"] for e in elevators] == ["lift-1", "lift-2"]
        one, two = elevators
        assert one["online"] is True and ISO_MS.match(one["last_seen"]) and one["state"]["floor"] == 3
        assert one["active_alarms"] == ["controller_fault"]
        assert two["online"] is False and two["last_seen"] is None and two["state"] is None

        code, streams = await col.get("/api/v1/streams?device_id=lift-1")
        assert streams[0]["contiguous_seq"] == 5 and streams[0]["missing"] == 0

        async def metric_ok() -> bool:
            _, text = await col.get("/metrics", token=None)
            return "collector_records_stored_total 5" in text and "collector_devices_online 1" in text

        await wait_until(metric_ok, what="metrics to show 5 records and 1 device online")
    finally:
        await col.close()
