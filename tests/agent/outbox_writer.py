"""A child process for the kill -9 test: writes events and status to an outbox, printing what is committed.

Each line on stdout is `E seq` once an event's put_event has returned, `S seq` once a flush that
committed status records up to seq has returned. The parent kills this process at random moments.
"""

from __future__ import annotations

import asyncio
import sys

from edge_agent.config import OutboxConfig
from edge_agent.outbox import Outbox
from protocols.events import Action, Event
from protocols.frames import RecordKind
from protocols.signals import Door, Mode, SignalSnapshot


async def main(path: str) -> None:
    snap = SignalSnapshot(0, 1, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)
    async with Outbox(path, OutboxConfig(), status_flush_s=60) as ob:
        print(f"R {ob.epoch}", flush=True)
        i = 0
        while True:
            i += 1
            ob.put_status(RecordKind.STATUS, i, 1_000_000 + i, False, snap._replace(t_ms=i, speed_mm_s=i % 2000))
            if i % 7 == 0:
                seq = await ob.put_event(i, 1_000_000 + i, False, Event(i, "alarm_button", Action.RAISE, 1))
                print(f"E {seq}", flush=True)
            elif i % 5 == 0:
                await ob.flush()
                print(f"S {(await ob.stats()).last_seq}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
