"""Without the building's floors `elev-agent check` refuses with one line; `elev-agent run` (whose
surface flags must be enough to start it) runs but says once, at start, that the floors are missing."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, Overrides, build, require_floors
from tests.support.services import wait_for

BIN = Path(sys.executable).parent
FLAGS = Overrides(device_id="lift-1", broker_url="mqtt://127.0.0.1:1", modbus_tcp="127.0.0.1:1", data_dir=".")


REFUSAL = (
    "[elevator] lowest_floor and highest_floor are required (the controller"
    " reports landings, not the building's floors), or --floors LOW..HIGH (e.g. --floors=-1..12)"
)


def test_check_refuses_without_floors(tmp_path: Path) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text('device_id = "lift-1"\n[broker]\nurl = "mqtt://127.0.0.1:1"\n[modbus]\ntcp = "127.0.0.1:1"\n')
    done = subprocess.run(
        [str(BIN / "elev-agent"), "check", "--config", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == f"elev-agent check: {conf}: {REFUSAL}"


def test_run_without_floors_starts_and_says_so_once(tmp_path: Path) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text('device_id = "lift-1"\n[broker]\nurl = "mqtt://127.0.0.1:1"\n[modbus]\ntcp = "127.0.0.1:1"\n')
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "elev-agent"), "run", "--config", str(conf), "--data-dir", str(tmp_path / "data")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "placeholder floors" in log.read_text(), 20, 0.05, "the missing-floors warning")
        assert proc.poll() is None, log.read_text()  # still running: the surface's flags are enough
        text = log.read_text()
        assert text.count("placeholder floors") == 1 and REFUSAL in text and "WARNING" in text
    finally:
        proc.kill()
        proc.wait(10)


def test_floors_from_the_file_or_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^\[elevator\] lowest_floor and highest_floor are required"):
        require_floors(build({}, "<flags>", FLAGS))
    with pytest.raises(ConfigError, match="required"):  # one of the two is not enough
        require_floors(build({"elevator": {"lowest_floor": -1}}, "a.toml", FLAGS))
    cfg = build({"elevator": {"lowest_floor": -1, "highest_floor": 12}}, "a.toml", FLAGS)
    require_floors(cfg)
    assert (cfg.elevator.lowest_floor, cfg.elevator.highest_floor) == (-1, 12)
    cfg = build({}, "<flags>", replace(FLAGS, floors="-2..7"))
    require_floors(cfg)
    assert (cfg.elevator.lowest_floor, cfg.elevator.highest_floor) == (-2, 7)
    with pytest.raises(ConfigError, match=r"^--floors: '7' must be LOW..HIGH"):
        build({}, "<flags>", replace(FLAGS, floors="7"))
    with pytest.raises(ConfigError, match=r"^--floors: 3 is below lowest_floor 5"):
        build({}, "<flags>", replace(FLAGS, floors="5..3"))
