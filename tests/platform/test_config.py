"""The [platform] configuration and the `elev-collector platform` command's errors: one line that
names the file, key or flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main as cli_main
from collector.errors import ConfigError
from collector.platform.service import load_config


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "platform.toml"
    p.write_text(text)
    return str(p)


def test_full_county_and_city_config(tmp_path: Path) -> None:
    (tmp_path / "t1").write_text("county-token-1\n")
    (tmp_path / "t2").write_text("county-token-2\n")
    cfg = load_config(
        write(
            tmp_path,
            "[collector]\nbroker_url = 'mqtt://x:1'\n"  # the collector's table is left to the collector
            "[platform]\npoll_s = 0.5\nbackfill_s = 600\n"
            "[platform.rescue]\nresponse_limit_s = 30\narrival_limit_s = 1200\n"
            "[platform.maintenance]\ninterval_days = 14\n"
            "[platform.webhooks]\nrescue_centre_url = 'https://rc.example/x'\nmax_attempts = 5\n"
            "[platform.webhooks.company_urls]\n'Acme Lift' = 'https://acme.example/hook'\n"
            "[platform.city_feed]\ncity_url = 'https://city.example'\ncounty = '330602'\n"
            f"token_file = '{tmp_path / 't1'}'\n"
            f"[platform.city.county_token_files]\n330602 = '{tmp_path / 't1'}'\n330681 = '{tmp_path / 't2'}'\n",
        )
    )
    assert cfg.poll_s == 0.5 and cfg.backfill_s == 600
    assert cfg.rescue.response_limit_s == 30.0 and cfg.maintenance.interval_days == 14.0
    assert cfg.webhooks.targets("Acme Lift") == [
        ("rescue_centre", "https://rc.example/x"),
        ("company:Acme Lift", "https://acme.example/hook"),
    ]
    assert cfg.city_feed is not None and cfg.city_feed.token == "county-token-1"
    assert cfg.city_feed.push_url == "https://city.example/city/v1/push"
    assert cfg.city.county_of("Bearer county-token-2") == "330681"
    assert cfg.city.county_of("Bearer county-token-3") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[platform]\npoll = 1\n", "platform: unknown key(s) poll"),
        ("[platform]\npoll_s = 'fast'\n", "platform.poll_s = 'fast' must be a number"),
        ("[platform.rescue]\nresponse_limit_s = 0\n", "platform.rescue: response_limit_s must be positive"),
        ("[platform.rescue]\nlimit = 3\n", "platform.rescue: unknown key 'limit'"),
        (
            "[platform.maintenance]\ninterval_days = 'x'\n",
            "platform.maintenance.interval_days = 'x' has the wrong type",
        ),
        ("[platform.webhooks]\nrescue_centre_url = 'ftp://x'\n", "rescue_centre_url: 'ftp://x' must start with http"),
        ("[platform.city_feed]\ncity_url = 'https://c'\ncounty = '330602'\n", "city_feed.token_file: the file"),
        ("[platform.city_feed]\ntoken_file = '/nonexistent/t'\n", "/nonexistent/t: No such file"),
        ("[platform\n", "platform.toml: "),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_same_token_for_two_counties_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("shared-token-1\n")
    text = f"[platform.city.county_token_files]\n330602 = '{tmp_path / 't'}'\n330603 = '{tmp_path / 't'}'\n"
    with pytest.raises(ConfigError, match="same token as county 330602"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--http", "nonsense"], "--http: 'nonsense' must be HOST:PORT"),
        (["--api-token-file", "/nonexistent/token"], "--api-token-file: /nonexistent/token: No such file"),
        (["--config", "/nonexistent/p.toml"], "/nonexistent/p.toml: No such file"),
    ],
)
def test_command_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "token").write_text("api-token-0123456789")
    base = ["platform", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--api-token-file", str(tmp_path / "token")]
    assert cli_main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("elev-collector platform: ") and message in err and "\n" not in err


def test_unreachable_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "token").write_text("api-token-0123456789")
    argv = ["platform", "--db", "sqlite:////nonexistent/dir/x.db", "--api-token-file", str(tmp_path / "token")]
    assert cli_main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("elev-collector platform: ") and "does not exist" in err
