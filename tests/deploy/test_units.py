"""The systemd units verify with systemd-analyze, with ExecStart pointing at a real install."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_PREFIX = Path(sys.executable).parents[1].parent  # <prefix>/venv/bin/python -> <prefix>


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is missing: apt-get install systemd (scripts/bootstrap.sh does it)"
    return found


def render(unit: str, tmp_path: Path) -> Path:
    """The unit with /opt/smart-elevator replaced by this checkout's venv prefix, as the installer does."""
    text = (REPO / "systemd" / unit).read_text()
    out = tmp_path / unit
    out.write_text(text.replace("/opt/smart-elevator/venv", str(Path(sys.executable).parents[1])))
    return out


@pytest.mark.parametrize("unit", ["elev-agent.service", "elev-collector.service"])
def test_unit_verifies(unit: str, tmp_path: Path) -> None:
    path = render(unit, tmp_path)
    r = subprocess.run([systemd_analyze(), "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in r.stderr.splitlines() if unit in line]
    assert r.returncode == 0 and not problems, r.stderr


def test_agent_unit_shape() -> None:
    text = (REPO / "systemd" / "elev-agent.service").read_text()
    for needle in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=always",
        "StateDirectory=smart-elevator",
        "SupplementaryGroups=dialout gpio",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ):
        assert needle in text, needle


def test_collector_unit_has_no_device_access() -> None:
    text = (REPO / "systemd" / "elev-collector.service").read_text()
    assert "PrivateDevices=yes" in text and "DevicePolicy=closed" in text
    assert "DeviceAllow" not in text and "dialout" not in text
