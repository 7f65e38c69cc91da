"""Controller registers + retrofit sensor levels -> the SignalSnapshot the detector consumes.

Pure: values in, a snapshot out. The two sources overlap and disagree exactly when it matters, so
the rules are fixed here in one place:

- door: the car-door contact is independent evidence of the door. Contact made -> `closed`.
  Contact open while the controller reports the door closed or the car running -> `open` (that is
  how a door opened in travel is seen at all). Otherwise the controller's opening/open/closing.
  No contact fitted -> the controller's word alone.
- door_zone: both leveling sensors made (the vane is between them); one fitted -> that one;
  none fitted -> the controller's car state says stopped at a landing (open/opening/closing).
- door_lock: the lock-circuit sense; not fitted -> the door is closed.
- safety_circuit, power: their senses; not fitted -> assumed healthy (no invented alarm).
- occupied: the presence sensor, or None when none is fitted (detection.md's "empty").
- floor: controller landing converted with the site's lowest floor; landing 0 or past the top
  stays out of range on purpose so the detector raises position_lost.

A register word outside what the controller can send (run status not 1..3, an unknown car state)
raises FusionError: the poll is dropped and counted rather than guessed into a value.

When the controller is silent (comms_lost) `degraded()` keeps the detector running on the
gateway's own sensors with the car taken as standing: power failure, the alarm button and
entrapment by the sensors keep working through a dead controller (a power cut kills both), while
nothing that needs `running=1` can be raised from stale registers.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocols.registers import NICE3000_MONITOR, CarState, RunStatus, decode_system_state, landing_to_floor
from protocols.signals import Door, Mode, SignalSnapshot


class FusionError(ValueError):
    """A register value the controller cannot mean; the poll is dropped."""


REGISTER_NAMES = tuple(r.name for r in NICE3000_MONITOR.registers)
_DIRECTION = {RunStatus.UP: 1, RunStatus.DOWN: -1, RunStatus.STOPPED: 0}


def _door(controller: Door, running: bool, contact: bool | None) -> Door:
    if contact is None:
        return controller
    if contact:
        return Door.CLOSED
    if controller is Door.CLOSED or running:
        return Door.OPEN
    return controller


def _zone(levels: Mapping[str, bool], at_landing: bool) -> bool:
    up, down = levels.get("leveling_up"), levels.get("leveling_down")
    if up is None and down is None:
        return at_landing
    if up is None or down is None:
        return bool(up if up is not None else down)
    return up and down


def fuse(t_ms: int, regs: Mapping[str, int], levels: Mapping[str, bool], lowest_floor: int) -> SignalSnapshot:
    """One snapshot from one complete poll of the NICE3000+ block and the current GPIO levels."""
    try:
        status = RunStatus(regs["run_status"])
    except ValueError:
        raise FusionError(f"run status {regs['run_status']} is not 1..3") from None
    state = decode_system_state(regs["system_state"])
    if state.car_state is None:
        raise FusionError(f"system state {regs['system_state']:#06x} has an unknown car state")
    running = state.running
    controller_door = state.door or Door.CLOSED
    door = _door(controller_door, running, levels.get("door_closed"))
    at_landing = state.car_state in (CarState.OPENING, CarState.OPEN_HOLD, CarState.CLOSING)
    return SignalSnapshot(
        t_ms=t_ms,
        floor=landing_to_floor(regs["landing"], lowest_floor),
        direction=_DIRECTION[status] if running else 0,
        running=running,
        speed_mm_s=regs["speed_mm_s"],
        door=door,
        door_zone=_zone(levels, at_landing),
        door_lock=levels.get("door_lock", door is Door.CLOSED),
        safety_circuit=levels.get("safety_circuit", True),
        occupied=levels.get("presence"),
        alarm_button=levels.get("alarm_button", False),
        power=levels.get("mains", True),
        mode=state.mode,
        fault_code=regs["fault"],
    )


def degraded(t_ms: int, last: SignalSnapshot | None, levels: Mapping[str, bool], lowest_floor: int) -> SignalSnapshot:
    """The snapshot while the controller is silent: the gateway's sensors, the car taken as standing."""
    door_contact = levels.get("door_closed")
    door = Door.CLOSED if door_contact is None or door_contact else Door.OPEN
    return SignalSnapshot(
        t_ms=t_ms,
        floor=last.floor if last is not None else lowest_floor,
        direction=0,
        running=False,
        speed_mm_s=0,
        door=door,
        door_zone=_zone(levels, last.door_zone if last is not None else True),
        door_lock=levels.get("door_lock", door is Door.CLOSED),
        safety_circuit=levels.get("safety_circuit", True),
        occupied=levels.get("presence"),
        alarm_button=levels.get("alarm_button", False),
        power=levels.get("mains", True),
        mode=last.mode if last is not None else Mode.NORMAL,
        fault_code=last.fault_code if last is not None else 0,
    )
