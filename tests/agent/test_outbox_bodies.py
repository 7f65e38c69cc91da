"""Every record body the agent stores comes back from the outbox as it went in.

A Trip grew four trend-watch fields (issue 18) while the outbox still unpacked exactly six: the
first trip after a start killed the agent ("too many values to unpack"), seen in `make demo`.
"""

from __future__ import annotations

from edge_agent.outbox import decode_body, encode_body
from protocols.frames import DoorCycle, RecordKind, StopQuality, Trip


def test_trip_and_door_cycle_bodies_round_trip_with_and_without_statistics() -> None:
    bodies = [
        (RecordKind.TRIP, Trip(1000, 9000, 1, 5, 1750, StopQuality(0))),
        (RecordKind.TRIP, Trip(1000, 9000, 1, 5, 1750, StopQuality(0), True, 1200, 17, 340)),
        (RecordKind.DOOR_CYCLE, DoorCycle(2000, 8000, 3, 4000, 1)),
        (RecordKind.DOOR_CYCLE, DoorCycle(2000, 8000, 3, 4000, 1, 900, 1100, 150, 12)),
    ]
    for kind, body in bodies:
        assert decode_body(kind, encode_body(body)) == body
