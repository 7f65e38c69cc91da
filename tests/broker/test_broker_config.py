"""`elev-collector broker-config` and `devices add/remove --broker-config`: files, owners, bad input."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest

from collector.broker import dynsec
from tests.broker.conftest import Site


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=60)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_layout_modes_and_owners(site: Site) -> None:
    d = site.config_dir
    conf = (d / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and f"listener {site.broker.port} 127.0.0.1" in conf
    assert f"plugin_opt_config_file {d / 'dynsec' / 'dynamic-security.json'}" in conf
    assert mode(d / "broker-admin.json") == 0o600 and (d / "broker-admin.json").stat().st_uid == os.geteuid()
    assert mode(d / "dynsec" / "dynamic-security.json") == 0o600
    if os.geteuid() == 0:  # the broker drops to mosquitto before the plugin reads and rewrites its file
        uid = pwd.getpwnam("mosquitto").pw_uid
        assert (d / "dynsec").stat().st_uid == uid and (d / "dynsec" / "dynamic-security.json").stat().st_uid == uid
        assert (d / "data").stat().st_uid == uid
        assert (d / "mosquitto.conf").stat().st_uid == 0 and "user mosquitto" in conf
    state = json.loads((d / "dynsec" / "dynamic-security.json").read_text())
    assert state["defaultACLAccess"] == {k: False for k in state["defaultACLAccess"]}
    collector = next(c for c in state["clients"] if c["username"] == "collector")
    assert dynsec.password_matches(collector, site.collector_password)


async def test_device_added_while_broker_down_logs_in_after_start_and_rerun_keeps_it(site: Site) -> None:
    pw = site.add_device("lift-a")  # broker not running: the file is edited
    rerun = cli("broker-config", str(site.config_dir), "--listen", f"127.0.0.1:{site.broker.port}",
                "--collector-password-file", str(site.work / "collector-password"))  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    site.broker.start()
    async with aiomqtt.Client(
        "127.0.0.1", site.broker.port, username="lift-a", password=pw, identifier="elev-agent-lift-a"
    ):
        pass
    # While it runs, remove goes through the control API and the login stops working at once.
    r = cli("devices", "remove", "lift-a", "--db", site.db, "--broker-config", str(site.config_dir))
    assert r.returncode == 0 and "running broker" in r.stdout, r.stdout + r.stderr
    with pytest.raises(aiomqtt.MqttCodeError):
        async with aiomqtt.Client(
            "127.0.0.1", site.broker.port, username="lift-a", password=pw, identifier="elev-agent-lift-a"
        ):
            pass


def test_bad_input_is_one_line_naming_the_problem(tmp_path: Path) -> None:
    pwfile = tmp_path / "pw"
    pwfile.write_text("secret\n")
    cases = [
        (["--listen", "localhost", "--collector-password-file", str(pwfile)], "--listen"),
        (["--listen", "127.0.0.1:99999", "--collector-password-file", str(pwfile)], "--listen"),
        (["--listen", "127.0.0.1:1883", "--collector-password-file", str(tmp_path / "missing")], "missing"),
        (["--listen", "127.0.0.1:1883"], "--collector-password-file"),
    ]
    for args, named in cases:
        r = cli("broker-config", str(tmp_path / "out"), *args)
        assert r.returncode in (1, 2) and named in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    r = cli(
        "broker-config", str(tmp_path / "out"), "--listen", "127.0.0.1:1883", "--collector-password-file", str(empty)
    )
    assert r.returncode == 1 and "empty" in r.stderr


def test_devices_add_with_a_directory_broker_config_did_not_write_registers_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    r = cli("devices", "add", "lift-a", "--db", db, "--broker-config", str(tmp_path / "nothing-here"))
    assert r.returncode == 1 and "broker-admin.json" in r.stderr and "Traceback" not in r.stderr
    listed = cli("devices", "list", "--db", db)
    assert "lift-a" not in listed.stdout
