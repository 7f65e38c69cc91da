"""Scenario files: the elevator being simulated, its traffic, its sensor noise and the faults to inject.

A scenario is TOML (`../shared/contract/surface.md`, elev-sim section)::

    seed = 7                      # optional: random seed (traffic, noise, fault details)
    duration_s = 900              # optional: how long `elev-sim trace` renders
    traffic = "office"            # optional: or a [traffic] table with `pattern = "..."`

    [elevator]
    lowest_floor = -1
    highest_floor = 12
    rated_speed_mm_s = 1750
    floor_height_mm = 3500
    presence_sensor = true        # optional, default true

    [noise]                       # optional: sensor noise on the rendered / served signals
    enabled = true

    [[inject]]
    at_s = 120
    fault = "trap_between_floors"
    duration_s = 180              # optional; each fault has a default
    passengers = 2                # fault-specific keys, checked per fault

Everything is validated once, here; the model trusts a `Scenario`. Errors are `ScenarioError`
naming the file and the key (`scenario.toml: inject[2].duration_s: must be > 0`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Every fault name of surface.md.
FAULTS: frozenset[str] = frozenset(
    {
        "trap_between_floors",
        "trap_at_landing",
        "power_failure",
        "safety_circuit_open",
        "door_open_while_running",
        "overspeed",
        "overtravel_top",
        "overtravel_bottom",
        "run_timeout",
        "door_lock_lost",
        "door_reopen_repeated",
        "door_open_too_long",
        "controller_fault",
        "alarm_button",
        "inspection",
        "comms_loss",
        "serial_noise",
    }
)
# Service-mode changes that are not faults but are injected the same way.
SERVICE_MODES: frozenset[str] = frozenset({"fire_service", "out_of_service"})
INJECTABLE: frozenset[str] = FAULTS | SERVICE_MODES

TRAFFIC_PATTERNS: tuple[str, ...] = ("office", "night", "morning", "lunch", "evening", "day", "none")


class ScenarioError(ValueError):
    """A scenario that cannot be simulated; the message names the file and the key."""


# Fault-specific keys: name -> (type, default). `None` default = chosen by the model. For `alarm`
# (trapped passengers press the car's alarm button now and then) the model presses only when the
# car has no presence sensor: with one, the alarm button is an independent injection, so a tester
# can time `alarm_button` and `entrapment` separately (as ../shared/tools/e2e_smoke.py does).
# Types: "int", "float", "bool", "str". `floor` keys are building floor numbers.
_PARAMS: dict[str, dict[str, tuple[str, Any]]] = {
    "trap_between_floors": {"passengers": ("int", 1), "alarm": ("bool", None), "code": ("int", 0)},
    "trap_at_landing": {"passengers": ("int", 1), "alarm": ("bool", None), "code": ("int", 0)},
    "power_failure": {"when": ("str", "now"), "passengers": ("int", 1), "alarm": ("bool", None)},
    "safety_circuit_open": {
        "when": ("str", "now"),
        "passengers": ("int", 1),
        "alarm": ("bool", None),
        "code": ("int", 4100),
    },
    "door_open_while_running": {"open_s": ("float", 6.0), "passengers": ("int", 1), "code": ("int", 0)},
    "overspeed": {"factor": ("float", 1.25), "passengers": ("int", 1), "code": ("int", 3300)},
    "overtravel_top": {"passengers": ("int", 1), "final_limit": ("bool", True), "code": ("int", 0)},
    "overtravel_bottom": {"passengers": ("int", 1), "final_limit": ("bool", True), "code": ("int", 0)},
    "run_timeout": {"limit_s": ("float", 50.0), "passengers": ("int", 1), "code": ("int", 3001)},
    "door_lock_lost": {"lost_s": ("float", 2.0), "passengers": ("int", 1), "code": ("int", 4200)},
    "door_reopen_repeated": {"cycles": ("int", 12)},
    "door_open_too_long": {"passengers": ("int", 0)},
    "controller_fault": {"code": ("int", 3601), "e_code": ("int", None), "sub_code": ("int", 0)},
    "alarm_button": {"presses": ("int", 1), "interval_s": ("float", 10.0)},
    "inspection": {"alarm_test": ("bool", False), "moves": ("int", 4)},
    "comms_loss": {},
    "serial_noise": {},
    "fire_service": {},
    "out_of_service": {},
}


def fault_keys(fault: str) -> dict[str, tuple[str, Any]]:
    """A fault's own keys: name -> (type, default), `None` default = chosen by the model."""
    return dict(_PARAMS.get(fault, {}))


