"""bench/frame_sizes.py runs from a checkout and meets the size goals (it exits 1 if one is missed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_frame_sizes_bench_meets_the_goals() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "frame_sizes.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    verdicts = [line.rsplit(None, 1)[-1] for line in lines[1:]]
    assert verdicts.count("pass") == 4  # two status frames, the heartbeat, the 100-record batch
    assert "FAIL" not in proc.stdout
    heartbeat = next(line for line in lines if line.startswith("heartbeat "))
    assert int(heartbeat.split()[1]) <= 24
