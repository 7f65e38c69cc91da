"""The duty console in a real browser against a real stack.

Mosquitto (the `broker` fixture), `elev-collector run` on SQLite serving the API, the platform's
routes and the console on one port, `elev-sim run` with passengers trapped between floors, and
`elev-agent run` reading it; a loopback webhook receiver stands for the rescue centre. Headless
Debian chromium driven by Playwright. The browser's edge is stubbed in the page, nothing else:
`window.Notification` and `AudioContext` count their calls (a headless browser has no speaker and
no notification centre).

Screenshots go to a temporary directory, or to `$CONSOLE_SCREENSHOTS` (docs/img for docs/console.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
ADDRESS = "越城区解放北路 1 号 3 单元"
RESCUE_CODE = "100001"
COMPANY = "绍兴安达电梯维保有限公司"
REGISTRY = (
    "device_id,registration_code,rescue_code,area_code,address,using_unit,maintenance_company\n"
    f"{DEVICE},31103306022015060001,{RESCUE_CODE},330602,{ADDRESS},越城区房管所,{COMPANY}\n"
)
# The browser's edge: count notifications and tones instead of showing and playing them.
BROWSER_EDGE = """
window.__calls = { notify: 0, titles: [], tones: 0 };
class CountingNotification {
  constructor(title, options) { window.__calls.notify++; window.__calls.titles.push(title); }
  static requestPermission() { return Promise.resolve("granted"); }
}
CountingNotification.permission = "granted";
window.Notification = CountingNotification;
class CountingAudio {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createOscillator() {
    return { frequency: {}, connect() {}, start() { window.__calls.tones++; }, stop() {} };
  }
  createGain() { return { gain: {}, connect() {} }; }
}
window.AudioContext = CountingAudio;
new MutationObserver(() => {
  const b = document.getElementById("banner");
  if (b && !b.hidden && window.__bannerAt == null) window.__bannerAt = Date.now();
}).observe(document, { subtree: true, attributes: true, childList: true });
"""
KNOWS_WHO = "() => document.getElementById('who').textContent || !document.getElementById('actor-label').hidden"
TONES_PER_ALERT = 3  # console.js beep(): a three-tone call


def screenshots_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screens")
    d.mkdir(parents=True, exist_ok=True)
    return d


class Receiver:
    """The rescue centre's webhook endpoint on loopback: answers 200, counts what it got."""

    def __init__(self) -> None:
        received = self.received = []  # type: list[dict[str, Any]]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rescue"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
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
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    if data is not None and not isinstance(body, bytes):
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



PLATFORM_TOML = """[platform]
poll_s = 0.2
time_zone = "Asia/Shanghai"

[platform.rescue]
response_limit_s = 4.0
arrival_limit_s = 600.0

[platform.webhooks]
rescue_centre_url = "{url}"
retry_base_s = 0.2
poll_s = 0.2
"""


def start_stack(tmp_path: Path, broker: Broker, stack: Stack, receiver: Receiver) -> str:
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    (tmp_path / "platform.toml").write_text(PLATFORM_TOML.format(url=receiver.url))
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
    status, out = http(f"{api}/api/v1/registry.csv", method="PUT", body=REGISTRY.encode())
    assert status == 200, out
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
    return api


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def tones(page: Any) -> int:
    return int(page.evaluate("window.__calls.tones"))


