"""`elev-agent run`: the gateway daemon (see edge_agent/agent.py for what runs inside).

    elev-agent run --device-id ID (--modbus-tcp HOST:PORT | --modbus-rtu DEVICE) --broker URL
                   --data-dir DIR [--floors LOW..HIGH] [--gpio-sim HOST:PORT] [--config FILE] [--debug]

The building's floors ([elevator] lowest_floor/highest_floor or --floors) should be given: the
controller reports landings 1..N, so the agent cannot learn them. Without them it still runs (the
command surface's `run` flags are enough to start it), judges overtravel and position_lost against
the placeholder floors, and says so in one WARNING at start; `elev-agent check` refuses instead.

Exit codes: 0 clean stop (SIGTERM / SIGINT), 1 a loop died (systemd restarts the service),
2 bad command line or configuration (one line on stderr naming the file and key).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from edge_agent.config import AgentConfig, AgentError, ConfigError, Overrides, load, require_floors
from protocols import logs

log = logging.getLogger("edge_agent")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="elev-agent run", description="Run the edge agent.")
    p.add_argument("--device-id", help="this elevator's id (letters, digits, _ and -)")
    link = p.add_mutually_exclusive_group()
    link.add_argument("--modbus-tcp", metavar="HOST:PORT", help="controller over Modbus TCP")
    link.add_argument("--modbus-rtu", metavar="DEVICE", help="controller over Modbus RTU (e.g. /dev/ttyUSB0)")
    p.add_argument("--broker", metavar="URL", help="mqtt://[user:password@]host:port or mqtts://...")
    p.add_argument("--data-dir", metavar="DIR", help="where the outbox and status file live")
    p.add_argument(
        "--floors", metavar="LOW..HIGH", help="the building's floors, e.g. --floors=-1..12 ([elevator] in FILE)"
    )
    p.add_argument("--gpio-sim", metavar="HOST:PORT", help="take the sensor levels from elev-sim --gpio-serve")
    p.add_argument("--config", metavar="FILE", help="TOML configuration; flags override it")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text lines (timestamped unless under journald) or JSON lines (default $ELEV_LOG_FORMAT or text)",
    )
    p.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    return p


def setup_logging(debug: bool, fmt: str | None = None) -> None:
    """protocols.logs: journald-aware timestamps, optional JSON lines, credentials masked."""
    logs.configure(debug, fmt)
    # pymodbus logs every failed request at error level; the bus owner logs an outage once instead.
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    if not debug:
        logging.getLogger("asyncio").setLevel(logging.WARNING)


async def serve(cfg: AgentConfig) -> None:
    """Build the hardware edge from configuration and run the agent until cancelled."""
    from edge_agent.agent import Agent, outbox_path
    from edge_agent.hw.gpio import GpiozeroInputs, SimGpioFeed, mock_factory, native_factory
    from edge_agent.hw.modbus import ModbusBus
    from edge_agent.outbox import Outbox

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    factory = mock_factory() if cfg.gpio.pin_factory == "sim" else native_factory()
    inputs = GpiozeroInputs(cfg.gpio, factory)
    feed = None
    if cfg.gpio.pin_factory == "sim":
        assert cfg.gpio.sim_host is not None
        feed = SimGpioFeed(inputs, cfg.gpio.sim_host, cfg.gpio.sim_port)
    bus = ModbusBus(cfg.modbus)
    try:
        async with Outbox(outbox_path(cfg.data_dir), cfg.outbox, cfg.timing.status_flush_s) as outbox:
            agent = Agent(cfg, bus, inputs, outbox, gpio_feed=feed)
            try:
                await agent.run()
            finally:
                await asyncio.shield(agent.shutdown())
    finally:
        await bus.close()
        inputs.close()


async def _main(cfg: AgentConfig) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        stopping = True
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await serve(cfg)
    except asyncio.CancelledError:
        if stopping:
            log.info("stopped")
            return 0
        raise
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.debug, args.log_format)
    try:
        cfg = load(
            args.config,
            Overrides(
                device_id=args.device_id,
                broker_url=args.broker,
                modbus_tcp=args.modbus_tcp,
                modbus_rtu=args.modbus_rtu,
                data_dir=args.data_dir,
                gpio_sim=args.gpio_sim,
                floors=args.floors,
            ),
        )
        try:
            require_floors(cfg)
        except ConfigError as exc:
            logging.getLogger("edge_agent").warning(
                "%s; running on the placeholder floors %d..%d until they are configured",
                exc,
                cfg.elevator.lowest_floor,
                cfg.elevator.highest_floor,
            )
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"elev-agent run: {logs.mask_credentials(str(exc))}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_main(cfg))
    except KeyboardInterrupt:
        return 0
    except (AgentError, OSError, ExceptionGroup) as exc:
        if args.debug:
            raise
        leaves = _leaves(exc)
        for e in leaves:
            what = str(e) if isinstance(e, AgentError) else f"{type(e).__name__}: {e}"
            print(f"elev-agent run: {logs.mask_credentials(what)}", file=sys.stderr)
        return 2 if all(isinstance(e, ConfigError) for e in leaves) else 1


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


if __name__ == "__main__":
    sys.exit(main())
