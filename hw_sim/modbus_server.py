"""The simulated NICE3000+ as a Modbus slave: Modbus TCP, and Modbus RTU on a pty or serial port.

Requests are answered by pymodbus from `MonitorContext`, which reads the car's current register
values (`LiveElevator.registers`, refreshed every model tick) at the moment of the request.

What a real controller does, and this one too:
- only unit id 1 answers; a request for any other unit is ignored (silence, as on RS485);
- function code 03 only (other read codes: illegal function); the monitoring registers are
  read-only (writes: illegal address);
- a read touching an address the controller does not have is refused with exception 02 (illegal
  data address). The monitoring group 0x1010-0x101F is readable as a whole (registers without a
  meaning here read 0), so the agent's gap-bridging block reads work; 0x3000 and 0x8000 are single
  registers.

Wire faults:
- `comms_loss`: while the model says `comms_silent`, every request goes unanswered (TCP: the
  connection stays open but no reply comes; RTU: the line stays silent).
- `serial_noise` (RTU only): `LineNoise` damages what the slave sends (garbage before a frame, a
  bad CRC, a truncated frame, another talker's frame first), corrupts some requests on the way in
  (the slave then stays silent, as a real one does on a CRC error), and drops bursts of junk on the
  idle line.

The RTU line: the simulator owns the pty master and hands clients the slave path (or a symlink to
it). It keeps its own handle on the slave side open so the master never sees a hang-up between
clients (`mbpoll` opens and closes the device on every run).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import random
import stat
import struct
import termios
import tty
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.framer.rtu import FramerRTU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from hw_sim.endpoints import SimServeError
from hw_sim.live import LiveElevator
from protocols.registers import NICE3000_MONITOR

log = logging.getLogger(__name__)

UNIT_ID = NICE3000_MONITOR.unit_id
READ_HOLDING = 3
READABLE: frozenset[int] = frozenset(range(0x1010, 0x1020)) | frozenset(r.address for r in NICE3000_MONITOR.registers)
RTU_BAUD = 19200  # NICE3000+ default for its RS485 monitoring port


@dataclass
class ServeStats:
    answered: int = 0
    ignored: int = 0  # requests left unanswered: other unit ids, comms_loss


class MonitorContext(ModbusServerContext):
    """A pymodbus server context that reads the live car on every request.

    pymodbus 3.16 hands a `ModbusServerContext` whose `old_simulator` flag is set straight to its
    request handlers, which only call `async_getValues`, `async_setValues` and `device_ids`; so the
    registers are never copied into a datastore that could lag the model. Raising
    `NoSuchIdException` with `ignore_missing_devices=True` makes the server send nothing at all,
    which is how both a foreign unit id and a dead controller look on the wire. (pymodbus 4 drops
    this class; the equivalent there is a `SimDevice` whose `action` fills the registers.)
    """

    def __init__(self, car: LiveElevator, unit_id: int = UNIT_ID) -> None:  # no super(): it wants devices
        self.old_simulator = True
        self.simdevices = []
        self._car = car
        self._unit_id = unit_id
        self.stats = ServeStats()

    def _check_device(self, device_id: int) -> None:
        if device_id != self._unit_id or self._car.comms_silent:
            self.stats.ignored += 1
            raise NoSuchIdException(f"unit {device_id} is silent")

    def device_ids(self) -> list[int]:
        return [self._unit_id]

    async def async_getValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self._check_device(device_id)
        self.stats.answered += 1
        if func_code != READ_HOLDING:
            return ExcCodes.ILLEGAL_FUNCTION
        registers = self._car.registers
        values: list[int] = []
        for addr in range(address, address + count):
            if addr not in READABLE:
                return ExcCodes.ILLEGAL_ADDRESS
            values.append(registers.get(addr, 0))
        return values

    async def async_setValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        self._check_device(device_id)
        self.stats.answered += 1
        return ExcCodes.ILLEGAL_ADDRESS


def _quiet_pymodbus(debug: bool) -> None:
    # pymodbus logs every client disconnect and framing hiccup; the simulator's own log says what matters.
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if debug else logging.CRITICAL)


async def start_tcp(car: LiveElevator, host: str, port: int, debug: bool = False) -> tuple[ModbusTcpServer, ServeStats]:
    """Listen for Modbus TCP on host:port; the server runs until `shutdown()`."""
    _quiet_pymodbus(debug)
    context = MonitorContext(car)
    server = ModbusTcpServer(context, address=(host, port), ignore_missing_devices=True)
    try:
        await server.serve_forever(background=True)
    except RuntimeError:
        raise SimServeError(f"cannot listen for Modbus TCP on {host}:{port} (in use or not permitted)") from None
    return server, context.stats


# --- RTU -------------------------------------------------------------------------------------


DEFAULT_NOISE_RATE = 0.3  # share of frames damaged while serial_noise is active
JUNK_INTERVAL_S = 0.25  # mean time between bursts of junk on the idle line


def noise_rate(description: dict[str, Any]) -> float:
    """The damage rate a serial_noise fault asked for (`rate` or `error_rate`, 0..1)."""
    rate = description.get("rate", description.get("error_rate", DEFAULT_NOISE_RATE))
    if isinstance(rate, int | float) and not isinstance(rate, bool) and 0 <= rate <= 1:
        return float(rate)
    return DEFAULT_NOISE_RATE


class LineNoise:
    """What a noisy RS485 line does to frames: pure byte manipulation with a seeded random source.

    Damage kinds on the way out (one per damaged frame):
        garbage    1-8 random bytes, then the frame
        bad_crc    one bit flipped somewhere in the frame
        truncated  the frame cut short (the rest lost in a collision)
        talker     a valid response frame from unit 2..247 (a second device or master on the bus),
                   then the frame
    On the way in, a damaged request has one bit flipped, so the slave sees a CRC error and stays
    silent.
    """

    KINDS = ("garbage", "bad_crc", "truncated", "talker")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counts: dict[str, int] = dict.fromkeys((*self.KINDS, "request", "junk"), 0)

    def outbound(self, frame: bytes, rate: float) -> bytes:
        rng = self.rng
        if not frame or rng.random() >= rate:
            return frame
        kind = rng.choice(self.KINDS)
        self.counts[kind] += 1
        if kind == "garbage":
            return rng.randbytes(rng.randint(1, 8)) + frame
        if kind == "bad_crc":
            i = rng.randrange(len(frame))
            return frame[:i] + bytes([frame[i] ^ (1 << rng.randrange(8))]) + frame[i + 1 :]
        if kind == "truncated" and len(frame) > 1:
            return frame[: rng.randint(1, len(frame) - 1)]
        return self.foreign_frame() + frame

    def inbound(self, data: bytes, rate: float) -> bytes:
        if not data or self.rng.random() >= rate:
            return data
        self.counts["request"] += 1
        i = self.rng.randrange(len(data))
        return data[:i] + bytes([data[i] ^ (1 << self.rng.randrange(8))]) + data[i + 1 :]

    def junk(self) -> bytes:
        self.counts["junk"] += 1
        return self.rng.randbytes(self.rng.randint(1, 16))

    def foreign_frame(self) -> bytes:
        unit = self.rng.randint(2, 247)
        regs = [self.rng.randrange(0x10000) for _ in range(self.rng.randint(1, 4))]
        body = bytes([unit, READ_HOLDING, 2 * len(regs)]) + b"".join(struct.pack(">H", r) for r in regs)
        return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


class _LineTransport(asyncio.Transport):
    """An asyncio transport over the simulator's end of the line (a file descriptor).

    Everything the pymodbus request handler writes passes through `LineNoise` while the model's
    `serial_noise` fault is active; so does everything it reads.
    """

    def __init__(self, line: RtuLine, protocol: Any) -> None:  # a pymodbus ModbusProtocol
        super().__init__()
        self._line = line
        self._protocol = protocol
        self._closing = False
        loop = asyncio.get_running_loop()
        loop.add_reader(line.fd, self._read_ready)
        loop.call_soon(protocol.connection_made, self)

    def _read_ready(self) -> None:
        try:
            data = os.read(self._line.fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO would mean nobody holds the slave side; we always do
            log.warning("RTU line read failed: %s", exc)
            return
        if data:
            self._protocol.data_received(self._line.damage_inbound(data))

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._line.drop_stale()
            self._line.send(self._line.damage_outbound(bytes(data)))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        asyncio.get_running_loop().remove_reader(self._line.fd)
        self._protocol.connection_lost(None)

    def abort(self) -> None:
        self.close()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class RtuLine:
    """The slave's end of an RS485 line: a fresh pty (client opens `path`) or a real serial port.

    `link` may be "auto" (a pty; `path` is its /dev/pts/N), a path that does not exist or is a
    symlink (a pty, with `link` made a symlink to it, for clients configured with a fixed name),
    or an existing serial device (opened at 19200 8N1).
    """

    def __init__(self, car: LiveElevator, link: str = "auto", seed: int = 0) -> None:
        self.car = car
        self.noise = LineNoise(random.Random(seed))
        self.symlink: str | None = None
        self._keep_fd: int | None = None
        self._serial: Any = None
        if link != "auto" and os.path.exists(link) and not os.path.islink(link):
            self.fd, self.path = self._open_serial(link)
        else:
            self.fd, self._keep_fd = os.openpty()
            tty.setraw(self._keep_fd)
            os.set_blocking(self.fd, False)
            self.path = os.ttyname(self._keep_fd)
            if link != "auto":
                self._make_symlink(link)
        self.bytes_dropped = 0
        self.stale_dropped = 0
        self._server: ModbusSerialServer | None = None
        self._transport: _LineTransport | None = None
        self._junk_task: asyncio.Task[None] | None = None

    def _open_serial(self, device: str) -> tuple[int, str]:
        if not stat.S_ISCHR(os.stat(device).st_mode):
            raise SimServeError(f"--modbus-rtu {device}: exists and is not a serial device (nor a symlink)")
        import serial  # pyserial: only needed for a real adapter

        try:
            self._serial = serial.Serial(device, baudrate=RTU_BAUD, bytesize=8, parity="N", stopbits=1, timeout=0)
        except serial.SerialException as exc:
            raise SimServeError(f"--modbus-rtu {device}: cannot open: {exc}") from None
        fd = self._serial.fileno()
        os.set_blocking(fd, False)
        return fd, device

    def _make_symlink(self, link: str) -> None:
        try:
            if os.path.islink(link):
                os.unlink(link)
            os.symlink(self.path, link)
        except OSError as exc:
            raise SimServeError(f"--modbus-rtu {link}: cannot create a symlink to {self.path}: {exc}") from None
        self.symlink = link

    # --- the noise hooks the transport calls -------------------------------------------------
    def _noise_rate(self) -> float | None:
        if not self.car.serial_noise_active:
            return None
        return noise_rate(self.car.serial_noise)

    def damage_outbound(self, frame: bytes) -> bytes:
        rate = self._noise_rate()
        return frame if rate is None else self.noise.outbound(frame, rate)

    def damage_inbound(self, data: bytes) -> bytes:
        rate = self._noise_rate()
        return data if rate is None else self.noise.inbound(data, rate)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                break  # nobody is reading and the line buffer is full: the bytes are lost, as on a bus
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                break
            view = view[n:]
        self.bytes_dropped += len(view)

    def drop_stale(self) -> None:
        """Discard bytes no client read before it sent its request (pty only).

        On a real line a master hears only what is sent while it listens: a response to a request
        whose master gave up, or noise on the idle line, is gone by the time the next master opens
        the port. A pty keeps them for whoever opens it next (`mbpoll` opens the port anew on every
        run), so they are dropped before each response; noise that arrives while a master waits
        still reaches it.
        """
        if self._keep_fd is not None and (n := self._unread()):
            termios.tcflush(self._keep_fd, termios.TCIFLUSH)
            self.stale_dropped += n

    def _unread(self) -> int:
        """Bytes waiting on the slave side that no client has read yet (pty only)."""
        if self._keep_fd is None:
            return 0
        buf = fcntl.ioctl(self._keep_fd, termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", buf)[0])

    async def _junk_loop(self) -> None:
        while True:
            await asyncio.sleep(self.noise.rng.expovariate(1 / JUNK_INTERVAL_S))
            if self.car.serial_noise_active and not self.car.comms_silent and self._unread() < 64:
                self.send(self.noise.junk())

    # --- serving -------------------------------------------------------------------------------
    async def start(self, debug: bool = False) -> ServeStats:
        """Attach a pymodbus RTU request handler to the line."""
        _quiet_pymodbus(debug)
        context = MonitorContext(self.car)
        self._server = ModbusSerialServer(
            context, framer=FramerType.RTU, port=self.path, baudrate=RTU_BAUD, ignore_missing_devices=True
        )
        # The server would open `port` itself; the line is ours, so we hand its request handler our
        # transport instead (pymodbus builds one handler per connection through this method).
        handler = self._server.handle_new_connection()
        self._transport = _LineTransport(self, handler)
        self._junk_task = asyncio.create_task(self._junk_loop(), name="rtu-junk")
        self.car.serves_rtu = True  # serial_noise can act now (the control socket refuses it otherwise)
        return context.stats

    async def close(self) -> None:
        if self._junk_task is not None:
            self._junk_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._junk_task
        if self._transport is not None:
            self._transport.close()
        if self._server is not None:
            await self._server.shutdown()
        for fd in (self.fd, self._keep_fd):
            if fd is not None and self._serial is None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self._serial is not None:
            self._serial.close()
        if self.symlink is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.symlink)


def describe_damage(counts: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts if v)
