"""`elev-collector run` is the whole district service: the platform acts on ingest's commits in
process (no second program polling the tables) and its routes share the API's port and token."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from collector.errors import ConfigError
from collector.platform.service import PlatformConfig
from collector.run_cmd import parse_config, platform_config
from protocols.events import Action
from tests.collector.conftest import Running, make_config, wait_until
from tests.collector.publisher import Publisher, event, status
from tests.support.services import Broker


async def test_rescue_case_opens_within_a_second_of_the_alarm_commit(
    broker: Broker, sqlite_url: str, token_file: Path
) -> None:
    # A poll interval far longer than the test: only the in-process wake-up can open the case in time.
    col = Running(make_config(broker, sqlite_url, token_file))
    col.collector.platform_config = replace(PlatformConfig(), poll_s=300.0)
    await col.start(devices=("lift-1",))
    try:
        for path in ("/api/v1/rescue-cases", "/api/v1/statistics", "/api/v1/registry"):
            assert (await col.get(path, token=None))[0] == 401, path
            assert (await col.get(path))[0] == 200, path
        async with Publisher(broker.port, "lift-1", batch=2) as p:
            await p.send([status(1, 1000, floor=3), event(2, 2000, "entrapment", Action.RAISE, floor=3)])
            await p.resend_until_acked(10)
        committed = time.monotonic()

        async def case() -> object:
            code, cases = await col.get("/api/v1/rescue-cases?device_id=lift-1")
            return code == 200 and cases

        cases = await wait_until(case, timeout_s=10, what="a rescue case for the entrapment")
        assert time.monotonic() - committed < 1.0, "the case waited for a poll instead of the commit"
        assert len(cases) == 1 and cases[0]["device_id"] == "lift-1"
    finally:
        await col.close()


def test_platform_is_on_by_default_and_reads_the_same_file(tmp_path: Path, token_file: Path) -> None:
    conf = tmp_path / "collector.toml"
    conf.write_text('[collector]\nbroker_url = "mqtt://127.0.0.1:1"\n[platform]\npoll_s = 0.5\n')
    base = ["--config", str(conf), "--api-token-file", str(token_file)]
    config, _ = parse_config(base)
    assert config.platform and platform_config(config).poll_s == 0.5
    assert parse_config([*base, "--no-platform"])[0].platform is False
    conf.write_text('[collector]\nbroker_url = "mqtt://127.0.0.1:1"\n[platform]\npoll_s = "soon"\n')
    with pytest.raises(ConfigError, match=r"collector.toml: platform.poll_s"):
        parse_config(base)  # a bad [platform] table is refused at start, naming file and key
    (tmp_path / "county.token").write_text("county-token-330602")
    conf.write_text(
        '[collector]\nbroker_url = "mqtt://127.0.0.1:1"\n[platform.city.county_token_files]\n'
        f'330602 = "{tmp_path / "county.token"}"\n'
    )
    with pytest.raises(ConfigError, match="elev-collector platform"):
        parse_config(base)


def test_a_file_without_a_collector_table_may_hold_the_other_tables(tmp_path: Path, token_file: Path) -> None:
    # The top-level keys are the collector's, [platform] and [accounts] their own loaders'
    # (an [accounts] table made the collector refuse the file: "unknown key 'accounts'").
    conf = tmp_path / "collector.toml"
    conf.write_text('broker_url = "mqtt://127.0.0.1:1"\n[platform]\npoll_s = 0.5\n[accounts]\nmax_failed_logins = 3\n')
    config, _ = parse_config(["--config", str(conf), "--api-token-file", str(token_file)])
    assert config.broker_url == "mqtt://127.0.0.1:1" and platform_config(config).poll_s == 0.5
    conf.write_text('broker_url = "mqtt://127.0.0.1:1"\nbroker_urll = "x"\n')
    with pytest.raises(ConfigError, match="unknown key 'broker_urll'"):
        parse_config(["--config", str(conf), "--api-token-file", str(token_file)])
