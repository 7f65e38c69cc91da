"""What the simulated elevator shows on its wires: NICE3000+ register values and GPIO levels.

Pure mapping from the model's sensed state to the numbers a controller and the retrofit sensors
would present, built on `protocols.registers` and `protocols.gpio_lines` so the simulator and the
agent read the same tables. No IO: the servers call `ControllerView.update` on every model tick and
copy the result onto the wire.

The controller shows `stopping` (car state 6) during the deceleration to the landing. The model says
when that starts (`ElevatorSim.car_state`); without it, the car counts as stopping while it runs
slower than the fastest it went on this run. Door states come from the sensed snapshot, so contact
bounce shows in the register as it would on a controller reading the same door contact.
A controller with an active fault reports service mode 5 (fault) instead of automatic.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.gpio_lines import GPIO_LINES
from protocols.registers import NICE3000_MONITOR, CarState, ControllerMode, RunStatus, encode_system_state
from protocols.signals import Door, Mode, SignalSnapshot

_DOOR_TO_CAR = {
    Door.OPENING: CarState.OPENING,
    Door.OPEN: CarState.OPEN_HOLD,
    Door.CLOSING: CarState.CLOSING,
    Door.CLOSED: CarState.CLOSED_HOLD,
}

_REG = {r.name: r.address for r in NICE3000_MONITOR.registers}
SPEED = _REG["speed_mm_s"]
RATED_SPEED = _REG["rated_speed_mm_s"]
LANDING = _REG["landing"]
POSITION = _REG["car_position_dm"]
LOAD = _REG["car_load_permille"]
SYSTEM_STATE = _REG["system_state"]
RUN_STATUS = _REG["run_status"]
FAULT = _REG["fault"]


def _u16(value: int) -> int:
    """Clamp into a uint16 register: a controller saturates, it does not wrap."""
    return 0 if value < 0 else 0xFFFF if value > 0xFFFF else int(value)


@dataclass(frozen=True, slots=True)
class CarReadings:
    """The controller-side quantities the snapshot does not carry."""

    landing: int  # 1 = lowest landing; 0 or past the top = position lost
    position_mm: int  # from the lowest landing
    load_permille: int
    rated_speed_mm_s: int
    car_state: CarState | None = None  # the model's own view (knows when deceleration starts)


class ControllerView:
    """Turns successive snapshots into NICE3000+ monitoring register values (address -> raw)."""

    def __init__(self) -> None:
        self._run_peak_mm_s = 0

    def update(self, snap: SignalSnapshot, car: CarReadings) -> dict[int, int]:
        car_state: CarState
        if snap.running and car.car_state is not None and car.car_state in (CarState.RUNNING, CarState.STOPPING):
            car_state = car.car_state
        elif snap.running:
            self._run_peak_mm_s = max(self._run_peak_mm_s, snap.speed_mm_s)
            stopping = snap.speed_mm_s < self._run_peak_mm_s
            car_state = CarState.STOPPING if stopping else CarState.RUNNING
        else:
            car_state = _DOOR_TO_CAR[snap.door]
        if not snap.running:
            self._run_peak_mm_s = 0
        if snap.fault_code and snap.mode is Mode.NORMAL:
            system_state = (int(car_state) << 8) | (int(ControllerMode.FAULT) << 4)
        else:
            system_state = encode_system_state(snap.mode, car_state)
        if snap.running and snap.direction > 0:
            status = RunStatus.UP
        elif snap.running and snap.direction < 0:
            status = RunStatus.DOWN
        else:
            status = RunStatus.STOPPED
        return {
            SPEED: _u16(snap.speed_mm_s),
            RATED_SPEED: _u16(car.rated_speed_mm_s),
            LANDING: _u16(car.landing),
            POSITION: _u16(round(car.position_mm / 100)),
            LOAD: _u16(car.load_permille),
            SYSTEM_STATE: system_state,
            RUN_STATUS: int(status),
            FAULT: _u16(snap.fault_code),
        }


def gpio_levels(snap: SignalSnapshot) -> dict[str, bool]:
    """Retrofit sensor levels for a snapshot; `presence` is absent when no sensor is fitted."""
    levels = {
        "door_closed": snap.door is Door.CLOSED,
        "leveling_up": snap.door_zone,
        "leveling_down": snap.door_zone,
        "alarm_button": snap.alarm_button,
        "mains": snap.power,
        "safety_circuit": snap.safety_circuit,
        "door_lock": snap.door_lock,
    }
    if snap.occupied is not None:
        levels["presence"] = snap.occupied
    assert set(levels) <= set(GPIO_LINES)
    return levels
