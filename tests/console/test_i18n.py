"""The console's words: every event of the catalog has its duty-room name in Chinese and English,
with the catalog's GB/T code; the page is Chinese unless the officer picks English."""

from __future__ import annotations

import re
from importlib import resources

from protocols.events import CATALOG

I18N = resources.files("collector.http.console").joinpath("i18n.js").read_text(encoding="utf-8")
ENTRY = re.compile(r'^\s+(\w+):\s+\["([^"]+)",\s+"([^"]+)",\s+(?:"(\d+)"|null)\],', re.M)


def events() -> dict[str, tuple[str, str, str | None]]:
    start, end = I18N.index("const EVENTS"), I18N.index("const WORDS")
    return {m[1]: (m[2], m[3], m[4]) for m in ENTRY.finditer(I18N[start:end])}


def test_every_catalog_event_has_both_languages_and_its_code() -> None:
    table = events()
    assert set(table) == {e.name for e in CATALOG}, "i18n.js EVENTS must list exactly the catalog's events"
    for spec in CATALOG:
        zh, en, code = table[spec.name]
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{spec.name}: {zh!r} is not Chinese"
        assert en == spec.title, f"{spec.name}: English {en!r} differs from the catalog's {spec.title!r}"
        assert code == spec.gbt_code, f"{spec.name}: code {code!r}, catalog says {spec.gbt_code!r}"


def test_duty_room_words() -> None:
    table = events()
    for name, word in {
        "entrapment": "困人",
        "stop_outside_door_zone": "门区外停梯",
        "safety_circuit_open": "安全回路断路",
        "moving_with_door_open": "开门走梯",
        "overtravel_top": "冲顶",
        "overtravel_bottom": "蹲底",
    }.items():
        assert table[name][0] == word


def test_chinese_unless_english_is_chosen() -> None:
    assert 'return LANGS.includes(chosen) ? chosen : "zh-CN";' in I18N
    page = resources.files("collector.http.console").joinpath("index.html").read_text(encoding="utf-8")
    assert page.startswith('<!doctype html>\n<html lang="zh-CN">')
