"""`elev-collector run`: the district service (MQTT ingest, store, alarms, platform functions, HTTP API, console)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from collector.config import CollectorConfig, load, parse_http, read_toml
from collector.daemon import Collector
from collector.errors import CollectorError, ConfigError
from collector.platform.service import PlatformConfig
from protocols import logs

log = logging.getLogger("collector")


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="elev-collector run", description=__doc__)
    p.add_argument("--broker", metavar="URL", help="mqtt://[user:password@]host:port or mqtts://…")
    p.add_argument("--db", metavar="DB_URL", help="sqlite:///path/to/file.db (default) or postgresql://…")
    p.add_argument("--http", metavar="HOST:PORT", help="where the HTTP API listens (default 127.0.0.1:8080)")
    p.add_argument("--api-token-file", metavar="FILE", help="file holding the bearer token for /api/v1/")
    p.add_argument("--config", metavar="FILE", help="TOML file ([collector] table); flags override it")
    p.add_argument("--client-id", metavar="ID", help="MQTT client id (stable per process; default host-port)")
    p.add_argument("--group", metavar="NAME", help="shared subscription group (default collectors)")
    p.add_argument("--offline-after-s", type=float, metavar="S", help="silence before device_offline (180)")
    p.add_argument("--batch-max", type=int, metavar="N", help="records per transaction at most (2000)")
    p.add_argument("--batch-window-ms", type=float, metavar="MS", help="wait for more frames before commit (5)")
    p.add_argument(
        "--no-platform",
        action="store_true",
        help="ingest and the API only: no rescue cases, maintenance, statistics, registry, webhooks or city feed",
    )
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    return p


def parse_config(argv: list[str]) -> tuple[CollectorConfig, bool]:
    args = build_parser().parse_args(argv)
    file_values = read_toml(args.config) if args.config else {}
    overrides: dict[str, object] = {
        "broker_url": args.broker,
        "db_url": args.db,
        "api_token_file": args.api_token_file,
        "client_id": args.client_id,
        "share_group": args.group,
        "offline_after_s": args.offline_after_s,
        "batch_max_records": args.batch_max,
        "batch_window_ms": args.batch_window_ms,
        "platform": False if args.no_platform else None,
        "config_file": args.config,
    }
    if args.http:
        overrides["http_host"], overrides["http_port"] = parse_http(args.http)
    config = load(file_values, overrides, args.config or "flags")
    config.api_token()  # a missing or empty token file is a configuration error, found now
    if config.platform:
        platform_config(config)  # a bad [platform] table is found now, not after start-up
    from collector.accounts.store import load_accounts_config

    load_accounts_config(config.config_file)  # and a bad [accounts] table
    return config, args.debug


def platform_config(config: CollectorConfig) -> PlatformConfig:
    """The `[platform]` table of the same file (defaults without a file). The city role (a
    `[platform.city]` table) runs as `elev-collector platform`: its aggregate routes replace the
    county's own `/api/v1/elevators` and `/api/v1/alarms`."""
    from collector.platform.service import load_config

    pc = load_config(config.config_file)
    if pc.city.counties:
        raise ConfigError(
            f"{config.config_file}: [platform.city] is the city role: run it as `elev-collector platform`, "
            "or pass --no-platform"
        )
    return pc


async def _serve(config: CollectorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Collector(config, platform_config(config) if config.platform else None).run(stop)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    logs.configure(debug)  # journald-aware timestamps, $ELEV_LOG_FORMAT=json, credentials masked
    if not debug:
        logging.getLogger("mqtt").setLevel(logging.WARNING)
    try:
        config, debug = parse_config(argv)
    except ConfigError as exc:
        print(f"elev-collector run: {logs.mask_credentials(str(exc))}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except (CollectorError, ExceptionGroup) as exc:
        first = first_collector_error(exc)
        if first is None or debug:
            raise
        print(f"elev-collector run: {logs.mask_credentials(str(first))}", file=sys.stderr)
        return 1
    return 0


def first_collector_error(exc: BaseException) -> CollectorError | None:
    """The CollectorError inside a (nested) exception group, if that is what ended the daemon."""
    if isinstance(exc, CollectorError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_collector_error(inner)
            if found is not None:
                return found
    return None
