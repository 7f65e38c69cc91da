"""`elev-sim weeks`: a wearing elevator's trace with its labels, ending at its breakdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.cli import main as sim_main
from hw_sim.wear import DAY_MS
from protocols.signals import TraceReader


def test_weeks_writes_a_labeled_trace_that_ends_at_the_breakdown(tmp_path: Path) -> None:
    out = tmp_path / "door.csv"
    argv = ["weeks", "--out", str(out), "--days", "30", "--wear", "door_slow", "--rate", "0.2", "--onset-day", "1"]
    assert sim_main([*argv, "--window-s", "300", "--seed", "3"]) == 0
    with out.open(encoding="utf-8") as f:
        reader = TraceReader(f, str(out))
        extra = reader.settings.extra
        last = max(s.t_ms for s in reader)
    assert extra["wear"] == "door_slow" and extra["wear_onset_ms"] == str(DAY_MS)
    assert int(extra["breakdown_ms"]) == 4 * DAY_MS  # 0.6 of nominal at 0.2 a day from day 1
    assert int(extra["wear_onset_ms"]) < int(extra["wear_detectable_ms"]) < int(extra["breakdown_ms"])
    assert last <= 4 * DAY_MS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "5", "--wear", "brake"], "--wear and --rate go together"),
        (["--days", "0"], "--days: must be 1..3650"),
        (["--days", "5", "--wear", "brake", "--rate", "-1"], "rate_per_day must be > 0"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert sim_main(["weeks", "--out", str(tmp_path / "x.csv"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
