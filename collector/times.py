"""The API's time format: integer Unix ms in the store, ISO 8601 UTC with milliseconds outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(ms: int | None) -> str | None:
    """Unix ms -> '2026-11-29T15:21:11.123Z', the API's time format."""
    if ms is None:
        return None
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str, what: str) -> int:
    """ISO 8601 -> Unix ms (no zone = UTC); ValueError names `what`."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-11-29T15:00:00.000Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)
