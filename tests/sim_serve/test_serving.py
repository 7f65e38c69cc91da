"""A real `elev-sim run` read by real Modbus masters (pymodbus, mbpoll) over TCP and over the pty.

The simulator runs at 20x simulated time so a trip happens within seconds; the wires answer in real
time. "Moves like an elevator" is checked on what a master reads: the car runs up or down with a
speed above zero and at most 115 % of rated, stands with speed 0 and status 3, changes landing,
and its position agrees with its landing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from protocols.gpio_lines import GPIO_LINES
from protocols.gpio_link import decode_levels
from protocols.registers import NICE3000_MONITOR, RunStatus, decode_system_state
from tests.sim_serve.simproc import BUSY_SCENARIO, SimProcess
from tests.support.services import free_port

RATED = 1750
FLOOR_MM = 3500
LANDINGS = 14


@dataclass(frozen=True)
class Reading:
    speed: int
    landing: int
    position_dm: int
    state: int
    status: int
    fault: int


class Movement:
    """Accumulates readings until they show a car that moved like an elevator."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    def add(self, r: Reading) -> None:
        """Check one reading. Speed, landing, position and state come from one request, so they must
        agree exactly; status and fault come from later requests, a moment later on a 10x clock."""
        assert 0 <= r.speed <= 1.15 * RATED, r
        assert 1 <= r.landing <= LANDINGS, r
        assert r.status in (RunStatus.UP, RunStatus.DOWN, RunStatus.STOPPED), r
        # the landing is the nearest one to the car position
        assert abs(r.position_dm * 100 - (r.landing - 1) * FLOOR_MM) <= FLOOR_MM / 2 + 100, r
        state = decode_system_state(r.state)
        assert state.car_state is not None, r
        if not state.running:
            assert r.speed == 0, f"a standing car with speed: {r}"
        if self.readings:  # a car reported running up does not go down, and the other way round
            prev = self.readings[-1]
            if prev.status == r.status == RunStatus.UP:
                assert r.position_dm >= prev.position_dm, (prev, r)
            if prev.status == r.status == RunStatus.DOWN:
                assert r.position_dm <= prev.position_dm, (prev, r)
        self.readings.append(r)

    def enough(self) -> bool:
        rs = self.readings
        return (
            any(r.status == RunStatus.UP and r.speed > 0 for r in rs)
            and any(r.status == RunStatus.DOWN and r.speed > 0 for r in rs)
            and any(r.status == RunStatus.STOPPED for r in rs)
            and len({r.landing for r in rs}) >= 2
            and len({r.position_dm for r in rs}) >= 3
        )

    def summary(self) -> str:
        return f"{len(self.readings)} readings, last: {self.readings[-3:]}"


async def read_car(client: AsyncModbusTcpClient | AsyncModbusSerialClient) -> Reading:
    """One read of the monitoring group 0x1010-0x101D, then status and fault."""
    a = await client.read_holding_registers(0x1010, count=14, device_id=1)  # the monitoring group at once
    c = await client.read_holding_registers(0x3000, count=1, device_id=1)
    d = await client.read_holding_registers(0x8000, count=1, device_id=1)
    for rr in (a, c, d):
        assert not rr.isError(), rr
    m = a.registers
    assert m[1] == RATED
    return Reading(m[0], m[8], m[9], m[13], c.registers[0], d.registers[0])


async def watch_movement(client: AsyncModbusTcpClient | AsyncModbusSerialClient, timeout_s: float = 25.0) -> Movement:
    m = Movement()
    deadline = time.monotonic() + timeout_s
    while not m.enough():
        assert time.monotonic() < deadline, f"no elevator movement seen in {timeout_s} s: {m.summary()}"
        m.add(await read_car(client))
        await asyncio.sleep(0.05)
    return m


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    s = SimProcess(tmp_path_factory.mktemp("sim"), time_scale=20.0)
    yield s
    assert s.stop() == 0, s.stderr()


async def test_pymodbus_tcp_sees_a_moving_car(sim: SimProcess) -> None:
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=2, retries=0)
    assert await client.connect()
    try:
        await watch_movement(client)
    finally:
        client.close()


async def test_pymodbus_rtu_on_the_pty_sees_a_moving_car(sim: SimProcess) -> None:
    assert sim.rtu_path.startswith("/dev/pts/")
    client = AsyncModbusSerialClient(sim.rtu_path, baudrate=19200, timeout=2, retries=0)
    assert await client.connect()
    try:
        await watch_movement(client)
    finally:
        client.close()


