"""A real `elev-sim run` process for tests: started, read line by line, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]

# Lunch traffic, seed 1: the first trip starts 6.6 s into the run and trips follow every ~20 s.
BUSY_SCENARIO = """\
seed = 1
traffic = "lunch"

[elevator]
lowest_floor = -1
highest_floor = 12
rated_speed_mm_s = 1750
floor_height_mm = 3500
"""


class SimProcess:
    """`elev-sim run` with every endpoint on free loopback ports; stdout lines are parsed as JSON."""

    def __init__(self, tmp: Path, *extra: str, scenario: str | None = BUSY_SCENARIO, time_scale: float = 10.0) -> None:
        self.modbus_port = free_port()
        self.gpio_port = free_port()
        self.control_port = free_port()
        scenario_args: list[str] = []
        if scenario is not None:
            path = tmp / "scenario.toml"
            path.write_text(scenario)
            scenario_args = ["--scenario", str(path)]
        self.stderr_path = tmp / "sim.stderr"
        self.args = [
            *self.base_command(), "run",
            "--modbus-tcp", f"127.0.0.1:{self.modbus_port}",
            "--modbus-rtu", "auto",
            "--gpio-serve", f"127.0.0.1:{self.gpio_port}",
            "--control", f"127.0.0.1:{self.control_port}",
            *scenario_args,
            "--time-scale", str(time_scale),
            *extra,
        ]  # fmt: skip
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=open(self.stderr_path, "wb"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.next_line(lambda j: j.get("ready"), timeout_s=20, what="the ready line")
        self.rtu_path: str = self.ready["modbus_rtu"]

    @staticmethod
    def base_command() -> list[str]:
        return [sys.executable, "-m", "hw_sim.cli"]

    @staticmethod
    def root() -> Path:
        return ROOT

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))  # every stdout line must be JSON: a failure here fails the test

    def next_line(self, match: Any, timeout_s: float = 10.0, what: str = "a line") -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and self.lines.empty():
                raise AssertionError(f"no {what} from elev-sim within {timeout_s} s; stderr:\n{self.stderr()}")
            try:
                line = self.lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if match(line):
                return line

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("elev-sim did not stop within 10 s of SIGTERM") from None
