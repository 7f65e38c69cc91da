"""The daemon's configuration: one frozen dataclass, loaded from TOML and flags and validated once.

A flag overrides the same setting from `--config FILE`. Every error names the file and key (or the
flag) so an operator can fix it from the one line the daemon prints.
"""

from __future__ import annotations

import re
import socket
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from collector.errors import ConfigError

DEFAULT_DB_URL = "sqlite:///./collector.db"
SECRET_WORDS = ("password", "secret", "token")  # a key holding one of these never has its value shown

_URL_PASSWORD = re.compile(r"(://[^/@:]*):[^/@]*@")


def redact(url: str) -> str:
    """`scheme://user:password@host…` -> `scheme://user:***@host…`, so no error echoes a password."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


def shown(key: str, value: object) -> str:
    """A configuration value as an error message may show it: secrets hidden, URLs redacted."""
    if any(word in key.lower() for word in SECRET_WORDS):
        return "(hidden)"
    return repr(redact(value)) if isinstance(value, str) else repr(value)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str, what: str = "--broker") -> BrokerAddress:
        """`mqtt://[user:password@]host:port` or `mqtts://…`; the error names `what`."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigError(f"{what}: {redact(url)!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ConfigError(f"{what}: {redact(url)!r} has no host")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise ConfigError(f"{what}: {redact(url)!r} has a bad port") from None
        return cls(parts.hostname, port, parts.scheme == "mqtts", parts.username, parts.password)


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    broker_url: str
    db_url: str = DEFAULT_DB_URL
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    api_token_file: str | None = None
    client_id: str = ""  # stable MQTT client id; empty = derived from host name and HTTP port
    share_group: str = "collectors"
    offline_after_s: float = 180.0  # silence after which a device_offline alarm is raised
    presence_check_s: float = 5.0
    batch_max_records: int = 2000  # commit at most this many records in one transaction
    batch_window_ms: float = 5.0  # wait this long for more frames before committing
    registry_refresh_s: float = 5.0
    queue_max_records: int = 20_000  # records waiting for the store; when full MQTT reading pauses
    health_grace_s: float = 10.0  # /healthz turns 503 after this long without the broker or store
    platform: bool = True  # rescue, maintenance, statistics, registry, webhooks, city feed in this process
    config_file: str | None = None  # the TOML file the settings came from (its [platform] table too)

    def __post_init__(self) -> None:
        BrokerAddress.parse(self.broker_url, "broker_url")
        if not (self.db_url.startswith("sqlite:///") or self.db_url.startswith(("postgresql://", "postgres://"))):
            raise ConfigError(f"db_url: {redact(self.db_url)!r} must be sqlite:///PATH or postgresql://…")
        if not 0 < self.http_port < 65536:
            raise ConfigError(f"http: port {self.http_port} is out of range")
        for name in ("offline_after_s", "presence_check_s", "batch_window_ms", "registry_refresh_s", "health_grace_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 1 <= self.batch_max_records <= 100_000:
            raise ConfigError(f"batch_max_records must be 1..100000, got {self.batch_max_records!r}")
        if not self.batch_max_records <= self.queue_max_records <= 1_000_000:
            raise ConfigError(
                f"queue_max_records must be batch_max_records ({self.batch_max_records})..1000000, "
                f"got {self.queue_max_records!r}"
            )

    @property
    def broker(self) -> BrokerAddress:
        return BrokerAddress.parse(self.broker_url)

    @property
    def mqtt_client_id(self) -> str:
        """Stable across restarts (so the broker keeps the session) and unique per process on a host."""
        return self.client_id or f"elev-collector-{socket.gethostname()}-{self.http_port}"

    def api_token(self) -> str | None:
        if self.api_token_file is None:
            return None
        try:
            token = Path(self.api_token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"--api-token-file {self.api_token_file}: {exc.strerror}") from None
        if len(token) < 8:
            raise ConfigError(f"--api-token-file {self.api_token_file}: token is empty or shorter than 8 characters")
        return token


def parse_http(value: str, what: str = "--http") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{what}: {value!r} must be HOST:PORT")
    return host or "0.0.0.0", int(port)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "str | None": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


OTHER_TABLES = ("platform", "accounts")


def read_toml(path: str) -> dict[str, Any]:
    """The `[collector]` table of a TOML file (or the whole file when it has no such table)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    # Without a [collector] table the top-level keys are the collector's; the service's other
    # tables ([platform], [accounts]) are read by their own loaders from the same file.
    table = data.get("collector", {k: v for k, v in data.items() if k not in OTHER_TABLES})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [collector] must be a table")
    return table


def load(file_values: dict[str, Any], overrides: dict[str, Any], source: str = "config") -> CollectorConfig:
    """Merge file values with flag overrides (flags win), type-check each key, validate once."""
    known = {f.name: f for f in fields(CollectorConfig)}
    merged: dict[str, Any] = {}
    for key, value in file_values.items():
        if key == "http" and isinstance(value, str):
            merged["http_host"], merged["http_port"] = parse_http(value, f"{source}: http")
            continue
        if key not in known:
            raise ConfigError(f"{source}: unknown key {key!r}")
        want = _FIELD_TYPES[str(known[key].type)]
        if not isinstance(value, want) or (isinstance(value, bool) and known[key].type != "bool"):
            raise ConfigError(f"{source}: {key} = {shown(key, value)} has the wrong type (expected {known[key].type})")
        merged[key] = float(cast(float, value)) if known[key].type == "float" else value
    merged.update({k: v for k, v in overrides.items() if v is not None})
    if "broker_url" not in merged:
        raise ConfigError(f"{source}: no broker given (--broker URL or broker_url in the config file)")
    try:
        return CollectorConfig(**merged)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
