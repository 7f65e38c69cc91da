"""Register maps as data: what the controller and the retrofit board expose, and how to read them.

Both the agent (a Modbus master) and the simulator (a slave) build on these tables, so the two can
never disagree about an address or a scale. A map is validated when it is built: overlapping
registers, unknown types and bad scales are refused with the register's name.

The NICE3000+ system-state word (0x101D) packs the service mode and the car state:

    bit 15..12   11..8        7..4       3..0
        ------   car state    mode       ------
    car state: 1 opening, 2 open hold, 3 closing, 4 closed hold, 5 running, 6 stopping
    mode:      0 inspection, 1 shaft tuning, 3 fire return, 4 firefighter, 5 fault,
               6 attendant, 7 automatic, 8 out of service (locked / parked)

The controller reports floors as landing numbers counted from 1 at the lowest landing; the agent
converts them with the elevator's `lowest_floor` (`landing_to_floor`). Landing 0 or a number past
the top landing means the controller has lost its position.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from protocols.signals import Door, Mode


class RegisterMapError(ValueError):
    """A register map that cannot be used; the message names the register."""


class RegType(enum.StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    BITS16 = "bits16"


@dataclass(frozen=True, slots=True)
class Register:
    name: str
    address: int
    type: RegType = RegType.UINT16
    scale: float = 1.0  # engineering value = raw * scale
    unit: str = ""

    def decode(self, raw: int) -> float | int:
        if self.type is RegType.INT16 and raw >= 0x8000:
            raw -= 0x10000
        return raw if self.scale == 1.0 else raw * self.scale

    def encode(self, value: float | int) -> int:
        raw = round(value / self.scale) if self.scale != 1.0 else int(value)
        if self.type is RegType.INT16:
            if not -0x8000 <= raw <= 0x7FFF:
                raise RegisterMapError(f"{self.name}: {value} does not fit int16")
            return raw & 0xFFFF
        if not 0 <= raw <= 0xFFFF:
            raise RegisterMapError(f"{self.name}: {value} does not fit uint16")
        return raw


@dataclass(frozen=True, slots=True)
class Block:
    """A contiguous run of registers read in one request (function code 03)."""

    start: int
    count: int
    registers: tuple[Register, ...]


@dataclass(frozen=True, slots=True)
class RegisterMap:
    name: str
    unit_id: int
    registers: tuple[Register, ...]
    max_block: int = 32  # longest read one request may make

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RegisterMap:
        """Build and validate a map from plain data (as loaded from TOML)."""
        name = str(data.get("name", "?"))
        unit_id = data.get("unit_id", 1)
        if not isinstance(unit_id, int) or isinstance(unit_id, bool) or not 1 <= unit_id <= 247:
            raise RegisterMapError(f"{name}: unit_id must be 1..247, got {unit_id!r}")
        regs_raw = data.get("registers")
        if not isinstance(regs_raw, list) or not regs_raw:
            raise RegisterMapError(f"{name}: 'registers' must be a non-empty list")
        regs = []
        for i, r in enumerate(regs_raw):
            if not isinstance(r, Mapping):
                raise RegisterMapError(f"{name}: registers[{i}] must be a table")
            rname = r.get("name")
            if not isinstance(rname, str) or not rname:
                raise RegisterMapError(f"{name}: registers[{i}] has no name")
            addr = r.get("address")
            if not isinstance(addr, int) or isinstance(addr, bool) or not 0 <= addr <= 0xFFFF:
                raise RegisterMapError(f"{name}: register {rname}: address must be 0..0xFFFF, got {addr!r}")
            try:
                rtype = RegType(r.get("type", "uint16"))
            except ValueError:
                raise RegisterMapError(
                    f"{name}: register {rname}: type {r.get('type')!r} is not one of "
                    f"{', '.join(t.value for t in RegType)}"
                ) from None
            scale = r.get("scale", 1.0)
            if not isinstance(scale, int | float) or isinstance(scale, bool) or scale <= 0:
                raise RegisterMapError(f"{name}: register {rname}: scale must be a positive number")
            regs.append(Register(rname, addr, rtype, float(scale), str(r.get("unit", ""))))
        return cls(name, unit_id, cls._validated(name, regs))

    @staticmethod
    def _validated(name: str, regs: Iterable[Register]) -> tuple[Register, ...]:
        out = tuple(sorted(regs, key=lambda r: r.address))
        seen: dict[str, Register] = {}
        for prev, cur in zip(out, out[1:], strict=False):
            if prev.address == cur.address:
                raise RegisterMapError(f"{name}: registers {prev.name} and {cur.name} overlap at {cur.address:#06x}")
        for r in out:
            if r.name in seen:
                raise RegisterMapError(f"{name}: register name {r.name} is used twice")
            seen[r.name] = r
        return out

    def __getitem__(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"{self.name}: no register {name!r}")

    def blocks(self) -> tuple[Block, ...]:
        """Contiguous runs of registers, gaps included when small, each at most `max_block` long.

        Reading a few unused registers inside a run is cheaper than another request (each request
        costs a turnaround and 3.5 character times of silence on RS485).
        """
        out: list[Block] = []
        cur: list[Register] = []
        for r in self.registers:
            if cur and (r.address - cur[-1].address > 4 or r.address - cur[0].address >= self.max_block):
                out.append(Block(cur[0].address, cur[-1].address - cur[0].address + 1, tuple(cur)))
                cur = []
            cur.append(r)
        if cur:
            out.append(Block(cur[0].address, cur[-1].address - cur[0].address + 1, tuple(cur)))
        return tuple(out)


NICE3000_MONITOR = RegisterMap.from_dict(
    {
        "name": "nice3000+",
        "unit_id": 1,
        "registers": [
            {"name": "speed_mm_s", "address": 0x1010, "unit": "mm/s"},
            {"name": "rated_speed_mm_s", "address": 0x1011, "unit": "mm/s"},
            {"name": "landing", "address": 0x1018},
            {"name": "car_position_dm", "address": 0x1019, "unit": "0.1 m"},
            {"name": "car_load_permille", "address": 0x101A, "unit": "0.1 %"},
            {"name": "system_state", "address": 0x101D, "type": "bits16"},
            {"name": "run_status", "address": 0x3000},
            {"name": "fault", "address": 0x8000},
        ],
    }
)

# A generic retrofit sensor board on the same RS485 bus (an 8-input opto-isolated Modbus module),
# for sites that read the sensors over Modbus instead of the gateway's own GPIO. One bits16 word.
RETROFIT_BOARD = RegisterMap.from_dict(
    {
        "name": "retrofit-board",
        "unit_id": 2,
        "registers": [{"name": "inputs", "address": 0x0000, "type": "bits16"}],
    }
)


class InputBit(enum.IntEnum):
    """Bit positions in the retrofit board's `inputs` word (1 = contact made / sensor active)."""

    DOOR_CLOSED = 0
    LEVELING_UP = 1
    LEVELING_DOWN = 2
    PRESENCE = 3
    ALARM_BUTTON = 4
    MAINS = 5
    SAFETY_CIRCUIT = 6
    DOOR_LOCK = 7


