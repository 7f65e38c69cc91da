"""The whole system as processes for the soak tests: the agent through `elev-agent run`, and what
both ends hold on disk (the agent's outbox, the collector's SQLite store), read read-only.

The simulator (`tests/sim_serve/simproc.py`), the collector (`tests/collector/procs.py`) and the
broker (`tests/support/services.py`) come from the other test packages.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.services import ConfiguredBroker, free_port, shared_tmp_dir

BIN = Path(sys.executable).parent
SCENARIO_ELEVATOR = {"lowest_floor": -1, "highest_floor": 12, "rated_speed_mm_s": 1750}  # simproc.BUSY_SCENARIO


def _toml(doc: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    for table, keys in doc.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


class AgentProcess:
    """`elev-agent run` in its own process group (a kill -9 takes all of it), same data dir every start."""

    def __init__(
        self,
        workdir: Path,
        device: str,
        broker_url: str,
        modbus_tcp: str,
        gpio_sim: str,
        agent: dict[str, Any] | None = None,
        uplink: dict[str, Any] | None = None,
        detection: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.device = device
        self.data_dir = data_dir or workdir / f"agent-{device}"
        self.env = {**os.environ, **env} if env else None
        self.conf = workdir / f"agent-{device}.toml"
        doc = {
            "elevator": SCENARIO_ELEVATOR,
            "agent": {"status_flush_s": 0.5, "status_file_s": 0.5, "clock_synced": "no", **(agent or {})},
            "uplink": {"reconnect_min_s": 0.2, "reconnect_max_s": 2.0, "ack_timeout_s": 5.0, **(uplink or {})},
            # The soak's subject is the outbox and the uplink under the heaviest stream the agent can
            # make: every status change, not the reporting policy's few records (tests/report has those).
            "report": {"policy": "full"},
        }
        if detection:
            doc["detection"] = detection
        self.conf.write_text(_toml(doc))
        self.args = [str(BIN / "elev-agent"), "run", "--device-id", device, "--modbus-tcp", modbus_tcp]
        self.args += ["--gpio-sim", gpio_sim, "--broker", broker_url, "--data-dir", str(self.data_dir)]
        self.args += ["--config", str(self.conf)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_path = workdir / f"agent-{device}.log"

    def start(self) -> AgentProcess:
        assert not self.running, "agent already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, start_new_session=True, env=self.env)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 of the whole process group, then reap it."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def terminate(self) -> int:
        """SIGTERM (a clean stop); a process that ignores it for 30 s is killed and the test fails."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"elev-agent ignored SIGTERM:\n{self.log()}") from None
        return int(self.proc.returncode)

    def cleanup(self) -> None:
        if self.running:
            self.kill()

    def status(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads((self.data_dir / "status.json").read_text()))
        except (OSError, ValueError):
            return None

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


@dataclass(frozen=True)
class OutboxSnapshot:
    """What the agent's outbox file holds right now: its stream, the highest seq it ever committed,
    and the committed records not yet acknowledged (seq -> (kind, mono_ms))."""

    epoch: int
    last_seq: int
    rows: dict[int, tuple[int, int]]
    evicted_status: int
    dropped_status: int


def read_outbox(data_dir: Path) -> OutboxSnapshot | None:
    """Read-only, while the agent runs or after it died (None before the file has a stream epoch)."""
    path = data_dir / "outbox.db"
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if "epoch" not in meta:
            return None
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        rows = {s: (k, m) for s, k, m in db.execute("SELECT seq, kind, mono_ms FROM records")}
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None  # killed while the file was being created
        raise
    finally:
        db.close()
    return OutboxSnapshot(
        int(meta["epoch"]), int(row[0]) if row else 0, rows, int(meta["evicted_status"]), int(meta["dropped_status"])
    )


@dataclass(frozen=True)
class Stored:
    """One record as the collector's store holds it."""

    epoch: int
    seq: int
    kind: str
    mono_ms: int


def stored_records(db_path: Path, device: str) -> list[Stored]:
    """Every record of `device` in the collector's SQLite store, in (epoch, seq) order."""
    if not db_path.exists():
        return []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute(
            "SELECT epoch, seq, kind, mono_ms FROM records WHERE device_id = ? ORDER BY epoch, seq", (device,)
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        db.close()
    return [Stored(int(e), int(s), str(k), int(m)) for e, s, k, m in rows]


def stored_count(db_path: Path, device: str) -> int:
    if not db_path.exists():
        return 0
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("SELECT count(*) FROM records WHERE device_id = ?", (device,)).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def register_device(db_url: str, device: str, broker: ProjectBroker | None = None) -> str | None:
    """Through the collector's own command, as an installer would. With the project's broker, the
    device's login too (`--broker-config`): returns the URL the agent connects with."""
    args = [str(BIN / "elev-collector"), "devices", "add", device, "--db", db_url]
    if broker is not None:
        args += ["--broker-config", str(broker.config_dir)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    if broker is None:
        return None
    found = re.search(r"^password:\s+(\S+)$", done.stdout, re.M)
    assert found, done.stdout
    return f"mqtt://{device}:{found.group(1)}@127.0.0.1:{broker.port}"


class ProjectBroker:
    """Mosquitto as production runs it: the directory `elev-collector broker-config` writes (dynamic
    security, persistence, device logins pinned to their own client ids and topics), device logins
    made by `devices add --broker-config` (`register_device`).

    The surface the soak uses of `tests.support.services.Broker`: `url` (here with the collector's
    login), `port`, `start()`, `stop(kill=)`, `running`. As root the broker drops to the `mosquitto`
    user, so its directory lives under a 0755 directory in /tmp, removed by `cleanup()`.
    """

    def __init__(self) -> None:
        self.work = shared_tmp_dir("elev-soak-broker-")
        password = secrets.token_urlsafe(12)
        (self.work / "collector-password").write_text(password + "\n")
        self.port = free_port()
        self.config_dir = self.work / "broker"
        done = subprocess.run(
            [str(BIN / "elev-collector"), "broker-config", str(self.config_dir), "--listen", f"127.0.0.1:{self.port}"]
            + ["--collector-password-file", str(self.work / "collector-password")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        self.url = f"mqtt://collector:{password}@127.0.0.1:{self.port}"
        self._broker = ConfiguredBroker(self.config_dir, self.port)

    def start(self) -> ProjectBroker:
        self._broker.start()
        return self

    def stop(self, kill: bool = False) -> None:
        proc = self._broker.proc
        if kill and proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        self._broker.stop()

    @property
    def running(self) -> bool:
        proc = self._broker.proc
        return proc is not None and proc.poll() is None

    @property
    def starts(self) -> int:
        return self._broker.starts

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)
