"""`elev-agent replay` as a user runs it: the real console script in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, SHARED

BIN = Path(sys.executable).parent
ELEV_AGENT = str(BIN / "elev-agent")
HEADER = (
    "# format=elevator-trace/1\n# rated_speed_mm_s=1600\n# lowest_floor=1\n# highest_floor=10\n"
    "t_ms,floor,direction,running,speed_mm_s,door,door_zone,door_lock,safety_circuit,occupied,alarm_button,"
    "power,mode,fault_code\n"
)
ROW = "{t},3,0,0,0,closed,1,1,1,0,{alarm},1,normal,0\n"


def replay(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ELEV_AGENT, "replay", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_contract_samples_pass_check_replay() -> None:
    r = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "check_replay.py"), str(SAMPLES), "--cmd", f"{ELEV_AGENT} replay"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "recall 1.000 precision 1.000" in r.stdout


def test_prints_json_lines_in_time_order_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    body = ROW.format(t=0, alarm=0) + ROW.format(t=1000, alarm=1) + ROW.format(t=3000, alarm=0)
    body += ROW.format(t=9000, alarm=0)
    trace = tmp_path / "alarm.csv"
    trace.write_text(HEADER + body)
    expected = [
        {"t_ms": 1500, "type": "alarm_button", "action": "raise", "floor": 3},
        {"t_ms": 4000, "type": "alarm_button", "action": "clear", "floor": 3},
    ]
    for r in (replay(str(trace)), replay("-", stdin=HEADER + body)):
        assert r.returncode == 0, r.stderr
        assert [json.loads(line) for line in r.stdout.splitlines()] == expected
        assert r.stderr == ""


def test_nothing_after_the_last_row_and_raised_events_stay_uncleared(tmp_path: Path) -> None:
    # The alarm is held from 1 s; the trace ends at 1.4 s: nothing is raised after its end.
    trace = tmp_path / "short.csv"
    trace.write_text(HEADER + ROW.format(t=0, alarm=0) + ROW.format(t=1000, alarm=1) + ROW.format(t=1400, alarm=1))
    assert replay(str(trace)).stdout == ""
    trace.write_text(HEADER + ROW.format(t=0, alarm=1) + ROW.format(t=600, alarm=0) + ROW.format(t=1599, alarm=0))
    lines = replay(str(trace)).stdout.splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["raise"]


BAD = [
    ("missing setting", HEADER.replace("# lowest_floor=1\n", ""), 4, "missing setting '# lowest_floor"),
    ("wrong format", HEADER.replace("elevator-trace/1", "elevator-trace/9"), 1, "format is 'elevator-trace/9'"),
    ("wrong header", HEADER.replace("door_zone,door_lock", "door_lock,door_zone"), 5, "header column 7"),
    ("bad door", HEADER + ROW.format(t=0, alarm=0).replace("closed", "ajar"), 6, "door: 'ajar'"),
    ("bad bool", HEADER + ROW.format(t=0, alarm=0) + ROW.format(t=100, alarm=2), 7, "alarm_button: '2'"),
    ("few columns", HEADER + "0,3,0,0\n", 6, "expected 14 columns, found 4"),
    (
        "time backwards",
        HEADER + ROW.format(t=0, alarm=0) + ROW.format(t=500, alarm=0) + ROW.format(t=400, alarm=0),
        8,
        "t_ms goes backwards (400 after 500)",
    ),
    (
        "time backwards, same state",
        HEADER + ROW.format(t=0, alarm=1) + ROW.format(t=500, alarm=0) + ROW.format(t=400, alarm=0),
        8,
        "t_ms goes backwards (400 after 500)",
    ),
    ("negative time", HEADER + ROW.format(t=-5, alarm=0), 6, "t_ms: -5 is below 0"),
    ("bad time, same state", HEADER + ROW.format(t=0, alarm=0) + ROW.format(t="x1", alarm=0), 7, "t_ms: 'x1'"),
    ("hash after header", HEADER + ROW.format(t=0, alarm=0) + "# note=1\n", 7, "'#' lines are only allowed"),
    ("empty", "", 1, "no header line"),
]


@pytest.mark.parametrize(("text", "line", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_trace_exits_2_with_one_line_naming_file_line_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text(text)
    r = replay(str(trace))
    assert r.returncode == 2
    assert r.stdout == ""  # no half-replayed output
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{trace}:{line}: "), lines[0]
    assert problem in lines[0]


def test_malformed_stdin_names_stdin() -> None:
    r = replay("-", stdin=HEADER + "0,3,0,0\n")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("<stdin>:6: ")


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    r = replay(str(tmp_path / "nope.csv"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"{tmp_path / 'nope.csv'}: cannot open trace: No such file or directory"


def test_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    trace = tmp_path / "latin1.csv"
    trace.write_bytes(HEADER.encode() + b"0,3,0,0,0,clos\xe9d,1,1,1,0,0,1,normal,0\n")
    r = replay(str(trace))
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "not UTF-8" in r.stderr


def test_config_detection_table_sets_thresholds(tmp_path: Path) -> None:
    body = ROW.format(t=0, alarm=1) + ROW.format(t=2000, alarm=1)
    trace = tmp_path / "t.csv"
    trace.write_text(HEADER + body)
    config = tmp_path / "agent.toml"
    config.write_text('device_id = "lift-1"\n[detection]\nalarm_button_ms = 1500\n')
    r = replay(str(trace), "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["t_ms"] for x in r.stdout.splitlines()] == [1500]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[detection]\nentrapment_s = 5\n", "[detection] entrapment_s: unknown setting"),
        ("[detection]\ndebounce_ms = 0.5\n", "[detection] debounce_ms: expected a whole number"),
        ("[detection]\nclear_s = -1\n", "[detection] clear_s: must not be negative"),
        ("[detection]\nclear_s = true\n", "[detection] clear_s: expected a number"),
        ("[detection\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(HEADER + ROW.format(t=0, alarm=0))
    config = tmp_path / "agent.toml"
    config.write_text(toml)
    r = replay(str(trace), "--config", str(config))
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(f"{config}: ")
    assert message in r.stderr
