"""`elev-agent check` driven as an installer would: a real simulator, a real Mosquitto, a real terminal (tmux).

The passing run happens in a tmux pane (a TTY: the screen refreshes in place); the test reads the
pane like the installer's eyes, presses the alarm button when the screen asks (by injecting
`alarm_button` into the running simulator) and waits for the end line and the exit code. The failing
run is piped (not a TTY: appended screens, no escape codes) against a silent controller and a broker
that is down. The judging criteria themselves are checked on plain samples at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from edge_agent.check_cmd import Sample, Verdict, Watch
from edge_agent.config import Overrides, load
from protocols.registers import CarState, RunStatus, encode_system_state
from protocols.signals import Mode
from tests.support.services import Broker, free_port, wait_for

BIN = Path(sys.executable).parent
SCENARIO = """\
seed = 3
traffic = "lunch"

[elevator]
lowest_floor = -1
highest_floor = 12
rated_speed_mm_s = 1750
floor_height_mm = 3500
"""


class Sim:
    """`elev-sim run` with busy traffic, three times faster than real time (the wires stay real-time)."""

    def __init__(self, workdir: Path) -> None:
        self.modbus, self.gpio, self.control = (f"127.0.0.1:{free_port()}" for _ in range(3))
        scenario = workdir / "lunch.toml"
        scenario.write_text(SCENARIO)
        self.log = open(workdir / "sim.log", "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "elev-sim"), "run", "--modbus-tcp", self.modbus, "--gpio-serve", self.gpio]
            + ["--control", self.control, "--scenario", str(scenario), "--time-scale", "3"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line and json.loads(line).get("ready"), (workdir / "sim.log").read_text()[-2000:]

    def inject(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "elev-sim"), "inject", "--control", self.control, *args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.log.close()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = Sim(tmp_path)
    try:
        yield s
    finally:
        s.stop()


class Tmux:
    """A private tmux server (its own socket) with one pane running a command."""

    def __init__(self, workdir: Path, command: str) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: run scripts/bootstrap.sh tmux (apt-get install tmux)")
        self.sock = str(workdir / "tmux.sock")
        # The pane stays after the command so the test can read the end of the screen and the exit code.
        self._tmux("new-session", "-d", "-s", "check", "-x", "200", "-y", "60", f"{command}; echo EXIT=$?; sleep 120")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "check")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=10)


def test_healthy_lift_passes_live_in_a_terminal(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    cmd = (
        f"{BIN / 'elev-agent'} check --device-id lift-1 --floors=-1..12 --modbus-tcp {sim.modbus} "
        f"--gpio-sim {sim.gpio} "
        f"--broker {broker.url} --seconds 70 --skip clock 2>{tmp_path / 'check.err'}"
    )
    term = Tmux(tmp_path, cmd)
    try:
        # The live screen: controller registers and every sensor line, refreshing, and the request to press.
        live = wait_for(
            lambda: (s := term.screen()) and "press the car alarm button" in s and "run status" in s and s,
            timeout_s=30,
            what="the live screen asking for the alarm button",
        )
        for signal in ("speed", "landing", "mode normal", "door_closed", "leveling_up", "presence", "mains"):
            assert signal in live, live
        assert "check:" not in live
        assert "door_closed     1" in live or "door_closed     0" in live, live  # a level, not "?"
        sim.inject("alarm_button")
        end = wait_for(lambda: (s := term.screen()) and "EXIT=" in s and s, timeout_s=75, what="check to end")
    finally:
        term.kill()
    assert "check: pass" in end and "EXIT=0" in end, end + (tmp_path / "check.err").read_text()
    summary = end[end.index("check         verdict") :]
    for name in ("modbus", "door_contact", "door_zone", "presence", "alarm_button", "mains", "broker"):
        row = next(line for line in summary.splitlines() if line.startswith(name + " "))
        assert " pass " in row, row
    assert "wired: 1 press(es) seen" in summary
    assert "clock         skipped" in summary


def test_silent_controller_and_missing_broker_fail_with_reasons(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    broker.stop()
    sim.inject("comms_loss", "--duration-s", "60")
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "elev-agent"), "check", "--device-id", "lift-1", "--modbus-tcp", sim.modbus, "--floors=-1..12"]
        + ["--gpio-sim", sim.gpio, "--broker", broker.url, "--seconds", "8", "--skip", "clock"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - started < 40
    out = done.stdout
    assert "\x1b[" not in out  # not a terminal: plain appended screens
    assert out.rstrip().endswith(")") and "check: fail (" in out.splitlines()[-1]
    summary = out[out.index("check         verdict") :]
    modbus = next(line for line in summary.splitlines() if line.startswith("modbus "))
    assert "FAIL" in modbus and "no answer from unit 1" in modbus
    broker_row = next(line for line in summary.splitlines() if line.startswith("broker "))
    assert "FAIL" in broker_row and "nothing listens there" in broker_row, broker_row
    alarm = next(line for line in summary.splitlines() if line.startswith("alarm_button "))
    assert "not tested" in alarm and "press the car alarm button" in alarm


def test_bad_configuration_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text('device_id = "lift-1"\n[modbus]\ntcp = "127.0.0.1:1"\nbaud = "fast"\n')
    done = subprocess.run(
        [str(BIN / "elev-agent"), "check", "--config", str(cfg), "--broker", "mqtt://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"elev-agent check: {cfg}: [modbus] baud: must be int, got 'fast'"


# --- the criteria, on plain samples ------------------------------------------------------------------


def _regs(car: CarState, landing: int = 3) -> dict[str, int]:
    running = car in (CarState.RUNNING, CarState.STOPPING)
    return {
        "speed_mm_s": 1000 if running else 0,
        "rated_speed_mm_s": 1750,
        "landing": landing,
        "car_position_dm": 70,
        "car_load_permille": 0,
        "system_state": encode_system_state(Mode.NORMAL, car),
        "run_status": int(RunStatus.UP if running else RunStatus.STOPPED),
        "fault": 0,
    }


def _trip_samples(contact_inverted: bool, zone_at_landing_5: bool) -> list[Sample]:
    """Two stops (landings 3 and 5) with door cycles in between, 10 Hz."""
    phases = [
        (CarState.CLOSED_HOLD, 3, 30),
        (CarState.OPENING, 3, 10),
        (CarState.OPEN_HOLD, 3, 30),
        (CarState.CLOSING, 3, 10),
        (CarState.CLOSED_HOLD, 3, 10),
        (CarState.RUNNING, 4, 30),
        (CarState.OPENING, 5, 10),
        (CarState.OPEN_HOLD, 5, 30),
        (CarState.CLOSING, 5, 10),
        (CarState.CLOSED_HOLD, 5, 20),
    ]
    out, t = [], 0.0
    for car, landing, n in phases:
        for _ in range(n):
            closed = car in (CarState.CLOSED_HOLD, CarState.RUNNING)
            zone = car is not CarState.RUNNING and (landing != 5 or zone_at_landing_5)
            levels = {
                "door_closed": closed != contact_inverted,
                "leveling_up": zone,
                "leveling_down": zone,
                "presence": t > 5,
                "alarm_button": False,
                "mains": True,
                "safety_circuit": True,
                "door_lock": closed,
            }
            out.append(Sample(t, _regs(car, landing), levels))
            t += 0.1
    return out


def _verdicts(samples: list[Sample]) -> dict[str, tuple[Verdict, str]]:
    cfg = load(None, Overrides(device_id="lift-1", broker_url="mqtt://h:1", modbus_tcp="h:1", data_dir="."))
    cfg = replace(cfg, elevator=replace(cfg.elevator, lowest_floor=-1))
    watch = Watch(cfg)
    for s in samples:
        watch.add(s)
    return {r.check: (r.verdict, r.reason) for r in watch.results(final=True)}


def test_criteria_healthy_wiring() -> None:
    v = _verdicts(_trip_samples(contact_inverted=False, zone_at_landing_5=True))
    assert v["door_contact"][0] is Verdict.PASS, v["door_contact"]
    assert v["door_zone"] == (Verdict.PASS, "door zone made at every stop: 2 stops, floors 1, 3")
    assert v["presence"][0] is Verdict.PASS
    assert v["mains"][0] is Verdict.PASS
    assert v["alarm_button"][0] is Verdict.NOT_TESTED  # nobody pressed it: a problem unless skipped


def test_criteria_inverted_contact_and_missing_zone() -> None:
    v = _verdicts(_trip_samples(contact_inverted=True, zone_at_landing_5=False))
    verdict, reason = v["door_contact"]
    assert verdict is Verdict.FAIL and "reads the opposite" in reason and "inverted" in reason, reason
    verdict, reason = v["door_zone"]
    assert verdict is Verdict.FAIL and "floor(s) 3" in reason and "leveling sensors" in reason, reason