# Default fault durations (s): long enough that every rule involved has time to fire.
DEFAULT_DURATION_S: dict[str, float] = {
    "trap_between_floors": 180.0,
    "trap_at_landing": 180.0,
    "power_failure": 60.0,
    "safety_circuit_open": 60.0,
    "door_open_while_running": 15.0,
    "overspeed": 60.0,
    "overtravel_top": 60.0,
    "overtravel_bottom": 60.0,
    "run_timeout": 90.0,
    "door_lock_lost": 20.0,
    "door_reopen_repeated": 0.0,  # the cycles decide
    "door_open_too_long": 90.0,
    "controller_fault": 60.0,
    "alarm_button": 3.0,
    "inspection": 600.0,
    "comms_loss": 30.0,
    "serial_noise": 30.0,
    "fire_service": 300.0,
    "out_of_service": 300.0,
}


@dataclass(frozen=True, slots=True)
class ElevatorSpec:
    lowest_floor: int
    highest_floor: int
    rated_speed_mm_s: int
    floor_height_mm: int
    presence_sensor: bool = True
    acceleration_mm_s2: int = 800
    jerk_mm_s3: int = 1600
    door_zone_mm: int = 0  # half-width of the door (leveling) zone; 0 = max(200, 8 % of rated speed x 1 s)
    door_open_ms: int = 2000
    door_close_ms: int = 2500
    door_hold_ms: int = 4000
    capacity_persons: int = 13
    main_floor: int | None = None  # lobby; None = floor 0 if it exists, else the lowest floor
    # Wear (issue 18, hw_sim.wear): the defaults are the model before wear existed, draw for draw.
    reopen_chance: float = 0.12  # the light curtain turns a normal close back (first time per stop)
    door_jitter_ms: int = 0  # each opening/closing takes up to this much more or less
    level_offset_mm: float = 0.0  # leveling sensor drift: the car stops this far above the landing
    level_scatter_mm: float = 0.0  # spread (sd) of the stop position around it
    brake_slide_mm: float = 0.0  # the car creeps this far on after the drive stops, before the brake holds
    brake_comp_mm: float = 0.0  # the controller stops this much short to allow for the nominal slide
    relevel_tolerance_mm: float = 10.0  # a stop further off the landing than this is re-leveled

    @property
    def landings(self) -> int:
        return self.highest_floor - self.lowest_floor + 1

    @property
    def zone_mm(self) -> int:
        """Door-zone half-width: at least 80 ms of travel at rated speed on each side of a landing."""
        if self.door_zone_mm:
            return self.door_zone_mm
        return max(200, math.ceil(self.rated_speed_mm_s * 0.08))

    @property
    def lobby_floor(self) -> int:
        if self.main_floor is not None:
            return self.main_floor
        return 0 if self.lowest_floor <= 0 <= self.highest_floor else self.lowest_floor

    def landing_position_mm(self, floor: int) -> int:
        return (floor - self.lowest_floor) * self.floor_height_mm


@dataclass(frozen=True, slots=True)
class NoiseSpec:
    """Sensor noise applied to what is sensed, never to the ground truth (labels ignore it)."""

    enabled: bool = True
    bounce_per_hour: float = 60.0  # contact bounces per signal per hour (door, door_zone, door_lock)
    bounce_min_ms: int = 10
    bounce_max_ms: int = 60
    dropout_per_min: float = 1.0  # PIR drop-outs per minute of occupancy
    dropout_min_ms: int = 1000
    dropout_max_ms: int = 3500
    repeat_every_s: float = 20.0  # on-change rendering: a repeat row this often on average when idle


