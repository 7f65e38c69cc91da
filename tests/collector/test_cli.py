"""The commands as an operator runs them: devices add/list/remove with broker files that a real
Mosquitto enforces, `run` flag errors, SIGTERM."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest

from collector.cli import main as cli_main
from collector.devices_cmd import acl_text, set_password
from protocols import topics
from tests.collector.conftest import Running, make_config, wait_until
from tests.collector.procs import CollectorProcess
from tests.collector.publisher import encode, statuses
from tests.support.services import Broker, free_port


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=60)


def test_devices_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        rc = cli_main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, rc, out.out, out.err)

    db = f"sqlite:///{tmp_path / 'c.db'}"
    pw, acl = tmp_path / "passwd", tmp_path / "acl"
    files = ["--password-file", str(pw), "--acl-file", str(acl)]
    r = cli("devices", "add", "lift-1", "--db", db, "--broker", "mqtts://broker.example:8883", *files)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^password:\s+\S{20,}$", r.stdout, re.M)
    assert "mqtts://broker.example:8883" in r.stdout and "username:  lift-1" in r.stdout
    assert cli("devices", "add", "lift-2", "--db", db, *files).returncode == 0
    assert pw.read_text().count("\n") == 2 and pw.read_text().startswith("lift-1:$7$")
    assert "topic write elev/v1/lift-2/up" in acl.read_text()
    listed = cli("devices", "list", "--db", db)
    assert listed.returncode == 0 and "lift-1" in listed.stdout and "lift-2" in listed.stdout
    again = cli("devices", "add", "lift-1", "--db", db)
    assert again.returncode == 1
    assert again.stderr.strip() == "elev-collector devices: device lift-1 is already registered"
    assert cli("devices", "remove", "lift-1", "--db", db, *files).returncode == 0
    assert "lift-1" not in pw.read_text() and "lift-1" not in acl.read_text()
    assert "lift-1" not in cli("devices", "list", "--db", db).stdout
    bad = cli("devices", "add", "lift/1", "--db", db)
    assert bad.returncode == 1 and "lift/1" in bad.stderr and "Traceback" not in bad.stderr


def test_default_db_is_collector_db_in_the_working_directory(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "collector.cli", "devices", "add", "lift-9"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "collector.db").exists()


def test_run_flag_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, words in [
        (["run", "--db", "sqlite:///x.db"], "no broker"),
        (["run", "--broker", "http://x:1"], "mqtt://"),
        (["run", "--broker", "mqtt://h:1", "--http", "nonsense"], "HOST:PORT"),
        (["run", "--broker", "mqtt://h:1", "--bogus"], "--bogus"),
        (["run", "--broker", "mqtt://h:1", "--api-token-file", str(tmp_path / "none")], "none"),
        (["run", "--broker", "mqtt://h:1", "--db", "mysql://x"], "db_url"),
    ]:
        assert cli_main(args) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, lines)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[collector]\nbroker_url = 'mqtt://h:1'\noffline_after_s = 'soon'\n")
    assert cli_main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "offline_after_s" in err and str(cfg) in err
    r = cli("run", "--help")
    assert r.returncode == 0 and "--api-token-file" in r.stdout


def test_run_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("0123456789abcdef")
    r = cli("run", "--broker", "mqtt://127.0.0.1:1", "--db", "postgresql://postgres@127.0.0.1:1/x",
            "--http", f"127.0.0.1:{free_port()}", "--api-token-file", str(token))  # fmt: skip
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "PostgreSQL" in r.stderr


def test_sigterm_stops_cleanly(broker: Broker, tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("0123456789abcdef")
    c = CollectorProcess(tmp_path, broker.url, f"sqlite:///{tmp_path / 'c.db'}", token).start()
    assert c.health()["status"] == "ok"
    assert c.terminate() == 0, c.log()
    assert "Traceback" not in c.log()


async def test_broker_acl_keeps_a_device_to_its_own_topics(tmp_path: Path, token_file: Path) -> None:
    """With the files `devices add` maintains, Mosquitto itself refuses a device posing as another."""
    pw, acl = tmp_path / "passwd", tmp_path / "acl"
    db = f"sqlite:///{tmp_path / 'c.db'}"
    passwords = {}
    for dev in ("lift-a", "lift-b"):
        r = cli("devices", "add", dev, "--db", db, "--password-file", str(pw), "--acl-file", str(acl))
        passwords[dev] = re.search(r"^password:\s+(\S+)$", r.stdout, re.M).group(1)  # type: ignore[union-attr]
    set_password(pw, "collector", "collector-secret")
    assert acl.read_text() == acl_text(["lift-a", "lift-b"], "collector")
    conf = f"user root\npassword_file {pw}\nacl_file {acl}"
    broker = Broker(tmp_path, extra_conf=conf, allow_anonymous=False).start()
    try:
        cfg = make_config(
            broker, db, token_file, broker_url=f"mqtt://collector:collector-secret@127.0.0.1:{broker.port}"
        )
        col = await Running(cfg).start()
        m = col.collector.metrics
        try:
            async with aiomqtt.Client("127.0.0.1", broker.port, username="lift-a", password=passwords["lift-a"]) as a:
                await a.publish(topics.uplink_topic("lift-b"), encode(statuses(1), 1), qos=1)  # dropped by the ACL
                await a.publish(topics.uplink_topic("lift-a"), encode(statuses(1), 1), qos=1)
                await wait_until(lambda: m.records_stored >= 1, what="lift-a's own frame")
                await asyncio.sleep(0)
                assert m.frames_in == 1
                assert await col.store.count_records("lift-b") == 0
            try:
                async with aiomqtt.Client("127.0.0.1", broker.port, username="lift-a", password="wrong"):
                    raise AssertionError("a wrong password was accepted")
            except aiomqtt.MqttError:
                pass
        finally:
            await col.close()
    finally:
        broker.stop()


def test_config_file_and_flags(tmp_path: Path) -> None:
    from collector.run_cmd import parse_config

    token = tmp_path / "token"
    token.write_text("0123456789abcdef\n")
    cfg_file = tmp_path / "collector.toml"
    cfg_file.write_text(
        "[collector]\n"
        "broker_url = 'mqtt://collector:pw@10.0.0.2:1883'\n"
        "db_url = 'postgresql://collector@db/elevators'\n"
        "http = '0.0.0.0:9000'\n"
        f"api_token_file = '{token}'\n"
        "offline_after_s = 90\n"
    )
    cfg, debug = parse_config(["--config", str(cfg_file), "--offline-after-s", "30", "--debug"])
    assert (cfg.http_host, cfg.http_port, cfg.offline_after_s, debug) == ("0.0.0.0", 9000, 30.0, True)
    assert cfg.broker.username == "collector" and cfg.db_url.startswith("postgresql://")
    assert cfg.api_token() == "0123456789abcdef"
    assert cfg.mqtt_client_id.endswith("-9000")
