"""The agent's configuration: frozen dataclasses loaded once from TOML and flags, then trusted.

A gateway runs unattended for years, so a configuration mistake must be caught at start with one
line that names the file and the key (`/etc/elev-agent/agent.toml: [modbus] baud: ...`), never as a
traceback at 3 a.m. when the code path is first taken. Flags of `elev-agent run` override the same
setting from the file and are named as `--flag` in errors.

Layout of the file (every key optional except where the surface contract makes the flag required):

    device_id = "lift-1"
    data_dir = "/var/lib/elev-agent"
    [broker]     url = "mqtts://user:password@host:8883", ca_file, keepalive_s, client_id
    [modbus]     tcp = "host:port" | rtu = "/dev/ttyUSB0", baud, parity, stopbits, unit_id,
                 timeout_s, retries, min_gap_ms, backoff_max_s, frame_gap_ms
    [gpio]       pin_factory = "native" | "sim", sim = "host:port", absent = ["presence"],
                 inverted = ["mains"], [gpio.pins] door_closed = 17, ...
    [elevator]   lowest_floor, highest_floor (required by `run` and `check`, or --floors LOW..HIGH: the
                 controller reports landings 1..N, not the building's floor numbers nor N),
                 rated_speed_mm_s (0 or absent = read register 0x1011 from the controller)
    [agent]      poll_period_ms, heartbeat_s, comms_lost_after_s, status_flush_s, status_file_s,
                 clock_synced = "auto" | "yes" | "no", watchdog_stale_s
    [outbox]     max_mb, max_records
    [uplink]     batch_max_records, batches_per_s, window_batches, ack_timeout_s, summary_hold_s,
                 reconnect_min_s, reconnect_max_s
    [report]     policy = "budget" | "full", live_max_s, stats_every_s (see edge_agent.report.policy)
    [detection]  passed to DetectorConfig.from_mapping (see detection.md for the keys)
    [trend]      passed to TrendConfig.from_mapping (docs/trend-watch.md)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from edge_agent.report.policy import POLICIES, ReportConfig
from edge_agent.trend.watch import TrendConfig, TrendConfigError
from protocols.gpio_lines import GPIO_LINES
from protocols.logs import mask_credentials
from protocols.topics import TopicError, validate_device_id


class AgentError(Exception):
    """Root of every error the agent raises on purpose (caught at task and command boundaries)."""


class ConfigError(AgentError):
    """A configuration that cannot be used; `str()` is the one line an operator needs."""


_UNSET: Any = object()

# Files in the data directory (the outbox and the status file `elev-agent status` reads).
OUTBOX_FILE = "outbox.db"
STATUS_FILE = "status.json"


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    keepalive_s: int = 30
    client_id: str = ""  # empty: elev-agent-{device_id}

    @classmethod
    def from_url(cls, url: str, where: str) -> BrokerConfig:
        """`mqtt://[user:password@]host:port` or `mqtts://...`; the error names `where`."""
        parts = urlsplit(url)
        shown = mask_credentials(repr(url))  # an error line is printed and logged: never the password
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigError(f"{where}: {shown} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ConfigError(f"{where}: {shown} has no host")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise ConfigError(f"{where}: {shown} has a bad port") from None
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, port, parts.scheme == "mqtts", user, password)


@dataclass(frozen=True, slots=True)
class ModbusConfig:
    tcp_host: str | None = None
    tcp_port: int = 502
    rtu_device: str | None = None
    baud: int = 19200
    parity: str = "N"
    stopbits: int = 1
    unit_id: int = 1
    timeout_s: float = 0.3  # per request; a NICE3000+ answers within ~20 ms
    retries: int = 2  # extra attempts after a bad or missing answer, within one poll
    min_gap_ms: float = 5.0  # bus silence between the end of one exchange and the next request
    backoff_max_s: float = 5.0  # longest wait between probes of a device that stopped answering
    frame_gap_ms: float = 25.0  # RTU: line silence that ends a damaged answer (> USB adapter latency)

    @property
    def transport(self) -> str:
        return "tcp" if self.tcp_host is not None else "rtu"


@dataclass(frozen=True, slots=True)
class GpioConfig:
    pin_factory: str = "native"  # "native" (the board's GPIO) or "sim" (levels streamed by elev-sim)
    sim_host: str | None = None
    sim_port: int = 0
    pins: Mapping[str, int] = field(default_factory=lambda: dict(GPIO_LINES))
    absent: frozenset[str] = frozenset()  # lines not wired on this site (e.g. no presence sensor)
    inverted: frozenset[str] = frozenset()  # lines whose contact opens when active


@dataclass(frozen=True, slots=True)
class ElevatorConfig:
    lowest_floor: int = 1
    highest_floor: int = 64  # placeholder: `run` and `check` refuse to start unless floors_given
    rated_speed_mm_s: int = 0  # 0: read register 0x1011 from the controller
    floors_given: bool = False  # lowest_floor and highest_floor came from the file or --floors


@dataclass(frozen=True, slots=True)
class AgentTiming:
    poll_period_ms: int = 100
    heartbeat_s: float = 60.0
    comms_lost_after_s: float = 3.0
    # Status records wait at most this long in memory before one commit; the outbox loop looks every
    # 0.25 s, so a kill -9 loses no record read more than ~0.45 s before it.
    status_flush_s: float = 0.2
    status_file_s: float = 5.0  # how often `status.json` is rewritten for `elev-agent status`
    clock_synced: str = "auto"  # "auto" (ask the kernel), "yes", "no"
    watchdog_stale_s: float = 20.0  # a loop silent this long stops the systemd watchdog pings


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    max_mb: float = 64.0  # the database file never grows past this (SQLite max_page_count)
    max_records: int = 500_000


@dataclass(frozen=True, slots=True)
class UplinkConfig:
    batch_max_records: int = 500  # a 24-hour full-rate backlog: 73 s at 500, 179 s at 100 (bench/edge_drain.py)
    batches_per_s: float = 20.0  # backlog drain pace
    window_batches: int = 8  # frames in flight (sent, not yet acknowledged)
    ack_timeout_s: float = 15.0  # resend a frame whose ack has not come back by then
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0  # an alarm raised during an outage waits at most this long after it
    # Trip, door-cycle and heartbeat records wait (on disk) up to this long after the last frame for
    # a frame to share (the next status or event carries them). Under the collector's offline_after_s
    # (180 s), so a quiet lift never looks silent; 0 sends each at once (see edge_agent.uplink).
    summary_hold_s: float = 150.0


@dataclass(frozen=True, slots=True)
class AgentConfig:
    device_id: str
    broker: BrokerConfig
    modbus: ModbusConfig
    data_dir: Path
    gpio: GpioConfig = GpioConfig()
    elevator: ElevatorConfig = ElevatorConfig()
    timing: AgentTiming = AgentTiming()
    outbox: OutboxConfig = OutboxConfig()
    uplink: UplinkConfig = UplinkConfig()
    report: ReportConfig = ReportConfig()
    detection: Mapping[str, object] = field(default_factory=dict)
    source: str = "<flags>"
    trend: TrendConfig = TrendConfig()

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"elev-agent-{self.device_id}"


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the command line said; None = not given (the file or the default decides)."""

    device_id: str | None = None
    broker_url: str | None = None
    modbus_tcp: str | None = None
    modbus_rtu: str | None = None
    data_dir: str | None = None
    gpio_sim: str | None = None
    floors: str | None = None  # "LOW..HIGH", e.g. "-1..12"


