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

CSV: UTF-8, a header row naming the columns of `FIELDS` in any order (a BOM is accepted, as Excel
writes one); every error names the CSV line and the field.
"""

from __future__ import annotations

import csv
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

    @property
    def district(self) -> str | None:
        return DISTRICTS.get(self.area_code)

    def as_dict(self) -> dict[str, str | None]:
        d: dict[str, str | None] = {f: getattr(self, f) for f in FIELDS}
        d["district"] = self.district
        return d


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ElevatorIdentity))
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
    return out


def make(values: dict[str, str]) -> ElevatorIdentity:
    """One validated identity from field values (stripped); IdentityError names each bad field."""
    clean = {k: (values.get(k) or "").strip() for k in FIELDS}
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
    missing = [f for f in FIELDS if f not in names]
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    unknown = [h for h in names if h not in FIELDS]
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)} (expected {', '.join(FIELDS)})")
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        problems.append(f"line 1: column(s) given twice: {', '.join(dupes)}")
    if problems:
        raise IdentityError(problems)
    got: list[tuple[str, ElevatorIdentity]] = []
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
            if bad:
                problems += [f"line {line}: field {f}: {p}" for f, p in bad]
                continue
            got.append((f"line {line}", ElevatorIdentity(**{k: values[k] for k in FIELDS})))
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    problems += check_unique(got)
    if problems:
        raise IdentityError(problems)
    return [ident for _, ident in got]


def to_csv(identities: Iterable[ElevatorIdentity]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for ident in sorted(identities, key=lambda i: i.device_id):
        w.writerow([getattr(ident, f) for f in FIELDS])
    return buf.getvalue()
