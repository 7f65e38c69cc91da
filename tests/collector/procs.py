"""`elev-collector` as a real process, for the tests that kill it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.services import free_port, wait_for


class CollectorProcess:
    def __init__(self, workdir: Path, broker_url: str, db_url: str, token_file: Path, name: str = "c1") -> None:
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.args = [
            sys.executable,
            "-m",
            "collector.cli",
            "run",
            "--broker",
            broker_url,
            "--db",
            db_url,
            "--http",
            f"127.0.0.1:{self.port}",
            "--api-token-file",
            str(token_file),
            "--client-id",
            f"collector-{name}-{self.port}",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> CollectorProcess:
        return self.launch().wait_ready()

    def launch(self) -> CollectorProcess:
        self.starts += 1
        log = open(self.workdir / f"collector-{self.name}-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd())
        return self

    def wait_ready(self) -> CollectorProcess:
        assert self.proc is not None
        wait_for(lambda: self.metrics_text() is not None or self.proc.poll() is not None, 20, what="collector up")
        assert self.proc.poll() is None, self.log()
        wait_for(lambda: "collector_mqtt_connected 1" in (self.metrics_text() or ""), 20, what="collector connected")
        return self

    def metrics_text(self) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return None

    def metric(self, name: str) -> float:
        for line in (self.metrics_text() or "").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
            return dict(json.loads(r.read()))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"collector {self.name} ignored SIGTERM") from None
        return int(self.proc.returncode)

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob(f"collector-{self.name}-*.log")))
