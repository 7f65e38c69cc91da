"""Password hashing with argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): a gateway-
class collector on a shared box signs people in without 64 MiB per attempt (argon2-cffi's default).

Hashing is deliberately slow (tens of ms), so callers on the event loop run these through
`asyncio.to_thread`. An unknown user is checked against a fixed dummy hash, so the answer takes the
same time whether or not the name exists.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a bound keeps a hostile body from costing more
_DUMMY = _HASHER.hash("not-a-password-of-anyone")


def check_new(password: str) -> str:
    """The password to store, or ValueError saying what is wrong (never echoing it)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password is shorter than {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"the password is longer than {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_new(password))


def verify(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash (unknown or disabled user) False in the same time."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
