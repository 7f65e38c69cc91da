"""bench/sim_fleet.py stays runnable: a tiny fleet, a short window, the table and the verdict."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.sim_serve.simproc import ROOT


def test_fleet_bench_prints_its_table() -> None:
    out = subprocess.run(
        [sys.executable, "bench/sim_fleet.py", "--sizes", "2", "--window-s", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    row = re.search(r"^\s+2\s+([\d.]+) ms\s+[\d.]+\s+(\d+)\s+\d+%", out.stdout, re.M)
    assert row, out.stdout
    assert int(row.group(2)) > 20  # 2 cars x 4 requests x 10 Hz = 80 requests a second asked
    assert re.search(r"largest sustained fleet: \d+ cars", out.stdout)
