"""Modbus RTU (RS485 via pyserial) and Modbus TCP behind the `RegisterBus` seam, using pymodbus.

One `ModbusBus` owns one line: every request goes through its lock, keeps a minimum gap of bus
silence after the previous exchange, and has a short timeout. pymodbus's own retries are switched
off (retries=0) so that this class decides: it retries a bad or missing answer itself, counts why
it failed, and waits out a quiet period after a failure so that a late answer to an old request
cannot be taken for the answer to the next one (RTU has no transaction id). A CRC error, garbage,
a partial frame or an answer with the wrong register count raises `BusError("bad_frame")` and is
never turned into a value.

    RTU read holding registers (function 03), 19,200 baud 8N1 = 0.52 ms per character:
    request  | unit | 03 | start hi lo | count hi lo | crc lo hi |              8 bytes
    answer   | unit | 03 | bytes=2n | reg0 hi lo ... | crc lo hi |            5 + 2n bytes
    plus >= 3.5 characters of silence after each frame and the slave's turnaround.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from edge_agent.config import ModbusConfig
from edge_agent.hw import BusCounters, BusError

log = logging.getLogger(__name__)


def rtu_wire_time_s(count: int, baud: int = 19200, bits_per_char: int = 10) -> float:
    """Time on the wire for one read of `count` registers: both frames plus 3.5-char gaps."""
    chars = 8 + 5 + 2 * count + 2 * 3.5
    return chars * bits_per_char / baud


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


class ModbusBus:
    """The single owner of one Modbus line (RegisterBus)."""

    def __init__(self, cfg: ModbusConfig) -> None:
        self.cfg = cfg
        self.counters = BusCounters()
        self._lock = asyncio.Lock()
        self._last_end = 0.0
        self._quiet_until = 0.0
        self._rx_seen = False
        self._cut_short = False
        self._inflight: asyncio.Future[Any] | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        # RTU only: silence after some bytes that did not make a frame ends the wait early. A USB
        # RS485 adapter may pause a frame for its latency timer (16 ms on FTDI), hence the margin.
        self._frame_gap_s = cfg.frame_gap_ms / 1000 if cfg.tcp_host is None else 0.0
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if cfg.tcp_host is not None:
            self.name = f"tcp {cfg.tcp_host}:{cfg.tcp_port}"
            self._client = AsyncModbusTcpClient(
                cfg.tcp_host,
                port=cfg.tcp_port,
                timeout=cfg.timeout_s,
                retries=0,
                reconnect_delay=0,
                trace_packet=self._trace_packet,
            )
        else:
            assert cfg.rtu_device is not None
            self.name = f"rtu {cfg.rtu_device}@{cfg.baud}"
            self._client = AsyncModbusSerialClient(
                cfg.rtu_device,
                baudrate=cfg.baud,
                parity=cfg.parity,
                stopbits=cfg.stopbits,
                timeout=cfg.timeout_s,
                retries=0,
                reconnect_delay=0,
                trace_packet=self._trace_packet,
            )
        # pymodbus would close the link after a few timeouts in a row; a silent slave on RS485 is
        # not a reason to reopen the port, and on TCP we reconnect ourselves on the next request.
        self._client.set_max_no_responses(1_000_000)

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending and data:
            self._rx_seen = True
            if self._frame_gap_s and self._inflight is not None:
                # A valid frame completes the request before this fires; garbage does not.
                if self._idle_timer is not None:
                    self._idle_timer.cancel()
                self._idle_timer = asyncio.get_running_loop().call_later(self._frame_gap_s, self._on_line_idle)
        return data

    async def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.cfg.timeout_s * 4 + 1.0)
        except (TimeoutError, OSError, ModbusException) as exc:
            ok = False
            detail = str(exc) or type(exc).__name__
        else:
            detail = "refused or no such device"
        if not ok:
            self.counters.disconnects += 1
            self._client.close()
            raise BusError("disconnected", f"{self.name}: cannot connect ({detail})")

    async def _gap(self) -> None:
        now = time.monotonic()
        wait = max(self._last_end + self.cfg.min_gap_ms / 1000.0, self._quiet_until) - now
        if wait > 0:
            await asyncio.sleep(wait)

    def _on_line_idle(self) -> None:
        """RTU: bytes came, then the line went quiet without a valid frame: a damaged answer."""
        task = self._inflight
        if task is not None and not task.done():
            self._cut_short = True
            task.cancel()

    async def _once(self, unit_id: int, start: int, count: int) -> tuple[int, ...]:
        await self._gap()
        await self._ensure_connected()
        self._rx_seen = False
        self._cut_short = False
        self.counters.requests += 1
        self._inflight = asyncio.ensure_future(
            self._client.read_holding_registers(start, count=count, device_id=unit_id)
        )
        # If we stop waiting (timeout, cut short, cancel), its late failure is expected: retrieve it.
        self._inflight.add_done_callback(_retrieve)
        try:
            rr = await asyncio.wait_for(asyncio.shield(self._inflight), self.cfg.timeout_s * 2 + 0.5)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self._cut_short or (current is not None and current.cancelling()):
                self._inflight.cancel()
                raise
            raise BusError("bad_frame", f"{self.name} unit {unit_id} @{start:#06x}: damaged answer") from None
        except (ModbusIOException, TimeoutError) as exc:
            kind = "bad_frame" if self._rx_seen else "timeout"
            raise BusError(kind, f"{self.name} unit {unit_id} @{start:#06x}: {exc}") from None
        except (ConnectionException, OSError) as exc:
            self.counters.disconnects += 1
            self._client.close()
            raise BusError("disconnected", f"{self.name}: {exc}") from None
        except ModbusException as exc:
            raise BusError("bad_frame", f"{self.name} unit {unit_id} @{start:#06x}: {exc}") from None
        finally:
            self._last_end = time.monotonic()
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if not self._inflight.done():
                self._inflight.cancel()
            self._inflight = None
        if rr.isError():
            raise BusError("exception", f"{self.name} unit {unit_id} @{start:#06x}: {rr}")
        regs = tuple(int(r) for r in rr.registers)
        if len(regs) != count or any(not 0 <= r <= 0xFFFF for r in regs):
            detail = f"{self.name} unit {unit_id} @{start:#06x}: {len(regs)} registers, {count} asked"
            raise BusError("bad_frame", detail)
        return regs

    async def read_holding(self, unit_id: int, start: int, count: int) -> tuple[int, ...]:
        """`count` registers from `start`, retried on bad answers; BusError when every attempt failed."""
        async with self._lock:
            last: BusError | None = None
            for attempt in range(self.cfg.retries + 1):
                if attempt:
                    self.counters.retries += 1
                try:
                    regs = await self._once(unit_id, start, count)
                except BusError as exc:
                    last = exc
                    if exc.kind == "timeout":
                        self.counters.timeouts += 1
                    elif exc.kind == "bad_frame":
                        self.counters.bad_frames += 1
                    elif exc.kind == "exception":
                        self.counters.exceptions += 1
                        raise  # the slave answered: asking again gives the same answer
                    if exc.kind == "timeout":
                        # A late answer may still be on its way: let it pass before the next request.
                        self._quiet_until = time.monotonic() + min(self.cfg.timeout_s / 2, 0.05)
                    if exc.kind == "disconnected":
                        raise
                    continue
                self.counters.ok += 1
                return regs
            assert last is not None
            raise last

    async def close(self) -> None:
        self._client.close()
