"""The main job on embedded defaults: simulator -> agents -> Mosquitto -> collector on SQLite.

`make demo` runs this. It configures a private Mosquitto exactly as production does
(`elev-collector broker-config`, one `devices add --broker-config` login per elevator, dynamic
security pinning each login to its agent), starts it on a free loopback port, the collector on a
SQLite file with its platform functions, three simulated elevators (one gets trapped, one develops
a door fault and a controller fault, one goes through a maintenance session) and one agent per
elevator reading it over Modbus TCP and simulated GPIO, as the commands of
`../shared/contract/surface.md` are used in the field.

A newcomer reads it as a story, so every line carries the time it really happened, counted from
the moment the elevators start: the console's sign-in first, before anything happens; then each
fault when the simulator actually injects it (its JSON line, not the scenario's plan: a trap waits
for the car to run), what the detector needs before it can raise the alarm, each alarm raised and
cleared at the time the agent detected it, and the rescue case with its steps and escalations.
The one-line `elev-sim inject` commands to trap a car again or break a door are printed up front.

Ctrl-C stops everything cleanly (exit 0). DEMO_SECONDS=N stops by itself after N seconds (the tests
use it); the exit status is then 0 when the trapped elevator's entrapment alarm reached the
collector's API.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]

ELEVATOR = """{traffic}[elevator]
lowest_floor = {lowest}
highest_floor = {highest}
rated_speed_mm_s = 1750
floor_height_mm = 3000
"""

# What the detector needs after the simulator injected a fault before the alarm can be raised
# (../shared/contract/detection.md with the agent's defaults), so the reader knows what to expect.
AFTER_INJECT = {
    "trap_between_floors": "stop_outside_door_zone in 15 s; entrapment in 20 s (someone is inside)",
    "trap_at_landing": "entrapment in 90 s (stopped in a door zone, door shut, someone inside)",
    "door_reopen_repeated": "door_reopen_repeated is raised at the 10th opening within 120 s",
    "controller_fault": "controller_fault is raised as soon as the agent reads the code",
    "inspection": "inspection is raised now: a maintenance session starts",
    "door_lock_lost": "door_lock_lost is raised 100 ms after the lock breaks in travel",
    "alarm_button": "alarm_button is raised when the press has been held",
    "power_failure": "power_failure is raised after 1 s without mains",
}


@dataclass(frozen=True)
class DemoLift:
    device_id: str
    story: str
    scenario: str

    def floors(self) -> str:
        """The agent's --floors from the scenario's [elevator] table (the same building)."""
        import tomllib

        e = tomllib.loads(self.scenario)["elevator"]
        return f"{e['lowest_floor']}..{e['highest_floor']}"


LIFTS = (
    DemoLift(
        "lift-trapped",
        "from 3 s the simulator calls a passenger and traps the car between floors on that trip, for 60 s",
        ELEVATOR.format(traffic="", lowest=1, highest=12)
        + '\n[[inject]]\nat_s = 3\nfault = "trap_between_floors"\nduration_s = 60\n',
    ),
    DemoLift(
        "lift-door",
        "door keeps reopening from 10 s; controller fault E41 at 40 s for 20 s",
        ELEVATOR.format(traffic="", lowest=-1, highest=8)
        + '\n[[inject]]\nat_s = 10\nfault = "door_reopen_repeated"\nduration_s = 40\n'
        + '\n[[inject]]\nat_s = 40\nfault = "controller_fault"\ncode = 4102\nduration_s = 20\n',
    ),
    DemoLift(
        "lift-service",
        "maintenance (inspection) session from 10 s to 50 s",
        ELEVATOR.format(traffic="", lowest=1, highest=20)
        + '\n[[inject]]\nat_s = 10\nfault = "inspection"\nduration_s = 40\n',
    ),
)
SCRIPTED_FAULTS = sum(lift.scenario.count("[[inject]]") for lift in LIFTS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wall_s(iso: object) -> float | None:
    """Unix seconds of an API time ("2026-12-07T22:59:45.832Z"), None when absent or unreadable."""
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class SimLog:
    """The JSON lines a simulator prints on stdout (one per fault it arms or injects), read as they come."""

    device_id: str
    path: Path
    offset: int = 0
    partial: bytes = b""

    def new_lines(self) -> list[dict[str, object]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        out = []
        for line in lines:
            if line.startswith(b"{"):
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict):
                    out.append(doc)
        return out


@dataclass
class Demo:
    workdir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    http_port: int = field(default_factory=free_port)
    sim_logs: list[SimLog] = field(default_factory=list)
    controls: dict[str, str] = field(default_factory=dict)
    t0_wall: float = 0.0
    fault_ends: list[float] = field(default_factory=list)  # wall time each injected fault is over

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def say(self, text: str, at_wall: float | None = None) -> None:
        """One line of the story, stamped with the moment it happened (default: now)."""
        t = (time.time() if at_wall is None else at_wall) - self.t0_wall
        print(f"{t:6.1f} s  {text}", flush=True)

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def get(self, path: str) -> object:
        req = urllib.request.Request(self.api + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read() or b"null")

    def wait_healthy(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(self.api + "/healthz", timeout=1):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise RuntimeError(f"the collector did not answer /healthz within {timeout_s} s (see {self.workdir})")

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"{name} exited with status {proc.returncode}: {' | '.join(tail)}")

    def broker(self) -> tuple[str, dict[str, str], str]:
        """The production broker configuration: dynamic security, one pinned login per elevator.

        Returns the collector's broker URL, each device's URL, and the path of mosquitto.conf.
        """
        port = free_port()
        conf_dir = self.workdir / "broker"
        pw_file = self.workdir / "collector-password"
        collector_pw = secrets.token_urlsafe(18)
        pw_file.write_text(collector_pw + "\n")
        pw_file.chmod(0o600)
        subprocess.run(
            [str(BIN / "elev-collector"), "broker-config", str(conf_dir), "--listen", f"127.0.0.1:{port}"]
            + ["--collector-password-file", str(pw_file)],
            check=True,
            capture_output=True,
            text=True,
        )
        db = f"sqlite:///{self.workdir / 'collector.db'}"
        devices = {}
        for lift in LIFTS:
            done = subprocess.run(
                [str(BIN / "elev-collector"), "devices", "add", lift.device_id, "--db", db]
                + ["--broker-config", str(conf_dir), "--broker", f"mqtt://127.0.0.1:{port}"],
                check=True,
                capture_output=True,
                text=True,
            )
            found = re.search(r"^password:\s+(\S+)$", done.stdout, re.M)
            if found is None:
                raise RuntimeError(f"devices add {lift.device_id} printed no password: {done.stdout[-300:]}")
            devices[lift.device_id] = f"mqtt://{lift.device_id}:{found.group(1)}@127.0.0.1:{port}"
        return f"mqtt://collector:{collector_pw}@127.0.0.1:{port}", devices, str(conf_dir / "mosquitto.conf")

    def demo_account(self, db: str) -> tuple[str, str] | None:
        """A duty-officer account for the console, when this checkout has `elev-collector users`."""
        user, password = "demo", secrets.token_urlsafe(9)
        try:
            done = subprocess.run(
                [str(BIN / "elev-collector"), "users", "add", user, "--role", "duty_officer", "--db", db],
                input=password + "\n",
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return (user, password) if done.returncode == 0 else None

    def run(self, seconds: float | None) -> int:
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        collector_url, device_urls, mosquitto_conf = self.broker()
        db = f"sqlite:///{self.workdir / 'collector.db'}"
        token_file = self.workdir / "api-token"
        token_file.write_text(self.token + "\n")
        token_file.chmod(0o600)
        account = self.demo_account(db)
        self.start("mosquitto", [mosquitto, "-c", mosquitto_conf])
        self.start(
            "collector",
            [str(BIN / "elev-collector"), "run", "--broker", collector_url, "--db", db]
            + ["--http", f"127.0.0.1:{self.http_port}", "--api-token-file", str(token_file)],
        )
        self.wait_healthy()
        # The sign-in comes first, so the reader can open the console before anything happens.
        print(f"demo: operator console  {self.api}/console/", flush=True)
        if account:
            print(f"demo:   sign in as {account[0]}, password {account[1]} (or with the API token)")
        print(f"demo:   API token  {self.token}")
        print(f"demo:   e.g.  curl -H 'Authorization: Bearer {self.token}' {self.api}/api/v1/alarms")
        print(f"demo: logs and data  {self.workdir}")
        sims = []
        for lift in LIFTS:
            scenario = self.workdir / f"{lift.device_id}.toml"
            scenario.write_text(lift.scenario)
            modbus, gpio, control = (f"127.0.0.1:{free_port()}" for _ in range(3))
            self.controls[lift.device_id] = control
            sims.append((lift, modbus, gpio, scenario))
        inject = BIN / "elev-sim"
        c = self.controls
        print("demo: play with it from another terminal (each line is one command):")
        print(f"  {inject} inject --control {c['lift-trapped']} trap_between_floors   # trap lift-trapped again")
        print(f"  {inject} inject --control {c['lift-door']} door_lock_lost   # break lift-door's door lock")
        print(f"  {inject} inject --control {c['lift-door']} door_open_too_long   # hold lift-door's door")
        print(f"  {inject} inject --control {c['lift-service']} alarm_button   # press lift-service's alarm button")
        print(f"  {inject} inject --help   # every fault")
        self.t0_wall = time.time()
        for lift, modbus, gpio, scenario in sims:
            self.start(
                f"sim-{lift.device_id}",
                [str(BIN / "elev-sim"), "run", "--modbus-tcp", modbus, "--gpio-serve", gpio]
                + ["--control", self.controls[lift.device_id], "--scenario", str(scenario)],
            )
            self.sim_logs.append(SimLog(lift.device_id, self.workdir / f"sim-{lift.device_id}.log"))
            self.start(
                f"agent-{lift.device_id}",
                [str(BIN / "elev-agent"), "run", "--device-id", lift.device_id, "--modbus-tcp", modbus]
                + ["--gpio-sim", gpio, "--broker", device_urls[lift.device_id], f"--floors={lift.floors()}"]
                + ["--data-dir", str(self.workdir / f"agent-{lift.device_id}")],
            )
        self.say("three elevators start (times below count from now)")
        for lift in LIFTS:
            print(f"          {lift.device_id:13s} {lift.story}")
        print(
            "demo: Ctrl-C stops everything" + (f"; stopping by itself after {seconds:.0f} s" if seconds else ""),
            flush=True,
        )
        return self.watch(seconds)

    def show_injections(self) -> None:
        for log in self.sim_logs:
            for doc in log.new_lines():
                at = doc.get("ts") if isinstance(doc.get("ts"), (int, float)) else None
                wall = float(at) if at is not None else None
                if "arming" in doc:
                    self.say(f"{log.device_id:13s} simulator armed {doc['arming']} (waits for its moment)", wall)
                elif "inject" in doc:
                    fault = str(doc["inject"])
                    duration = doc.get("duration_s")
                    if wall is not None and isinstance(duration, (int, float)):
                        self.fault_ends.append(wall + float(duration))
                    self.say(f"{log.device_id:13s} simulator INJECTS {fault}", wall)
                    if fault in AFTER_INJECT:
                        print(f"          {'':13s} -> {AFTER_INJECT[fault]}", flush=True)

    def show_alarms(self, seen: dict[object, object]) -> bool:
        """Alarms raised and cleared, at the time the agent detected them; True once the entrapment is seen."""
        try:
            alarms = self.get("/api/v1/alarms")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            self.say(f"demo: API not answering ({exc})")
            return False
        if isinstance(alarms, dict):
            alarms = alarms.get("alarms", [])
        entrapment = False
        for a in sorted(alarms if isinstance(alarms, list) else [], key=lambda a: str(a.get("raised_at"))):
            dev = a.get("device_id", "?")
            if dev == "lift-trapped" and a.get("type") == "entrapment":
                entrapment = True
            key = ("alarm", a.get("id"))
            state = (a.get("raised_at"), a.get("cleared_at"))
            before = seen.get(key)
            seen[key] = state
            if before == state:
                continue
            received = wall_s(a.get("received_at"))
            if before is None:
                late = f"  (at the collector {received - self.t0_wall:.1f} s)" if received else ""
                self.say(f"{dev:13s} alarm RAISED  {a.get('type')}{late}", wall_s(a.get("raised_at")))
            if a.get("cleared_at"):
                self.say(f"{dev:13s} alarm cleared {a.get('type')}", wall_s(a.get("cleared_at")))
        return entrapment

    def show_cases(self, seen: dict[object, object]) -> None:
        """Rescue cases the platform opened (an entrapment starts one by itself), their steps and escalations."""
        try:
            cases = self.get("/api/v1/rescue-cases")
        except (OSError, urllib.error.URLError, ValueError):
            return  # the platform is still starting: the next round shows it
        if isinstance(cases, dict):
            cases = cases.get("cases") or cases.get("items") or []
        for c in cases if isinstance(cases, list) else []:
            cid, dev = c.get("case_id"), c.get("device_id", "?")
            for step in c.get("steps") or []:
                key = ("step", cid, step.get("status"))
                if key in seen:
                    continue
                seen[key] = True
                what = "rescue case OPENED" if step.get("status") == "01" else "rescue case step"
                actor = f" by {step['actor']}" if step.get("actor") else ""
                self.say(
                    f"{dev:13s} {what} {cid}: {step.get('status')} {step.get('status_name', '')}{actor}",
                    wall_s(step.get("at")),
                )
            for esc in c.get("escalations") or []:
                key = ("escalation", cid, esc.get("kind"))
                if key in seen:
                    continue
                seen[key] = True
                self.say(
                    f"{dev:13s} rescue case {cid} ESCALATED: {esc.get('kind')} (rescue centre and company told)",
                    wall_s(esc.get("sent_at")),
                )

    def show_online(self, online: set[str], warned: list[bool]) -> None:
        """Each agent once when the collector first lists it online; one hint if one never comes."""
        if len(online) == len(LIFTS):
            return
        try:
            elevators = self.get("/api/v1/elevators")
        except (OSError, urllib.error.URLError, ValueError):
            return
        for e in elevators if isinstance(elevators, list) else []:
            dev = e.get("device_id")
            if e.get("online") and isinstance(dev, str) and dev not in online:
                online.add(dev)
                self.say(f"{dev:13s} online at the collector (its agent logged in and delivered)")
        missing = [lift.device_id for lift in LIFTS if lift.device_id not in online]
        if missing and not warned[0] and time.time() - self.t0_wall > 30:
            warned[0] = True
            logs = ", ".join(f"agent-{d}.log" for d in missing)
            self.say(f"demo: {', '.join(missing)} not online after 30 s: see {logs} in {self.workdir}")

    def watch(self, seconds: float | None) -> int:
        seen: dict[object, object] = {}
        online: set[str] = set()
        warned = [False]
        entrapment = told_over = False
        while seconds is None or time.time() - self.t0_wall < seconds:
            self.check_alive()
            self.show_online(online, warned)
            self.show_injections()
            entrapment = self.show_alarms(seen) or entrapment
            self.show_cases(seen)
            story_over = len(self.fault_ends) >= SCRIPTED_FAULTS and time.time() > max(self.fault_ends) + 10
            if not told_over and story_over:
                told_over = True
                self.say("demo: the scripted story is over; try the elev-sim inject lines above (Ctrl-C ends)")
            time.sleep(0.5)
        print(f"demo: done; entrapment alarm {'seen' if entrapment else 'NOT seen'} at the collector", flush=True)
        return 0 if entrapment else 1


def missing_parts() -> list[str]:
    """Subcommands the demo drives that this checkout does not have yet (the project is growing)."""
    import importlib.util

    mods = ("edge_agent.run_cmd", "collector.run_cmd", "collector.devices_cmd", "hw_sim.run_cmd")
    return [m for m in mods if importlib.util.find_spec(m) is None]


def main() -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # piped (| tee, CI) the story still arrives line by line
    missing = missing_parts()
    if missing:
        print(f"demo: not built yet: {', '.join(missing)}; nothing to run end to end", file=sys.stderr)
        return 1
    seconds = float(os.environ["DEMO_SECONDS"]) if os.environ.get("DEMO_SECONDS") else None
    base = Path(os.environ.get("DEMO_DIR", ROOT / "demo-run"))
    workdir = base / time.strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # run as root, Mosquitto drops to its own user and must reach its directory
    demo = Demo(workdir)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return demo.run(seconds)
    except KeyboardInterrupt:
        print("\ndemo: stopping")
        return 0
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        detail = (
            f" ({exc.stderr.strip()[-300:]})" if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else ""
        )
        print(f"demo: {exc}{detail}", file=sys.stderr)
        return 1
    finally:
        demo.stop_all()


if __name__ == "__main__":
    sys.exit(main())
