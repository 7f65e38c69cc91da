"""`elev-sim run`: one simulated elevator served in real time, as its controller and sensors would.

    elev-sim run --modbus-tcp HOST:PORT [--modbus-rtu auto|PATH] [--gpio-serve HOST:PORT]
                 [--scenario FILE] [--control HOST:PORT] [--tick-ms N] [--config FILE] [--debug]

Without --scenario the car runs normal passenger traffic forever. Stdout carries JSON lines only:
one `{"ready": true, ...}` line once every endpoint listens (with the pty path a Modbus RTU client
should open under "modbus_rtu"), then one `{"ts": ..., "inject": FAULT, ...}` line per fault that
starts (scheduled by the scenario or injected by hand through --control). Logs go to stderr.
Ctrl-C or SIGTERM stops cleanly with exit code 0; a scenario with `duration_s` ends after it.

--config FILE is TOML with the flags' long names as keys (`modbus_tcp = "127.0.0.1:5020"`, ...);
a flag given on the command line wins over the file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import tomllib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hw_sim.endpoints import ConfigError, SimServeError, hostport, parse_hostport
from hw_sim.live import TICK_S, InjectLog, LiveElevator, run_ticker

if TYPE_CHECKING:
    from hw_sim.scenario import Scenario

log = logging.getLogger("elev-sim")


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSettings:
    modbus_tcp: tuple[str, int]
    modbus_rtu: str | None = None  # "auto" or a path
    gpio_serve: tuple[str, int] | None = None
    control: tuple[str, int] | None = None
    scenario: Path | None = None
    tick_s: float = TICK_S
    time_scale: float = 1.0
    debug: bool = False


_CONFIG_KEYS = ("modbus_tcp", "modbus_rtu", "gpio_serve", "scenario", "control", "tick_ms", "time_scale", "debug")


def load_config(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"--config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in _CONFIG_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(_CONFIG_KEYS)})")
        if key == "debug":
            ok, kind = isinstance(value, bool), "true or false"
        elif key == "tick_ms":
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif key == "time_scale":
            ok, kind = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        else:
            ok, kind = isinstance(value, str), "a string"
        if not ok:
            raise ConfigError(f"{path}: {key} must be {kind}, got {value!r}")
    return data


def settings_from(args: argparse.Namespace) -> RunSettings:
    file = load_config(args.config) if args.config else {}
    where = f"{args.config}: " if args.config else ""

    def pick(name: str) -> Any:
        flag = getattr(args, name)
        return flag if flag is not None else file.get(name)

    tcp = pick("modbus_tcp")
    if tcp is None:
        raise ConfigError("--modbus-tcp HOST:PORT is required (flag or config key modbus_tcp)")
    gpio, control, scenario = pick("gpio_serve"), pick("control"), pick("scenario")
    tick_ms = pick("tick_ms")
    if tick_ms is not None and not 5 <= tick_ms <= 100:
        raise ConfigError(f"{where}tick_ms must be 5..100, got {tick_ms}")
    time_scale = pick("time_scale")
    if time_scale is not None and not 0.1 <= time_scale <= 100:
        raise ConfigError(f"{where}time_scale must be 0.1..100, got {time_scale}")
    return RunSettings(
        modbus_tcp=parse_hostport(tcp, "--modbus-tcp"),
        modbus_rtu=pick("modbus_rtu"),
        gpio_serve=parse_hostport(gpio, "--gpio-serve") if gpio else None,
        control=parse_hostport(control, "--control") if control else None,
        scenario=Path(scenario) if scenario else None,
        tick_s=tick_ms / 1000 if tick_ms else TICK_S,
        time_scale=float(time_scale) if time_scale is not None else 1.0,
        debug=bool(args.debug or file.get("debug")),
    )


# --- shared by run and fleet -----------------------------------------------------------------


def load_scenario_or_default(path: Path | None) -> Scenario:
    """The scenario file, or normal passenger traffic forever."""
    from hw_sim import scenario as sc

    if path is None:
        return sc.Scenario(sc.default_elevator())
    return sc.load_scenario(path)


def make_car(
    scenario: Scenario, out: Callable[[dict[str, Any]], object], name: str = "", time_scale: float = 1.0
) -> LiveElevator:
    from hw_sim.model import ElevatorSim

    return LiveElevator(
        ElevatorSim(scenario), scenario.elevator.rated_speed_mm_s, out, name=name, time_scale=time_scale
    )


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def stop_on_signals() -> asyncio.Event:
    """An event that SIGINT and SIGTERM set; installed before anything listens, so none is missed."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def wait_for_stop(stop: asyncio.Event, duration_s: float | None, ticker: asyncio.Task[None]) -> int:
    """Until a stop signal, the scenario's end, or the model failing; returns the exit code."""
    loop = asyncio.get_running_loop()
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    stopper = asyncio.create_task(stop.wait(), name="stop")
    await asyncio.wait({stopper, ticker}, return_when=asyncio.FIRST_COMPLETED)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    stopper.cancel()
    if ticker.done():
        exc = ticker.exception()
        log.error("the simulation stopped: %s", exc, exc_info=exc if log.isEnabledFor(logging.DEBUG) else None)
        return 1
    ticker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticker
    return 0


