"""The retrofit sensor lines through gpiozero, behind the `DigitalInputs` seam.

The pin factory is chosen by configuration and passed explicitly as `pin_factory=` (gpiozero's
global default is never touched): on a Raspberry Pi the board's own GPIO, elsewhere a
`MockFactory` whose pins are driven by the simulator's GPIO stream (`--gpio-sim HOST:PORT`, see
protocols/gpio_link.py). The rest of the agent cannot tell the two apart.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from gpiozero import DigitalInputDevice
from gpiozero.exc import GPIOZeroError

from edge_agent.config import GpioConfig
from edge_agent.hw import HwError, cancellation_point
from protocols.gpio_link import GpioLinkError, decode_levels

log = logging.getLogger(__name__)


def native_factory() -> Any:
    """The board's GPIO: lgpio (Pi 5 and current Raspberry Pi OS), else RPi.GPIO, else gpiozero's native."""
    errors = []
    for module, cls in (
        ("gpiozero.pins.lgpio", "LGPIOFactory"),
        ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
        ("gpiozero.pins.native", "NativeFactory"),
    ):
        try:
            mod = __import__(module, fromlist=[cls])
            return getattr(mod, cls)()
        except (ImportError, OSError, RuntimeError, GPIOZeroError) as exc:
            errors.append(f"{cls}: {exc}")
    raise HwError("no GPIO on this machine (" + "; ".join(errors) + '); use [gpio] pin_factory = "sim" off a Pi')


def mock_factory() -> Any:
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


class GpiozeroInputs:
    """DigitalInputs over gpiozero DigitalInputDevice, one per fitted line."""

    def __init__(
        self, cfg: GpioConfig, pin_factory: Any, clock_ms: Callable[[], int] = lambda: int(time.monotonic() * 1000)
    ) -> None:
        self.cfg = cfg
        self.factory = pin_factory
        self._clock_ms = clock_ms
        # Every level change with the moment it happened (gpiozero's callback thread on a Pi, the
        # simulator stream here). deque.append/popleft are thread-safe; bounded so a chattering
        # contact nobody drains cannot grow memory.
        self._edges: collections.deque[tuple[int, str, bool]] = collections.deque(maxlen=4096)
        self._devices: dict[str, DigitalInputDevice] = {}
        self._absent: set[str] = set(cfg.absent)
        self._ready = cfg.pin_factory != "sim"
        try:
            for name, pin in cfg.pins.items():
                if name in cfg.absent:
                    continue
                dev = DigitalInputDevice(
                    pin, pull_up=None, active_state=name not in cfg.inverted, pin_factory=pin_factory
                )
                dev.when_activated = self._edge_recorder(name, True)
                dev.when_deactivated = self._edge_recorder(name, False)
                self._devices[name] = dev
        except GPIOZeroError as exc:
            self.close()
            raise HwError(f"GPIO: cannot open line: {exc}") from None

    @property
    def ready(self) -> bool:
        return self._ready

    def levels(self) -> Mapping[str, bool]:
        return {name: bool(d.is_active) for name, d in self._devices.items() if name not in self._absent}

    def _edge_recorder(self, name: str, level: bool) -> Callable[[], None]:
        def record() -> None:
            self._edges.append((self._clock_ms(), name, level))

        return record

    def edges(self) -> list[tuple[int, str, bool]]:
        """Level changes since the last call, oldest first: (monotonic ms, line, level).

        The agent feeds them to the detector at their own moments, so a 20 ms contact bounce stays
        20 ms long instead of lasting until the next 100 ms poll (which the contract counts as real).
        """
        out = []
        while self._edges:
            t, name, level = self._edges.popleft()
            if name not in self._absent:
                out.append((t, name, level))
        return out

    def drive(self, levels: Mapping[str, bool], full: bool) -> None:
        """Set the mock pins (simulator stream); `full` = the first message, naming every fitted line."""
        for name, level in levels.items():
            if name not in self._devices:
                continue
            raw = level != (name in self.cfg.inverted)
            pin = self.factory.pin(self.cfg.pins[name])
            if raw:
                pin.drive_high()
            else:
                pin.drive_low()
        if full:
            self._absent = set(self.cfg.absent) | (set(self._devices) - set(levels))
            self._ready = True

    def close(self) -> None:
        for d in self._devices.values():
            d.close()
        self._devices.clear()


class SimGpioFeed:
    """Drive the mock pins from `elev-sim run --gpio-serve`; reconnects with jittered backoff."""

    def __init__(self, inputs: GpiozeroInputs, host: str, port: int) -> None:
        self.inputs = inputs
        self.host = host
        self.port = port
        self.connected = False
        self.messages = 0
        self.bad_messages = 0
        self.on_change: asyncio.Event = asyncio.Event()

    async def run(self) -> None:
        delay = 0.2
        logged_down = False
        while True:
            cancellation_point()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5.0)
            except (OSError, TimeoutError) as exc:
                if not logged_down:
                    log.warning("GPIO simulator %s:%d not reachable (%s); retrying", self.host, self.port, exc)
                    logged_down = True
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 5.0)
                continue
            log.info("GPIO simulator %s:%d connected", self.host, self.port)
            logged_down, delay = False, 0.2
            self.connected = True
            try:
                await self._pump(reader)
            finally:
                self.connected = False
                writer.close()
            log.warning("GPIO simulator %s:%d closed the stream; reconnecting", self.host, self.port)

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        full = True
        while True:
            cancellation_point()
            try:
                line = await reader.readline()
            except (OSError, ValueError):
                return
            if not line:
                return
            try:
                _, levels = decode_levels(line)
            except GpioLinkError as exc:
                self.bad_messages += 1
                log.debug("GPIO link: dropped a bad message: %s", exc)
                continue
            self.messages += 1
            self.inputs.drive(levels, full)
            full = False
            self.on_change.set()
