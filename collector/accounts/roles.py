"""The roles, and what each may do. Pure data: the HTTP route table names these sets per route.

- `duty_officer`: the emergency centre; sees everything of the district, acts on rescue cases.
- `regulator`: market supervision; reads everything (all areas) and the audit trail, acts on nothing.
- `company`: one maintenance company (`users add --company NAME`); sees and acts on the elevators
  whose registry entry names that company, nothing else.
- `admin`: registry, users, tokens, settings, and everything the others may do.
"""

from __future__ import annotations

ADMIN = "admin"
DUTY_OFFICER = "duty_officer"
REGULATOR = "regulator"
COMPANY = "company"
ROLES = (DUTY_OFFICER, REGULATOR, COMPANY, ADMIN)

# The usual sets a route admits.
ANYONE = frozenset(ROLES)  # every signed-in account or token (a company's lists are filtered)
DISTRICT = frozenset({DUTY_OFFICER, REGULATOR, ADMIN})  # district-wide figures: not for one company
ACT = frozenset({DUTY_OFFICER, COMPANY, ADMIN})  # change a rescue case (a company: its own elevators)
AUDIT = frozenset({REGULATOR, ADMIN})
ADMINS = frozenset({ADMIN})


def check_role(role: str, company: str | None) -> None:
    """ValueError naming the problem for a role/company pair an account cannot have."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role == COMPANY and not company:
        raise ValueError("role company needs --company NAME (the maintenance company as the registry names it)")
    if role != COMPANY and company:
        raise ValueError(f"--company is only for role company, not {role}")
