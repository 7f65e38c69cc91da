"""`elev-collector devices add` prints an agent.toml the agent reads, with what to fill in marked."""

from __future__ import annotations

import tomllib

import pytest

from collector.devices_cmd import print_gateway_files
from edge_agent.config import ConfigError, build, require_floors


def test_printed_agent_toml_loads_and_asks_for_the_floors(capsys: pytest.CaptureFixture[str]) -> None:
    print_gateway_files("lift-7", "mqtts://collector.example:8883", "pw", None)
    out = capsys.readouterr().out
    text = out.split("---\n", 1)[1].rsplit("\n---", 1)[0]
    assert "FILL IN" in text
    cfg = build(tomllib.loads(text), "agent.toml")
    assert cfg.modbus.rtu_device == "/dev/ttyUSB0" and cfg.modbus.baud == 19200
    assert str(cfg.data_dir) == "/var/lib/smart-elevator"
    with pytest.raises(ConfigError, match=r"^agent.toml: \[elevator\] lowest_floor and highest_floor are required"):
        require_floors(cfg)
    filled = text.replace("# lowest_floor", "lowest_floor").replace("# highest_floor", "highest_floor")
    cfg = build(tomllib.loads(filled), "agent.toml")
    require_floors(cfg)
    assert (cfg.elevator.lowest_floor, cfg.elevator.highest_floor) == (-1, 12)
