"""Fixtures for the trend tests: the collector's database fixtures on both engines."""

from tests.collector.conftest import db_url, pg_database, pg_url, sqlite_url  # noqa: F401 - fixtures
