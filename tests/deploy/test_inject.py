"""`elev-sim inject` as a tester uses it: --help lists the faults, a fault that cannot act is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hw_sim.scenario import INJECTABLE
from tests.deploy.test_check import Sim

BIN = Path(sys.executable).parent


def inject(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "elev-sim"), "inject", *args], capture_output=True, text=True, timeout=20)


def test_help_lists_every_fault_with_its_keys() -> None:
    done = inject("--help")
    assert done.returncode == 0
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ") and "  " in line[2:]}
    assert set(INJECTABLE) <= set(rows), sorted(set(INJECTABLE) - set(rows))
    assert "code=4100" in rows["safety_circuit_open"] and "60 s" in rows["safety_circuit_open"]
    assert "RTU line only" in rows["serial_noise"]


def test_serial_noise_on_a_tcp_only_simulator_is_refused(tmp_path: Path) -> None:
    sim = Sim(tmp_path)  # Modbus TCP and GPIO only, no RTU line
    try:
        done = inject("--control", sim.control, "serial_noise")
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.strip() == (
            "elev-sim inject: refused: serial_noise damages Modbus RTU frames and this simulator serves no RTU line"
            " (start it with --modbus-rtu auto); to silence the controller on TCP use comms_loss"
        )
        status = inject("--control", sim.control, "--status")
        assert '"serial_noise_active": false' in status.stdout
        assert inject("--control", sim.control, "comms_loss", "--duration-s", "1").returncode == 0
    finally:
        sim.stop()
