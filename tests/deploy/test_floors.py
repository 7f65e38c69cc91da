"""Without the building's floors the agent refuses to start with one line, instead of guessing 1..64."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, Overrides, build, require_floors

BIN = Path(sys.executable).parent
FLAGS = Overrides(device_id="lift-1", broker_url="mqtt://127.0.0.1:1", modbus_tcp="127.0.0.1:1", data_dir=".")


@pytest.mark.parametrize("command", ["run", "check"])
def test_run_and_check_refuse_without_floors(tmp_path: Path, command: str) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text('device_id = "lift-1"\n[broker]\nurl = "mqtt://127.0.0.1:1"\n[modbus]\ntcp = "127.0.0.1:1"\n')
    extra = ["--data-dir", str(tmp_path)] if command == "run" else []
    done = subprocess.run(
        [str(BIN / "elev-agent"), command, "--config", str(conf), *extra],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (
        f"elev-agent {command}: {conf}: [elevator] lowest_floor and highest_floor are required (the controller"
        " reports landings, not the building's floors), or --floors LOW..HIGH (e.g. --floors=-1..12)"
    )


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