async def test_unknown_address_foreign_unit_and_writes_are_refused_like_a_controller(sim: SimProcess) -> None:
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=0.5, retries=0)
    assert await client.connect()
    try:
        for address, count in ((0x2000, 1), (0x0000, 1), (0x1010, 17), (0x3001, 1), (0x7FFF, 2)):
            rr = await client.read_holding_registers(address, count=count, device_id=1)
            assert rr.isError() and rr.exception_code == 2, (hex(address), count, rr)  # illegal data address
        rr = await client.read_input_registers(0x1010, count=1, device_id=1)
        assert rr.isError() and rr.exception_code == 1  # illegal function
        rr = await client.write_register(0x1010, 5, device_id=1)
        assert rr.isError() and rr.exception_code == 2
        with pytest.raises(ModbusException):  # another unit id: silence, as on RS485
            await client.read_holding_registers(0x1010, count=1, device_id=2)
    finally:
        client.close()
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=2, retries=0)
    assert await client.connect()
    try:
        ok = await client.read_holding_registers(0x1010, count=16, device_id=1)  # whole monitoring group
        assert not ok.isError() and ok.registers[1] == RATED
        for block in NICE3000_MONITOR.blocks():  # the agent's gap-bridging block reads
            rr = await client.read_holding_registers(block.start, count=block.count, device_id=1)
            assert not rr.isError() and len(rr.registers) == block.count, (block, rr)
    finally:
        client.close()


# --- mbpoll, a real Modbus master -----------------------------------------------------------------

_MBPOLL_VALUE = re.compile(r"^\[(\d+)\]:\s+(-?\d+)", re.M)


def mbpoll(*args: str) -> dict[int, int]:
    exe = shutil.which("mbpoll")
    if exe is None:
        pytest.fail("mbpoll is not installed: run scripts/bootstrap.sh or `apt-get install mbpoll` (Debian package)")
    # -0: addresses are PDU addresses; -t 4: holding registers (fc 03); -1: one poll; -o: timeout s
    out = subprocess.run([exe, "-a", "1", "-0", "-t", "4", "-1", "-o", "1", *args], capture_output=True, text=True)
    assert out.returncode == 0, f"mbpoll {' '.join(args)} failed: {out.stdout[-300:]} {out.stderr[-300:]}"
    return {int(a): int(v) for a, v in _MBPOLL_VALUE.findall(out.stdout)}


def watch_with_mbpoll(link: list[str], timeout_s: float = 25.0) -> Movement:
    m = Movement()
    deadline = time.monotonic() + timeout_s
    while not m.enough():
        assert time.monotonic() < deadline, f"mbpoll saw no movement in {timeout_s} s: {m.summary()}"
        monitor = mbpoll("-r", str(0x1010), "-c", "14", *link)
        status = mbpoll("-r", str(0x3000), "-c", "1", *link)
        fault = mbpoll("-r", str(0x8000), "-c", "1", *link)
        assert monitor[0x1011] == RATED
        m.add(
            Reading(monitor[0x1010], monitor[0x1018], monitor[0x1019], monitor[0x101D], status[0x3000], fault[0x8000])
        )
    return m


def test_mbpoll_over_tcp_sees_a_moving_car(sim: SimProcess) -> None:
    m = watch_with_mbpoll(["-m", "tcp", "-p", str(sim.modbus_port), "127.0.0.1"])
    assert any(r.speed > 0 for r in m.readings)


def test_mbpoll_over_the_pty_sees_a_moving_car(sim: SimProcess) -> None:
    m = watch_with_mbpoll(["-m", "rtu", "-b", "19200", "-P", "none", sim.rtu_path])
    assert any(r.speed > 0 for r in m.readings)


# --- GPIO stream -------------------------------------------------------------------------------


def read_levels(sock: socket.socket, buf: bytearray, timeout_s: float) -> tuple[int, dict[str, bool]]:
    sock.settimeout(timeout_s)
    while b"\n" not in buf:
        chunk = sock.recv(4096)
        assert chunk, "GPIO server closed the connection"
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return decode_levels(line)


def test_gpio_stream_sends_a_full_message_then_changes(sim: SimProcess) -> None:
    with socket.create_connection(("127.0.0.1", sim.gpio_port), timeout=5) as a:
        buf = bytearray()
        t0, full = read_levels(a, buf, 5)
        assert set(full) == set(GPIO_LINES)  # presence sensor fitted: every line
        state = dict(full)
        changes = 0
        last_t = t0
        deadline = time.monotonic() + 20
        door_changes = 0
        while door_changes < 2:  # the door opens and closes at least once
            assert time.monotonic() < deadline, f"{changes} changes, no door cycle in 20 s"
            t, changed = read_levels(a, buf, 20)
            assert changed and t >= last_t
            assert all(state[k] != v for k, v in changed.items()), (state, changed)  # only real changes
            door_changes += "door_closed" in changed
            state.update(changed)
            changes += 1
            last_t = t
        with socket.create_connection(("127.0.0.1", sim.gpio_port), timeout=5) as b:  # a second client
            _, full_b = read_levels(b, bytearray(), 5)
            assert set(full_b) == set(GPIO_LINES)


