"""GPIO edges reach the detector at their own moments, not stretched to the next poll.

Sampling the sensor lines only at each 100 ms poll turns a 30 ms contact bounce that straddles a
poll into a 100 ms excursion, which the contract counts as real: a false `door_lock_lost`. The
registers come from a fixed controller image (the hardware edge); the GPIO lines are gpiozero's
MockFactory pins driven by hand; outbox and detector are the real ones.
"""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, BrokerConfig, GpioConfig, ModbusConfig
from edge_agent.hw import BusCounters
from edge_agent.hw.gpio import GpiozeroInputs
from edge_agent.outbox import Outbox
from protocols.gpio_lines import GPIO_LINES
from protocols.registers import CarState, RunStatus, encode_system_state
from protocols.signals import Mode

RUNNING = {
    0x1010: 1000,  # speed mm/s
    0x1011: 1750,  # rated
    0x1018: 3,  # landing
    0x101D: encode_system_state(Mode.NORMAL, CarState.RUNNING),
    0x3000: int(RunStatus.UP),
    0x8000: 0,
}


class FixedController:
    """A controller answering one register image (the RegisterBus seam)."""

    def __init__(self) -> None:
        self.counters = BusCounters()

    async def read_holding(self, unit_id: int, start: int, count: int) -> tuple[int, ...]:
        self.counters.requests += 1
        self.counters.ok += 1
        return tuple(RUNNING.get(a, 0) for a in range(start, start + count))

    async def close(self) -> None:
        return None


async def run_polls(tmp_path: Path, lock_low: tuple[int, int]) -> list[str]:
    """Poll every 100 ms for 2 s with the door lock open during [lock_low); returns event types."""
    t = 0
    factory = MockFactory()
    inputs = GpiozeroInputs(GpioConfig(pin_factory="native"), factory, clock_ms=lambda: t)
    pins = {name: factory.pin(pin) for name, pin in GPIO_LINES.items()}
    for name, pin in pins.items():
        pin.drive_low() if name in ("leveling_up", "leveling_down", "alarm_button", "presence") else pin.drive_high()
    cfg = AgentConfig("lift-edges", BrokerConfig("127.0.0.1", 1, False), ModbusConfig(tcp_host="sim"), tmp_path)
    events: list[str] = []
    async with Outbox(tmp_path / "outbox.db", cfg.outbox, cfg.timing.status_flush_s) as outbox:
        agent = Agent(cfg, FixedController(), inputs, outbox, now_ms=lambda: t)

        async def emit(ev, now):  # type: ignore[no-untyped-def]
            events.append(ev.type)

        agent.emit = emit  # type: ignore[method-assign]
        for step in range(0, 2000, 10):
            t = step
            if step == lock_low[0]:
                pins["door_lock"].drive_low()
            if step == lock_low[1]:
                pins["door_lock"].drive_high()
            if step % 100 == 0:
                await agent.poll_once()
    inputs.close()
    return events


async def test_bounce_straddling_a_poll_is_not_an_alarm(tmp_path: Path) -> None:
    assert await run_polls(tmp_path, (980, 1010)) == []


async def test_a_real_lock_loss_is_still_raised(tmp_path: Path) -> None:
    assert "door_lock_lost" in await run_polls(tmp_path, (980, 1300))