class RunStatus(enum.IntEnum):
    UP = 1
    DOWN = 2
    STOPPED = 3


class CarState(enum.IntEnum):
    OPENING = 1
    OPEN_HOLD = 2
    CLOSING = 3
    CLOSED_HOLD = 4
    RUNNING = 5
    STOPPING = 6


class ControllerMode(enum.IntEnum):
    INSPECTION = 0
    SHAFT_TUNING = 1
    FIRE_RETURN = 3
    FIREFIGHTER = 4
    FAULT = 5
    ATTENDANT = 6
    AUTOMATIC = 7
    OUT_OF_SERVICE = 8


_MODE_TO_SIGNAL = {
    ControllerMode.INSPECTION: Mode.INSPECTION,
    ControllerMode.SHAFT_TUNING: Mode.INSPECTION,
    ControllerMode.FIRE_RETURN: Mode.FIRE,
    ControllerMode.FIREFIGHTER: Mode.FIRE,
    ControllerMode.FAULT: Mode.NORMAL,  # a fault is reported by its code, not as a service mode
    ControllerMode.ATTENDANT: Mode.NORMAL,
    ControllerMode.AUTOMATIC: Mode.NORMAL,
    ControllerMode.OUT_OF_SERVICE: Mode.OUT_OF_SERVICE,
}
_SIGNAL_TO_MODE = {
    Mode.NORMAL: ControllerMode.AUTOMATIC,
    Mode.INSPECTION: ControllerMode.INSPECTION,
    Mode.FIRE: ControllerMode.FIREFIGHTER,
    Mode.OUT_OF_SERVICE: ControllerMode.OUT_OF_SERVICE,
}
_CAR_TO_DOOR = {
    CarState.OPENING: Door.OPENING,
    CarState.OPEN_HOLD: Door.OPEN,
    CarState.CLOSING: Door.CLOSING,
    CarState.CLOSED_HOLD: Door.CLOSED,
    CarState.RUNNING: Door.CLOSED,
    CarState.STOPPING: Door.CLOSED,
}


@dataclass(frozen=True, slots=True)
class SystemState:
    mode: Mode
    car_state: CarState | None  # None: a value this map does not know

    @property
    def running(self) -> bool:
        return self.car_state in (CarState.RUNNING, CarState.STOPPING)

    @property
    def door(self) -> Door | None:
        return _CAR_TO_DOOR.get(self.car_state) if self.car_state is not None else None


def decode_system_state(word: int) -> SystemState:
    """Split the 0x101D word into service mode and car state (unknown values decode leniently)."""
    mode_raw = (word >> 4) & 0xF
    car_raw = (word >> 8) & 0xF
    try:
        mode = _MODE_TO_SIGNAL[ControllerMode(mode_raw)]
    except ValueError:
        mode = Mode.NORMAL
    try:
        car: CarState | None = CarState(car_raw)
    except ValueError:
        car = None
    return SystemState(mode, car)


def encode_system_state(mode: Mode, car_state: CarState) -> int:
    return (int(car_state) << 8) | (int(_SIGNAL_TO_MODE[mode]) << 4)


def landing_to_floor(landing: int, lowest_floor: int) -> int:
    """Controller landing number (1 = lowest landing) to the building's floor number."""
    return lowest_floor + landing - 1


def floor_to_landing(floor: int, lowest_floor: int) -> int:
    return floor - lowest_floor + 1


def fault_code(e_code: int, sub_code: int = 0) -> int:
    """NICE3000+ fault register value: E-code x 100 + sub-code (E41 sub 2 -> 4102)."""
    if not 0 <= sub_code < 100 or not 0 <= e_code * 100 + sub_code <= 0xFFFF or e_code < 0:
        raise ValueError(f"fault E{e_code} sub-code {sub_code} out of range (the register is 16 bits)")
    return e_code * 100 + sub_code
