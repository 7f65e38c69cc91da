"""Configuration: defaults, flags over the file, and one clear line naming file and key for every mistake."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from edge_agent import run_cmd
from edge_agent.config import ConfigError, Overrides, build, detector_config, load

FLAGS = Overrides(
    device_id="lift-1", broker_url="mqtt://127.0.0.1:1883", modbus_tcp="127.0.0.1:5020", data_dir="/tmp/x"
)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(text)
    return p


def test_defaults_from_flags_alone() -> None:
    cfg = load(None, FLAGS)
    assert cfg.device_id == "lift-1" and cfg.client_id == "elev-agent-lift-1"
    assert (cfg.modbus.tcp_host, cfg.modbus.tcp_port, cfg.modbus.transport) == ("127.0.0.1", 5020, "tcp")
    assert cfg.modbus.baud == 19200 and cfg.timing.poll_period_ms == 100 and cfg.timing.heartbeat_s == 60.0
    assert cfg.gpio.pin_factory == "native" and cfg.gpio.pins["door_closed"] == 17
    assert not cfg.broker.tls and cfg.broker.port == 1883


def test_file_then_flags_override(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
device_id = "from-file"
data_dir = "/var/lib/x"
[broker]
url = "mqtts://gw%40site:s3cret@broker.example:8884"
[modbus]
rtu = "/dev/ttyUSB0"
baud = 9600
min_gap_ms = 4
[gpio]
pin_factory = "sim"
sim = "127.0.0.1:7000"
absent = ["presence"]
inverted = ["mains"]
[gpio.pins]
door_closed = 4
[elevator]
lowest_floor = -2
highest_floor = 12
rated_speed_mm_s = 1750
[agent]
poll_period_ms = 50
[detection]
entrapment_outside_zone_s = 25
""",
    )
    cfg = load(p)
    assert cfg.device_id == "from-file" and cfg.broker.tls and cfg.broker.port == 8884
    assert (cfg.broker.username, cfg.broker.password) == ("gw@site", "s3cret")
    assert cfg.modbus.transport == "rtu" and cfg.modbus.baud == 9600 and cfg.modbus.min_gap_ms == 4.0
    assert cfg.gpio.sim_port == 7000 and cfg.gpio.absent == {"presence"} and cfg.gpio.pins["door_closed"] == 4
    assert cfg.elevator.lowest_floor == -2 and cfg.timing.poll_period_ms == 50
    assert detector_config(cfg).entrapment_outside_zone_s == 25
    over = load(p, Overrides(device_id="lift-9", modbus_tcp="10.0.0.5:502", broker_url="mqtt://b:1883"))
    assert over.device_id == "lift-9" and over.modbus.transport == "tcp" and over.modbus.rtu_device is None
    assert not over.broker.tls and over.modbus.baud == 9600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[modbus]\nbaud = 'fast'\n", "[modbus] baud: must be int"),
        ("[modbus]\nbaud = 50\n", "[modbus] baud: 50 is out of range"),
        ("[modbus]\nparity = 'X'\n", "[modbus] parity: 'X' is not one of N, E, O"),
        ("[agent]\npoll_period_ms = 5\n", "[agent] poll_period_ms: 5 is out of range"),
        ("[agent]\npoll_periode_ms = 100\n", "[agent] poll_periode_ms: unknown key"),
        ("[gpio]\nabsent = ['prescence']\n", "[gpio] absent: unknown line 'prescence'"),
        ("[gpio.pins]\nmains = 17\n", "both use BCM pin 17"),
        ("[gpio]\npin_factory = 'sim'\n", "[gpio] pin_factory: 'sim' needs"),
        ("[elevator]\nlowest_floor = 5\nhighest_floor = 3\n", "[elevator] highest_floor: 3 is below"),
        ("[broker]\nurl = 'http://x'\n", "[broker] url: 'http://x' must start with mqtt://"),
        ("[broker]\nca_file = '/nope/ca.pem'\n", "[broker] ca_file: '/nope/ca.pem' does not exist"),
        ("[detection]\nentrapment_in_zone_s = 'long'\n", "[detection] entrapment_in_zone_s: expected a number"),
        ("device_id = 'bad id!'\n", "device_id"),
    ],
)
def test_every_error_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    flags = Overrides()  # no flags: the file decides
    data = {"device_id": "lift-1", "data_dir": "/tmp/x", "modbus": {"tcp": "h:1"}, "broker": {"url": "mqtt://h"}}
    doc = tomllib.loads(text)
    for k, v in data.items():
        if isinstance(v, dict):
            doc.setdefault(k, {})
            for kk, vv in v.items():
                if not (k == "modbus" and "rtu" in doc[k]):
                    doc[k].setdefault(kk, vv)
        else:
            doc.setdefault(k, v)
    with pytest.raises(ConfigError) as err:
        cfg = build(doc, str(p), flags)
        detector_config(cfg)
    msg = str(err.value)
    assert str(p) in msg and expected in msg and "\n" not in msg


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError, match="--modbus-tcp: 'nohost:x' has a bad port"):
        load(None, replace(FLAGS, modbus_tcp="nohost:x"))
    with pytest.raises(ConfigError, match="--broker"):
        load(None, replace(FLAGS, broker_url="tcp://x"))
    with pytest.raises(ConfigError, match="exactly one of --modbus-tcp"):
        load(None, replace(FLAGS, modbus_tcp=None))


def test_corrupt_config_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "agent.toml"
    p.write_bytes(b"[modbus\nbaud = = 3\n\xff\xfe")
    rc = run_cmd.main(["--config", str(p), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith(f"elev-agent run: {p}: not valid TOML") and len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_corrupt_config_through_the_console_script(tmp_path: Path) -> None:
    p = tmp_path / "agent.toml"
    p.write_text("device_id = 'lift-1'\n[broker]\nurl = 'mqtt://h'\n[modbus]\ntcp = '127.0.0.1:502'\nbaud = 'x'\n")
    r = subprocess.run(
        [str(Path(sys.executable).parent / "elev-agent"), "run", "--config", str(p), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == f"elev-agent run: {p}: [modbus] baud: must be int, got 'x'"
