"""Register maps as data: validation errors name the register, blocks, and the NICE3000+ words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from protocols.registers import (
    NICE3000_MONITOR,
    RETROFIT_BOARD,
    Block,
    CarState,
    InputBit,
    RegisterMap,
    RegisterMapError,
    RegType,
    decode_system_state,
    encode_system_state,
    fault_code,
    floor_to_landing,
    landing_to_floor,
)
from protocols.signals import Door, Mode
from tests.conftest import SHARED

SURFACE_MD = SHARED / "contract" / "surface.md"


def build(*registers: dict[str, Any], **top: Any) -> RegisterMap:
    return RegisterMap.from_dict({"name": "test", "unit_id": 1, "registers": list(registers), **top})


@pytest.mark.parametrize(
    ("registers", "top", "fragment"),
    [
        (
            [{"name": "a", "address": 10}, {"name": "b", "address": 10}],
            {},
            "registers a and b overlap at 0x000a",
        ),
        ([{"name": "a", "address": 1}, {"name": "a", "address": 2}], {}, "register name a is used twice"),
        ([{"name": "a", "address": 1, "type": "float32"}], {}, "register a: type 'float32' is not one of"),
        ([{"name": "a", "address": 1, "scale": 0}], {}, "register a: scale must be a positive number"),
        ([{"name": "a", "address": 1, "scale": -0.1}], {}, "register a: scale"),
        ([{"name": "a", "address": 1, "scale": "x"}], {}, "register a: scale"),
        ([{"name": "a", "address": 1, "scale": True}], {}, "register a: scale"),
        ([{"name": "a", "address": -1}], {}, "register a: address must be 0..0xFFFF"),
        ([{"name": "a", "address": 0x10000}], {}, "register a: address"),
        ([{"name": "a", "address": "0x10"}], {}, "register a: address"),
        ([{"name": "a", "address": True}], {}, "register a: address"),
        ([{"address": 1}], {}, "registers[0] has no name"),
        (["a"], {}, "registers[0] must be a table"),
        ([], {}, "'registers' must be a non-empty list"),
        ([{"name": "a", "address": 1}], {"unit_id": 0}, "unit_id must be 1..247"),
        ([{"name": "a", "address": 1}], {"unit_id": 248}, "unit_id must be 1..247"),
        ([{"name": "a", "address": 1}], {"unit_id": True}, "unit_id must be 1..247"),
    ],
)
def test_map_validation_names_the_problem(registers: list[Any], top: dict[str, Any], fragment: str) -> None:
    with pytest.raises(RegisterMapError) as err:
        build(*registers, **top)
    assert str(err.value).startswith("test: ")
    assert fragment in str(err.value)


def test_registers_are_sorted_and_found_by_name() -> None:
    m = build({"name": "b", "address": 5}, {"name": "a", "address": 2, "type": "int16", "scale": 0.1, "unit": "m"})
    assert [r.name for r in m.registers] == ["a", "b"]
    assert m["a"].type is RegType.INT16 and m["a"].scale == 0.1 and m["a"].unit == "m"
    with pytest.raises(KeyError, match="no register 'c'"):
        m["c"]


def test_blocks_of_the_nice3000_map() -> None:
    assert [(b.start, b.count) for b in NICE3000_MONITOR.blocks()] == [
        (0x1010, 2),
        (0x1018, 6),
        (0x3000, 1),
        (0x8000, 1),
    ]
    assert RETROFIT_BOARD.blocks() == (Block(0, 1, RETROFIT_BOARD.registers),)


def test_blocks_bridge_small_gaps_and_respect_max_block() -> None:
    regs = [{"name": f"r{i}", "address": 100 + i} for i in range(40)]
    blocks = build(*regs, {"name": "near", "address": 143}, {"name": "far", "address": 148}).blocks()
    assert [(b.start, b.count) for b in blocks] == [(100, 32), (132, 12), (148, 1)]
    assert all(b.count <= 32 for b in blocks)
    covered = [r.name for b in blocks for r in b.registers]
    assert covered == [*(f"r{i}" for i in range(40)), "near", "far"]
    for b in blocks:
        assert all(b.start <= r.address < b.start + b.count for r in b.registers)


def test_register_decode_and_encode() -> None:
    m = build({"name": "s", "address": 1, "type": "int16"}, {"name": "p", "address": 2, "scale": 0.1})
    s, p = m["s"], m["p"]
    assert s.decode(0xFFFF) == -1 and s.decode(0x7FFF) == 32767 and s.encode(-2) == 0xFFFE
    assert p.decode(123) == pytest.approx(12.3) and p.encode(12.3) == 123
    with pytest.raises(RegisterMapError, match="s: 40000 does not fit int16"):
        s.encode(40000)
    with pytest.raises(RegisterMapError, match="does not fit uint16"):
        p.encode(-1)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("car", list(CarState))
def test_system_state_round_trip(mode: Mode, car: CarState) -> None:
    word = encode_system_state(mode, car)
    assert 0 <= word <= 0xFFFF and word & 0xF00F == 0
    state = decode_system_state(word)
    assert (state.mode, state.car_state) == (mode, car)
    assert state.running == (car in (CarState.RUNNING, CarState.STOPPING))


def test_system_state_decoding_is_lenient_about_unknown_values() -> None:
    assert decode_system_state(0x0F20).car_state is None  # car state 15: unknown
    assert decode_system_state(0x0F20).door is None
    assert decode_system_state(0x0420 | 0xF000 | 0x000F).car_state is CarState.CLOSED_HOLD  # other bits ignored
    assert decode_system_state(0x0420).mode is Mode.NORMAL  # mode 2 is not a NICE3000+ mode
    assert decode_system_state(0x0430).mode is Mode.FIRE  # fire return
    assert decode_system_state(0x0450).mode is Mode.NORMAL  # 5 fault: reported by its code, not as a mode
    assert decode_system_state(0x0410).mode is Mode.INSPECTION  # shaft tuning
    assert decode_system_state(0x0200).door is Door.OPEN


@pytest.mark.parametrize("lowest", [-3, -1, 0, 1, 5])
def test_landing_floor_round_trip(lowest: int) -> None:
    assert landing_to_floor(1, lowest) == lowest
    for floor in range(lowest, lowest + 30):
        assert landing_to_floor(floor_to_landing(floor, lowest), lowest) == floor
    assert floor_to_landing(lowest + 4, lowest) == 5


def test_fault_code() -> None:
    assert fault_code(41, 2) == 4102
    assert fault_code(30) == 3000
    assert fault_code(0) == 0
    assert fault_code(655, 35) == 0xFFFF
    for bad in ((41, 100), (41, -1), (-1, 0), (656, 0), (655, 36)):
        with pytest.raises(ValueError, match="out of range"):
            fault_code(*bad)


def test_input_bits_are_distinct_and_fit_the_word() -> None:
    assert len({int(b) for b in InputBit}) == len(InputBit)
    assert all(0 <= b < 16 for b in InputBit)


@pytest.mark.skipif(not SURFACE_MD.exists(), reason="the shared contract is not next to this checkout")
def test_nice3000_map_has_exactly_the_contract_registers() -> None:
    text = SURFACE_MD.read_text(encoding="utf-8")
    section = text.split("### NICE3000+ monitoring registers", 1)[1].split("###", 1)[0]
    addresses = [int(a, 16) for a in re.findall(r"^\|\s*(0x[0-9A-Fa-f]{4})\s*\|", section, re.M)]
    assert addresses and sorted(addresses) == [r.address for r in NICE3000_MONITOR.registers]
    assert NICE3000_MONITOR.unit_id == 1
