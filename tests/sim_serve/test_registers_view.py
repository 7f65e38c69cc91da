"""Model state -> NICE3000+ register values and GPIO levels, decoded back with the agent's tables."""

from __future__ import annotations

import random

import pytest
from pymodbus.framer.rtu import FramerRTU

from hw_sim.modbus_server import LineNoise, noise_rate
from hw_sim.registers_view import CarReadings, ControllerView, gpio_levels
from protocols.registers import NICE3000_MONITOR, CarState, RunStatus, decode_system_state
from protocols.signals import Door, Mode, SignalSnapshot

CAR = CarReadings(landing=4, position_mm=10_549, load_permille=412, rated_speed_mm_s=1750)


def snap(**kw: object) -> SignalSnapshot:
    base = dict(
        t_ms=0,
        floor=3,
        direction=0,
        running=False,
        speed_mm_s=0,
        door=Door.CLOSED,
        door_zone=True,
        door_lock=True,
        safety_circuit=True,
        occupied=True,
        alarm_button=False,
        power=True,
        mode=Mode.NORMAL,
        fault_code=0,
    )
    base.update(kw)
    return SignalSnapshot(**base)  # type: ignore[arg-type]


def decoded(values: dict[int, int]) -> dict[str, int | float]:
    return {r.name: r.decode(values[r.address]) for r in NICE3000_MONITOR.registers}


def test_standing_car_with_door_open() -> None:
    v = decoded(ControllerView().update(snap(door=Door.OPEN), CAR))
    assert v == {
        "speed_mm_s": 0,
        "rated_speed_mm_s": 1750,
        "landing": 4,
        "car_position_dm": 105,
        "car_load_permille": 412,
        "system_state": v["system_state"],
        "run_status": RunStatus.STOPPED,
        "fault": 0,
    }
    state = decode_system_state(int(v["system_state"]))
    assert state.mode is Mode.NORMAL and state.car_state is CarState.OPEN_HOLD and state.door is Door.OPEN
    assert (int(v["system_state"]) >> 4) & 0xF == 7  # automatic


def test_a_run_up_then_its_deceleration() -> None:
    view = ControllerView()
    accel = view.update(snap(running=True, direction=1, speed_mm_s=900), CAR)
    cruise = view.update(snap(running=True, direction=1, speed_mm_s=1750), CAR)
    decel = view.update(snap(running=True, direction=1, speed_mm_s=600), CAR)
    stopped = view.update(snap(), CAR)
    states = [decode_system_state(x[0x101D]).car_state for x in (accel, cruise, decel, stopped)]
    assert states == [CarState.RUNNING, CarState.RUNNING, CarState.STOPPING, CarState.CLOSED_HOLD]
    assert [x[0x3000] for x in (accel, decel, stopped)] == [RunStatus.UP, RunStatus.UP, RunStatus.STOPPED]
    assert cruise[0x1010] == 1750
    down = view.update(snap(running=True, direction=-1, speed_mm_s=300), CAR)
    assert down[0x3000] == RunStatus.DOWN


def test_fault_and_service_modes() -> None:
    view = ControllerView()
    fault = view.update(snap(fault_code=4100), CAR)
    assert fault[0x8000] == 4100 and (fault[0x101D] >> 4) & 0xF == 5  # mode: fault
    insp = view.update(snap(mode=Mode.INSPECTION), CAR)
    assert decode_system_state(insp[0x101D]).mode is Mode.INSPECTION


def test_values_saturate_instead_of_wrapping() -> None:
    lost = CarReadings(landing=0, position_mm=-300, load_permille=70_000, rated_speed_mm_s=1750)
    v = ControllerView().update(snap(), lost)
    assert v[0x1018] == 0 and v[0x1019] == 0 and v[0x101A] == 0xFFFF


@pytest.mark.parametrize("occupied", [True, False, None])
def test_gpio_levels(occupied: bool | None) -> None:
    levels = gpio_levels(snap(door=Door.CLOSING, door_zone=False, occupied=occupied, power=False))
    assert levels["door_closed"] is False and levels["leveling_up"] is False and levels["leveling_down"] is False
    assert levels["mains"] is False and levels["safety_circuit"] is True and levels["door_lock"] is True
    assert levels.get("presence") is occupied  # absent without a sensor


def test_line_noise_damages_about_the_asked_share_and_keeps_good_frames_intact() -> None:
    noise = LineNoise(random.Random(1))
    body = bytes([1, 3, 2, 0x12, 0x34])
    frame = body + FramerRTU.compute_CRC(body).to_bytes(2, "big")
    out = [noise.outbound(frame, 0.3) for _ in range(2000)]
    damaged = sum(o != frame for o in out)
    assert 450 < damaged < 750
    assert all(noise.counts[k] > 50 for k in LineNoise.KINDS)
    talker = noise.foreign_frame()
    assert 2 <= talker[0] <= 247 and FramerRTU.check_CRC(talker[:-2], int.from_bytes(talker[-2:], "big"))
    assert noise.outbound(frame, 0.0) == frame and noise.inbound(frame, 0.0) == frame
    assert noise.inbound(frame, 1.0) != frame


def test_noise_rate_from_the_fault() -> None:
    assert noise_rate({}) == 0.3
    assert noise_rate({"rate": 0.8}) == 0.8
    assert noise_rate({"rate": 7}) == 0.3
