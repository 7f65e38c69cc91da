"""`elev-agent check` driven as an installer would: a real simulator, a real Mosquitto, a real terminal (tmux).

The passing run happens in a tmux pane (a TTY: the screen refreshes in place); the test reads the
pane like the installer's eyes, presses the alarm button when the screen asks (by injecting
`alarm_button` into the running simulator) and waits for the end line and the exit code. The failing
run is piped (not a TTY: appended screens, no escape codes) against a silent controller and a broker
that is down. The judging criteria themselves are checked on plain samples at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from edge_agent.check_cmd import Sample, Verdict, Watch, problems, summary
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
    """A private tmux server (its own socket) with one 80-column pane running a command."""

    def __init__(self, workdir: Path, command: str, env: str = "env -u NO_COLOR", rows: int = 50) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: run scripts/bootstrap.sh tmux (apt-get install tmux)")
        self.sock = str(workdir / "tmux.sock")
        # The pane stays after the command so the test can read the end of the screen and the exit code.
        shell = f"{env} {command}; echo EXIT=$?; sleep 120"
        self._tmux("new-session", "-d", "-s", "check", "-x", "80", "-y", str(rows), shell)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, timeout=10).stdout

    def screen(self, escapes: bool = False) -> str:
        """The pane as text; -J joins lines tmux wrapped, so a line wider than 80 columns shows as one."""
        return self._tmux("capture-pane", "-p", "-J", *(["-e"] if escapes else []), "-t", "check")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=10)


def _too_wide(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if len(line.rstrip()) > 80]


def _rows(screen: str) -> dict[str, str]:
    """The summary table's first line per check, by check name."""
    table = screen[screen.index("check          verdict") :]
    return {line.split()[0]: line for line in table.splitlines()[2:] if line[:1].isalpha() and " " in line}


def _check_cmd(tmp_path: Path, sim: Sim, broker_url: str, *extra: str) -> str:
    return (
        f"{BIN / 'elev-agent'} check --device-id lift-1 --floors=-1..12 --modbus-tcp {sim.modbus} "
        f"--gpio-sim {sim.gpio} --broker {broker_url} {' '.join(extra)} 2>{tmp_path / 'check.err'}"
    )


