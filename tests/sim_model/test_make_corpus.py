"""scripts/make_corpus.py writes a complete, labeled, re-renderable corpus."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from hw_sim.scenario import FAULTS, load_scenario
from protocols.signals import TraceReader

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_corpus.py"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("make_corpus", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_corpus_has_every_fault_and_clean_normal_traffic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _load_script()
    assert mod.main([str(tmp_path), "--hours-normal", "0.5", "--variants", "1", "--no-service-modes"]) == 0
    assert "traces" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())
    assert {m["fault"] for m in manifest if m["kind"] == "fault"} == set(FAULTS)
    for m in manifest:
        csv = tmp_path / f"{m['name']}.csv"
        events = [json.loads(x) for x in (tmp_path / f"{m['name']}.events.jsonl").read_text().splitlines()]
        with csv.open() as f:
            rows = list(TraceReader(f, str(csv)))
        assert len(rows) == m["rows"] and len(events) == m["events"]
        load_scenario(tmp_path / f"{m['name']}.scenario.toml")
        if m["kind"] == "normal":
            assert events == []
        elif m["kind"] == "edge" and m["fault"] == "alarm_button":
            assert ("alarm_button" in m["raises"]) == ("0_65s" in m["name"])  # 0.4 s is under, 0.65 s over
        elif m["kind"] == "fault" and mod.PRIMARY.get(m["fault"]):
            assert mod.PRIMARY[m["fault"]] in m["raises"]
