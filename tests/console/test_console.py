"""The operator console in a real browser against a real stack.

Mosquitto (the `broker` fixture), `elev-collector run` on SQLite serving the API, the platform's
routes (rescue cases, maintenance, statistics) and the console on one port, `elev-sim run` with
passengers trapped between floors,
and `elev-agent run` reading it. Headless Debian chromium driven by Playwright: the page loads,
shows the trapped elevator within seconds of the entrapment alarm reaching /api/v1/alarms, and a
rescue case is moved to "on site" by clicking.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import Broker, free_port, port_open, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "console-test-token-0123"
DEVICE = "lift-trap"
BIN = Path(sys.executable).parent
SCREENSHOT = Path("/tmp/console-screenshot.png")
SCENARIO = """[elevator]
lowest_floor = 1
highest_floor = 10
rated_speed_mm_s = 1750
floor_height_mm = 3000

[[inject]]
at_s = 3
fault = "trap_between_floors"
duration_s = 600
"""


def http(url: str, token: str | None = TOKEN, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            raw = r.read()
            return r.status, json.loads(raw) if r.headers.get_content_type() == "application/json" else raw
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Stack:
    """The processes of one test; every one is stopped (and waited for) at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], port: int | None = None) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        self.procs.append((name, subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)))
        if port is not None:
            wait_for(lambda: port_open(port) or self.check_alive(), timeout_s=30, what=f"{name} to listen on {port}")

    def check_alive(self) -> bool:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise AssertionError(f"{name} exited with status {proc.returncode}:\n{tail}")
        return False

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def launch_chromium(playwright: Any) -> Any:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the console test needs Debian's chromium "
            "(apt-get install chromium, or make bootstrap); it must not be skipped"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@pytest.mark.timeout(180)
def test_console_shows_entrapment_and_moves_case_on_site(tmp_path: Path, broker: Broker, stack: Stack) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]' (never 'playwright install')")

    db = f"sqlite:///{tmp_path / 'collector.db'}"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    (tmp_path / "platform.toml").write_text("[platform]\npoll_s = 0.2\n")
    api_port, modbus_port, gpio_port = free_port(), free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    collector_cli = str(BIN / "elev-collector")
    subprocess.run([collector_cli, "devices", "add", DEVICE, "--db", db], check=True, capture_output=True)
    stack.start(
        "collector",
        [collector_cli, "run", "--broker", broker.url, "--db", db, "--http", f"127.0.0.1:{api_port}"]
        + ["--api-token-file", str(token_file), "--config", str(tmp_path / "platform.toml")],
        api_port,
    )
    stack.start(
        "sim",
        [str(BIN / "elev-sim"), "run", "--modbus-tcp", f"127.0.0.1:{modbus_port}"]
        + ["--gpio-serve", f"127.0.0.1:{gpio_port}", "--scenario", str(tmp_path / "scenario.toml")],
        modbus_port,
    )
    stack.start(
        "agent",
        [str(BIN / "elev-agent"), "run", "--device-id", DEVICE, "--modbus-tcp", f"127.0.0.1:{modbus_port}"]
        + ["--floors=1..10"]  # SCENARIO's building
        + ["--gpio-sim", f"127.0.0.1:{gpio_port}", "--broker", broker.url, "--data-dir", str(tmp_path / "agent")],
    )

    # The page itself needs no token; the data does.
    status, page_body = http(f"{api}/console/", token=None)
    assert status == 200 and b"Elevator duty console" in page_body
    assert http(f"{api}/api/v1/elevators", token=None)[0] == 401

    def entrapment_alarm() -> dict[str, Any] | None:
        stack.check_alive()
        status, alarms = http(f"{api}/api/v1/alarms?active=true&device_id={DEVICE}")
        assert status == 200, alarms
        return next((a for a in alarms if a["type"] == "entrapment"), None)

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{api}/console/")  # one service: the platform's routes are on the same port
            expect(page.locator("#sign-in")).to_be_visible()
            page.fill("#token", TOKEN)
            page.fill("#actor", "officer-test")
            page.click("#sign-in button[type=submit]")
            row = page.locator(f"#elevators tr[data-device='{DEVICE}']")
            expect(row).to_be_visible(timeout=30_000)
            expect(page.locator("#status-line")).to_contain_text("live", timeout=10_000)
            assert not page.locator("#banner").is_visible(), "no one is trapped yet"

            # The alarm reaches the API (20 s of a stopped, closed car between floors + the button)...
            alarm = wait_for(entrapment_alarm, timeout_s=75, interval_s=0.2, what="the entrapment alarm in the API")
            seen_api = time.monotonic()
            # ...and the console shows it within seconds: banner with a running timer, red row.
            banner = page.locator("#banner")
            expect(banner).to_contain_text(f"PASSENGERS TRAPPED: {DEVICE}", timeout=5_000)
            expect(page.locator(f"#elevators tr.trapped[data-device='{DEVICE}']")).to_be_visible(timeout=5_000)
            delay_s = time.monotonic() - seen_api
            print(f"console showed the entrapment {delay_s:.2f} s after the API (alarm {alarm['id']})")
            assert delay_s < 5
            timer = banner.locator(".timer").first
            first = timer.inner_text()
            expect(timer).not_to_have_text(first, timeout=3_000)  # the timer runs without a reload

            # The platform opens a case; respond, then on site, by clicking.
            case_row = page.locator("#cases tr[data-case]").first
            expect(case_row).to_have_attribute("data-status", "01", timeout=15_000)
            case_id = case_row.get_attribute("data-case")
            assert case_id is not None
            page.click(f"#cases button[data-case='{case_id}'][data-action='respond']")
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "02")
            page.click(f"#cases button[data-case='{case_id}'][data-action='arrive']")
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "04")
            expect(page.locator("#action-error")).to_have_text("")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    status, case = http(f"{api}/api/v1/rescue-cases/{case_id}")
    assert status == 200, case
    assert case["status"] == "04"
    assert [(s["status"], s["actor"]) for s in case["steps"]] == [
        ("01", "system"),
        ("02", "officer-test"),
        ("04", "officer-test"),
    ]
    # Still trapped until someone closes the case: the banner is about people, not the alarm.
    assert case["closed"] is False
