"""`elev-agent check` logs in to a broker configured as in production (`broker-config`, `devices add`).

The broker pins each device login to the agent's client id `elev-agent-ID` (dynamic security), so
the check must present that id: with the `-check` suffix it used before, the right password was
refused (CONNACK 5) and every correctly provisioned gateway failed its broker check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge_agent.check_cmd import Verdict, broker_from_agent
from tests.broker.conftest import Site, site  # noqa: F401  (the fixture: a broker from broker-config)

BIN = Path(sys.executable).parent


def _check_broker_only(config: Path) -> subprocess.CompletedProcess[str]:
    """Only the broker is judged (no controller and no sensor stream on this bench: nothing listens on port 1)."""
    skips = [
        a for name in ("modbus", "door_contact", "door_zone", "safety_circuit", "door_lock") for a in ("--skip", name)
    ]
    skips += [a for name in ("presence", "alarm_button", "mains", "clock") for a in ("--skip", name)]
    return subprocess.run(
        [str(BIN / "elev-agent"), "check", "--config", str(config), "--seconds", "3", *skips],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _agent_toml(path: Path, port: int, password: str, extra: str = "") -> Path:
    path.write_text(
        f'device_id = "lift-1"\n[broker]\nurl = "mqtt://lift-1:{password}@127.0.0.1:{port}"\n{extra}'
        '[modbus]\ntcp = "127.0.0.1:1"\n'
        '[gpio]\npin_factory = "sim"\nsim = "127.0.0.1:1"\n'
        "[elevator]\nlowest_floor = -1\nhighest_floor = 12\n"
    )
    return path


def test_check_logs_in_with_the_device_login_devices_add_made(site: Site, tmp_path: Path) -> None:  # noqa: F811
    password = site.add_device("lift-1")
    site.broker.start()
    done = _check_broker_only(_agent_toml(tmp_path / "agent.toml", site.broker.port, password))
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("broker "))
    assert " PASS " in row and "logged in to mqtt://127.0.0.1" in row and "as lift-1" in row, row
    assert done.stdout.splitlines()[-1] == "check: pass"
    # The broker saw the agent's own id (and no other): the pinning let it in.
    assert "as elev-agent-lift-1 (" in site.broker.log(), site.broker.log()


def test_another_client_id_is_refused_with_a_hint(site: Site, tmp_path: Path) -> None:  # noqa: F811
    password = site.add_device("lift-1")
    site.broker.start()
    conf = _agent_toml(tmp_path / "agent.toml", site.broker.port, password, 'client_id = "elev-agent-lift-1-check"\n')
    done = _check_broker_only(conf)
    assert done.returncode == 1, done.stdout + done.stderr
    summary = done.stdout[done.stdout.index("check          verdict") :]
    assert "broker         FAIL" in summary, summary
    text = " ".join(summary.split())
    assert "only as client id elev-agent-lift-1, not elev-agent-lift-1-check ([broker] client_id)" in text, text


def test_a_running_agent_answers_for_the_broker() -> None:
    """With the agent running on this gateway, check reads its link instead of kicking it off with the same id."""
    up = broker_from_agent({"pid": 42, "link": {"online": True, "broker": "mqtt://b:1883"}})
    assert (up.verdict, up.reason) == (Verdict.PASS, "the running agent (pid 42) is connected to mqtt://b:1883")
    down = broker_from_agent({"pid": 42, "link": {"online": False, "broker": "mqtt://b:1883", "last_error": "refused"}})
    assert down.verdict is Verdict.FAIL and "NOT connected to mqtt://b:1883: refused" in down.reason
