"""The collector's record: one interface, two engines (SQLite embedded, PostgreSQL for districts).

`open_store(url)` picks the engine from the URL. Both engines share the schema and the ingest
transaction in `base.py`; they differ only in how they connect and how they insert a batch.
"""

from __future__ import annotations

from collector.errors import StoreError
from collector.store.base import Alarm, AlarmChange, CommitResult, DeviceInfo, Store

__all__ = ["Alarm", "AlarmChange", "CommitResult", "DeviceInfo", "Store", "open_store"]


def open_store(url: str) -> Store:
    """A store for `sqlite:///PATH` or `postgresql://…` (not yet connected: use `async with`)."""
    if url.startswith("sqlite:///"):
        from collector.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from collector.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")
