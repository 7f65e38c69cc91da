"""Trend-watch advisories in the console, in a real browser (issue 18 item 2): the elevator's page
lists its active and recent advisories in their own calm style; an advisory is never in the
entrapment banner, never red, never a sound or a browser notification, and the company's webhook
(not the rescue centre's) is told of it.

Real parts: Mosquitto, `elev-collector run` on SQLite with its platform functions, a publisher that
speaks the agent's uplink (an agent would need weeks of runs to raise an advisory; the trend watch
itself is tested in tests/trend/), loopback webhook receivers, headless chromium.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocols.events import Action
from tests.collector.publisher import Publisher, event, status
from tests.console.test_console import (
    BIN,
    BROWSER_EDGE,
    KNOWS_WHO,
    TOKEN,
    Receiver,
    Stack,
    http,
    launch_chromium,
    screenshots_dir,
)
from tests.support.services import Broker, free_port, wait_for

DEVICE = "lift-wear"
COMPANY = "绍兴安达电梯维保有限公司"
REGISTRY = (
    "device_id,registration_code,rescue_code,area_code,address,using_unit,maintenance_company\n"
    f"{DEVICE},31103306022015060021,100021,330602,越城区人民中路 5 号,越城区房管所,{COMPANY}\n"
)
CONFIG = """[platform]
poll_s = 0.2

[platform.webhooks]
rescue_centre_url = "{centre}"
retry_base_s = 0.2
poll_s = 0.2

[platform.webhooks.company_urls]
"{company}" = "{company_url}"
"""
RED = ("rgb(179, 38, 30)", "rgb(253, 232, 230)")  # console.css --red, --red-bg: reserved for people trapped


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


async def publish(port: int) -> None:
    async with Publisher(port, DEVICE) as p:
        await p.send(
            [
                status(1, 10_000),
                event(2, 11_000, "trend_relevels", Action.RAISE, None),
                event(3, 12_000, "trend_relevels", Action.CLEAR, None),
                event(4, 13_000, "trend_door_opening", Action.RAISE, None),
                status(5, 14_000),
            ]
        )
        await p.resend_until_acked(timeout_s=30)


@pytest.mark.timeout(180)
def test_advisories_on_the_elevator_page_and_never_an_alert(tmp_path: Path, broker: Broker, stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    centre, company = Receiver(), Receiver()
    try:
        db = f"sqlite:///{tmp_path / 'collector.db'}"
        (tmp_path / "token").write_text(TOKEN)
        conf = tmp_path / "platform.toml"
        conf.write_text(CONFIG.format(centre=centre.url, company=COMPANY, company_url=company.url))
        cli = str(BIN / "elev-collector")
        subprocess.run([cli, "devices", "add", DEVICE, "--db", db], check=True, capture_output=True)
        port = free_port()
        stack.start(
            "collector",
            [cli, "run", "--broker", broker.url, "--db", db, "--http", f"127.0.0.1:{port}"]
            + ["--api-token-file", str(tmp_path / "token"), "--config", str(conf)],
            port,
        )
        api = f"http://127.0.0.1:{port}"
        code, out = http(f"{api}/api/v1/registry.csv", method="PUT", body=REGISTRY.encode())
        assert code == 200, out
        asyncio.run(publish(broker.port))

        # the company is told of the raise and the clear; the rescue centre of nothing, no case opens
        def company_told() -> list[str]:
            stack.check_alive()
            return [b["event"] for b in company.received]

        wait_for(lambda: len(company_told()) >= 3, timeout_s=20, what="the company's advisory webhooks")
        assert sorted(company_told()) == ["advisory.cleared", "advisory.raised", "advisory.raised"]
        assert centre.received == []
        assert http(f"{api}/api/v1/rescue-cases")[1] == []

        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
                context.add_init_script(BROWSER_EDGE)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{api}/console/")
                page.click("#to-token")
                page.fill("#token", TOKEN)
                page.click("#sign-in-form button[type=submit]")
                expect(page.locator("#status-line")).to_contain_text("实时推送", timeout=15_000)
                page.wait_for_function(KNOWS_WHO)

                # the overview's alarm list has the active advisory, in its own style, and no banner
                row = page.locator("#alarms tr[data-alarm]")
                expect(row).to_have_count(1, timeout=10_000)
                expect(row).to_have_class("advisory")
                expect(row).to_contain_text("开门变慢（趋势）")
                assert not page.locator("#banner").is_visible()

                page.goto(f"{api}/console/#/elevator/{DEVICE}")
                rows = page.locator("#elevator-advisories tbody tr")
                expect(rows).to_have_count(2, timeout=10_000)
                active = page.locator("#elevator-advisories tr.advisory.active")
                expect(active).to_have_attribute("data-type", "trend_door_opening")
                expect(active).to_contain_text("未恢复")
                cleared = page.locator("#elevator-advisories tr.advisory.cleared")
                expect(cleared).to_have_attribute("data-type", "trend_relevels")
                expect(cleared).to_contain_text("已恢复")
                expect(page.locator("#advisories-empty")).to_be_hidden()
                expect(page.locator("#timeline li.advisory[data-type='trend_door_opening']").first).to_be_visible()
                for cell in (active.locator("td").first, page.locator("#timeline li.advisory .ev-name").first):
                    colours = cell.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
                    assert not set(colours) & set(RED), f"an advisory is drawn in the alarm red: {colours}"
                page.screenshot(path=str(screenshots_dir(tmp_path) / "console-advisories.png"), full_page=True)

                page.wait_for_timeout(4_500)  # longer than one alert repeat (4 s): an absence needs a window
                assert page.evaluate("[window.__calls.tones, window.__calls.notify]") == [0, 0]
                assert not page.locator("#banner").is_visible()
                assert errors == [], errors
            finally:
                browser.close()
    finally:
        centre.close()
        company.close()