@pytest.mark.timeout(240)
def test_duty_console_entrapment_alert_escalation_and_case(
    tmp_path: Path, broker: Broker, stack: Stack, receiver: Receiver
) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]' (never 'playwright install')")

    api = start_stack(tmp_path, broker, stack, receiver)
    shots = screenshots_dir(tmp_path)

    # The page itself needs no token; the data and the stream do.
    status, page_body = http(f"{api}/console/", token=None)
    assert status == 200 and b'<html lang="zh-CN">' in page_body
    assert http(f"{api}/api/v1/elevators", token=None)[0] == 401
    assert http(f"{api}/api/v1/stream", token=None)[0] == 401
    status, settings = http(f"{api}/console/settings.json", token=None)
    assert status == 200 and settings["time_zone"] == "Asia/Shanghai" and settings["response_limit_s"] == 4.0

    def entrapment_alarm() -> dict[str, Any] | None:
        stack.check_alive()
        status, alarms = http(f"{api}/api/v1/alarms?active=true&device_id={DEVICE}")
        assert status == 200, alarms
        return next((a for a in alarms if a["type"] == "entrapment"), None)

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            context.add_init_script(BROWSER_EDGE)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{api}/console/")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.locator("h1")).to_have_text("电梯应急处置值守台")
            expect(page.locator("#login-form")).to_be_visible()
            page.screenshot(path=str(shots / "console-sign-in.png"))
            page.click("#to-token")
            page.fill("#token", TOKEN)
            page.click("#sign-in-form button[type=submit]")
            expect(page.locator("#status-line")).to_contain_text("实时推送", timeout=15_000)
            # the page has asked who it is: an account (its name shown) or, on a server without
            # accounts, the name field (steps then carry the typed name)
            page.wait_for_function(KNOWS_WHO)
            if page.locator("#actor").is_visible():
                page.fill("#actor", "值班员王")
            page.goto(f"{api}/console/#/elevators")
            row = page.locator(f"#elevators tr[data-device='{DEVICE}']")
            expect(row).to_be_visible(timeout=30_000)
            expect(row).to_contain_text(ADDRESS)
            expect(row).to_contain_text("秒前")  # last seen, as a duty room says it
            assert not page.locator("#banner").is_visible(), "no one is trapped yet"
            page.fill("#search", RESCUE_CODE)  # hotline: the caller reads the code off the car's sign
            expect(page.locator("#elevators tbody tr")).to_have_count(1)
            page.fill("#search", "没有这个地址")
            expect(page.locator("#elevators tbody tr")).to_have_count(0)
            page.fill("#search", "")
            page.goto(f"{api}/console/#/")

            # The alarm reaches the API (20 s of a stopped, closed car between floors + the button)...
            alarm = wait_for(entrapment_alarm, timeout_s=90, interval_s=0.1, what="the entrapment alarm in the API")
            seen_api = time.monotonic()
            # ...and the console shows it by push: banner with address, 96333 code, company, timer.
            banner = page.locator("#banner")
            expect(banner).to_contain_text(f"困人：{ADDRESS}", timeout=2_000)
            delay_s = time.monotonic() - seen_api
            at_ms = page.evaluate("window.__bannerAt")
            received_ms = time.mktime(time.strptime(alarm["received_at"][:19], "%Y-%m-%dT%H:%M:%S")) * 1000
            received_ms += int(alarm["received_at"][20:23]) - time.timezone * 1000
            print(
                f"API-to-screen: banner {delay_s:.2f} s after the test saw the alarm in the API (0.1 s polls); "
                f"{(at_ms - received_ms) / 1000:.2f} s after the collector received it (alarm {alarm['id']})"
            )
            assert delay_s < 2, f"the console showed the entrapment {delay_s:.2f} s after the API had it"
            expect(banner).to_contain_text(f"96333 救援码 {RESCUE_CODE}")
            expect(banner).to_contain_text(COMPANY)
            timer = banner.locator(".timer").first
            first = timer.inner_text()
            expect(timer).not_to_have_text(first, timeout=3_000)  # the timer runs without a reload

            # Sound and notification on the new entrapment, repeating until someone responds.
            wait_for(lambda: page.evaluate("window.__calls.notify") >= 1, timeout_s=5, what="a browser notification")
            assert "困人报警" in page.evaluate("window.__calls.titles[0]")
            wait_for(lambda: tones(page) >= 2 * TONES_PER_ALERT, timeout_s=12, what="the alert tone, twice")

            # Acknowledge the alarm and assign it: the row says who and to whom (the API keeps it).
            alarm_row = page.locator(f"#alarms tr[data-alarm='{alarm['id']}']")
            expect(alarm_row).to_contain_text("报警")  # severity: people at risk
            alarm_row.locator("input.assign").fill("维保一组")
            alarm_row.locator("button[data-ack]").click()
            expect(alarm_row.locator(".assigned")).to_contain_text("指派：维保一组")
            expect(alarm_row.locator(".acked")).to_contain_text("确认")

            # The platform opens a case; nobody responds within 4 s: escalated, and the banner says who was told.
            case_row = page.locator("#cases tr[data-case]").first
            expect(case_row).to_have_attribute("data-status", "01", timeout=15_000)
            case_id = case_row.get_attribute("data-case")
            assert case_id is not None
            expect(banner).to_have_class("escalated", timeout=15_000)
            expect(banner).to_contain_text("已升级：超时未响应")
            expect(banner).to_contain_text("已通知：救援中心", timeout=15_000)
            assert any(b.get("event") == "rescue.escalation" for b in receiver.received)
            expect(banner.locator(".countdown.late").first).to_be_visible()  # the response deadline has passed
            page.screenshot(path=str(shots / "console-overview.png"), full_page=True)

            page.click(f"#cases button[data-case='{case_id}'][data-action='respond']")
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "02")
            after_respond = tones(page)
            page.wait_for_timeout(5_500)  # longer than one repeat (4 s): an absence needs a window
            assert tones(page) == after_respond, "the alert must stop once someone responded"
            page.click(f"#cases button[data-case='{case_id}'][data-action='arrive']")
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "04")

            # "False alarm" asks first; cancelling changes nothing.
            page.click(f"#cases button[data-case='{case_id}'][data-action='false_alarm']")
            expect(page.locator("#confirm")).to_be_visible()
            expect(page.locator("#confirm-text")).to_contain_text(case_id)
            page.click("#confirm-no")
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "04")

            # Closed while the passengers are still trapped: the banner says so and offers reopen.
            page.click(f"#cases button[data-case='{case_id}'][data-action='complete']")
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_count(0)
            expect(banner).to_contain_text(f"工单 {case_id} 已关闭（救援完成），但困人报警仍未解除")
            expect(banner.locator("button[data-new-case]")).to_be_visible()
            page.screenshot(path=str(shots / "console-closed-but-active.png"))
            banner.locator(f"button[data-action='reopen'][data-case='{case_id}']").click()
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "04")
            expect(page.locator("#action-error")).to_have_text("")

            # English on request, kept across a reload.
            page.click("#lang")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(banner).to_contain_text("PASSENGERS TRAPPED")
            page.reload()
            expect(page.locator("h1")).to_have_text("Elevator duty console")
            page.click("#lang")
            expect(page.locator("h1")).to_have_text("电梯应急处置值守台")

            # The elevator's own page: its 24 h chart (vendored uPlot) and its timeline in duty-room words.
            page.goto(f"{api}/console/#/elevator/{DEVICE}")
            expect(page.locator("#elevator-facts")).to_contain_text(RESCUE_CODE)
            expect(page.locator("#chart-24h .uplot canvas")).to_have_count(1, timeout=10_000)
            expect(page.locator("#timeline li[data-type='entrapment']").first).to_contain_text("困人（11）")
            expect(page.locator(f"#elevator-cases tr[data-case='{case_id}']")).to_be_visible()
            version = page.locator("#registry-history tr.current[data-version='1']")  # docs/registry.md
            expect(version).to_contain_text(COMPANY)
            expect(version).to_contain_text("越城区房管所")
            page.click("#live-view")  # the agent is asked for full-rate status; the page follows the car
            expect(page.locator("#live-state")).to_contain_text("实时查看中，剩余 1:5")
            page.screenshot(path=str(shots / "console-elevator.png"), full_page=True)

            page.goto(f"{api}/console/#/elevators")
            expect(page.locator(f"#elevators tr.trapped[data-device='{DEVICE}']")).to_be_visible()
            page.screenshot(path=str(shots / "console-elevators.png"), full_page=True)
            page.goto(f"{api}/console/#/reports")
            expect(page.locator("#statistics tbody tr").first).to_be_visible(timeout=10_000)
            page.screenshot(path=str(shots / "console-reports.png"), full_page=True)

            # Phone width: nothing wider than the screen but the tables' own scroll boxes.
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{api}/console/#/")
            expect(banner).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(shots / "console-phone.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()

    status, case = http(f"{api}/api/v1/rescue-cases/{case_id}")
    assert status == 200, case
    # With accounts the step's actor is the credential's name, whatever the page sends; without
    # them (no /api/v1/session), the name typed at the top.
    status, me = http(f"{api}/api/v1/session")
    officer = me["username"] if status == 200 else "值班员王"
    assert [(s["status"], s["actor"]) for s in case["steps"]] == [
        ("01", "system"),
        ("02", officer),
        ("04", officer),
        ("00", officer),
        ("04", officer),
    ]
    assert case["closed"] is False and [e["kind"] for e in case["escalations"]] == ["no_response"]
    status, alarms = http(f"{api}/api/v1/alarms?device_id={DEVICE}")
    acked = next(a for a in alarms if a["type"] == "entrapment")
    assert (acked["acknowledged_by"], acked["assigned_to"]) == (officer, "维保一组")
