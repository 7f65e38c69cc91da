"""`elev-sim fleet`: N cars in one process on consecutive ports, each its own, with live stats."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

from pymodbus.client import ModbusTcpClient

from protocols.gpio_link import decode_levels
from tests.sim_serve.simproc import ROOT


def consecutive_free_ports(count: int) -> int:
    for base in range(31000, 60000, 97):
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no run of free ports")


def test_fleet_serves_each_car_on_its_own_port_and_reports_tick_lag() -> None:
    n = 3
    mb, gp, ctl = consecutive_free_ports(n), consecutive_free_ports(n) + 200, consecutive_free_ports(1) + 400
    proc = subprocess.Popen(
        [sys.executable, "-m", "hw_sim.cli", "fleet", "--count", str(n), "--modbus-tcp-base", f"127.0.0.1:{mb}"]
        + ["--gpio-base", f"127.0.0.1:{gp}", "--control", f"127.0.0.1:{ctl}", "--stats-interval-s", "0.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready == {
            "ready": True,
            "cars": n,
            "modbus_tcp_base": f"127.0.0.1:{mb}",
            "gpio_base": f"127.0.0.1:{gp}",
            "control": f"127.0.0.1:{ctl}",
        }
        for i in range(n):
            client = ModbusTcpClient("127.0.0.1", port=mb + i, timeout=2, retries=0)
            assert client.connect()
            rr = client.read_holding_registers(0x1010, count=2, device_id=1)
            client.close()
            assert not rr.isError() and rr.registers[1] == 1750
            with socket.create_connection(("127.0.0.1", gp + i), timeout=2) as g:
                line = g.makefile("rb").readline()
                assert "door_closed" in decode_levels(line)[1]
        out = subprocess.run(
            [sys.executable, "-m", "hw_sim.cli", "inject", "--control", f"127.0.0.1:{ctl}", "--elevator", "2"]
            + ["alarm_button", "--duration-s", "2"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr
        lines = []
        deadline = time.monotonic() + 10
        while not (any("inject" in x for x in lines) and any("stats" in x for x in lines)):
            assert time.monotonic() < deadline, lines
            lines.append(json.loads(proc.stdout.readline()))
        injected = next(x for x in lines if "inject" in x)
        assert injected["inject"] == "alarm_button" and injected["elevator"] == 2
        stats = next(x for x in lines if "stats" in x)["stats"]
        assert stats["cars"] == n and stats["ticks"] > 5 and stats["lag_ms_p99"] >= 0 and stats["rss_mb"] > 10
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_fleet_refuses_a_bad_count_in_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hw_sim.cli", "fleet", "--count", "0", "--modbus-tcp-base", "127.0.0.1:5020"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 2 and out.stderr.strip() == "elev-sim fleet: --count must be 1..2000, got 0"
