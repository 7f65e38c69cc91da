"""Faults on a running simulator: scheduled and by hand, on the registers, the GPIO levels and the wire."""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer.rtu import FramerRTU

from hw_sim.control import request
from tests.sim_serve.simproc import BUSY_SCENARIO, SimProcess

FLOOR_MM = 3500
ZONE_MM = 200  # door-zone half-width of the default elevator


@pytest.fixture(scope="module")
def sim_1x(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One real-time simulator for the wire-fault tests; each test's fault is over when it ends."""
    s = SimProcess(tmp_path_factory.mktemp("sim1x"), time_scale=1.0)
    yield s
    assert s.stop() == 0, s.stderr()


async def inject(sim: SimProcess, fault: str, duration_s: float, **params: object) -> dict[str, object]:
    reply = await request("127.0.0.1", sim.control_port, {"inject": fault, "duration_s": duration_s, "params": params})
    assert reply["ok"], reply
    line = reply["line"]
    assert isinstance(line, dict)
    return line


async def answers(client: AsyncModbusTcpClient | AsyncModbusSerialClient) -> bool:
    if not client.connected:
        await client.connect()
    try:
        rr = await client.read_holding_registers(0x1010, count=2, device_id=1)
    except ModbusException:
        return False
    return not rr.isError()


async def test_comms_loss_silences_tcp_and_rtu_then_both_recover(sim_1x: SimProcess) -> None:
    tcp = AsyncModbusTcpClient("127.0.0.1", port=sim_1x.modbus_port, timeout=0.3, retries=0)
    rtu = AsyncModbusSerialClient(sim_1x.rtu_path, baudrate=19200, timeout=0.3, retries=0)
    assert await tcp.connect() and await rtu.connect()
    try:
        assert await answers(tcp) and await answers(rtu)
        before = time.time()
        line = await inject(sim_1x, "comms_loss", 2.0)
        printed = sim_1x.next_line(lambda j: j.get("inject") == "comms_loss")
        assert printed == line and before <= float(printed["ts"]) <= time.time()  # type: ignore[arg-type]
        t0 = time.monotonic()
        assert not await answers(tcp) and not await answers(rtu)
        recovered: dict[str, float] = {}
        while len(recovered) < 2:
            assert time.monotonic() - t0 < 8, f"no recovery after comms_loss: {recovered}"
            for name, client in (("tcp", tcp), ("rtu", rtu)):
                if name not in recovered and await answers(client):
                    recovered[name] = time.monotonic() - t0
            await asyncio.sleep(0.05)
        assert all(1.4 < t < 5.0 for t in recovered.values()), recovered  # silent for about the 2 s asked
    finally:
        tcp.close()
        rtu.close()


def _raw_exchange(fd: int, request_frame: bytes, quiet_s: float = 0.12, limit_s: float = 1.0) -> bytes:
    """Send one RTU request and collect whatever comes back until the line is quiet."""
    os.write(fd, request_frame)
    got = b""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], quiet_s)
        if not ready:
            if got:
                break
            continue
        got += os.read(fd, 1024)
    return got


def _valid_response(data: bytes) -> bool:
    # unit 1, fc 3, 2 registers: 1 + 1 + 1 + 4 + 2 CRC = 9 bytes, nothing more
    return (
        len(data) == 9
        and data[:3] == b"\x01\x03\x04"
        and FramerRTU.check_CRC(data[:-2], int.from_bytes(data[-2:], "big"))
    )


async def test_serial_noise_garbles_the_rtu_line_then_it_reads_clean(sim_1x: SimProcess) -> None:
    body = bytes([1, 3, 0x10, 0x10, 0, 2])
    req = body + FramerRTU.compute_CRC(body).to_bytes(2, "big")
    fd = os.open(sim_1x.rtu_path, os.O_RDWR | os.O_NOCTTY)

    async def exchange() -> bytes:
        return await asyncio.to_thread(_raw_exchange, fd, req)

    try:
        tty.setraw(fd)
        deadline = time.monotonic() + 5
        while not _valid_response(await exchange()):  # a clean line first
            assert time.monotonic() < deadline, "no clean answer before the noise"
        await inject(sim_1x, "serial_noise", 4.0)
        sim_1x.next_line(lambda j: j.get("inject") == "serial_noise")
        good = bad = silent = 0
        t0 = time.monotonic()
        while bad < 3 or good < 3:
            assert time.monotonic() - t0 < 3.8, f"in the noise: {good} good, {bad} damaged, {silent} unanswered"
            got = await exchange()
            if not got:
                silent += 1  # the request was damaged on the way in (the slave saw a bad CRC), or lost
            elif _valid_response(got):
                good += 1
            else:
                bad += 1  # garbage, bad CRC, truncated, another talker, or junk on the idle line
        while (await request("127.0.0.1", sim_1x.control_port, {"status": True}))["serial_noise_active"]:
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 10
        clean = 0
        while clean < 10:  # after the noise: a run of clean answers
            assert time.monotonic() < deadline, "the line never came clean after serial_noise"
            clean = clean + 1 if _valid_response(await exchange()) else 0
    finally:
        os.close(fd)


