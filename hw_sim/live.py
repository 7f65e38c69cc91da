"""One simulated elevator in real time: the pure model driven by the monotonic clock.

The model (`hw_sim.model.ElevatorSim`) knows nothing of clocks or sockets. `LiveElevator` advances
it to "now" on every tick, turns the sensed state into register values and GPIO levels
(`hw_sim.registers_view`), reports every fault that starts, and tells GPIO listeners what changed.
The Modbus and GPIO servers only read `registers` / `levels` / the wire-fault flags, so a request
never waits on the physics and every client sees the same instant.

Ticks are driven from outside (`run_ticker`), so one event loop can drive one car or a whole fleet
with one timer. `time_scale` > 1 runs the simulated time faster than the wall clock (demos and
tests that cannot wait minutes for a trip); the wires still answer in real time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

from hw_sim.registers_view import CarReadings, ControllerView, gpio_levels

if TYPE_CHECKING:
    from hw_sim.model import ElevatorSim

log = logging.getLogger(__name__)

TICK_S = 0.025  # model step; well under the 100 ms a fast agent polls at

LevelsListener = Callable[[int, dict[str, bool]], None]


class InjectLog:
    """Prints one JSON line per injected fault on stdout (flushed: testers and tools tail it)."""

    def __init__(self, out: IO[str] | None = None, wall_clock: Callable[[], float] = time.time) -> None:
        self._out = out
        self._wall = wall_clock

    def __call__(self, description: dict[str, Any], **extra: Any) -> dict[str, Any]:
        line = {"ts": round(self._wall(), 3), **description, **extra}
        out = self._out if self._out is not None else sys.stdout
        out.write(json.dumps(line, separators=(", ", ": ")) + "\n")
        out.flush()
        return line


class LiveElevator:
    """The model plus what its wires show right now."""

    def __init__(
        self,
        sim: ElevatorSim,
        rated_speed_mm_s: int,
        on_inject: Callable[[dict[str, Any]], object],
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
        time_scale: float = 1.0,
    ) -> None:
        self.sim = sim
        self.name = name
        self._rated = rated_speed_mm_s
        self._on_inject = on_inject
        self._clock = clock
        self._t0 = clock()
        self._scale_ms = 1000.0 * time_scale
        self._view = ControllerView()
        self._listeners: list[LevelsListener] = []
        self.t_ms = 0
        self.registers: dict[int, int] = {}
        self.levels: dict[str, bool] = {}
        self.serial_noise: dict[str, Any] = {}  # parameters of the serial_noise fault now running
        self.serves_rtu = False  # set by RtuLine.start: serial_noise damages RTU frames only
        self.tick()

    # --- what the servers read -------------------------------------------------------------
    @property
    def comms_silent(self) -> bool:
        return bool(self.sim.comms_silent)

    @property
    def serial_noise_active(self) -> bool:
        return bool(self.sim.serial_noise_active)

    def add_levels_listener(self, listener: LevelsListener) -> None:
        self._listeners.append(listener)

    def remove_levels_listener(self, listener: LevelsListener) -> None:
        self._listeners.remove(listener)

    # --- driving -----------------------------------------------------------------------------
    def now_ms(self) -> int:
        return max(self.t_ms, int((self._clock() - self._t0) * self._scale_ms))

    def tick(self) -> None:
        t_ms = self.now_ms()
        self.sim.advance(t_ms)
        self.t_ms = t_ms
        for description in self.sim.injections_due():
            self._report(description)
        for description in self.sim.faults_happened():
            self._report(description)
        self._refresh()

    def inject(self, fault: str, duration_s: float | None = None, **params: Any) -> dict[str, Any]:
        """Start a fault now (by hand, from the control socket); returns the printed line."""
        self.tick()
        description = dict(self.sim.inject(fault, self.t_ms, duration_s, **params))
        description.setdefault("inject", fault)
        description.setdefault("source", "control")
        line = self._report(description)
        self._refresh()
        return line

    def _report(self, description: dict[str, Any]) -> dict[str, Any]:
        description = dict(description)
        if description.pop("armed", False):
            # Waiting for its moment (a trip, a stop): say so, but the `inject` line, the one
            # testers time alarms from, comes when the fault actually hits the car.
            description["arming"] = description.pop("inject")
        if description.get("inject") == "serial_noise":
            self.serial_noise = description
        line = self._on_inject(description)
        return line if isinstance(line, dict) else description

    def _refresh(self) -> None:
        snap = self.sim.snapshot()
        car = CarReadings(
            landing=self.sim.landing,
            position_mm=self.sim.position_mm,
            load_permille=self.sim.load_permille,
            rated_speed_mm_s=self._rated,
            car_state=self.sim.car_state,
        )
        self.registers = self._view.update(snap, car)
        levels = gpio_levels(snap)
        changed = {k: v for k, v in levels.items() if self.levels.get(k) != v}
        self.levels = levels
        if changed:
            for listener in tuple(self._listeners):
                listener(self.t_ms, changed)


async def run_ticker(
    cars: Sequence[LiveElevator],
    tick_s: float = TICK_S,
    on_lag: Callable[[float], None] | None = None,
) -> None:
    """Advance every car every `tick_s` on the monotonic clock, forever (cancel to stop).

    A tick that comes late is not repeated: the model catches up in one step, as `advance`
    integrates to the requested time. `on_lag` receives each tick's lateness in seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += tick_s
        now = loop.time()
        if deadline < now:  # fell behind by more than a tick: resynchronise, do not burst
            deadline = now
        await asyncio.sleep(deadline - now)
        lag = loop.time() - deadline
        if on_lag is not None:
            on_lag(lag)
        for car in cars:
            car.tick()
