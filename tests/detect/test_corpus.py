"""The detector against a labeled corpus made by the simulator (`scripts/make_corpus.py`, `elev-sim trace`).

The simulator labels each trace from its ground truth with its own reading of detection.md, then
adds sensor noise (contact bounce, leveling glitches, presence drop-outs); the detector only sees
the noisy trace. Every fault in three variants (on-change and periodic renderings, with and without a
presence sensor), the service modes, and ten hours of normal traffic that must raise nothing.
`check_replay.py` (the contract's own checker) must find every raise and clear, and nothing else.

This is the full-size corpus of issue 4 (about 30 s), part of `make test`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]
ELEV_AGENT = Path(sys.executable).parent / "elev-agent"


@pytest.mark.timeout(600)
def test_simulator_corpus_passes_check_replay(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_corpus.py"), str(corpus), "--variants", "3", "--seed", "5"]
        + ["--hours-normal", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    manifest = json.loads((corpus / "MANIFEST.json").read_text())
    assert {m["rendering"] for m in manifest} >= {"on-change", "period-100ms"}
    assert sum(m["duration_s"] for m in manifest if m["kind"] == "normal") >= 36_000
    checked = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "check_replay.py"), str(corpus), "--cmd", f"{ELEV_AGENT} replay"]
        + ["--per-trace"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    assert "false-entrapment 0" in checked.stdout
