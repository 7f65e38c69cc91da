"""elevator-trace/1: the writer and reader round-trip, and every malformed input names file, line, problem."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.events import BY_NAME
from protocols.signals import (
    COLUMNS,
    HEADER_LINE,
    TRACE_FORMAT,
    Door,
    Mode,
    SignalSnapshot,
    TraceError,
    TraceReader,
    TraceSettings,
    format_row,
    parse_row,
    write_trace,
)
from tests.conftest import SAMPLES

SETTINGS_LINES = [
    "# format=elevator-trace/1",
    "# rated_speed_mm_s=1600",
    "# lowest_floor=-1",
    "# highest_floor=12",
]
ROW = "0,3,0,0,0,closed,1,1,1,,0,1,normal,0"
IDLE = SignalSnapshot(0, 3, 0, False, 0, Door.CLOSED, True, True, True, None, False, True, Mode.NORMAL, 0)


def read(lines: list[str], source: str = "t.csv") -> tuple[TraceSettings, list[SignalSnapshot]]:
    reader = TraceReader(io.StringIO("\n".join(lines) + "\n"), source)
    return reader.settings, list(reader)


def trace_error(lines: list[str]) -> TraceError:
    with pytest.raises(TraceError) as err:
        read(lines)
    assert str(err.value).startswith(f"t.csv:{err.value.line}: ")
    return err.value


# --- round trip ----------------------------------------------------------------------------------


@st.composite
def traces(draw: st.DrawFn) -> list[SignalSnapshot]:
    n = draw(st.integers(0, 20))
    t = 0
    out = []
    for _ in range(n):
        t += draw(st.integers(0, 5000))
        out.append(
            SignalSnapshot(
                t,
                draw(st.integers(-5, 200)),
                draw(st.sampled_from([-1, 0, 1])),
                draw(st.booleans()),
                draw(st.integers(0, 10_000)),
                draw(st.sampled_from(list(Door))),
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.sampled_from([None, False, True])),
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.sampled_from(list(Mode))),
                draw(st.integers(0, 65_535)),
            )
        )
    return out


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(traces())
def test_write_then_read_round_trips(snapshots: list[SignalSnapshot]) -> None:
    cfg = TraceSettings(1600, -2, 20, {"site": "tower b", "seed": "7"})
    out = io.StringIO()
    assert write_trace(out, cfg, snapshots) == len(snapshots)
    got_settings, got = read(out.getvalue().splitlines())
    assert got == snapshots
    assert got_settings == cfg
    assert all(type(s.door) is Door and type(s.mode) is Mode for s in got)


def test_format_row_and_parse_row_are_inverse() -> None:
    assert format_row(IDLE) == ROW
    assert parse_row(ROW.split(",")) == IDLE
    occupied = IDLE._replace(occupied=False, floor=-1, direction=-1)
    assert parse_row(format_row(occupied).split(",")) == occupied


def test_occupied_empty_is_none_and_blank_lines_are_ignored() -> None:
    lines = ["", *SETTINGS_LINES[:2], "   ", *SETTINGS_LINES[2:], "", HEADER_LINE, "", ROW, "", "  ", ROW, ""]
    cfg, snaps = read(lines)
    assert (cfg.rated_speed_mm_s, cfg.lowest_floor, cfg.highest_floor) == (1600, -1, 12)
    assert snaps == [IDLE, IDLE]
    assert snaps[0].occupied is None
    _, snaps = read([*SETTINGS_LINES, HEADER_LINE, ROW.replace(",,", ",1,"), ROW.replace(",,", ",0,")])
    assert [s.occupied for s in snaps] == [True, False]


def test_unknown_settings_are_kept_and_crlf_is_accepted() -> None:
    text = "\r\n".join([*SETTINGS_LINES, "# site = Tower B ", HEADER_LINE, ROW]) + "\r\n"
    reader = TraceReader(io.StringIO(text), "crlf.csv")
    assert reader.settings.extra == {"site": "Tower B"}
    assert list(reader) == [IDLE]


def test_equal_times_are_allowed() -> None:
    _, snaps = read([*SETTINGS_LINES, HEADER_LINE, ROW, ROW.replace("0,3,", "0,4,", 1)])
    assert [s.floor for s in snaps] == [3, 4]


# --- malformed input: file, line and problem -----------------------------------------------------


@pytest.mark.parametrize("missing", ["format", "rated_speed_mm_s", "lowest_floor", "highest_floor"])
def test_missing_setting(missing: str) -> None:
    lines = [line for line in SETTINGS_LINES if f"# {missing}=" not in line]
    err = trace_error([*lines, HEADER_LINE, ROW])
    assert err.source == "t.csv"
    assert err.line == 4  # the header line, where the settings had to be complete
    assert missing in err.problem and "missing setting" in err.problem


@pytest.mark.parametrize(
    ("setting", "line", "fragment"),
    [
        ("# format=elevator-trace/2", 1, "elevator-trace/2"),
        ("# rated_speed_mm_s=fast", 2, "rated_speed_mm_s"),
        ("# rated_speed_mm_s=0", 2, "below 1"),
        ("# lowest_floor=1.5", 3, "lowest_floor"),
        ("# highest_floor=-5", 4, "highest_floor is below lowest_floor"),
    ],
)
def test_bad_setting_names_its_line(setting: str, line: int, fragment: str) -> None:
    key = setting[2:].split("=")[0]
    lines = [setting if s.startswith(f"# {key}=") else s for s in SETTINGS_LINES]
    err = trace_error([*lines, HEADER_LINE, ROW])
    assert err.line == line
    assert fragment in err.problem


def test_setting_without_equals() -> None:
    err = trace_error([*SETTINGS_LINES, "# just a comment", HEADER_LINE, ROW])
    assert err.line == 5 and "key=value" in err.problem


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (HEADER_LINE.replace("door_zone", "zone"), "header column 7 should be 'door_zone', found 'zone'"),
        (HEADER_LINE.replace(",fault_code", ""), "header column 14 should be 'fault_code', found 'end of line'"),
        (HEADER_LINE + ",extra", "header has 15 columns, expected 14"),
        (HEADER_LINE.replace("t_ms,floor", "floor,t_ms"), "header column 1 should be 't_ms'"),
        ("time floor speed", "expected the header line"),
        (ROW, "header column 1 should be 't_ms', found '0'"),
        (HEADER_LINE.replace(",", ", "), "spaces"),
    ],
)
def test_wrong_header(header: str, fragment: str) -> None:
    err = trace_error([*SETTINGS_LINES, header, ROW])
    assert err.line == 5
    assert fragment in err.problem, err.problem


def test_no_header() -> None:
    assert "no header line" in trace_error(SETTINGS_LINES).problem
    assert "no header line" in trace_error([]).problem
    assert trace_error([]).line == 1


def _with(column: str, value: str) -> str:
    fields = ROW.split(",")
    fields[COLUMNS.index(column)] = value
    return ",".join(fields)


BAD_VALUES = [
    ("t_ms", "x"),
    ("t_ms", "-1"),
    ("t_ms", "1.5"),
    ("t_ms", "1_000"),
    ("floor", ""),
    ("floor", "3a"),
    ("floor", "+3"),
    ("direction", "2"),
    ("direction", "up"),
    ("running", "2"),
    ("running", "true"),
    ("speed_mm_s", "-5"),
    ("speed_mm_s", " 5"),
    ("door", "ajar"),
    ("door", "CLOSED"),
    ("door_zone", ""),
    ("door_lock", "yes"),
    ("safety_circuit", "-1"),
    ("occupied", "2"),
    ("occupied", " "),
    ("alarm_button", "1.0"),
    ("power", "on"),
    ("mode", "maintenance"),
    ("mode", ""),
    ("fault_code", "-3"),
    ("fault_code", "E41"),
    ("fault_code", "٣"),
]


@pytest.mark.parametrize(("column", "value"), BAD_VALUES, ids=[f"{c}={v!r}" for c, v in BAD_VALUES])
def test_bad_value_names_the_column(column: str, value: str) -> None:
    err = trace_error([*SETTINGS_LINES, HEADER_LINE, ROW, "", _with(column, value)])
    assert err.line == 8  # blank lines still count
    assert err.problem.startswith(f"{column}: "), err.problem
    assert repr(value) in err.problem or value.strip() in err.problem


@pytest.mark.parametrize("row", [ROW + ",0", ROW.rsplit(",", 1)[0], "0"])
def test_wrong_column_count(row: str) -> None:
    err = trace_error([*SETTINGS_LINES, HEADER_LINE, row])
    assert err.line == 6 and "expected 14 columns" in err.problem


def test_time_going_backwards() -> None:
    err = trace_error([*SETTINGS_LINES, HEADER_LINE, _with("t_ms", "500"), _with("t_ms", "499")])
    assert err.line == 7 and "t_ms goes backwards (499 after 500)" in err.problem


def test_hash_after_header() -> None:
    err = trace_error([*SETTINGS_LINES, HEADER_LINE, ROW, "# late=1", ROW])
    assert err.line == 7 and "'#' lines are only allowed before the header" in err.problem


def test_error_is_a_value_error_with_one_line() -> None:
    err = trace_error([*SETTINGS_LINES, HEADER_LINE, _with("door", "ajar")])
    assert isinstance(err, ValueError)
    assert "\n" not in str(err)
    assert str(err) == f"t.csv:6: {err.problem}"


# --- the contract's sample traces ----------------------------------------------------------------

SAMPLE_TRACES = sorted(SAMPLES.glob("*.csv")) if SAMPLES.is_dir() else []


@pytest.mark.skipif(not SAMPLE_TRACES, reason="the shared contract samples are not next to this checkout")
@pytest.mark.parametrize("path", SAMPLE_TRACES, ids=[p.name for p in SAMPLE_TRACES])
def test_every_contract_sample_reads(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    with path.open(encoding="utf-8") as f:
        reader = TraceReader(f, str(path))
        snaps = list(reader)
    assert len(snaps) > 10
    cfg = reader.settings
    assert cfg.lowest_floor <= cfg.highest_floor and cfg.rated_speed_mm_s > 0
    assert all(a.t_ms <= b.t_ms for a, b in zip(snaps, snaps[1:], strict=False))
    # Written back, the rows are the file's own data rows: the writer speaks the same dialect.
    data_rows = [
        line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and line[0] != "#"
    ]
    assert data_rows[0] == HEADER_LINE
    assert [format_row(s) for s in snaps] == data_rows[1:]
    events = path.with_name(path.name.replace(".csv", ".events.jsonl"))
    if events.exists():
        for line in events.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["type"] in BY_NAME


def test_trace_format_constant() -> None:
    assert TRACE_FORMAT == "elevator-trace/1"
    assert HEADER_LINE.split(",") == list(COLUMNS) == list(SignalSnapshot._fields)
