"""Shared pieces of the end-to-end benches: a private Mosquitto (bare, or as `broker-config` writes it),
the real collector, its API.

Every process is started in its own session and stopped by its own pid; nothing here touches a
system broker or another helper's processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 20.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f} s")


def start(args: list[str], log: Path, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stderr=open(log, "wb"), start_new_session=True, **kw)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def mosquitto(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n")
    proc = start([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)], work / "mosquitto.log")
    wait_port(port)
    return proc, port


@dataclass
class ProjectBroker:
    """Mosquitto run from the directory `elev-collector broker-config` wrote: the production access
    rules (dynamic security, device logins pinned to their own client id and topics)."""

    proc: subprocess.Popen[bytes]
    port: int
    config_dir: Path
    collector_url: str  # with the collector's login

    def add_device(self, db: str, device: str) -> str:
        """`elev-collector devices add DEVICE --db DB --broker-config DIR`: the URL the agent uses."""
        done = subprocess.run(
            [str(BIN / "elev-collector"), "devices", "add", device, "--db", db]
            + ["--broker-config", str(self.config_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        found = re.search(r"^password:\s+(\S+)$", done.stdout, re.M)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"devices add {device} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return f"mqtt://{device}:{found.group(1)}@127.0.0.1:{self.port}"


def project_broker(work: Path) -> ProjectBroker:
    """The broker as the operator guide sets it up (`broker-config`), on a free loopback port."""
    os.chmod(work, 0o755)  # as root the broker drops to the mosquitto user: it must reach its files
    config_dir, pw_file = work / "broker", work / "collector-password"
    password = secrets.token_urlsafe(16)
    pw_file.write_text(password + "\n")
    port = free_port()
    subprocess.run(
        [str(BIN / "elev-collector"), "broker-config", str(config_dir), "--listen", f"127.0.0.1:{port}"]
        + ["--collector-password-file", str(pw_file)],
        check=True,
        capture_output=True,
    )
    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = start([mosq, "-c", str(config_dir / "mosquitto.conf")], work / "mosquitto.log")
    wait_port(port)
    return ProjectBroker(proc, port, config_dir, f"mqtt://collector:{password}@127.0.0.1:{port}")


def collector(
    work: Path, mqtt_port: int, devices: list[str], broker_url: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`elev-collector run` on SQLite with the devices registered; returns (process, API base URL).

    `broker_url` (with the collector's login) replaces the anonymous mqtt://127.0.0.1:PORT.
    """
    db = f"sqlite:///{work}/collector.db"
    for dev in devices:
        add = [str(BIN / "elev-collector"), "devices", "add", dev, "--db", db]
        subprocess.run(add, check=True, capture_output=True)
    token = work / "token"
    token.write_text(TOKEN + "\n")
    http = free_port()
    proc = start(
        [str(BIN / "elev-collector"), "run", "--broker", broker_url or f"mqtt://127.0.0.1:{mqtt_port}", "--db", db]
        + ["--http", f"127.0.0.1:{http}", "--api-token-file", str(token), "--client-id", f"bench-col-{http}"],
        work / "collector.log",
        stdout=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{http}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited: {(work / 'collector.log').read_text()[-400:]}")
        with contextlib.suppress(OSError, ValueError):
            if get(api + "/healthz", auth=False) is not None:
                return proc, api
        time.sleep(0.2)
    raise RuntimeError("collector /healthz never answered")


def get(url: str, auth: bool = True, timeout_s: float = 5.0) -> Any:
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError:
        return None


def machine_load() -> float:
    return round(os.getloadavg()[0], 1)
