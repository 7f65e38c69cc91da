"""The elevator identity registry: how a supervisor names an elevator, validated, and CSV in/out.

Sans-IO. A device id is the gateway's name on the wire; a supervisor knows the elevator by:

- `registration_code`: the 20-digit code of its registration with the special-equipment
  authority (printed on the registration certificate and the car's sign);
- `rescue_code`: the 6-digit 96333 emergency code on the sign in the car, what a trapped passenger
  reads out on the phone;
- `area_code`: the GB/T 2260 administrative code of its district (county level), e.g. in
  Shaoxing 330602 Yuecheng, 330603 Keqiao, 330604 Shangyu, 330624 Xinchang, 330681 Zhuji,
  330683 Shengzhou;
- `address`, `using_unit` (the owner responsible for its safe use) and `maintenance_company`.

Those seven are required. The rest (`OPTIONAL`) may be empty, so the seven-column files of the
release before them still import: `use_certificate_no` (使用登记证编号), `latitude`/`longitude`
(WGS-84 degrees), the using unit's and the maintenance company's phones, the maintenance contract's
start and end, `brand`, `model`, `controller`, `installed_on`, and the last and next periodic
inspection (定期检验, TSG T7001) dates. Dates are ISO `YYYY-MM-DD`.

CSV: UTF-8, a header row naming the required columns and any optional ones in any order (a BOM
is accepted, as Excel writes one); an optional `valid_from` column (ISO date or date-time, UTC)
gives the day a row's change takes effect (see docs/registry.md). Every error names the CSV line
and the field.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

from collector.errors import CollectorError

# County-level districts this deployment knows by name; other valid codes are accepted unnamed.
DISTRICTS: dict[str, str] = {
    "330602": "Yuecheng (越城区)",
    "330603": "Keqiao (柯桥区)",
    "330604": "Shangyu (上虞区)",
    "330624": "Xinchang (新昌县)",
    "330681": "Zhuji (诸暨市)",
    "330683": "Shengzhou (嵊州市)",
}
CITIES: dict[str, str] = {"3306": "Shaoxing (绍兴市)"}

# First two digits of GB/T 2260 codes: the provinces, autonomous regions and municipalities.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)

_DIGITS = re.compile(r"[0-9]+")


class IdentityError(CollectorError):
    """Invalid registry data; the message names the line and field (or the elevator)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(shown + more)


@dataclass(frozen=True, slots=True)
class ElevatorIdentity:
    device_id: str
    registration_code: str
    rescue_code: str
    area_code: str
    address: str
    using_unit: str
    maintenance_company: str
    use_certificate_no: str = ""
    latitude: str = ""
    longitude: str = ""
    using_unit_phone: str = ""
    maintenance_phone: str = ""
    contract_start: str = ""
    contract_end: str = ""
    brand: str = ""
    model: str = ""
    controller: str = ""
    installed_on: str = ""
    last_inspection: str = ""
    next_inspection: str = ""

    @property
    def district(self) -> str | None:
        return DISTRICTS.get(self.area_code)

    def as_dict(self) -> dict[str, str | None]:
        d: dict[str, str | None] = {f: getattr(self, f) for f in ALL_FIELDS}
        d["district"] = self.district
        return d


ALL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ElevatorIdentity))
# The required seven, the columns of the release before the optional ones (and of its CSV files).
FIELDS: tuple[str, ...] = ALL_FIELDS[:7]
REQUIRED = FIELDS
OPTIONAL: tuple[str, ...] = ALL_FIELDS[7:]
VALID_FROM = "valid_from"  # a CSV column, not a field: when the row's change takes effect
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{2,23}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATES = ("contract_start", "contract_end", "installed_on", "last_inspection", "next_inspection")


def _date_problem(value: str) -> str | None:
    if not _DATE.fullmatch(value):
        return f"{value!r} must be a date YYYY-MM-DD"
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is no calendar date"
    return None


def parse_valid_from(value: str) -> int:
    """Unix ms of an ISO date (midnight UTC) or date-time (UTC when it names no offset)."""
    try:
        if _DATE.fullmatch(value):
            day = datetime.date.fromisoformat(value)
            at = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
        else:
            at = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if at.tzinfo is None:
                at = at.replace(tzinfo=datetime.UTC)
    except ValueError:
        raise ValueError(f"{value!r} must be an ISO date or date-time, e.g. 2026-07-01") from None
    return int(at.timestamp() * 1000)


def _optional_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, lo, hi in (("latitude", -90.0, 90.0), ("longitude", -180.0, 180.0)):
        v = values.get(name, "")
        if not v:
            continue
        try:
            x = float(v)
        except ValueError:
            out.append((name, f"{v!r} must be a number of degrees"))
            continue
        if not (lo <= x <= hi) or x != x:
            out.append((name, f"{v!r} must be between {lo:g} and {hi:g} degrees"))
    if bool(values.get("latitude")) != bool(values.get("longitude")):
        out.append(
            ("longitude" if values.get("latitude") else "latitude", "give both latitude and longitude, or neither")
        )
    for name in ("using_unit_phone", "maintenance_phone"):
        v = values.get(name, "")
        if v and not _PHONE.fullmatch(v):
            out.append((name, f"{v!r} must be a phone number: digits, spaces or '-', optionally a leading '+'"))
    good_dates = {}
    for name in _DATES:
        v = values.get(name, "")
        if v:
            problem = _date_problem(v)
            if problem:
                out.append((name, problem))
            else:
                good_dates[name] = v
    for first, then in (("contract_start", "contract_end"), ("last_inspection", "next_inspection")):
        if first in good_dates and then in good_dates and good_dates[then] < good_dates[first]:
            out.append((then, f"{good_dates[then]} is before {first} {good_dates[first]}"))
    for name in ("use_certificate_no", "brand", "model", "controller"):
        if len(values.get(name, "")) > 100:
            out.append((name, "must be at most 100 characters"))
    return out


