"""A flood faster than the store: the queue stays bounded, MQTT reading pauses (the broker keeps the
frames), /metrics answers, and afterwards every record is stored exactly once (issue 13 item 5)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from collector.ingest.mqtt_session import OUT_WINDOW
from tests.collector.conftest import TOKEN, Running, make_config, wait_until
from tests.collector.publisher import Publisher, statuses
from tests.support.services import Broker

BOUND = 100
ONE_READ = OUT_WINDOW + 1  # paho reads at most (its outgoing messages + 1) packets per readable event


async def test_flood_keeps_the_queue_bounded_and_loses_nothing(tmp_path: Path, broker: Broker) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    cfg = replace(
        make_config(broker, f"sqlite:///{tmp_path / 'c.db'}", token_file),
        queue_max_records=BOUND,
        batch_max_records=20,
        batch_window_ms=20.0,
    )
    col = await Running(cfg).start(devices=("lift-1", "lift-2"))
    try:
        ingest = col.collector.ingest
        assert ingest is not None
        async with Publisher(broker.port, "lift-1", batch=1) as p1, Publisher(broker.port, "lift-2", batch=1) as p2:
            flood = asyncio.gather(p1.send(statuses(2000)), p2.send(statuses(2000)))
            slowest = 0.0
            while not flood.done():
                t0 = time.perf_counter()
                status, _ = await col.get("/metrics", None)
                slowest = max(slowest, time.perf_counter() - t0)
                assert status == 200
                await asyncio.sleep(0.05)
            await flood
            await p1.resend_until_acked(60)
            await p2.resend_until_acked(60)
        await wait_until(lambda: ingest.queue_depth() == 0, what="queue drained")
        assert await col.store.count_records("lift-1") == 2000
        assert await col.store.count_records("lift-2") == 2000
        m = col.collector.metrics
        assert m.backpressure_pauses >= 1, "the flood never filled the queue: the test proves nothing"
        assert ingest.queue_depth_max <= BOUND + ONE_READ, ingest.queue_depth_max
        assert slowest < 2.0, f"/metrics took {slowest:.2f} s during the flood"
    finally:
        await col.close()
