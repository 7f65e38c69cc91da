"""`elev-agent status` tells the truth: a running agent is running, a killed one is stopped (exit 1).

A real `elev-agent run` against a real simulator (no broker: the agent runs offline and says so).
The agent is killed with SIGKILL, so its status file stays behind claiming it was running; status
must look at the process, not trust the file's age.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.deploy.test_check import Sim
from tests.support.services import free_port, wait_for

BIN = Path(sys.executable).parent


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "elev-agent"), "status", *args], capture_output=True, text=True, timeout=20)


def test_status_of_a_running_then_killed_agent(tmp_path: Path) -> None:
    sim = Sim(tmp_path)
    data = tmp_path / "data"
    conf = tmp_path / "agent.toml"
    conf.write_text(
        f'device_id = "lift-s"\ndata_dir = "{data}"\n'
        f'[broker]\nurl = "mqtt://127.0.0.1:{free_port()}"\n'
        f'[modbus]\ntcp = "{sim.modbus}"\n[gpio]\npin_factory = "sim"\nsim = "{sim.gpio}"\n'
        "[elevator]\nlowest_floor = -1\nhighest_floor = 12\nrated_speed_mm_s = 1750\n"
        "[agent]\nstatus_file_s = 0.5\nclock_synced = 'no'\n"
    )
    log = open(tmp_path / "agent.log", "wb")
    agent = subprocess.Popen([str(BIN / "elev-agent"), "run", "--config", str(conf)], stdout=log, stderr=log)
    try:
        wait_for(lambda: (data / "status.json").exists(), 20, what="the status file")
        running = status("--config", str(conf))
        assert running.returncode == 0, running.stdout + running.stderr
        assert f"lift-s running, pid {agent.pid}" in running.stdout
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        # Right after the kill the file is still fresh: only the process tells.
        stopped = status("--data-dir", str(data))
        assert stopped.returncode == 1, stopped.stdout
        assert f"lift-s STOPPED (pid {agent.pid} is not running" in stopped.stdout
        as_json = status("--config", str(conf), "--json")
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["running"] is False
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(5)
        log.close()
        sim.stop()


def test_status_needs_a_data_dir(tmp_path: Path) -> None:
    done = status()
    assert done.returncode == 2 and "--data-dir DIR or --config FILE is required" in done.stderr
    conf = tmp_path / "agent.toml"
    conf.write_text('device_id = "x"\n')
    done = status("--config", str(conf))
    assert done.returncode == 2 and f"{conf}: data_dir: missing" in done.stderr
    done = status("--data-dir", str(tmp_path / "empty"))
    assert done.returncode == 2 and "no agent data" in done.stderr
