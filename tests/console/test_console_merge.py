"""Merging two open cases of one car from the console, in a real browser (issue 15, hotline
intake: one car, one case, one crew): a car with two open cases (the second left by a collector
from before the one-car rule) shows "合并到 …" on each; the duty officer merges, confirms, and one
case is left, the other closed as 06 merged. A regulator is not offered the button.

Real parts as in test_console_accounts: `elev-collector run` on SQLite, accounts from `users add`,
headless chromium."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.test_console import BROWSER_EDGE, Stack, http, launch_chromium
from tests.console.test_console_accounts import OWN, sign_in, start_collector

OLD = "RC-OLD-0001"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def _legacy_open_case(db: Path, device_id: str, at_ms: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO rescue_cases (case_id, device_id, alarm_id, floor, status, occurred_ms, updated_ms) "
            "VALUES (?, ?, NULL, 6, '01', ?, ?)",
            (OLD, device_id, at_ms, at_ms),
        )
        conn.execute(
            "INSERT INTO rescue_steps (case_id, n, status, at_ms, actor, note) VALUES (?, 0, '01', ?, 'system', ?)",
            (OLD, at_ms, "entrapment"),
        )


@pytest.mark.timeout(180)
def test_the_duty_officer_merges_two_open_cases_of_one_car(tmp_path: Path, stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    api = start_collector(tmp_path, stack)
    status, case = http(f"{api}/api/v1/rescue-cases", method="POST", body={"device_id": OWN, "note": "96333"})
    assert status == 201, case
    kept = case["case_id"]
    occurred = int(case["steps"][0]["at_ms"])
    _legacy_open_case(tmp_path / "collector.db", OWN, occurred - 60_000)

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            regulator = browser.new_context(viewport={"width": 1400, "height": 900})
            regulator.add_init_script(BROWSER_EDGE)
            page = regulator.new_page()
            sign_in(page, api, "reg-li")
            expect(page.locator(f"#cases tr[data-case='{OLD}']")).to_be_visible(timeout=15_000)
            expect(page.locator("#cases button[data-merge]")).to_have_count(0)
            regulator.close()

            officer = browser.new_context(viewport={"width": 1400, "height": 900})
            officer.add_init_script(BROWSER_EDGE)
            page = officer.new_page()
            sign_in(page, api, "officer-wang")
            button = page.locator(f"#cases button[data-merge='{OLD}'][data-into='{kept}']")
            expect(button).to_have_text(f"合并到 {kept}", timeout=15_000)
            expect(page.locator(f"#cases button[data-merge='{kept}'][data-into='{OLD}']")).to_be_visible()
            button.click()
            expect(page.locator("#confirm-text")).to_contain_text(f"将工单 {OLD} 合并到同一部电梯的工单 {kept}")
            expect(page.locator("#confirm-yes")).to_have_text("确认合并")
            page.click("#confirm-yes")
            expect(page.locator(f"#cases tr[data-case='{OLD}']")).to_have_count(0, timeout=10_000)
            expect(page.locator(f"#cases tr[data-case='{kept}']")).to_be_visible()
            expect(page.locator("#cases button[data-merge]")).to_have_count(0)
        finally:
            browser.close()

    status, gone = http(f"{api}/api/v1/rescue-cases/{OLD}")
    assert (status, gone["status"], gone["steps"][-1]["note"]) == (200, "06", f"merged into {kept}")
    status, survivor = http(f"{api}/api/v1/rescue-cases/{kept}")
    assert survivor["occurred_at"] == survivor["steps"][0]["at"]
    assert survivor["steps"][0]["note"] == f"[{OLD}] entrapment"
    status, trail = http(f"{api}/api/v1/audit?kind=rescue_case&actor=officer-wang")
    assert [(e["action"], e["target"]) for e in trail] == [("merge", OLD)]