def require_floors(cfg: AgentConfig) -> None:
    """Refuse to run on guessed floors: overtravel and position_lost are judged against them."""
    if not cfg.elevator.floors_given:
        where = "" if cfg.source == "<flags>" else f"{cfg.source}: "
        raise ConfigError(
            f"{where}[elevator] lowest_floor and highest_floor are required (the controller reports landings,"
            " not the building's floors), or --floors LOW..HIGH (e.g. --floors=-1..12)"
        )


def parse_floors(text: str, where: str) -> tuple[int, int]:
    low, sep, high = text.partition("..")
    try:
        if not sep:
            raise ValueError
        return int(low), int(high)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} must be LOW..HIGH, e.g. -1..12") from None


def parse_host_port(text: str, where: str, default_port: int | None = None) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep:
        if default_port is None:
            raise ConfigError(f"{where}: {text!r} must be HOST:PORT")
        host, port_text = text, str(default_port)
    host = host.strip("[]")
    if not host:
        raise ConfigError(f"{where}: {text!r} has no host")
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} has a bad port") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: port {port} is out of range")
    return host, port


class _Table:
    """Typed access to one TOML table; every error names the file and the key; unknown keys refused."""

    def __init__(self, data: Mapping[str, Any], source: str, prefix: str) -> None:
        self.data = data
        self.source = source
        self.prefix = prefix
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.source}: {self.prefix}{key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _UNSET) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _UNSET:
                raise ConfigError(f"{self.where(key)}: missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{self.where(key)}: must be {names}, got {value!r}")
        return value

    def number(self, key: str, default: float, lo: float, hi: float, integer: bool = False) -> Any:
        value = self.get(key, int if integer else float, default)
        if not lo <= value <= hi:
            raise ConfigError(f"{self.where(key)}: {value!r} is out of range {lo:g}..{hi:g}")
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.get(key, str, default)
        if value not in allowed:
            raise ConfigError(f"{self.where(key)}: {value!r} is not one of {', '.join(allowed)}")
        return str(value)

    def sub(self, key: str) -> _Table:
        value = self.get(key, dict, {})
        return _Table(value, self.source, f"[{key}] " if not self.prefix else f"{self.prefix.rstrip('] ')}.{key}] ")

    def lines(self, key: str) -> frozenset[str]:
        value = self.get(key, list, [])
        bad = [v for v in value if v not in GPIO_LINES]
        if bad:
            raise ConfigError(f"{self.where(key)}: unknown line {bad[0]!r} (lines: {', '.join(GPIO_LINES)})")
        return frozenset(value)

    def reject_unknown(self, also: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        unknown = sorted(set(self.data) - self.used - also)
        if unknown:
            raise ConfigError(f"{self.where(unknown[0])}: unknown key")


def load_file(path: str | Path) -> dict[str, Any]:
    source = str(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not valid TOML: not UTF-8 text") from None


def build(data: Mapping[str, Any], source: str, flags: Overrides = Overrides()) -> AgentConfig:
    """Validate plain data (a parsed TOML document) plus flags into an AgentConfig."""
    top = _Table(data, source, "")
    top.used.update(("device_id", "data_dir"))

    device_id = flags.device_id if flags.device_id is not None else top.get("device_id", str, None)
    where_id = "--device-id" if flags.device_id is not None else f"{source}: device_id"
    if device_id is None:
        raise ConfigError("--device-id is required (or device_id in --config FILE)")
    try:
        validate_device_id(device_id)
    except TopicError as exc:
        raise ConfigError(f"{where_id}: {exc}") from None

    data_dir = flags.data_dir if flags.data_dir is not None else top.get("data_dir", str, None)
    if not data_dir:
        raise ConfigError("--data-dir is required (or data_dir in --config FILE)")

    # [broker]
    b = top.sub("broker")
    if flags.broker_url is not None:
        b.used.add("url")
        broker = BrokerConfig.from_url(flags.broker_url, "--broker")
    else:
        url = b.get("url", str, None)
        if url is None:
            raise ConfigError("--broker is required (or [broker] url in --config FILE)")
        broker = BrokerConfig.from_url(url, b.where("url"))
    ca_file = b.get("ca_file", str, None)
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"{b.where('ca_file')}: {ca_file!r} does not exist")
    broker = replace(
        broker,
        ca_file=ca_file,
        keepalive_s=b.number("keepalive_s", 30, 5, 3600, integer=True),
        client_id=b.get("client_id", str, ""),
    )
    b.reject_unknown()

    # [modbus]
    m = top.sub("modbus")
    tcp = m.get("tcp", str, None)
    rtu = m.get("rtu", str, None)
    tcp_where, rtu_where = m.where("tcp"), m.where("rtu")
    if flags.modbus_tcp is not None or flags.modbus_rtu is not None:
        tcp, rtu, tcp_where, rtu_where = flags.modbus_tcp, flags.modbus_rtu, "--modbus-tcp", "--modbus-rtu"
    if (tcp is None) == (rtu is None):
        raise ConfigError("exactly one of --modbus-tcp HOST:PORT or --modbus-rtu DEVICE is required")
    tcp_host, tcp_port = parse_host_port(tcp, tcp_where, 502) if tcp is not None else (None, 502)
    if rtu is not None and not rtu:
        raise ConfigError(f"{rtu_where}: empty device path")
    modbus = ModbusConfig(
        tcp_host=tcp_host,
        tcp_port=tcp_port,
        rtu_device=rtu,
        baud=m.number("baud", 19200, 1200, 115200, integer=True),
        parity=m.choice("parity", "N", ("N", "E", "O")),
        stopbits=int(m.number("stopbits", 1, 1, 2, integer=True)),
        unit_id=m.number("unit_id", 1, 1, 247, integer=True),
        timeout_s=m.number("timeout_s", 0.3, 0.01, 10.0),
        retries=m.number("retries", 2, 0, 10, integer=True),
        min_gap_ms=m.number("min_gap_ms", 5.0, 0.0, 1000.0),
        backoff_max_s=m.number("backoff_max_s", 5.0, 0.1, 300.0),
        frame_gap_ms=m.number("frame_gap_ms", 25.0, 2.0, 1000.0),
    )
    m.reject_unknown()

    # [gpio]
    g = top.sub("gpio")
    factory = g.choice("pin_factory", "native", ("native", "sim"))
    sim = g.get("sim", str, None)
    sim_where = g.where("sim")
    if flags.gpio_sim is not None:
        factory, sim, sim_where = "sim", flags.gpio_sim, "--gpio-sim"
    sim_host, sim_port = None, 0
    if factory == "sim":
        if sim is None:
            raise ConfigError(f"{g.where('pin_factory')}: 'sim' needs [gpio] sim = \"HOST:PORT\" or --gpio-sim")
        sim_host, sim_port = parse_host_port(sim, sim_where)
    pins = dict(GPIO_LINES)
    pt = g.sub("pins")
    for name in list(pt.data):
        if name not in GPIO_LINES:
            raise ConfigError(f"{pt.where(name)}: unknown line (lines: {', '.join(GPIO_LINES)})")
        pins[name] = pt.number(name, 0, 0, 53, integer=True)
    taken: dict[int, str] = {}
    for name, pin in pins.items():
        if pin in taken:
            raise ConfigError(f"{g.where('pins')}: lines {taken[pin]} and {name} both use BCM pin {pin}")
        taken[pin] = name
    gpio = GpioConfig(factory, sim_host, sim_port, pins, g.lines("absent"), g.lines("inverted"))
    g.reject_unknown()

    # [elevator]
    e = top.sub("elevator")
    lowest = e.number("lowest_floor", 1, -99, 999, integer=True)
    highest = e.number("highest_floor", max(lowest, 1) + 63, -99, 999, integer=True)
    given = "lowest_floor" in e.data and "highest_floor" in e.data
    high_where = e.where("highest_floor")
    if flags.floors is not None:
        lowest, highest = parse_floors(flags.floors, "--floors")
        given, high_where = True, "--floors"
        if not (-99 <= lowest <= 999 and -99 <= highest <= 999):
            raise ConfigError(f"--floors: {flags.floors!r} is out of range -99..999")
    if highest < lowest:
        raise ConfigError(f"{high_where}: {highest} is below lowest_floor {lowest}")
    elevator = ElevatorConfig(lowest, highest, e.number("rated_speed_mm_s", 0, 0, 20000, integer=True), given)
    e.reject_unknown()

    # [agent]
    a = top.sub("agent")
    timing = AgentTiming(
        poll_period_ms=a.number("poll_period_ms", 100, 20, 10_000, integer=True),
        heartbeat_s=a.number("heartbeat_s", 60.0, 1.0, 86_400.0),
        comms_lost_after_s=a.number("comms_lost_after_s", 3.0, 0.2, 3600.0),
        status_flush_s=a.number("status_flush_s", 0.2, 0.0, 600.0),
        status_file_s=a.number("status_file_s", 5.0, 0.2, 3600.0),
        clock_synced=a.choice("clock_synced", "auto", ("auto", "yes", "no")),
        watchdog_stale_s=a.number("watchdog_stale_s", 20.0, 1.0, 3600.0),
    )
    a.reject_unknown()

    # [outbox]
    o = top.sub("outbox")
    outbox = OutboxConfig(
        max_mb=o.number("max_mb", 64.0, 0.05, 100_000.0),
        max_records=o.number("max_records", 500_000, 10, 100_000_000, integer=True),
    )
    o.reject_unknown()

    # [uplink]
    u = top.sub("uplink")
    uplink = UplinkConfig(
        batch_max_records=u.number("batch_max_records", 500, 1, 1000, integer=True),
        batches_per_s=u.number("batches_per_s", 20.0, 0.1, 1000.0),
        window_batches=u.number("window_batches", 8, 1, 1000, integer=True),
        ack_timeout_s=u.number("ack_timeout_s", 15.0, 0.2, 3600.0),
        reconnect_min_s=u.number("reconnect_min_s", 0.5, 0.05, 600.0),
        reconnect_max_s=u.number("reconnect_max_s", 10.0, 0.1, 3600.0),
        summary_hold_s=u.number("summary_hold_s", 150.0, 0.0, 3600.0),
    )
    if uplink.reconnect_max_s < uplink.reconnect_min_s:
        raise ConfigError(f"{u.where('reconnect_max_s')}: below reconnect_min_s")
    u.reject_unknown()

    # [report]
    r = top.sub("report")
    report = ReportConfig(
        policy=r.choice("policy", "budget", POLICIES),
        live_max_s=r.number("live_max_s", 600.0, 1.0, 86_400.0),
        stats_every_s=r.number("stats_every_s", 900.0, 0.0, 86_400.0),
    )
    r.reject_unknown()

    detection = top.get("detection", dict, {})
    # [trend]: trend watch's rule (edge_agent.trend.watch, docs/trend-watch.md), checked there
    try:
        trend = TrendConfig.from_mapping(top.get("trend", dict, {}), source)
    except TrendConfigError as exc:
        raise ConfigError(str(exc)) from None
    top.reject_unknown()
    return AgentConfig(
        device_id=device_id,
        broker=broker,
        modbus=modbus,
        data_dir=Path(data_dir),
        gpio=gpio,
        elevator=elevator,
        timing=timing,
        outbox=outbox,
        uplink=uplink,
        report=report,
        detection=detection,
        source=source,
        trend=trend,
    )


def load(path: str | Path | None, flags: Overrides = Overrides()) -> AgentConfig:
    """The file (if any) with the flags on top; raises ConfigError with one line naming file and key."""
    if path is None:
        return build({}, "<flags>", flags)
    return build(load_file(path), str(path), flags)


def detector_config(cfg: AgentConfig) -> Any:
    """The detector's thresholds from `[detection]` (validated by the detector package itself)."""
    from edge_agent.detect import DetectorConfig
    from edge_agent.detect.config import DetectorConfigError

    try:
        return DetectorConfig.from_mapping(cfg.detection, cfg.source)
    except DetectorConfigError as exc:
        raise ConfigError(str(exc)) from None
