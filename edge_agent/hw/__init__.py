"""The hardware edge: the only package that imports pymodbus and gpiozero.

Everything above it talks to two small seams, so tests and the simulator can stand in for the
machine room: a `RegisterBus` (Modbus holding registers, one owner per RS485 line or TCP link) and
`DigitalInputs` (the retrofit sensors as named levels). Adapters are chosen from configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from edge_agent.config import AgentError


def cancellation_point() -> None:
    """Raise CancelledError if this task was asked to stop; call once per iteration of a forever-loop.

    On Python 3.11, `asyncio.wait_for` returns the result instead of raising when the awaited
    future completes in the same loop turn as the cancellation (fixed in 3.12). A 10 Hz poll loop
    hits that race, swallows the stop request and keeps its TaskGroup - and the daemon - alive.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class HwError(AgentError):
    """Root of hardware-edge errors."""


class BusError(HwError):
    """A request that produced no usable answer (the message says why); never a register value."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind  # "timeout", "bad_frame", "exception", "disconnected"
        super().__init__(f"{kind}: {detail}")


@dataclass(slots=True)
class BusCounters:
    """Cumulative counts since start; shown by `elev-agent status` and the footprint bench."""

    requests: int = 0
    ok: int = 0
    timeouts: int = 0
    bad_frames: int = 0  # garbage, CRC errors, partial or mismatched answers: retried, never used
    exceptions: int = 0  # Modbus exception responses
    disconnects: int = 0
    retries: int = 0
    skipped_backoff: int = 0  # polls not sent because the device is backed off

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class RegisterBus(Protocol):
    """One Modbus line; `read_holding` returns exactly `count` registers or raises BusError."""

    counters: BusCounters

    async def read_holding(self, unit_id: int, start: int, count: int) -> tuple[int, ...]: ...

    async def close(self) -> None: ...


class DigitalInputs(Protocol):
    """The retrofit sensor lines; `levels()` holds only the lines that are fitted and known."""

    def levels(self) -> Mapping[str, bool]: ...

    @property
    def ready(self) -> bool:
        """False until the first levels are known (a simulator stream not yet connected)."""
        ...

    def close(self) -> None: ...