# --- run ---------------------------------------------------------------------------------------


async def serve(settings: RunSettings) -> int:
    scenario = load_scenario_or_default(settings.scenario)
    stop = stop_on_signals()
    from hw_sim.control import ControlServer  # the servers (pymodbus) load only once the settings are good
    from hw_sim.gpio_server import GpioServer
    from hw_sim.modbus_server import RtuLine, start_tcp

    car = make_car(scenario, InjectLog(), time_scale=settings.time_scale)
    ready: dict[str, Any] = {"ready": True}
    tcp_server, _ = await start_tcp(car, *settings.modbus_tcp, debug=settings.debug)
    ready["modbus_tcp"] = hostport(settings.modbus_tcp)
    rtu: RtuLine | None = None
    gpio: GpioServer | None = None
    control: ControlServer | None = None
    try:
        if settings.modbus_rtu:
            rtu = RtuLine(car, settings.modbus_rtu, seed=scenario.seed)
            await rtu.start(debug=settings.debug)
            ready["modbus_rtu"] = rtu.symlink or rtu.path
            log.info("Modbus RTU: open %s (19200 8N1, unit 1)", ready["modbus_rtu"])
        if settings.gpio_serve:
            gpio = GpioServer(car)
            await gpio.start(*settings.gpio_serve)
            ready["gpio_serve"] = hostport(settings.gpio_serve)
        if settings.control:
            control = ControlServer([car])
            await control.start(*settings.control)
            ready["control"] = hostport(settings.control)
        log.info("serving %s", ", ".join(f"{k} {v}" for k, v in ready.items() if k != "ready"))
        print_json(ready)
        ticker = asyncio.create_task(run_ticker([car], settings.tick_s), name="ticker")
        duration_s = scenario.duration_s
        code = await wait_for_stop(stop, duration_s / settings.time_scale if duration_s else None, ticker)
    finally:
        for closer in (control, gpio, rtu):
            if closer is not None:
                await closer.close()
        await tcp_server.shutdown()
    log.info("stopped")
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elev-sim run",
        description="Simulate one elevator in real time: NICE3000+ registers on Modbus TCP/RTU, sensors on GPIO.",
    )
    p.add_argument("--modbus-tcp", metavar="HOST:PORT", help="Modbus TCP slave address (required)")
    p.add_argument(
        "--modbus-rtu",
        metavar="auto|PATH",
        help="Modbus RTU slave on a new pty ('auto': the ready line names it; PATH: a symlink to it) "
        "or on an existing serial device",
    )
    p.add_argument("--gpio-serve", metavar="HOST:PORT", help="serve the sensor levels to agents (--gpio-sim)")
    p.add_argument("--scenario", metavar="FILE", help="scenario TOML; default: normal passenger traffic forever")
    p.add_argument("--control", metavar="HOST:PORT", help="control socket for `elev-sim inject`")
    p.add_argument("--tick-ms", type=int, metavar="N", help="model step in ms (default 25)")
    p.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="simulated time runs X times faster than the wall clock (0.1..100, default 1; demos and tests)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML file with these settings (flags win)")
    p.add_argument("--debug", action="store_true", default=None, help="debug logs and tracebacks")
    return p


def run_main(coro_factory: Callable[[], Coroutine[Any, Any, int]], debug: bool, prog: str) -> int:
    """asyncio.run with the project's error policy: one clear line unless --debug."""
    from hw_sim.scenario import ScenarioError

    try:
        return int(asyncio.run(coro_factory()))
    except (SimServeError, ScenarioError, ConfigError) as exc:
        if debug:
            raise
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"elev-sim run: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.debug)
    return run_main(lambda: serve(settings), settings.debug, "elev-sim run")


if __name__ == "__main__":
    sys.exit(main())
