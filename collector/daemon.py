"""The daemon: one store, one ingest pipeline, the platform functions, one HTTP server, one TaskGroup.

If any task dies the TaskGroup cancels the rest and the process exits non-zero, so systemd
restarts it whole; nothing is half-alive. Records in flight are not lost by that: they were not
acknowledged, so the agents re-send them. `stop` (SIGTERM) ends the group cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys

from aiohttp import web

from collector.accounts.store import AccountStore, load_accounts_config
from collector.config import CollectorConfig
from collector.errors import CollectorError
from collector.http import routes
from collector.http.api import make_app, stream_route
from collector.http.console import ConsoleSettings, set_console_settings
from collector.http.console.stream import ConsoleHub
from collector.http.platform_routes import add_platform_routes
from collector.ingest.pipeline import Ingest
from collector.metrics import Metrics
from collector.outbound import live_view
from collector.platform import gauges as platform_gauges
from collector.platform.service import Platform, PlatformConfig
from collector.store import Store, open_store

log = logging.getLogger("collector")

# The store thread makes many short calls that release and retake the GIL; with Python's default
# 5 ms switch interval a busy event loop makes it wait up to 5 ms each time (the "convoy effect")
# and commits slow down exactly when frames pour in. 0.5 ms keeps both threads moving.
SWITCH_INTERVAL_S = 0.0005


class _Stopping(CollectorError):
    """Raised inside the TaskGroup to end it when asked to stop."""


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify, WatchdogSec) how we are; a no-op outside systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    addr = "\0" + path[1:] if path.startswith("@") else path
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(message.encode())


class Collector:
    """One collector process. `store`, `ingest` and `metrics` are set once `ready` is."""

    def __init__(self, config: CollectorConfig, platform_config: PlatformConfig | None = None) -> None:
        self.config = config
        self.platform_config = platform_config
        self.ready = asyncio.Event()
        self.metrics = Metrics()
        self.store: Store | None = None
        self.ingest: Ingest | None = None
        self.platform: Platform | None = None
        self.accounts: AccountStore | None = None

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        token = cfg.api_token()
        async with contextlib.AsyncExitStack() as stack:
            store = self.store = await stack.enter_async_context(open_store(cfg.db_url))
            ingest = self.ingest = Ingest(cfg, store, self.metrics)
            await ingest.refresh_registry()
            accounts = self.accounts = AccountStore(store, load_accounts_config(cfg.config_file))
            await accounts.create_schema()
            app = make_app(store, self.metrics, ingest, token, accounts)
            # The console's server push: committed alarms and case steps reach the open pages at once.
            hub = ConsoleHub()
            routes.register(app, [stream_route(hub)])
            # The store's listener (not the ingest's): it also hears device_offline raised by the
            # presence check and cleared by a presence message or the device being heard again.
            tell_console = hub.listener("alarms")
            store.alarm_listeners.append(lambda _changes: tell_console())
            platform = None
            if self.platform_config is not None:
                platform = self.platform = await stack.enter_async_context(Platform(store, self.platform_config))
                add_platform_routes(app, platform, token, run_tasks=False)
                platform.case_listeners.append(hub.listener("cases"))
                pc = self.platform_config
                set_console_settings(
                    app, ConsoleSettings(pc.time_zone, pc.rescue.response_limit_s, pc.rescue.arrival_limit_s)
                )
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, cfg.http_host, cfg.http_port)
                try:
                    await site.start()
                except OSError as exc:
                    raise CollectorError(f"--http {cfg.http_host}:{cfg.http_port}: {exc.strerror}") from None
                log.info(
                    "collector up: store %s, API and console http://%s:%d, %d devices registered, platform %s",
                    store.url.split("@")[-1],
                    cfg.http_host,
                    cfg.http_port,
                    len(ingest.registry),
                    "on" if platform is not None else "off",
                )
                self.ready.set()
                sd_notify("READY=1")
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(ingest.run_mqtt(), name="mqtt-ingest")
                        tg.create_task(ingest.run_writer(), name="store-writer")
                        tg.create_task(ingest.run_slow(), name="ingest-slow-path")
                        tg.create_task(ingest.run_presence(), name="presence-watch")
                        tg.create_task(ingest.run_registry(), name="registry-refresh")
                        tg.create_task(ingest.run_gauges(), name="store-gauges")
                        tg.create_task(self._watchdog(store), name="watchdog")
                        if platform is not None:
                            tg.create_task(platform.run(), name="platform")
                            tg.create_task(platform_gauges.run(platform, self.metrics), name="platform-gauges")
                            tg.create_task(live_view.live_while_rescued(platform, ingest), name="live-view-rescues")
                        tg.create_task(_stop_when(stop), name="stop")
                except* _Stopping:
                    log.info("stopping")
                    sd_notify("STOPPING=1")
            finally:
                hub.close()  # open console streams would hold the server's clean-up for a minute each
                await runner.cleanup()

    async def _watchdog(self, store: Store) -> None:
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit():
            return
        interval_s = int(usec) / 2e6
        while True:
            await store.ping()  # a wedged store stops the pings and systemd restarts us
            sd_notify("WATCHDOG=1")
            await asyncio.sleep(interval_s)


async def _stop_when(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stopping()
