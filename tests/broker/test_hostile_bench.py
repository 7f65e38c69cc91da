"""bench/hostile_logins.py end to end, small: 20 hostile device logins, the real agent's alarms still arrive.

The real stack (broker from `broker-config`, logins from `devices add --broker-config`, `elev-collector
run`, `elev-sim run`, `elev-agent run`); on the old password/ACL files the hostile logins were granted
the collectors' share group and alarms arrived a minute late.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_hostile_logins_are_refused_and_alarms_arrive_within_2_s() -> None:
    r = subprocess.run(
        [sys.executable, "bench/hostile_logins.py", "--alarms", "6", "--hostile", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.stdout.strip(), r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["hostile_subscriptions"] == 20 * 8
    assert result["hostile_refused"] == result["hostile_subscriptions"], result["hostile_granted"]
    assert result["hostile_messages_received"] == 0
    assert result["alarms"] == 6 and result["p99_s"] <= 2.0, result
    assert r.returncode == 0, r.stderr[-2000:]
