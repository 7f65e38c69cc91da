"""The console with accounts, in a real browser: a duty officer signs in with a password and acts
(the step is recorded under the account); a maintenance company's account sees only its own
elevators; a regulator sees the case and cannot act (no buttons, and the server's 403 for a step
sent anyway) and reads the audit trail in the console; repeated wrong passwords lock the account, and the page says so.

Real parts: `elev-collector run` on SQLite with its platform functions, accounts made with
`elev-collector users add` (password on standard input), headless chromium. No simulator is
needed: two registered elevators of two companies and a case opened by hand through the API.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.test_console import (
    BIN,
    BROWSER_EDGE,
    TOKEN,
    Stack,
    http,
    launch_chromium,
    screenshots_dir,
)
from tests.support.services import free_port

OWN, OTHER = "lift-a1", "lift-b1"
COMPANY_A, COMPANY_B = "绍兴安达电梯维保有限公司", "越城恒通电梯工程有限公司"
REGISTRY = (
    "device_id,registration_code,rescue_code,area_code,address,using_unit,maintenance_company\n"
    f"{OWN},31103306022015060011,200011,330602,越城区胜利东路 8 号,越城区房管所,{COMPANY_A}\n"
    f"{OTHER},31103306022015060012,200012,330602,越城区中兴中路 21 号,越城区房管所,{COMPANY_B}\n"
)
PASSWORDS = {"officer-wang": "值班-口令-0001", "reg-li": "监管-口令-0002", "anda-zhang": "维保-口令-0003"}
MAX_FAILED = 3
# A step sent by hand from the regulator's page, with the session's cookie and CSRF token.
STEP_ANYWAY = """async (id) => {
  const headers = {"Content-Type": "application/json", "X-CSRF-Token": sessionStorage.getItem("console.csrf")};
  const r = await fetch("/api/v1/rescue-cases/" + id + "/actions",
    {method: "POST", headers, body: JSON.stringify({action: "arrive"})});
  return [r.status, (await r.json()).error];
}"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def start_collector(tmp_path: Path, stack: Stack) -> str:
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    (tmp_path / "token").write_text(TOKEN)
    conf = tmp_path / "collector.toml"
    # An explicit [collector] table: a file without one is read whole as the collector's, and
    # refuses [accounts] as an unknown key.
    conf.write_text(
        f"[collector]\n\n[accounts]\nmax_failed_logins = {MAX_FAILED}\nlockout_s = 600\n\n[platform]\npoll_s = 0.2\n"
    )
    cli = str(BIN / "elev-collector")
    for dev in (OWN, OTHER):
        subprocess.run([cli, "devices", "add", dev, "--db", db], check=True, capture_output=True)
    users = [("officer-wang", "duty_officer", None), ("reg-li", "regulator", None)]
    for name, role, company in users + [("anda-zhang", "company", COMPANY_A)]:
        args = [cli, "users", "add", name, "--role", role, "--db", db] + (["--company", company] if company else [])
        done = subprocess.run(args, input=PASSWORDS[name] + "\n", text=True, capture_output=True)
        assert done.returncode == 0, done.stderr
    port = free_port()
    stack.start(
        "collector",
        [cli, "run", "--broker", "mqtt://127.0.0.1:1", "--db", db, "--http", f"127.0.0.1:{port}"]
        + ["--api-token-file", str(tmp_path / "token"), "--config", str(conf)],
        port,
    )
    api = f"http://127.0.0.1:{port}"
    status, out = http(f"{api}/api/v1/registry.csv", method="PUT", body=REGISTRY.encode())
    assert status == 200, out
    return api


def sign_in(page: Any, api: str, name: str, password: str | None = None) -> None:
    page.goto(f"{api}/console/")
    page.fill("#username", name)
    page.fill("#password", password if password is not None else PASSWORDS[name])
    page.click("#login-form button[type=submit]")