# --- command line --------------------------------------------------------------------------------


def test_run_without_scenario_serves_normal_traffic_and_stops_cleanly(tmp_path: Path) -> None:
    s = SimProcess(tmp_path, scenario=None, time_scale=1.0)
    try:
        assert set(s.ready) >= {"modbus_tcp", "modbus_rtu", "gpio_serve", "control"}
        values = mbpoll("-m", "tcp", "-p", str(s.modbus_port), "-r", str(0x1011), "-c", "1", "127.0.0.1")
        assert values[0x1011] == 1750  # the default elevator
    finally:
        assert s.stop() == 0, s.stderr()
    assert "Traceback" not in s.stderr()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "--modbus-tcp HOST:PORT is required"),
        (["--modbus-tcp", "localhost"], 2, "--modbus-tcp: expected HOST:PORT, got 'localhost'"),
        (["--modbus-tcp", "127.0.0.1:1", "--scenario", "/nonexistent.toml"], 1, "/nonexistent.toml: cannot read"),
        (["--modbus-tcp", "127.0.0.1:1", "--time-scale", "1000"], 2, "time_scale must be 0.1..100"),
    ],
)
def test_run_reports_bad_input_in_one_line(args: list[str], code: int, message: str) -> None:
    out = subprocess.run(
        [*SimProcess.base_command(), "run", *args], capture_output=True, text=True, timeout=30, cwd=SimProcess.root()
    )
    assert out.returncode == code, out
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip().count("\n") == 0, out.stderr


def test_run_names_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [*SimProcess.base_command(), "run", "--modbus-tcp", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=SimProcess.root(),
        )
    assert out.returncode == 1
    assert f"cannot listen for Modbus TCP on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr


def test_run_takes_its_settings_from_a_config_file(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "lift.toml").write_text(BUSY_SCENARIO.replace("1750", "1000"))
    config = tmp_path / "sim.toml"
    config.write_text(f'modbus_tcp = "127.0.0.1:{port}"\nscenario = "{tmp_path / "lift.toml"}"\ntick_ms = 20\n')
    proc = subprocess.Popen(
        [*SimProcess.base_command(), "run", "--config", str(config)],
        cwd=SimProcess.root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == {"ready": True, "modbus_tcp": f"127.0.0.1:{port}"}
        values = mbpoll("-m", "tcp", "-p", str(port), "-r", str(0x1011), "-c", "1", "127.0.0.1")
        assert values[0x1011] == 1000  # the scenario named in the file
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    config.write_text('modbus_tcp = "127.0.0.1:1"\ncolour = "red"\n')
    out = subprocess.run(
        [*SimProcess.base_command(), "run", "--config", str(config)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and out.stderr.strip().endswith(
        "unknown key 'colour' (known: "
        + ", ".join(("modbus_tcp", "modbus_rtu", "gpio_serve", "scenario", "control", "tick_ms", "time_scale", "debug"))
        + ")"
    )


def test_sigterm_with_every_kind_of_client_connected_stops_cleanly(tmp_path: Path) -> None:
    s = SimProcess(tmp_path, time_scale=1.0)
    gpio = socket.create_connection(("127.0.0.1", s.gpio_port), timeout=5)
    control = socket.create_connection(("127.0.0.1", s.control_port), timeout=5)
    modbus = socket.create_connection(("127.0.0.1", s.modbus_port), timeout=5)
    pty = os.open(s.rtu_path, os.O_RDWR | os.O_NOCTTY)
    try:
        gpio.recv(4096)  # the full message: the client is registered
        control.sendall(b'{"status": true}\n')
        assert json.loads(control.makefile("rb").readline())["ok"]
        assert s.stop() == 0, s.stderr()
        assert gpio.recv(4096) == b""  # hung up, not left dangling
    finally:
        for sock in (gpio, control, modbus):
            sock.close()
        os.close(pty)
    err = s.stderr()
    assert "Traceback" not in err and "ERROR" not in err, err


def test_ctrl_c_right_after_the_ready_line_stops_cleanly_and_removes_the_symlink(tmp_path: Path) -> None:
    link = tmp_path / "elevator-rtu"
    proc = subprocess.Popen(
        [*SimProcess.base_command(), "run", "--modbus-tcp", f"127.0.0.1:{free_port()}", "--modbus-rtu", str(link)],
        cwd=SimProcess.root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    assert ready["modbus_rtu"] == str(link) and os.readlink(link).startswith("/dev/pts/")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err.rstrip().endswith("elev-sim: stopped"), err
    assert not os.path.lexists(link)
