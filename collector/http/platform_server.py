"""`elev-collector platform`: the platform as its own process on a collector database (and the city
platform, which needs no MQTT). Inside the collector, `collector.daemon` adds the same routes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from aiohttp import web

from collector.accounts.roles import DISTRICT
from collector.accounts.store import AccountsConfig, AccountStore, load_accounts_config
from collector.errors import CollectorError, ConfigError, StoreError
from collector.http import account_routes, routes
from collector.http.auth import install
from collector.http.body import CLIENT_MAX_SIZE
from collector.http.console import allow_console_origin
from collector.http.platform_routes import _p, add_platform_routes, h_city_alarms, h_city_elevators
from collector.http.routes import Route
from collector.platform.service import Platform, PlatformConfig, _read_token, load_config

log = logging.getLogger("collector.platform")


async def _health(request: web.Request) -> web.Response:
    db = _p(request).db
    failures: tuple[type[BaseException], ...] = (StoreError, *db.engine_errors)
    try:
        await db.run(lambda cur: cur.execute("SELECT 1"))
    except failures as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return web.json_response({"ok": False, "reason": first}, status=503)
    if (problem := db.problem()) is not None:
        return web.json_response({"ok": False, "reason": problem}, status=503)
    return web.json_response({"ok": True})


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(routes.openapi(request.app, account_routes.SCHEMAS, "smart-elevator platform"))


_PUBLIC = frozenset[str]()
BASE_ROUTES = [
    Route("GET", "/healthz", _health, _PUBLIC, "health (the database answers)", auth="public", tag="operations"),
    Route("GET", "/openapi.json", _openapi, _PUBLIC, "this document", auth="public", tag="operations"),
    Route(
        "OPTIONS",
        "/api/v1/{tail:.*}",
        None,
        _PUBLIC,
        "CORS preflight for a console served by another process",
        auth="public",
        tag="operations",
        params=({"name": "tail", "in": "path", "required": True, "schema": {"type": "string"}},),
    ),
]
# The city answers the collector's own questions too, over every county's elevators.
CITY_AS_COLLECTOR = [
    Route("GET", "/api/v1/elevators", h_city_elevators, DISTRICT, "city: every county's elevators", tag="city"),
    Route("GET", "/api/v1/alarms", h_city_alarms, DISTRICT, "city: every county's alarms", tag="city"),
]


def make_platform_app(platform: Platform, token: str, accounts: AccountStore | None = None) -> web.Application:
    """The standalone platform's app (its worker is run by the caller)."""
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    install(app, token, accounts)
    routes.register(app, BASE_ROUTES)
    if accounts is not None:
        routes.register(app, account_routes.ROUTES)
    add_platform_routes(app, platform, token, run_tasks=False)
    if platform.config.city.counties:
        routes.register(app, CITY_AS_COLLECTOR)
    allow_console_origin(app)  # the operator console, served by the collector, calls this API from the browser
    return app


async def serve(
    db_url: str,
    host: str,
    port: int,
    token: str,
    config: PlatformConfig,
    ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
    accounts_config: AccountsConfig | None = None,
) -> None:
    async with Platform(db_url, config) as platform:
        accounts = AccountStore(platform.db, accounts_config)
        await accounts.create_schema()
        app = make_platform_app(platform, token, accounts)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as exc:
                raise CollectorError(f"--http {host}:{port}: {exc.strerror}") from None
            log.info("platform up on http://%s:%d (store %s)", host, port, db_url.split("@")[-1])
            if ready is not None:
                ready()
            stop = stop or asyncio.Event()
            async with asyncio.TaskGroup() as tg:
                run = tg.create_task(platform.run(), name="platform")
                await stop.wait()
                run.cancel()
        finally:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="elev-collector platform",
        description="Rescue cases, maintenance supervision, statistics, the identity registry and the "
        "county->city feed over a collector database; also the city platform's intake.",
    )
    parser.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://… (the collector's database)")
    parser.add_argument("--http", default="127.0.0.1:8081", help="HOST:PORT to serve the API on")
    parser.add_argument("--api-token-file", required=True, help="file holding the bearer token for /api/v1/")
    parser.add_argument("--config", help="TOML file with a [platform] table (see docs/city-interface.md)")
    parser.add_argument("--debug", action="store_true", help="tracebacks and debug logging")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        host, sep, port = args.http.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--http: {args.http!r} must be HOST:PORT")
        token = _read_token(args.api_token_file, "--api-token-file")
        config = load_config(args.config)
        accounts_config = load_accounts_config(args.config)
    except ConfigError as exc:
        print(f"elev-collector platform: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve_until_signal(args.db, host or "0.0.0.0", int(port), token, config, accounts_config))
    except (CollectorError, ExceptionGroup) as exc:
        first = _first(exc)
        if first is None or args.debug:
            raise
        print(f"elev-collector platform: {first}", file=sys.stderr)
        return 1
    return 0


async def _serve_until_signal(
    db_url: str, host: str, port: int, token: str, config: PlatformConfig, accounts_config: AccountsConfig
) -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(db_url, host, port, token, config, stop=stop, accounts_config=accounts_config)


def _first(exc: BaseException) -> CollectorError | None:
    if isinstance(exc, CollectorError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first(inner)
            if found is not None:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