@pytest.mark.timeout(180)
def test_roles_in_the_console(tmp_path: Path, stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    api = start_collector(tmp_path, stack)
    shots = screenshots_dir(tmp_path)
    status, case = http(f"{api}/api/v1/rescue-cases", method="POST", body={"device_id": OWN, "note": "96333"})
    assert status == 201, case
    case_id = case["case_id"]

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            # A duty officer: zh-CN console, the case, a step recorded under the account.
            officer = browser.new_context(viewport={"width": 1400, "height": 900})
            officer.add_init_script(BROWSER_EDGE)
            page = officer.new_page()
            sign_in(page, api, "officer-wang")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.locator("#who")).to_contain_text("officer-wang（值班员）")
            expect(page.locator("#actor-label")).to_be_hidden()  # the account is the actor
            expect(page.locator("#nav a[data-view='audit']")).to_be_hidden()  # admins and regulators only
            row = page.locator(f"#cases tr[data-case='{case_id}']")
            expect(row).to_have_attribute("data-status", "01", timeout=15_000)
            page.click(f"#cases button[data-case='{case_id}'][data-action='respond']")
            expect(row).to_have_attribute("data-status", "02")
            officer.close()

            # A regulator: sees the case, has no buttons; a step sent anyway is refused by the server.
            reg = browser.new_context(viewport={"width": 1400, "height": 900})
            page = reg.new_page()
            sign_in(page, api, "reg-li")
            expect(page.locator("#who")).to_contain_text("reg-li（监管）")
            expect(page.locator("#read-only")).to_be_visible()
            expect(page.locator(f"#cases tr[data-case='{case_id}']")).to_have_attribute("data-status", "02")
            expect(page.locator("#cases button[data-action]")).to_have_count(0)
            expect(page.locator("#banner button[data-action]")).to_have_count(0)
            refused = page.evaluate(STEP_ANYWAY, case_id)
            assert refused[0] == 403 and "regulator" in refused[1], refused
            page.screenshot(path=str(shots / "console-regulator.png"), full_page=True)
            # ...and reads the audit trail: the officer's step, with who and what changed.
            page.click("#nav a[data-view='audit']")
            step = page.locator("#audit tr[data-action='respond']")
            expect(step).to_have_count(1, timeout=10_000)
            expect(step).to_contain_text("officer-wang")
            expect(step).to_contain_text(OWN)
            page.fill("#audit-actor", "reg-li")
            page.click("#audit-refresh")
            expect(page.locator("#audit tr[data-action='respond']")).to_have_count(0)
            expect(page.locator("#audit tr[data-action='login']").first).to_contain_text("reg-li")
            page.fill("#audit-actor", "")
            page.click("#audit-refresh")
            expect(step).to_have_count(1)
            page.screenshot(path=str(shots / "console-audit.png"), full_page=True)
            reg.close()

            # A maintenance company: only its own elevator, in the list and on the case table.
            company = browser.new_context(viewport={"width": 1400, "height": 900})
            page = company.new_page()
            sign_in(page, api, "anda-zhang")
            expect(page.locator("#who")).to_contain_text("anda-zhang（维保单位）")
            page.goto(f"{api}/console/#/elevators")
            expect(page.locator(f"#elevators tr[data-device='{OWN}']")).to_be_visible(timeout=15_000)
            expect(page.locator("#elevators tbody tr")).to_have_count(1)
            expect(page.locator(f"#elevators tr[data-device='{OTHER}']")).to_have_count(0)
            company.close()

            # Wrong passwords: refused, then locked; then even the right password is refused.
            lock = browser.new_context(viewport={"width": 1000, "height": 700})
            page = lock.new_page()
            for _ in range(MAX_FAILED):
                sign_in(page, api, "officer-wang", "wrong-password")
                expect(page.locator("#sign-in-error")).to_have_text("用户名或密码错误")
            sign_in(page, api, "officer-wang", "wrong-password")
            expect(page.locator("#sign-in-error")).to_contain_text("账号已被锁定")
            sign_in(page, api, "officer-wang")
            expect(page.locator("#sign-in-error")).to_contain_text("账号已被锁定")
            expect(page.locator("#console")).to_be_hidden()
            page.screenshot(path=str(shots / "console-locked.png"))
            lock.close()
        finally:
            browser.close()

    status, body = http(f"{api}/api/v1/rescue-cases/{case_id}")
    assert status == 200 and [(s["status"], s["actor"]) for s in body["steps"]][1:] == [("02", "officer-wang")]
