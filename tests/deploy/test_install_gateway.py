"""scripts/install-gateway.sh against a scratch root: user, venv, config, unit, enabled; idempotent."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_install_into_scratch_root_twice(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("the installer test needs root (useradd --root, chown): run the suite as root, as CI does")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), root / "etc" / name)
    cfg = tmp_path / "agent.toml"
    cfg.write_text('device_id = "lift-install-1"\n')
    cmd = [str(REPO / "scripts" / "install-gateway.sh"), "--root", str(root), "--config", str(cfg)]
    # Offline-friendly and fast: reuse what this machine's pip already has cached.
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=540)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "created user elev-agent" in first.stdout

    passwd = (root / "etc" / "passwd").read_text()
    assert "\nelev-agent:" in "\n" + passwd
    group = (root / "etc" / "group").read_text()
    assert any(line.startswith("gpio:") and "elev-agent" in line for line in group.splitlines())
    assert any(line.startswith("dialout:") and "elev-agent" in line for line in group.splitlines())
    agent = root / "opt" / "smart-elevator" / "venv" / "bin" / "elev-agent"
    assert agent.exists()
    r = subprocess.run([str(agent), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "replay" in r.stdout
    conf = root / "etc" / "smart-elevator" / "agent.toml"
    assert conf.read_text() == cfg.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    unit = root / "etc" / "systemd" / "system" / "elev-agent.service"
    assert "Type=notify" in unit.read_text()
    assert (root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "elev-agent.service").is_symlink()

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "installed" not in second.stdout, second.stdout
    assert passwd == (root / "etc" / "passwd").read_text()


def test_installer_rejects_unknown_option() -> None:
    r = subprocess.run([str(REPO / "scripts" / "install-gateway.sh"), "--bogus"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "unknown option '--bogus'" in r.stderr
