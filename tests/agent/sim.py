"""The real simulator (`elev-sim run`) as a test fixture: Modbus TCP, Modbus RTU on a pty, GPIO, control."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.services import free_port

BIN = Path(sys.executable).parent


class Sim:
    def __init__(self, workdir: Path, scenario: str | None = None, rtu: bool = True) -> None:
        self.workdir = workdir
        self.modbus_port, self.gpio_port, self.control_port = free_port(), free_port(), free_port()
        args = [
            str(BIN / "elev-sim"),
            "run",
            "--modbus-tcp",
            f"127.0.0.1:{self.modbus_port}",
            "--gpio-serve",
            f"127.0.0.1:{self.gpio_port}",
            "--control",
            f"127.0.0.1:{self.control_port}",
        ]
        if rtu:
            args += ["--modbus-rtu", "auto"]
        if scenario is not None:
            path = workdir / "scenario.toml"
            path.write_text(scenario)
            args += ["--scenario", str(path)]
        self.log = open(workdir / "sim.log", "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"elev-sim did not start: {(workdir / 'sim.log').read_text()[-2000:]}")
        ready = json.loads(line)
        assert ready.get("ready"), ready
        self.rtu_path: str | None = ready.get("modbus_rtu")

    @property
    def tcp(self) -> str:
        return f"127.0.0.1:{self.modbus_port}"

    @property
    def gpio(self) -> str:
        return f"127.0.0.1:{self.gpio_port}"

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=5) as s:
            s.sendall(json.dumps(req).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        reply: dict[str, Any] = json.loads(data)
        assert reply.get("ok"), reply
        return reply

    def inject(self, fault: str, duration_s: float | None = None, **params: Any) -> dict[str, Any]:
        return self.request({"inject": fault, "duration_s": duration_s, "params": params})

    def status(self) -> dict[str, Any]:
        return self.request({"status": True})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
