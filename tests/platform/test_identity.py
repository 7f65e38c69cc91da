"""Identity registry validation and CSV round trips; every error names its line and field."""

from __future__ import annotations

import csv

import pytest

from collector.platform.identity import (
    ALL_FIELDS,
    FIELDS,
    OPTIONAL,
    IdentityError,
    make,
    parse_csv,
    parse_csv_dated,
    to_csv,
)

HEADER = ",".join(FIELDS)
GOOD = [
    "lift-1,31103306022015060001,100001,330602,1 Jiefang Rd,Yuecheng Housing Office,Acme Lift",
    'lift-2,31103306812019110042,100002,330681,"2 Jiyang Rd, Zhuji",Zhuji Hospital,Best Maint',
]


def csv_of(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_round_trip() -> None:
    items = parse_csv(csv_of(*GOOD))
    assert [i.device_id for i in items] == ["lift-1", "lift-2"]
    assert items[0].district == "Yuecheng (越城区)"
    assert items[1].address == "2 Jiyang Rd, Zhuji"
    assert parse_csv(to_csv(items)) == items


def test_bom_and_column_order_and_blank_lines() -> None:
    cols = list(FIELDS)[::-1]
    row = dict(zip(FIELDS, GOOD[0].split(","), strict=True))
    text = "\ufeff" + ",".join(cols) + "\n\n" + ",".join(row[c] for c in cols) + "\n"
    (item,) = parse_csv(text)
    assert item.registration_code == "31103306022015060001"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (GOOD[0].replace("31103306022015060001", "3110330602201506000"), "line 2: field registration_code"),
        (GOOD[0].replace("31103306022015060001", "3110330602201506000X"), "must be exactly 20 digits"),
        (GOOD[0].replace("100001", "10001"), "line 2: field rescue_code"),
        (GOOD[0].replace("330602", "330600"), "names a city or province"),
        (GOOD[0].replace("330602", "990602"), "99 is no province"),
        (GOOD[0].replace("330602", "33060"), "line 2: field area_code"),
        (GOOD[0].replace("Acme Lift", " "), "line 2: field maintenance_company: must not be empty"),
        (GOOD[0].replace("lift-1", "lift 1"), "line 2: field device_id"),
        (GOOD[0] + ",extra", "line 2: 8 fields, the header has 7"),
    ],
)
def test_bad_fields_name_line_and_field(row: str, message: str) -> None:
    with pytest.raises(IdentityError) as info:
        parse_csv(csv_of(row))
    assert message in str(info.value)


def test_errors_on_later_lines_and_all_reported() -> None:
    bad = GOOD[1].replace("100002", "12")
    with pytest.raises(IdentityError) as info:
        parse_csv(csv_of(GOOD[0], GOOD[0].replace("lift-1", "lift-3").replace("100001", "x"), bad))
    problems = info.value.problems
    assert any(p.startswith("line 3: field rescue_code") for p in problems)
    assert any(p.startswith("line 4: field rescue_code") for p in problems)


def test_duplicate_codes_name_both_lines() -> None:
    dup = GOOD[1].replace("31103306812019110042", "31103306022015060001")
    with pytest.raises(IdentityError, match="line 3: field registration_code: .* already used at line 2"):
        parse_csv(csv_of(GOOD[0], dup))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("device_id,address\n", "line 1: missing column(s) registration_code"),
        (HEADER + ",colour\n", "line 1: unknown column(s) colour"),
    ],
)
def test_bad_header(text: str, message: str) -> None:
    with pytest.raises(IdentityError) as info:
        parse_csv(text)
    assert message in str(info.value)


def test_make_validates_single_records() -> None:
    values = dict(zip(FIELDS, GOOD[0].split(","), strict=True))
    assert make(values).area_code == "330602"
    values["rescue_code"] = "abc"
    with pytest.raises(IdentityError, match="lift-1: field rescue_code"):
        make(values)


# --- the full fields (issue 17 item 1) ------------------------------------------------------
def test_an_old_seven_column_file_still_imports_and_exports_with_every_field() -> None:
    items = parse_csv(csv_of(*GOOD))  # the release's header: exactly the seven required columns
    assert items[0].maintenance_phone == "" and items[0].next_inspection == ""
    text = to_csv(items)
    assert text.splitlines()[0].split(",") == list(ALL_FIELDS)
    assert parse_csv(text) == items


FULL = ",".join([*FIELDS, *OPTIONAL, "valid_from"])
FULL_ROW = GOOD[0] + (
    ",TS3133060220150001,30.0009,120.5795,0575-8512 0000,+86 575 8888 1234,2025-01-01,2027-12-31,"
    "日立 Hitachi,HGP,Monarch NICE3000,2015-06-01,2025-09-30,2026-09-30,2026-01-01T08:00:00+08:00"
)


def test_full_row_and_its_valid_from() -> None:
    ((item, when),) = parse_csv_dated(csv_of(FULL_ROW, header=FULL))
    assert (item.use_certificate_no, item.brand, item.controller) == (
        "TS3133060220150001",
        "日立 Hitachi",
        "Monarch NICE3000",
    )
    assert when == 1_767_225_600_000  # 2026-01-01T00:00Z: the offset is honoured
    assert to_csv([item]).splitlines()[1].endswith(",2015-06-01,2025-09-30,2026-09-30")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("latitude", "91", "line 2: field latitude: '91' must be between -90 and 90 degrees"),
        ("longitude", "east", "line 2: field longitude: 'east' must be a number of degrees"),
        ("maintenance_phone", "call me", "line 2: field maintenance_phone: 'call me' must be a phone number"),
        ("contract_end", "2024-12-31", "line 2: field contract_end: 2024-12-31 is before contract_start 2025-01-01"),
        ("next_inspection", "2026-02-30", "line 2: field next_inspection: '2026-02-30' is no calendar date"),
        ("installed_on", "1.6.2015", "line 2: field installed_on: '1.6.2015' must be a date YYYY-MM-DD"),
        ("valid_from", "soon", "line 2: field valid_from: 'soon' must be an ISO date or date-time"),
    ],
)
def test_optional_fields_are_validated_by_line_and_field(field: str, value: str, problem: str) -> None:
    names = FULL.split(",")
    cells = next(csv.reader([FULL_ROW]))
    cells[names.index(field)] = value
    row = ",".join(f'"{c}"' for c in cells)
    with pytest.raises(IdentityError) as exc:
        parse_csv(csv_of(row, header=FULL))
    assert exc.value.problems[0].startswith(problem)
