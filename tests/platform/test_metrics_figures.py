"""/metrics figures that said something untrue: a city-feed backlog on a county that has no city
feed (its outbox only keeps history, nothing will ever send it), and a `reason="none"` sample
standing in for refusals before the first one."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from collector.metrics import FIXED_REJECT_REASONS, Metrics
from collector.outbound.city_feed import CityFeedConfig
from collector.platform import gauges
from collector.platform.service import Platform, PlatformConfig
from collector.store import open_store
from tests.collector.conftest import wait_until
from tests.platform.helpers import T0, Clock, ev, rows
from tests.support.services import free_port


async def _figures(db_url: str, config: PlatformConfig) -> tuple[dict[str, int], int]:
    """The platform's gauges after an entrapment, and the rows in its city outbox."""
    metrics = Metrics()
    async with open_store(db_url) as store:
        await store.add_device("lift-1", "lift-1", T0)
        async with Platform(store, config, Clock(T0 + 100_000)) as p:
            await store.commit(rows("lift-1", [ev(1, 90, "entrapment", "raise")]))
            await p.tick()
            task = asyncio.create_task(gauges.run(p, metrics))
            try:
                await wait_until(lambda: metrics.platform_gauges, 10, "the platform's figures")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            queued = await store.run(lambda cur: cur.execute("SELECT COUNT(*) FROM city_outbox").fetchone()[0])
    return metrics.platform_gauges, int(queued)


async def test_no_city_feed_no_city_feed_backlog(db_url: str) -> None:
    figures, queued = await _figures(db_url, PlatformConfig())
    assert queued >= 2  # the alarm and the case are kept in the outbox all the same ...
    assert "city_feed_backlog" not in figures  # ... but no backlog is claimed for a feed that is not there
    assert figures["rescue_cases_open"] == 1


async def test_a_configured_city_feed_has_its_backlog(db_url: str) -> None:
    feed = CityFeedConfig(f"http://127.0.0.1:{free_port()}", "330602", "county-token-1")
    figures, queued = await _figures(db_url, PlatformConfig(city_feed=feed))
    assert figures["city_feed_backlog"] == queued >= 2  # nothing listens at the city: all pending


def test_rejected_frames_have_their_reasons_at_zero_and_no_placeholder() -> None:
    m = Metrics()
    registry = CollectorRegistry()

    class Families:
        def collect(self):  # type: ignore[no-untyped-def]
            return m.families()

    registry.register(Families())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'reason="none"' not in text
    for reason in FIXED_REJECT_REASONS:
        assert f'collector_frames_rejected_total{{reason="{reason}"}} 0.0' in text
    m.reject("frame_bad_kind")
    m.reject("unregistered")
    text = generate_latest(registry).decode()
    assert 'collector_frames_rejected_total{reason="frame_bad_kind"} 1.0' in text
    assert 'collector_frames_rejected_total{reason="unregistered"} 1.0' in text
    assert 'collector_frames_rejected_total{reason="topic"} 0.0' in text
