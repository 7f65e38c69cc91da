"""The platform's figures for /metrics, read by a task of the service, never by the scrape.

A scrape that ran these counts would wait behind the platform's database executor exactly when
the platform is busy; read every couple of seconds and kept in memory, they cost the scrape nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from collector.metrics import Metrics
from collector.platform.rescue import Status
from collector.platform.service import Platform

log = logging.getLogger("collector.platform")

REFRESH_S = 2.0
OPEN_STATUSES = tuple(s.value for s in (Status.OCCURRED, Status.RESPONDED, Status.ON_SITE))


def _counts(cur: Any) -> dict[str, int]:
    cur.execute(f"SELECT COUNT(*) FROM rescue_cases WHERE status IN {OPEN_STATUSES!r}")
    (open_cases,) = cur.fetchone()
    cur.execute("SELECT COUNT(*) FROM city_outbox WHERE sent_ms IS NULL")
    (feed,) = cur.fetchone()
    cur.execute("SELECT COUNT(*) FROM webhook_outbox WHERE sent_ms IS NULL AND failed_ms IS NULL")
    (hooks,) = cur.fetchone()
    return {"rescue_cases_open": int(open_cases), "city_feed_backlog": int(feed), "webhook_backlog": int(hooks)}


def expose(platform: Platform, metrics: Metrics) -> None:
    """The counters the platform keeps in memory, read live at scrape time."""
    metrics.live["platform_rescue_cases_opened"] = (
        "counter",
        "rescue cases opened by this process",
        lambda: float(platform.cases_opened),
    )
    metrics.live["platform_escalations"] = (
        "counter",
        "rescue escalations sent by this process",
        lambda: float(platform.escalations_sent),
    )


async def run(platform: Platform, metrics: Metrics) -> None:
    """Keep `metrics.platform_gauges` fresh; a failed read keeps the last figures (the store's
    health is /healthz's business, judged by the ingest)."""
    expose(platform, metrics)
    said = False
    while True:
        try:
            figures = await platform.db.run(_counts)
            if platform.feed_sender is None:
                # No [platform.city_feed]: nothing is ever sent, so a "backlog" would only count the
                # county's history (the outbox keeps it for a feed configured later), growing forever.
                figures.pop("city_feed_backlog")
            metrics.platform_gauges = figures
            said = False
        except Exception as exc:  # noqa: BLE001 - figures for a scrape are never worth stopping the service
            if not said:
                log.warning("platform figures for /metrics not read: %s: %s", type(exc).__name__, exc)
                said = True
        await asyncio.sleep(REFRESH_S)
