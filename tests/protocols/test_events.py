"""The event catalog: unique codes, and the detector's event types exactly as the contract lists them."""

from __future__ import annotations

import re

import pytest

from protocols import events
from protocols.events import BY_NAME, BY_WIRE, CATALOG, DETECTION_TYPES, Action, Event, Severity, spec
from tests.conftest import SHARED

DETECTION_MD = SHARED / "contract" / "detection.md"


def test_names_and_wire_codes_are_unique_and_fit_one_byte() -> None:
    assert len({e.name for e in CATALOG}) == len(CATALOG)
    assert len({e.wire for e in CATALOG}) == len(CATALOG)
    assert all(0 < e.wire < 256 for e in CATALOG)
    assert {e.name: e for e in CATALOG} == BY_NAME
    assert {e.wire: e for e in CATALOG} == BY_WIRE


def test_standard_numbers_are_kept_below_100_and_project_codes_from_100() -> None:
    for e in CATALOG:
        if e.wire < 100:
            assert e.gbt_code is not None and int(e.gbt_code) == e.wire, e.name
        assert e.gbt_code is None or re.fullmatch(r"\d\d", e.gbt_code), e.name


def test_link_events_exist_for_later_use() -> None:
    assert spec("comms_lost").severity is Severity.FAULT
    assert spec("device_offline").severity is Severity.FAULT
    assert {"comms_lost", "device_offline"}.isdisjoint(DETECTION_TYPES)


def test_unknown_event_name() -> None:
    with pytest.raises(KeyError, match="unknown event type 'boom'"):
        spec("boom")


def _contract_table() -> list[tuple[str, str]]:
    rows = []
    for line in DETECTION_MD.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`([a-z_]+)`\s*\|\s*([^|]*?)\s*\|", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


@pytest.mark.skipif(not DETECTION_MD.exists(), reason="the shared contract is not next to this checkout")
def test_detection_types_match_the_contract_table_in_order_and_code() -> None:
    table = _contract_table()
    assert [name for name, _ in table] == list(DETECTION_TYPES)
    for name, code in table:
        assert spec(name).gbt_code == (None if code in ("—", "-", "") else code), name


def test_event_json_line_matches_the_replay_format() -> None:
    raise_ = Event(64000, "entrapment", Action.RAISE, floor=4)
    assert raise_.to_json_dict() == {"t_ms": 64000, "type": "entrapment", "action": "raise", "floor": 4}
    fault = Event(10, "controller_fault", Action.CLEAR, fault_code=4102)
    assert fault.to_json_dict() == {"t_ms": 10, "type": "controller_fault", "action": "clear", "fault_code": 4102}


def test_catalog_self_check_refuses_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    dup = (*CATALOG, events.EventSpec("again", CATALOG[0].wire, None, Severity.INFO, "dup"))
    monkeypatch.setattr(events, "CATALOG", dup)
    monkeypatch.setattr(events, "BY_WIRE", {e.wire: e for e in dup})
    monkeypatch.setattr(events, "BY_NAME", {e.name: e for e in dup})
    with pytest.raises(RuntimeError, match="duplicate"):
        events._check_catalog()