_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def field_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    """(field, problem) for every invalid field of one elevator."""
    out: list[tuple[str, str]] = []
    dev = values.get("device_id", "")
    if not _DEVICE_ID.fullmatch(dev):
        out.append(("device_id", f"{dev!r} must be 1-64 letters, digits, '_', '.' or '-'"))
    reg = values.get("registration_code", "")
    if not (len(reg) == 20 and _DIGITS.fullmatch(reg)):
        out.append(("registration_code", f"{reg!r} must be exactly 20 digits"))
    rescue = values.get("rescue_code", "")
    if not (len(rescue) == 6 and _DIGITS.fullmatch(rescue)):
        out.append(("rescue_code", f"{rescue!r} must be exactly 6 digits (the 96333 code on the car's sign)"))
    area = values.get("area_code", "")
    if not (len(area) == 6 and _DIGITS.fullmatch(area)):
        out.append(("area_code", f"{area!r} must be a 6-digit GB/T 2260 code, e.g. 330602"))
    elif area[:2] not in PROVINCES:
        out.append(("area_code", f"{area!r} is not a GB/T 2260 code: {area[:2]} is no province"))
    elif area[4:] == "00":
        out.append(("area_code", f"{area!r} names a city or province; give the district (county-level) code"))
    for name in ("address", "using_unit", "maintenance_company"):
        if not values.get(name, "").strip():
            out.append((name, "must not be empty"))
    return out + _optional_problems(values)


def make(values: dict[str, str]) -> ElevatorIdentity:
    """One validated identity from field values (stripped); IdentityError names each bad field."""
    clean = {k: (values.get(k) or "").strip() for k in ALL_FIELDS}
    problems = field_problems(clean)
    if problems:
        who = clean["device_id"] or "elevator"
        raise IdentityError([f"{who}: field {f}: {p}" for f, p in problems])
    return ElevatorIdentity(**clean)


def check_unique(items: list[tuple[str, ElevatorIdentity]]) -> list[str]:
    """Problems with codes used twice; `items` pairs each identity with where it came from."""
    problems = []
    for name in ("device_id", "registration_code", "rescue_code"):
        first: dict[str, str] = {}
        for where, ident in items:
            value = getattr(ident, name)
            if value in first:
                problems.append(f"{where}: field {name}: {value!r} already used at {first[value]}")
            else:
                first[value] = where
    return problems


def parse_csv(text: str) -> list[ElevatorIdentity]:
    """All elevators of a CSV file, or IdentityError listing every problem with its line."""
    return [ident for ident, _ in parse_csv_dated(text)]


def parse_csv_dated(text: str) -> list[tuple[ElevatorIdentity, int | None]]:
    """Each elevator with its row's `valid_from` (Unix ms; None when the file gives none)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise IdentityError(["line 1: the file is empty (expected a header row)"]) from None
    except csv.Error as exc:
        raise IdentityError([f"line 1: {exc}"]) from None
    names = [h.strip() for h in header]
    problems = []
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    unknown = [h for h in names if h not in ALL_FIELDS and h != VALID_FROM]
    if unknown:
        problems.append(
            f"line 1: unknown column(s) {', '.join(unknown)} (expected {', '.join(FIELDS)}, "
            f"optionally {', '.join(OPTIONAL)}, {VALID_FROM})"
        )
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        problems.append(f"line 1: column(s) given twice: {', '.join(dupes)}")
    if problems:
        raise IdentityError(problems)
    got: list[tuple[str, ElevatorIdentity]] = []
    dates: list[int | None] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                problems.append(f"line {line}: {len(row)} fields, the header has {len(names)}")
                continue
            values = {h: cell.strip() for h, cell in zip(names, row, strict=True)}
            bad = field_problems(values)
            when: int | None = None
            if values.get(VALID_FROM):
                try:
                    when = parse_valid_from(values[VALID_FROM])
                except ValueError as exc:
                    bad.append((VALID_FROM, str(exc)))
            if bad:
                problems += [f"line {line}: field {f}: {p}" for f, p in bad]
                continue
            got.append((f"line {line}", ElevatorIdentity(**{k: values.get(k, "") for k in ALL_FIELDS})))
            dates.append(when)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    problems += check_unique(got)
    if problems:
        raise IdentityError(problems)
    return [(ident, when) for (_, ident), when in zip(got, dates, strict=True)]


def to_csv(identities: Iterable[ElevatorIdentity]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ALL_FIELDS)
    for ident in sorted(identities, key=lambda i: i.device_id):
        w.writerow([getattr(ident, f) for f in ALL_FIELDS])
    return buf.getvalue()
