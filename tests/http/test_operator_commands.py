"""`--version` on every command, and `elev-collector check-config`: validate only, errors name the
file and key, and no error ever shows a password, a token or a secret."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from collector import cli as collector_cli
from edge_agent import cli as agent_cli
from hw_sim import cli as sim_cli

PASSWORD = "hunter2-Sup3rSecret"


@pytest.mark.parametrize(
    ("main", "prog"),
    [(collector_cli.main, "elev-collector"), (agent_cli.main, "elev-agent"), (sim_cli.main, "elev-sim")],
)
def test_version_is_one_line_and_exit_0(main: object, prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0  # type: ignore[operator]
    out = capsys.readouterr().out
    assert out == f"{prog} {importlib.metadata.version('smart-elevator')}\n"


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    rc = collector_cli.main(["check-config", "--config", str(path)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_a_good_file_is_ok_and_nothing_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = tmp_path / "token"
    token.write_text("admin-token-0123456789\n")
    text = (
        f'[collector]\nbroker_url = "mqtt://collector:{PASSWORD}@127.0.0.1:1"\napi_token_file = "{token}"\n'
        "[platform.rescue]\nresponse_limit_s = 300.0\n"
    )
    rc, out, err = check(tmp_path, text, capsys)
    assert (rc, err) == (0, "")
    assert out.endswith("collector.toml: ok\n")


def test_a_city_file_is_checked_as_the_platform_s(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A city role file (only [platform] and [platform.city]) has no broker: it is checked as
    `elev-collector platform`'s, not refused with "no broker given"."""
    token = tmp_path / "yuecheng.token"
    token.write_text("county-token-yuecheng\n")
    city = f'[platform]\npoll_s = 0.2\n[platform.city.county_token_files]\n330602 = "{token}"\n'
    rc, out, err = check(tmp_path, city, capsys)
    assert (rc, err) == (0, "")
    assert out.endswith(
        "collector.toml: ok (a file for elev-collector platform, city role, 1 county: "
        "no [collector] keys, so not one for run)\n"
    )
    # and its mistakes are named as for any file: here a county code that is not one
    rc, out, err = check(tmp_path, city.replace("330602", "3306"), capsys)
    assert rc == 2 and out == "" and "city" in err and "3306" in err and "no broker" not in err
    # a missing token file is named too
    rc, out, err = check(tmp_path, city.replace(str(token), str(tmp_path / "missing.token")), capsys)
    assert rc == 2 and "missing.token" in err
    # a file with collector keys is still the collector's: its missing broker is said
    rc, out, err = check(tmp_path, "http_port = 8080\n" + city, capsys)
    assert rc == 2 and "no broker given" in err


BAD = {
    "broker scheme": (f'broker_url = "ftp://collector:{PASSWORD}@h:1"\n', "broker_url"),
    "broker port": (f'broker_url = "mqtt://collector:{PASSWORD}@h:99999999"\n', "broker_url"),
    "database url": (f'broker_url = "mqtt://h:1"\ndb_url = "mysql://root:{PASSWORD}@db/x"\n', "db_url"),
    "unknown key": ('broker_url = "mqtt://h:1"\nbrokr = 1\n', "unknown key 'brokr'"),
    "wrong type": ('broker_url = "mqtt://h:1"\nhttp_port = "80"\n', "http_port"),
    "webhook secret type": (
        f'broker_url = "mqtt://h:1"\n[platform.webhooks]\nsecret = ["{PASSWORD}"]\n',
        "platform.webhooks.secret",
    ),
    "webhook url": (
        f'broker_url = "mqtt://h:1"\n[platform.webhooks]\nrescue_centre_url = "ftp://u:{PASSWORD}@hook"\n',
        "platform.webhooks",
    ),
    "missing token file": ('broker_url = "mqtt://h:1"\napi_token_file = "/nonexistent/token"\n', "/nonexistent/token"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_errors_name_file_and_key_and_never_show_a_password(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, key = BAD[case]
    rc, out, err = check(tmp_path, "[collector]\n" + body, capsys)
    assert rc == 2 and out == ""
    assert "collector.toml" in err and key in err, err
    assert PASSWORD not in err, err
    assert "Traceback" not in err and err.count("\n") == 1, err
