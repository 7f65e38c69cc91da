"""`devices add` prints what the installer copies onto the gateway, and the agent accepts it as is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge_agent import config as agent_config

BIN = Path(sys.executable).parent


def make_ca(tmp_path: Path) -> Path:
    ca = tmp_path / "ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "ca.key")]
        + ["-out", str(ca), "-days", "2", "-subj", "/CN=smart-elevator test CA"],
        check=True,
        capture_output=True,
    )
    return ca


def section(out: str, name: str) -> str:
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"--- {name}"))) + 1
    end = next(i for i in range(start, len(lines)) if lines[i] == "---" or lines[i].startswith("--- /"))
    return "\n".join(lines[start:end]) + "\n"


def test_devices_add_prints_agent_config_and_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    r = subprocess.run(
        [str(BIN / "elev-collector"), "devices", "add", "lift-prov-1", "--db", f"sqlite:///{tmp_path / 'c.db'}"]
        + ["--password-file", str(tmp_path / "passwd"), "--acl-file", str(tmp_path / "acl")]
        + ["--broker", "mqtts://broker.example:8883", "--ca-file", str(ca)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert section(r.stdout, "/etc/smart-elevator/ca.crt").strip() == ca.read_text().strip()
    toml = section(r.stdout, "/etc/smart-elevator/agent.toml")
    gw = tmp_path / "gateway"
    gw.mkdir()
    (gw / "ca.crt").write_text(section(r.stdout, "/etc/smart-elevator/ca.crt"))
    (gw / "agent.toml").write_text(toml.replace("/etc/smart-elevator/ca.crt", str(gw / "ca.crt")))
    cfg = agent_config.load(gw / "agent.toml", agent_config.Overrides(modbus_tcp="127.0.0.1:1502", data_dir=str(gw)))
    assert cfg.device_id == "lift-prov-1"
    assert cfg.broker.tls and cfg.broker.ca_file == str(gw / "ca.crt")
    assert cfg.broker.host == "broker.example" and cfg.broker.port == 8883
    # the password printed is the one Mosquitto's file now holds for that login
    assert (tmp_path / "passwd").read_text().startswith("lift-prov-1:")
    assert cfg.broker.username == "lift-prov-1" and cfg.broker.password


def test_devices_add_refuses_a_bad_ca_before_registering(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    bad = tmp_path / "not-a-cert.pem"
    bad.write_text("hello\n")
    r = subprocess.run(
        [str(BIN / "elev-collector"), "devices", "add", "lift-prov-2", "--db", db, "--ca-file", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "not a PEM certificate" in r.stderr and "Traceback" not in r.stderr
    listed = subprocess.run(
        [str(BIN / "elev-collector"), "devices", "list", "--db", db], capture_output=True, text=True, timeout=60
    )
    assert "lift-prov-2" not in listed.stdout
