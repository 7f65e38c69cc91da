"""Real services for tests: a Mosquitto broker each test can stop and restart, free ports, waits.

Every wait is bounded and polls a condition; nothing here sleeps for a fixed time to "let things
settle".
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.02, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        time.sleep(interval_s)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if not found:
        raise RuntimeError("mosquitto is not installed: run scripts/bootstrap.sh (apt-get install mosquitto)")
    return found


class Broker:
    """A private Mosquitto on a free loopback port; `stop()` / `start()` simulate an outage.

    `extra_conf` lines are appended to the generated configuration (password files, ACLs, TLS).
    The port stays the same across restarts so clients can reconnect to it.
    """

    def __init__(self, workdir: Path, extra_conf: str = "", allow_anonymous: bool = True) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if allow_anonymous else 'false'}\n"
            "persistence false\n"
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            f"{extra_conf}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Broker:
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        log = open(self.workdir / f"mosquitto-{self.starts}.log", "wb")
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.conf)], stdout=log, stderr=log)
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 10, what="mosquitto to listen")
        if self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {(self.workdir / f'mosquitto-{self.starts}.log').read_text()}")
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class ConfiguredBroker:
    """Mosquitto run from a directory `elev-collector broker-config` wrote (its own mosquitto.conf).

    As root the broker drops to the `mosquitto` user, as in production, so the directory's parents
    must be traversable by it (see `shared_tmp_dir`).
    """

    def __init__(self, config_dir: Path, port: int) -> None:
        self.config_dir = config_dir
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> ConfiguredBroker:
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        self.log_path = self.config_dir.parent / f"mosquitto-{self.starts}.log"
        log = open(self.log_path, "wb")
        conf = str(self.config_dir / "mosquitto.conf")
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", conf], stdout=log, stderr=log)
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 10, what="mosquitto to listen")
        if self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def shared_tmp_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that a broker which dropped root can still reach (0755)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path
