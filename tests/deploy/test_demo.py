"""`make demo` as a newcomer pipes it (`| tee`): the story arrives line by line, sign-in first, real times.

The whole demo runs (production broker configuration, collector, three simulators and agents)
with DEMO_SECONDS long enough for the trapped car: the simulator arms the trap at 3 s, hits the car
on its next trip with a passenger (~20 s later), the entrapment needs 20 s more, and the case
escalates when nobody responds within 45 s. Each line is stamped when it reaches the pipe; a
story held in a buffer until exit would arrive all at once.
Whole-system and two minutes: marked slow (`make soak`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.services import shared_tmp_dir

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 110  # the entrapment comes at ~50 s (more under load), its rescue case at once, the escalation 45 s later


def sign_in(base: str, user: str, password: str) -> int:
    body = json.dumps({"username": user, "password": password}).encode()
    req = urllib.request.Request(base + "/api/v1/login", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 60)
def test_demo_story_through_a_pipe() -> None:
    work = shared_tmp_dir("elev-demo-test-")  # run as root, the broker drops to `mosquitto`: it must reach it
    env = {**os.environ, "DEMO_SECONDS": str(SECONDS), "DEMO_DIR": str(work)}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[tuple[float, str]] = []
    login: int | None = None
    try:
        for line in proc.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))
            account = re.match(r"demo:   sign in as (\S+), password (\S+) ", lines[-1][1])
            if account:  # the printed sign-in works while the demo runs (the console's own login)
                login = sign_in(lines[0][1].split()[3].removesuffix("/console/"), *account.groups())
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(line for _, line in lines)
    assert rc == 0, text

    # The sign-in comes before anything happens.
    assert lines[0][1].startswith("demo: operator console  http://127.0.0.1:"), text
    assert re.search(r"^demo:   API token  \S+$", text, re.M), text
    assert login == 200, f"the printed demo account did not sign in: {login}"
    first_event = next(i for i, (_, line) in enumerate(lines) if re.match(r"\s*\d+\.\d s  ", line))
    assert all("console" not in line for _, line in lines[first_event:]), "sign-in printed after the story began"

    # The one-line commands to play with it.
    assert re.search(r"elev-sim inject --control 127\.0\.0\.1:\d+ trap_between_floors", text), text
    assert re.search(r"elev-sim inject --control 127\.0\.0\.1:\d+ door_lock_lost", text), text

    # The story at its real times: the trap when the simulator hits the car, the alarm 20 s after.
    def at(pattern: str) -> float:
        found = re.search(rf"^\s*(\d+\.\d) s  {pattern}", text, re.M)
        assert found, f"no line matching {pattern!r} in:\n{text}"
        return float(found.group(1))

    for lift in ("lift-trapped", "lift-door", "lift-service"):
        assert at(rf"{lift}\s+online at the collector") < 30.0
    assert "not online after 30 s" not in text
    trap = at(r"lift-trapped\s+simulator INJECTS trap_between_floors")
    entrapment = at(r"lift-trapped\s+alarm RAISED  entrapment")
    case = at(r"lift-trapped\s+rescue case OPENED RC-\d+: 01")
    assert trap > 3.0, "announced when the simulator acted, not at the scenario's 3 s"
    assert 19.0 <= entrapment - trap <= 30.0, (trap, entrapment)
    assert abs(case - entrapment) < 5.0, (entrapment, case)
    escalated = at(r"lift-trapped\s+rescue case RC-\d+ ESCALATED: no_response")
    assert 44.0 <= escalated - entrapment <= 55.0, (entrapment, escalated)  # nobody responded in 45 s
    assert at(r"lift-door\s+alarm RAISED  door_reopen_repeated") > at(r"lift-door\s+simulator INJECTS door_reopen")
    assert "demo: done; entrapment alarm seen at the collector" in text

    # Line by line, as it happens: the entrapment line reached the pipe about when it happened
    # (its stamp after the start line), not in one flush at exit.
    assert lines[-1][0] - lines[0][0] > SECONDS / 2, "the output arrived all at once"
    start_arrived, start = next((t, line) for t, line in lines if "three elevators start" in line)
    entrapment_arrived = next(t for t, line in lines if "alarm RAISED  entrapment" in line)
    late = (entrapment_arrived - start_arrived) - (entrapment - float(start.split()[0]))
    assert -0.5 < late < 5.0, f"the entrapment line arrived {late:.1f} s after it was detected"
