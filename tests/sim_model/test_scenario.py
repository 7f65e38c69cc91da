"""Scenario files: what loads, and errors that name the file and the key (never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim import trace_cmd
from hw_sim.scenario import FAULTS, ScenarioError, load_scenario

GOOD = """
seed = 5
duration_s = 900
traffic = "morning"

[elevator]
lowest_floor = -2
highest_floor = 15
rated_speed_mm_s = 2000
floor_height_mm = 3300
presence_sensor = false

[noise]
bounce_per_hour = 30

[[inject]]
at_s = 300
fault = "controller_fault"
code = 4201
duration_s = 20

[[inject]]
at_s = 100
fault = "trap_between_floors"
passengers = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_good_scenario_loads(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.seed == 5 and sc.duration_s == 900 and sc.traffic == "morning"
    assert sc.elevator.lowest_floor == -2 and not sc.elevator.presence_sensor
    assert sc.noise.bounce_per_hour == 30
    assert [i.fault for i in sc.injections] == ["trap_between_floors", "controller_fault"]  # sorted by time
    assert sc.injections[1].params["code"] == 4201
    assert sc.injections[0].params["passengers"] == 2 and sc.injections[0].duration_s is None


def test_fault_list_is_the_contracts() -> None:
    surface = (Path(__file__).resolve().parents[3] / "shared" / "contract" / "surface.md").read_text()
    section = surface.split("Fault names include", 1)[1].split("### NICE3000", 1)[0]
    for name in FAULTS:
        assert f"`{name}`" in section


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[elevator]\nlowest_floor = 0\n", "elevator: missing key 'highest_floor'"),
        ("seed = 1\n", "missing table [elevator]"),
        (GOOD.replace('fault = "controller_fault"', 'fault = "meteor"'), "inject[1].fault: unknown fault 'meteor'"),
        (GOOD.replace("code = 4201", 'code = "E42"'), "inject[1].code: must be an integer"),
        (GOOD.replace("passengers = 2", "colour = 2"), "inject[2].colour: not a key of fault 'trap_between_floors'"),
        (GOOD.replace("at_s = 100", "at_s = -1"), "inject[2].at_s: must be >= 0"),
        (GOOD.replace("highest_floor = 15", "highest_floor = -3"), "elevator.highest_floor: must be above"),
        (GOOD.replace('traffic = "morning"', 'traffic = "rush"'), "traffic: unknown pattern 'rush'"),
        (GOOD.replace("bounce_per_hour = 30", "bounce_max_ms = 150"), "noise.bounce_max_ms"),
        ("wibble = 1\n" + GOOD, "s.toml: wibble: unknown key"),
        ("[elevator\n", "not valid TOML"),
        (GOOD.replace("code = 4201", "code = 0"), "inject[1].code: a controller fault needs a non-zero code"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "",
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    msg = str(exc.value)
    assert msg.startswith(str(path) + ": ")
    assert needle in msg
    assert "\n" not in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.toml")


def test_trace_command_reports_bad_scenario_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("rated_speed_mm_s = 2000", "rated_speed_mm_s = fast"))
    rc = trace_cmd.main(["--scenario", str(path), "--out", str(tmp_path / "t.csv")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and str(path) in err and "not valid TOML" in err
    assert not (tmp_path / "t.csv").exists()


def test_controller_fault_by_e_code(tmp_path: Path) -> None:
    text = GOOD.replace("code = 4201", "e_code = 42\nsub_code = 1")
    sc = load_scenario(write(tmp_path, text))
    assert sc.injections[1].params == {"code": 4201}
