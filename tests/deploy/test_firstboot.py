"""A configuration dropped on the boot partition is adopted once, privately, and removed."""

from __future__ import annotations

import stat
from pathlib import Path

from edge_agent.firstboot import BOOT_NAME, adopt, main


def test_adopts_and_removes(tmp_path: Path) -> None:
    boot, etc = tmp_path / "boot", tmp_path / "etc"
    boot.mkdir()
    (boot / BOOT_NAME).write_text('device_id = "lift-1"\n')
    msg = adopt(boot, etc, group="no-such-group-here")
    assert "adopted" in msg
    dst = etc / "agent.toml"
    assert dst.read_text() == 'device_id = "lift-1"\n'
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640
    assert not (boot / BOOT_NAME).exists()
    # Second start: nothing left to adopt, the adopted file stays.
    assert "nothing to adopt" in adopt(boot, etc)
    assert dst.exists()


def test_invalid_file_is_not_adopted_and_old_config_stays(tmp_path: Path) -> None:
    boot, etc = tmp_path / "boot", tmp_path / "etc"
    boot.mkdir()
    etc.mkdir()
    (etc / "agent.toml").write_text('device_id = "old"\n')
    (boot / BOOT_NAME).write_text("device_id = \n")
    assert main(["--boot-dir", str(boot), "--etc-dir", str(etc)]) == 0
    assert (etc / "agent.toml").read_text() == 'device_id = "old"\n'
    assert (boot / BOOT_NAME).exists()
    assert "not adopted" in (boot / (BOOT_NAME + ".error")).read_text()