@dataclass(frozen=True, slots=True)
class Injection:
    at_s: float
    fault: str
    duration_s: float | None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    elevator: ElevatorSpec
    injections: tuple[Injection, ...] = ()
    traffic: str = "office"
    seed: int = 0
    duration_s: float | None = None
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    start_hour: float = 8.0  # time of day at t=0, for the `day` pattern


def default_elevator() -> ElevatorSpec:
    return ElevatorSpec(lowest_floor=-1, highest_floor=12, rated_speed_mm_s=1750, floor_height_mm=3500)


def fault_params(fault: str, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check fault-specific keys and fill defaults; ScenarioError names `where` and the key."""
    if fault not in _PARAMS:
        known = ", ".join(sorted(INJECTABLE))
        raise ScenarioError(f"{where}.fault: unknown fault {fault!r} (known: {known})")
    table = _PARAMS[fault]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None and key in table:
            continue
        if key not in table:
            allowed = ", ".join(sorted(table)) or "none"
            raise ScenarioError(f"{where}.{key}: not a key of fault {fault!r} (allowed: {allowed})")
        kind = table[key][0]
        out[key] = _typed(value, kind, f"{where}.{key}")
    for key, (_, default) in table.items():
        out.setdefault(key, default)
    _check_fault_params(fault, out, where)
    return out


def _typed(value: Any, kind: str, where: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: must be true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: must be an integer, got {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ScenarioError(f"{where}: must be a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: must be a string, got {value!r}")
    return value


def _check_fault_params(fault: str, p: dict[str, Any], where: str) -> None:
    if "passengers" in p and not 0 <= p["passengers"] <= 10:
        raise ScenarioError(f"{where}.passengers: must be 0..10, got {p['passengers']}")
    if "when" in p and p["when"] not in ("now", "running"):
        raise ScenarioError(f"{where}.when: must be 'now' or 'running', got {p['when']!r}")
    if "code" in p and p["code"] is not None and not 0 <= p["code"] <= 65535:
        raise ScenarioError(f"{where}.code: must be 0..65535, got {p['code']}")
    if fault == "controller_fault":
        if p["e_code"] is not None:
            if not 1 <= p["e_code"] <= 655 or not 0 <= p["sub_code"] < 100:
                raise ScenarioError(f"{where}.e_code: E-code 1..655 with sub_code 0..99 expected")
            p["code"] = p["e_code"] * 100 + p["sub_code"]
        del p["e_code"], p["sub_code"]  # the register value says it all
        if p["code"] == 0:
            raise ScenarioError(f"{where}.code: a controller fault needs a non-zero code")
    if fault == "overspeed" and not 1.17 <= p["factor"] <= 1.6:
        raise ScenarioError(f"{where}.factor: must be 1.17..1.6 (x rated speed), got {p['factor']}")
    if fault == "run_timeout" and not 47.0 <= p["limit_s"] <= 120.0:
        raise ScenarioError(f"{where}.limit_s: must be 47..120 s (the rule fires at 45 s), got {p['limit_s']}")
    if fault == "door_reopen_repeated" and not 1 <= p["cycles"] <= 40:
        raise ScenarioError(f"{where}.cycles: must be 1..40, got {p['cycles']}")
    if fault == "alarm_button" and not 1 <= p["presses"] <= 50:
        raise ScenarioError(f"{where}.presses: must be 1..50, got {p['presses']}")
    if fault == "inspection" and not 0 <= p["moves"] <= 20:
        raise ScenarioError(f"{where}.moves: must be 0..20, got {p['moves']}")
    for key in ("open_s", "lost_s", "interval_s"):
        if key in p and not 0.2 <= p[key] <= 600:
            raise ScenarioError(f"{where}.{key}: must be 0.2..600 s, got {p[key]}")


def _take(table: dict[str, Any], key: str, kind: str, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ScenarioError(f"{where}: missing key '{key}'")
        return default
    return _typed(table.pop(key), kind, f"{where}.{key}" if where else key)


def _no_extra(table: Mapping[str, Any], where: str) -> None:
    if table:
        key = next(iter(table))
        raise ScenarioError(f"{where}{'.' if where else ''}{key}: unknown key")


def parse_scenario(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a parsed TOML document; every error names `source` and the key."""
    doc = dict(data)

    def err(msg: str) -> ScenarioError:
        return ScenarioError(f"{source}: {msg}")

    try:
        seed = _take(doc, "seed", "int", "", 0)
        duration_s = _take(doc, "duration_s", "float", "", None)
        if duration_s is not None and not 0 < duration_s <= 30 * 24 * 3600:
            raise ScenarioError("duration_s: must be > 0 and at most 30 days")
        traffic: str = "office"
        start_hour = 8.0
        if "traffic" in doc:
            raw_traffic = doc.pop("traffic")
            if isinstance(raw_traffic, str):
                traffic = raw_traffic
            elif isinstance(raw_traffic, dict):
                t = dict(raw_traffic)
                traffic = _take(t, "pattern", "str", "traffic", "office")
                start_hour = _take(t, "start_hour", "float", "traffic", 8.0)
                if not 0 <= start_hour < 24:
                    raise ScenarioError(f"traffic.start_hour: must be 0..24 (hour of day), got {start_hour}")
                _no_extra(t, "traffic")
            else:
                raise ScenarioError("traffic: must be a pattern name or a [traffic] table")
            if traffic not in TRAFFIC_PATTERNS:
                raise ScenarioError(f"traffic: unknown pattern {traffic!r} (known: {', '.join(TRAFFIC_PATTERNS)})")
        elevator = _parse_elevator(doc.pop("elevator", None))
        noise = _parse_noise(doc.pop("noise", None))
        raw_inj = doc.pop("inject", [])
        if not isinstance(raw_inj, list):
            raise ScenarioError("inject: must be an array of tables ([[inject]])")
        injections = []
        for i, item in enumerate(raw_inj):
            where = f"inject[{i + 1}]"
            if not isinstance(item, dict):
                raise ScenarioError(f"{where}: must be a table")
            injections.append(parse_injection(dict(item), where, elevator))
        _no_extra(doc, "")
    except ScenarioError as exc:
        raise err(str(exc)) from None
    injections.sort(key=lambda j: j.at_s)
    return Scenario(elevator, tuple(injections), traffic, seed, duration_s, noise, start_hour)


def parse_injection(item: dict[str, Any], where: str, elevator: ElevatorSpec) -> Injection:
    at_s = _take(item, "at_s", "float", where)
    if at_s < 0:
        raise ScenarioError(f"{where}.at_s: must be >= 0, got {at_s}")
    fault = _take(item, "fault", "str", where)
    duration_s = _take(item, "duration_s", "float", where, None)
    if duration_s is not None and not 0 < duration_s <= 24 * 3600:
        raise ScenarioError(f"{where}.duration_s: must be > 0 and at most a day, got {duration_s}")
    params = fault_params(fault, item, where)
    return Injection(at_s, fault, duration_s, params)


def _parse_elevator(raw: Any) -> ElevatorSpec:
    if raw is None:
        raise ScenarioError("missing table [elevator]")
    if not isinstance(raw, dict):
        raise ScenarioError("elevator: must be a table")
    t = dict(raw)
    w = "elevator"
    lowest = _take(t, "lowest_floor", "int", w)
    highest = _take(t, "highest_floor", "int", w)
    rated = _take(t, "rated_speed_mm_s", "int", w)
    height = _take(t, "floor_height_mm", "int", w)
    presence = _take(t, "presence_sensor", "bool", w, True)
    accel = _take(t, "acceleration_mm_s2", "int", w, 800)
    jerk = _take(t, "jerk_mm_s3", "int", w, 1600)
    zone = _take(t, "door_zone_mm", "int", w, 0)
    main = _take(t, "main_floor", "int", w, None)
    door_open = _take(t, "door_open_ms", "int", w, 2000)
    door_close = _take(t, "door_close_ms", "int", w, 2500)
    door_hold = _take(t, "door_hold_ms", "int", w, 4000)
    _no_extra(t, w)
    if highest <= lowest:
        raise ScenarioError(f"{w}.highest_floor: must be above lowest_floor ({lowest}), got {highest}")
    if highest - lowest > 200:
        raise ScenarioError(f"{w}.highest_floor: at most 201 landings are supported")
    if not 100 <= rated <= 10000:
        raise ScenarioError(f"{w}.rated_speed_mm_s: must be 100..10000, got {rated}")
    if not 2000 <= height <= 20000:
        raise ScenarioError(f"{w}.floor_height_mm: must be 2000..20000, got {height}")
    if height * 1000 // rated > 30000:
        raise ScenarioError(f"{w}.floor_height_mm: a floor must take under 30 s at rated speed (run_timeout)")
    if not 200 <= accel <= 3000:
        raise ScenarioError(f"{w}.acceleration_mm_s2: must be 200..3000, got {accel}")
    if not 200 <= jerk <= 10000:
        raise ScenarioError(f"{w}.jerk_mm_s3: must be 200..10000, got {jerk}")
    if zone and not 30 <= zone <= height // 4:
        raise ScenarioError(f"{w}.door_zone_mm: must be 30..floor_height_mm/4, got {zone}")
    if main is not None and not lowest <= main <= highest:
        raise ScenarioError(f"{w}.main_floor: must be a floor between lowest and highest, got {main}")
    for key, value in (("door_open_ms", door_open), ("door_close_ms", door_close), ("door_hold_ms", door_hold)):
        if not 500 <= value <= 15000:
            raise ScenarioError(f"{w}.{key}: must be 500..15000, got {value}")
    return ElevatorSpec(
        lowest, highest, rated, height, presence, accel, jerk, zone, door_open, door_close, door_hold, 13, main
    )


def _parse_noise(raw: Any) -> NoiseSpec:
    if raw is None:
        return NoiseSpec()
    if not isinstance(raw, dict):
        raise ScenarioError("noise: must be a table")
    t = dict(raw)
    w = "noise"
    d = NoiseSpec()
    enabled = _take(t, "enabled", "bool", w, d.enabled)
    bounce = _take(t, "bounce_per_hour", "float", w, d.bounce_per_hour)
    bmin = _take(t, "bounce_min_ms", "int", w, d.bounce_min_ms)
    bmax = _take(t, "bounce_max_ms", "int", w, d.bounce_max_ms)
    drop = _take(t, "dropout_per_min", "float", w, d.dropout_per_min)
    dmin = _take(t, "dropout_min_ms", "int", w, d.dropout_min_ms)
    dmax = _take(t, "dropout_max_ms", "int", w, d.dropout_max_ms)
    rep = _take(t, "repeat_every_s", "float", w, d.repeat_every_s)
    _no_extra(t, w)
    if not 0 <= bounce <= 3600:
        raise ScenarioError(f"{w}.bounce_per_hour: must be 0..3600, got {bounce}")
    if not 1 <= bmin <= bmax <= 80:
        raise ScenarioError(f"{w}.bounce_max_ms: need 1 <= bounce_min_ms <= bounce_max_ms <= 80 (bounce is < 100 ms)")
    if not 0 <= drop <= 10:
        raise ScenarioError(f"{w}.dropout_per_min: must be 0..10, got {drop}")
    if not 100 <= dmin <= dmax <= 4000:
        raise ScenarioError(
            f"{w}.dropout_max_ms: need 100 <= dropout_min_ms <= dropout_max_ms <= 4000 (a drop-out is < 5 s)"
        )
    if not 1 <= rep <= 3600:
        raise ScenarioError(f"{w}.repeat_every_s: must be 1..3600, got {rep}")
    return NoiseSpec(enabled, bounce, bmin, bmax, drop, dmin, dmax, rep)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ScenarioError (one line, file + key) on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML: {exc}") from None
    return parse_scenario(data, str(p))
