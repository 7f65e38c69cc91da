"""A real Mosquitto configured by `elev-collector broker-config`, and device logins made by `devices add`."""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.broker import config_cmd
from tests.support.services import ConfiguredBroker, free_port, shared_tmp_dir


def run_cli(main: object, argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(argv)  # type: ignore[operator]
    return rc, out.getvalue()


@dataclass
class Site:
    work: Path
    config_dir: Path
    db: str
    collector_password: str
    broker: ConfiguredBroker

    def add_device(self, device: str) -> str:
        """`elev-collector devices add DEVICE --broker-config DIR` as a process; its printed password."""
        r = subprocess.run(
            [sys.executable, "-m", "collector.cli", "devices", "add", device, "--db", self.db]
            + ["--broker-config", str(self.config_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        found = re.search(r"^password:\s+(\S+)$", r.stdout, re.M)
        assert r.returncode == 0 and found, r.stdout + r.stderr
        return found.group(1)


@pytest.fixture
def site() -> Iterator[Site]:
    work = shared_tmp_dir("elev-broker-test-")
    try:
        pw = secrets.token_urlsafe(12)
        (work / "collector-password").write_text(pw + "\n")
        port = free_port()
        config_dir = work / "broker"
        argv = [str(config_dir), "--listen", f"127.0.0.1:{port}"]
        rc, out = run_cli(config_cmd.main, argv + ["--collector-password-file", str(work / "collector-password")])
        assert rc == 0, out
        broker = ConfiguredBroker(config_dir, port)
        try:
            yield Site(work, config_dir, f"sqlite:///{work / 'collector.db'}", pw, broker)
        finally:
            broker.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
