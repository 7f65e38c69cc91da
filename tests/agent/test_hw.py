"""The hardware edge against the real simulator: Modbus over TCP and a pty, line noise, a dead slave, GPIO."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import GpioConfig, ModbusConfig
from edge_agent.fusion import fuse
from edge_agent.hw import BusError
from edge_agent.hw.device import DeviceReader
from edge_agent.hw.gpio import GpiozeroInputs, SimGpioFeed
from edge_agent.hw.modbus import ModbusBus
from protocols.gpio_link import encode_levels
from protocols.registers import NICE3000_MONITOR
from tests.agent.sim import Sim
from tests.agent.support import until

RATED = 1750
SCENARIO = f"[elevator]\nlowest_floor = 1\nhighest_floor = 8\nrated_speed_mm_s = {RATED}\nfloor_height_mm = 3000\n"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    s = Sim(tmp_path_factory.mktemp("sim"), SCENARIO)
    try:
        yield s
    finally:
        s.stop()


def rtu_cfg(sim: Sim, **kw: object) -> ModbusConfig:
    return ModbusConfig(rtu_device=sim.rtu_path, timeout_s=0.15, **kw)  # type: ignore[arg-type]


def tcp_cfg(sim: Sim, **kw: object) -> ModbusConfig:
    return ModbusConfig(tcp_host="127.0.0.1", tcp_port=sim.modbus_port, timeout_s=0.15, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
async def test_reads_the_controller_block_in_contiguous_requests(sim: Sim, transport: str) -> None:
    bus = ModbusBus(tcp_cfg(sim) if transport == "tcp" else rtu_cfg(sim))
    try:
        reader = DeviceReader(bus, NICE3000_MONITOR)
        values = await reader.read()
        assert values is not None and reader.online
        assert values["rated_speed_mm_s"] == RATED
        assert 1 <= values["landing"] <= 8 and values["run_status"] in (1, 2, 3)
        assert bus.counters.requests == len(NICE3000_MONITOR.blocks()), "one request per contiguous block"
        fuse(0, values, {}, 1)  # a complete, plausible answer
    finally:
        await bus.close()


async def test_min_gap_between_requests_is_kept(sim: Sim) -> None:
    bus = ModbusBus(tcp_cfg(sim, min_gap_ms=40.0))
    try:
        t0 = time.monotonic()
        for _ in range(6):
            await bus.read_holding(1, 0x3000, 1)
        assert time.monotonic() - t0 >= 5 * 0.040
    finally:
        await bus.close()


async def test_modbus_exception_is_an_error_not_a_value(sim: Sim) -> None:
    bus = ModbusBus(tcp_cfg(sim))
    try:
        with pytest.raises(BusError) as err:
            await bus.read_holding(1, 0x4000, 2)  # an address the controller does not have
        assert err.value.kind == "exception" and bus.counters.exceptions == 1 and bus.counters.retries == 0
    finally:
        await bus.close()


async def test_serial_noise_is_retried_counted_and_never_becomes_a_value(sim: Sim) -> None:
    bus = ModbusBus(rtu_cfg(sim, retries=2))
    reader = DeviceReader(bus, NICE3000_MONITOR)
    try:
        sim.inject("serial_noise", 4.0)
        good = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            values = await reader.read()
            if values is not None:
                good += 1
                # A constant register: any garbage taken for an answer would show here.
                assert values["rated_speed_mm_s"] == RATED, values
                assert values["run_status"] in (1, 2, 3) and 0 <= values["landing"] <= 9, values
                fuse(0, values, {}, 1)
        c = bus.counters
        assert c.bad_frames + c.timeouts > 5, c
        assert c.retries > 0 and good >= 2, (c, good)
    finally:
        await until(lambda: not sim.status()["serial_noise_active"], 10, "the noise to end")
        await bus.close()


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
async def test_dead_slave_is_backed_off_and_logged_once(
    sim: Sim, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = ModbusBus(tcp_cfg(sim, retries=0) if transport == "tcp" else rtu_cfg(sim, retries=0))
    reader = DeviceReader(bus, NICE3000_MONITOR, backoff_max_s=0.5)
    caplog.set_level(logging.INFO, logger="edge_agent.hw.device")
    try:
        assert await reader.read() is not None
        sim.inject("comms_loss", 2.0)
        t0 = time.monotonic()
        while reader.online or time.monotonic() - t0 < 1.5:
            await reader.read()
            await asyncio.sleep(0.02)
        assert bus.counters.skipped_backoff > 10, "a dead slave is not asked on every poll"
        requests_while_dead = bus.counters.requests
        await until(lambda: not sim.status()["comms_silent"], 10, "comms to return")
        deadline = time.monotonic() + 5
        while await reader.read() is None:
            assert time.monotonic() < deadline, "never recovered"
            await asyncio.sleep(0.05)
        assert reader.online and bus.counters.requests > requests_while_dead
    finally:
        await bus.close()
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("stopped answering" in m for m in msgs) == 1 and sum("answering again" in m for m in msgs) == 1


async def test_gpio_levels_follow_the_simulator(sim: Sim) -> None:
    factory = MockFactory()
    inputs = GpiozeroInputs(GpioConfig(pin_factory="sim"), factory)
    feed = SimGpioFeed(inputs, "127.0.0.1", sim.gpio_port)
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: inputs.ready, 5, "the first levels")
        sim.inject("alarm_button", 1.0)
        await until(lambda: inputs.levels().get("alarm_button"), 5, "the alarm button level")
        lv = inputs.levels()
        expected = {k: bool(v) for k, v in sim.status()["levels"].items()}
        assert set(lv) == set(expected)
        assert lv["mains"] and lv["safety_circuit"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        inputs.close()
        factory.close()


async def test_gpio_inverted_and_absent_lines_and_bad_messages(tmp_path: Path) -> None:
    sent: asyncio.Queue[bytes] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(await sent.get())
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    factory = MockFactory()
    cfg = GpioConfig(
        pin_factory="sim", inverted=frozenset({"mains"}), pins={"door_closed": 4, "mains": 5, "presence": 6}
    )
    inputs = GpiozeroInputs(cfg, factory)
    feed = SimGpioFeed(inputs, "127.0.0.1", port)
    task = asyncio.create_task(feed.run())
    try:
        await sent.put(encode_levels(1, {"door_closed": True, "mains": True}))  # no presence sensor fitted
        await until(lambda: inputs.ready, 5)
        assert inputs.levels() == {"door_closed": True, "mains": True}
        assert factory.pin(5).state == 0, "an inverted line is driven low when active"
        await sent.put(b'{"t_ms": 2, "levels": {"door_closed": 7}}\n')
        await sent.put(encode_levels(3, {"door_closed": False}))
        await until(lambda: not inputs.levels()["door_closed"], 5)
        assert feed.bad_messages == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.close()
        inputs.close()
        factory.close()