def test_healthy_lift_passes_live_in_an_80_column_terminal(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    term = Tmux(tmp_path, _check_cmd(tmp_path, sim, broker.url, "--seconds 70 --skip clock"))
    try:
        # The live screen: what to do now, controller registers and every sensor line, refreshing.
        live = wait_for(
            lambda: (s := term.screen()) and "press the alarm button in the car now" in s and "run status" in s and s,
            timeout_s=30,
            interval_s=0.1,  # each look is a tmux process: gentle on a shared machine
            what="the live screen asking for the alarm button",
        )
        for signal in ("speed", "floor", "mode normal", "door_closed", "leveling_up", "presence", "mains"):
            assert signal in live, live
        for line in ("safety_circuit", "door_lock"):
            assert line in live, live
        assert "check:" not in live
        assert "door_closed    1 BCM 17" in live or "door_closed    0 BCM 17" in live, live  # a level, not "?"
        assert not _too_wide(live), _too_wide(live)
        waiting = next(line for line in live.splitlines() if "alarm_button   press" in line)
        assert waiting.startswith("WAIT "), waiting
        coloured = term.screen(escapes=True)
        assert "\x1b[" in coloured, "a terminal without NO_COLOR gets coloured verdicts"
        sim.inject("alarm_button")
        end = wait_for(
            lambda: (s := term.screen()) and "EXIT=" in s and s, timeout_s=75, interval_s=0.25, what="check to end"
        )
    finally:
        term.kill()
    assert "check: pass" in end and "EXIT=0" in end, end + (tmp_path / "check.err").read_text()
    assert not _too_wide(end), _too_wide(end)
    rows = _rows(end)
    for name in ("modbus", "door_contact", "door_zone", "safety_circuit", "door_lock", "presence", "alarm_button"):
        assert rows[name].split()[1] == "PASS", rows[name]
    assert rows["mains"].split()[1] == "PASS" and rows["broker"].split()[1] == "PASS", rows
    assert "wired: 1 press(es) seen" in end
    assert rows["clock"].split()[1] == "skipped"
    floors = end[end.index("door zone made at every stop") :].split("floors", 1)[1]
    assert "," in floors.splitlines()[0], "the door zone passes only after stops at two floors or more"


def test_no_color_in_a_small_terminal_prints_plain_words_that_fit(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    """80 x 24 with NO_COLOR: plain verdict words, and the live screen fits (its top never scrolls away)."""
    cmd = _check_cmd(tmp_path, sim, broker.url, "--seconds 8 --skip clock")
    term = Tmux(tmp_path, cmd, env="env NO_COLOR=1", rows=24)
    try:
        live = wait_for(
            lambda: (s := term.screen(escapes=True)) and "run status" in s and "clock" in s and s,
            timeout_s=30,
            interval_s=0.1,
            what="the live screen",
        )
        wait_for(lambda: "EXIT=" in term.screen(), timeout_s=40, interval_s=0.25, what="check to end")
        end = term.screen(escapes=True)
    finally:
        term.kill()
    lines = live.splitlines()
    assert lines[0].startswith("elev-agent check  lift-1"), live  # the top is still on the screen
    assert any(line.startswith("skipped    clock") for line in lines), live  # and so is the last verdict
    assert not _too_wide(live), _too_wide(live)
    assert "\x1b[" not in live + end, end
    assert "check: fail (" in end, end  # 8 s is too short for the alarm button
    assert "NOT TESTED" in end and "PASS" in end


def test_dead_controller_is_one_problem_piped(tmp_path: Path, broker: Broker, sim: Sim) -> None:
    broker.stop()
    sim.inject("comms_loss", "--duration-s", "60")
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "elev-agent"), "check", "--device-id", "lift-1", "--modbus-tcp", sim.modbus, "--floors=-1..12"]
        + ["--gpio-sim", sim.gpio, "--broker", broker.url, "--seconds", "8", "--skip", "clock"]
        + ["--skip", "presence", "--skip", "alarm_button"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "NO_COLOR"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - started < 40
    out = done.stdout
    assert "\x1b[" not in out  # not a terminal: plain appended screens, no colour, no escape codes
    assert not _too_wide(out), _too_wide(out)
    # modbus and broker: two problems; the four checks the dead controller prevented are not counted again.
    assert out.splitlines()[-1] == "check: fail (2 problems)", out[-3000:]
    rows = _rows(out)
    assert rows["modbus"].split()[1] == "FAIL" and "no answer from unit 1" in rows["modbus"]
    assert rows["broker"].split()[1] == "FAIL" and "nothing listens there" in out, rows["broker"]
    for name in ("door_contact", "door_zone", "safety_circuit", "door_lock"):
        assert "NOT TESTED needs the controller" in rows[name], rows[name]
    assert rows["mains"].split()[1] == "PASS", rows["mains"]
    assert "not counted: door_contact, door_zone, safety_circuit, door_lock" in out


def test_json_lines_for_an_app(tmp_path: Path, sim: Sim) -> None:
    sim.inject("comms_loss", "--duration-s", "60")
    done = subprocess.run(
        [str(BIN / "elev-agent"), "check", "--device-id", "lift-1", "--modbus-tcp", sim.modbus, "--floors=-1..12"]
        + ["--gpio-sim", sim.gpio, "--broker", "mqtt://127.0.0.1:1", "--seconds", "4", "--skip", "clock", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    docs = [json.loads(line) for line in done.stdout.splitlines()]  # every line is one JSON object
    assert len(docs) >= 2 and not any(d["final"] for d in docs[:-1]) and docs[-1]["final"]
    final = docs[-1]
    assert final["result"] == "fail" and final["device_id"] == "lift-1"
    checks = {c["check"]: c for c in final["checks"]}
    assert checks["modbus"]["verdict"] == "fail"
    assert checks["door_lock"] == {
        "check": "door_lock",
        "verdict": "not_tested",
        "reason": "needs the controller's answers (see modbus)",
        "blocked_by": "modbus",
    }
    assert checks["clock"]["verdict"] == "skipped"
    # modbus, broker, and presence / alarm_button that nobody exercised in 4 s (unless presence moved)
    assert final["problems"] == sum(
        1 for c in final["checks"] if c["verdict"] == "fail" or (c["verdict"] == "not_tested" and not c["blocked_by"])
    )
    assert final["levels"] is not None and "door_closed" in final["levels"]


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
    assert v["safety_circuit"][0] is Verdict.PASS, v["safety_circuit"]
    assert v["door_lock"][0] is Verdict.PASS, v["door_lock"]
    assert v["alarm_button"][0] is Verdict.NOT_TESTED  # nobody pressed it: a problem unless skipped


def test_criteria_inverted_contact_and_missing_zone() -> None:
    v = _verdicts(_trip_samples(contact_inverted=True, zone_at_landing_5=False))
    verdict, reason = v["door_contact"]
    assert verdict is Verdict.FAIL and "reads the opposite" in reason and "inverted" in reason, reason
    verdict, reason = v["door_zone"]
    assert verdict is Verdict.FAIL and "floor(s) 3" in reason and "leveling sensors" in reason, reason


def _with_levels(samples: list[Sample], **changes: object) -> list[Sample]:
    """The samples with some sensor levels replaced: a value, or a function of the sample."""
    out = []
    for s in samples:
        assert s.levels is not None
        levels = dict(s.levels)
        for name, value in changes.items():
            levels[name] = bool(value(s) if callable(value) else value)
        out.append(Sample(s.t_s, s.regs, levels))
    return out


def test_criteria_safety_circuit_and_door_lock_judged() -> None:
    healthy = _trip_samples(contact_inverted=False, zone_at_landing_5=True)
    v = _verdicts(_with_levels(healthy, safety_circuit=False))
    verdict, reason = v["safety_circuit"]
    assert verdict is Verdict.FAIL and "reads OPEN" in reason and "BCM 5" in reason, reason
    v = _verdicts(_with_levels(healthy, door_lock=lambda s: not s.levels["door_lock"]))  # inverted
    verdict, reason = v["door_lock"]
    assert verdict is Verdict.FAIL and "UNLOCKED" in reason and "inverted" in reason, reason
    v = _verdicts(_with_levels(healthy, door_lock=True))  # wired to a circuit that never opens
    verdict, reason = v["door_lock"]
    assert verdict is Verdict.FAIL and "stays LOCKED while the door stands open" in reason, reason


def test_criteria_door_zone_needs_two_floors() -> None:
    one_floor = [s for s in _trip_samples(contact_inverted=False, zone_at_landing_5=True) if s.regs["landing"] == 3]
    verdict, reason = _verdicts(one_floor)["door_zone"]
    assert verdict is Verdict.NOT_TESTED, (verdict, reason)
    assert reason == "move the car to another floor: door zone made at floor 1 only (1 stop(s))"


def test_criteria_dead_controller_counts_once() -> None:
    cfg = load(None, Overrides(device_id="lift-1", broker_url="mqtt://h:1", modbus_tcp="h:1", data_dir="."))
    watch = Watch(cfg, frozenset({"broker", "clock", "presence", "alarm_button"}))
    for s in _trip_samples(contact_inverted=False, zone_at_landing_5=True):
        watch.add(Sample(s.t_s, None, s.levels))
    results = watch.results(final=True)
    by = {r.check: r for r in results}
    assert by["modbus"].verdict is Verdict.FAIL
    for name in ("door_contact", "door_zone", "safety_circuit", "door_lock"):
        assert (by[name].verdict, by[name].blocked_by) == (Verdict.NOT_TESTED, "modbus"), by[name]
    assert by["mains"].verdict is Verdict.PASS
    assert problems(results) == 1
    assert summary(results).splitlines()[-1] == "check: fail (1 problem)"
    assert all(len(line) <= 80 for line in summary(results).splitlines())
