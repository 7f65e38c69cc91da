"""Logs read well by hand and in the journal, and never carry a credential (protocols/logs.py)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from protocols.logs import configure, mask_credentials, under_journald

BIN = Path(sys.executable).parent
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("broker mqtt://lift-1:s3cr3t@b.example:8883 refused", "broker mqtt://lift-1:***@b.example:8883 refused"),
        ("'mqtts://u:p%40ss@h' has a bad port", "'mqtts://u:***@h' has a bad port"),
        ("db postgresql://app:hunter2@10.0.0.1/elev", "db postgresql://app:***@10.0.0.1/elev"),
        ('{"password": "pw1", "user": "x"}', '{"password": "***", "user": "x"}'),
        ("token=abc.def&x=1 api_key: K1", "token=***&x=1 api_key: ***"),
        ("Authorization: Bearer eyJhbGciOi.x", "Authorization: Bearer ***"),
        ("mqtt://host:1883 and http://h/p?q=1", "mqtt://host:1883 and http://h/p?q=1"),  # nothing to hide
    ],
)
def test_mask_credentials(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


def _log_to(path: Path, env: dict[str, str], fmt: str | None = None) -> str:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with open(path, "w") as stream:
            configure(fmt=fmt, stream=stream)
            logging.getLogger("edge_agent.test").warning("link to mqtt://a:pw@h:1 lost")
            logging.getLogger().handlers[0].flush()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        configure()
    return path.read_text()


def test_timestamps_except_under_journald(tmp_path: Path) -> None:
    plain = _log_to(tmp_path / "plain.log", {})
    assert STAMP.match(plain) and plain.endswith("WARNING edge_agent.test: link to mqtt://a:***@h:1 lost\n")
    # The journal's stream: systemd puts its device:inode in $JOURNAL_STREAM; the journal stamps lines itself.
    path = tmp_path / "journal.log"
    path.touch()
    st = path.stat()
    journal = _log_to(path, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert journal == "WARNING edge_agent.test: link to mqtt://a:***@h:1 lost\n"
    # Another process's journal stream (inherited variable, stderr redirected to a file): stamps again.
    other = _log_to(tmp_path / "other.log", {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert STAMP.match(other)
    with open(path) as f:
        assert under_journald(f, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not under_journald(f, {"JOURNAL_STREAM": "garbage"})


def test_json_lines(tmp_path: Path) -> None:
    line = json.loads(_log_to(tmp_path / "j.log", {"ELEV_LOG_FORMAT": "json"}))
    assert line["level"] == "WARNING" and line["logger"] == "edge_agent.test"
    assert line["msg"] == "link to mqtt://a:***@h:1 lost" and isinstance(line["ts"], float)
    assert json.loads(_log_to(tmp_path / "k.log", {}, fmt="json"))["msg"].endswith("lost")


@pytest.mark.parametrize(
    "command",
    [
        ["elev-agent", "run", "--device-id", "x", "--modbus-tcp", "h:1", "--data-dir", ".", "--floors", "1..2"],
        ["elev-collector", "run"],
    ],
)
def test_a_bad_broker_url_is_not_echoed_with_its_password(command: list[str]) -> None:
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:], "--broker", "mqtt://lift:Tr0ub4dor@broker.example:88x3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "Tr0ub4dor" not in done.stderr + done.stdout
    assert "mqtt://lift:***@broker.example:88x3" in done.stderr and "bad port" in done.stderr