async def test_pymodbus_rtu_client_counts_errors_under_noise_but_still_reads(sim_1x: SimProcess) -> None:
    client = AsyncModbusSerialClient(sim_1x.rtu_path, baudrate=19200, timeout=0.3, retries=0)
    assert await client.connect()
    try:
        await inject(sim_1x, "serial_noise", 3.0)
        ok = errors = 0
        t0 = time.monotonic()
        while errors < 2 or ok < 2:
            assert time.monotonic() - t0 < 2.8, f"in the noise: {ok} reads, {errors} errors"
            if await answers(client):
                ok += 1
            else:
                errors += 1
        deadline = time.monotonic() + 5
        while (await request("127.0.0.1", sim_1x.control_port, {"status": True}))["serial_noise_active"]:
            assert time.monotonic() < deadline, "serial_noise did not end"
            await asyncio.sleep(0.1)
        clean = 0  # junk left on the line when the noise stopped may spoil the first read, not more
        while clean < 5:
            assert time.monotonic() < deadline + 5, "the pymodbus client never read cleanly again"
            clean = clean + 1 if await answers(client) else 0
    finally:
        client.close()


TRAP_SCENARIO = BUSY_SCENARIO + '\n[[inject]]\nat_s = 2\nfault = "controller_fault"\ncode = 4100\nduration_s = 60\n'


def test_scheduled_fault_and_a_trap_injected_by_hand(tmp_path: Path) -> None:
    sim = SimProcess(tmp_path, scenario=TRAP_SCENARIO, time_scale=20.0)
    try:
        scheduled = sim.next_line(lambda j: j.get("inject") == "controller_fault", what="controller_fault line")
        assert scheduled["code"] == 4100 and isinstance(scheduled["ts"], float)

        def status() -> dict[str, object]:
            reply = asyncio.run(request("127.0.0.1", sim.control_port, {"status": True}))
            assert reply["ok"], reply
            return reply

        regs = status()["registers"]
        assert isinstance(regs, dict) and regs["fault"] == 4100 and (regs["system_state"] >> 4) & 0xF == 5

        # a tester traps the car by hand
        out = subprocess.run(
            [*SimProcess.base_command(), "inject", "--control", f"127.0.0.1:{sim.control_port}"]
            + ["trap_between_floors", "--duration-s", "120", "passengers=2"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=SimProcess.root(),
        )
        assert out.returncode == 0, out.stderr
        manual = json.loads(out.stdout)
        # A trap needs a trip: the fault is armed now and its `inject` line comes when it hits.
        assert manual["arming"] == "trap_between_floors" and manual["passengers"] == 2
        assert sim.next_line(lambda j: j.get("arming") == "trap_between_floors") == manual
        hit = sim.next_line(lambda j: j.get("inject") == "trap_between_floors", what="the trap hitting the car")
        assert hit["armed_at_ms"] == manual["t_ms"] and hit["ts"] >= manual["ts"]

        # the car runs with its passengers and stops between floors, door closed, people inside
        deadline = time.monotonic() + 20
        trapped = 0
        while trapped < 5:
            assert time.monotonic() < deadline, f"no trap seen: {status()}"
            s = status()
            r, lv = s["registers"], s["levels"]
            assert isinstance(r, dict) and isinstance(lv, dict)
            off_landing = abs(r["car_position_dm"] * 100 - (r["landing"] - 1) * FLOOR_MM) > ZONE_MM + 100
            if (
                r["run_status"] == 3
                and r["speed_mm_s"] == 0
                and off_landing
                and lv["leveling_up"] == 0
                and lv["door_closed"] == 1
                and lv["presence"] == 1
            ):
                trapped += 1
            else:
                trapped = 0
            time.sleep(0.1)
    finally:
        assert sim.stop() == 0, sim.stderr()


def test_inject_command_reports_refusals_in_one_line(sim_1x: SimProcess) -> None:
    def inject_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SimProcess.base_command(), "inject", *args], capture_output=True, text=True, timeout=30)

    control = f"127.0.0.1:{sim_1x.control_port}"
    out = inject_cli("--control", control, "trap_in_basement")
    assert out.returncode == 1 and "unknown fault 'trap_in_basement'" in out.stderr
    out = inject_cli("--control", control, "controller_fault", "colour=red")
    assert out.returncode == 1 and "colour" in out.stderr and "Traceback" not in out.stderr
    out = inject_cli("--control", control, "controller_fault", "--duration-s", "-3")
    assert out.returncode == 1 and "duration_s must be a positive number" in out.stderr
    out = inject_cli("--control", "127.0.0.1:1", "alarm_button")
    assert out.returncode == 1 and "cannot reach the simulator's control socket" in out.stderr
    out = inject_cli("--control", control, "--status")
    assert out.returncode == 0 and json.loads(out.stdout)["registers"]["rated_speed_mm_s"] == 1750
    for o in (out,):
        assert o.stderr.count("\n") <= 1
