"""The collector's one root exception; everything the collector raises on purpose derives from it."""

from __future__ import annotations


class CollectorError(Exception):
    """Root of the collector's errors; `str()` is one line fit for the journal."""


class ConfigError(CollectorError):
    """Bad flags or configuration file; the message names the file, key or flag."""


class StoreError(CollectorError):
    """The store cannot be opened or used (unreachable server, unsupported URL, bad schema)."""


class DeviceError(CollectorError):
    """A registry operation that cannot be done (unknown device, bad id, broker files)."""
