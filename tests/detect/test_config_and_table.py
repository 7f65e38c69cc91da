"""DetectorConfig validation, and the rule table's own consistency."""

from __future__ import annotations

import random
from dataclasses import fields

import pytest

from edge_agent.detect import HELD_RULES, SUPPRESSED_IN, DetectorConfig, DetectorConfigError, ElevatorLimits
from edge_agent.detect.rules import Signals
from protocols.events import DETECTION_TYPES
from protocols.signals import Door, Mode

from .support import LIMITS


def test_defaults_are_the_contract_numbers() -> None:
    cfg = DetectorConfig()
    assert (cfg.entrapment_outside_zone_s, cfg.entrapment_in_zone_s, cfg.entrapment_lockout_s) == (20.0, 90.0, 60.0)
    assert (cfg.debounce_ms, cfg.presence_dropout_s, cfg.clear_s) == (100, 5.0, 1.0)
    assert cfg.ms("stop_outside_door_zone_s") == 15_000
    assert cfg.ms("overtravel_ms") == 300
    assert (cfg.door_reopen_count, cfg.ms("door_reopen_window_s"), cfg.ms("door_reopen_open_ms")) == (10, 120_000, 300)
    assert cfg.overspeed_factor == 1.15


def test_from_mapping_accepts_known_keys_and_ints_for_seconds() -> None:
    cfg = DetectorConfig.from_mapping({"entrapment_outside_zone_s": 30, "debounce_ms": 50}, "agent.toml")
    assert cfg.ms("entrapment_outside_zone_s") == 30_000
    assert cfg.debounce_ms == 50
    assert DetectorConfig.from_mapping({}, "agent.toml") == DetectorConfig()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"entrapment_s": 1}, "agent.toml: [detection] entrapment_s: unknown setting"),
        ({"debounce_ms": 1.5}, "agent.toml: [detection] debounce_ms: expected a whole number"),
        ({"clear_s": "1"}, "agent.toml: [detection] clear_s: expected a number"),
        ({"clear_s": True}, "agent.toml: [detection] clear_s: expected a number"),
        ({"run_timeout_s": -3}, "agent.toml: [detection] run_timeout_s: must not be negative"),
        ({"door_reopen_count": 0}, "agent.toml: [detection] door_reopen_count: must be at least 1"),
        ({"overspeed_factor": 0}, "agent.toml: [detection] overspeed_factor: must be greater than 0"),
        ({"clear_s": float("nan")}, "agent.toml: [detection] clear_s: expected a finite number"),
    ],
)
def test_from_mapping_names_the_bad_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorConfigError) as info:
        DetectorConfig.from_mapping(table, "agent.toml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_limits_are_validated() -> None:
    with pytest.raises(DetectorConfigError, match="rated_speed_mm_s"):
        ElevatorLimits(0, 1, 10)
    with pytest.raises(DetectorConfigError, match="lowest_floor"):
        ElevatorLimits(1000, 5, 2)


def test_every_hold_and_clear_names_a_config_field() -> None:
    names = {f.name for f in fields(DetectorConfig)}
    for rule in HELD_RULES:
        assert rule.hold in names
        assert all(c.hold in names for c in rule.clear)


def test_the_table_and_special_rules_cover_exactly_the_contract_types() -> None:
    special = {"entrapment", "door_reopen_repeated", "controller_fault"}
    assert {r.name for r in HELD_RULES} | special == set(DETECTION_TYPES)
    assert len(HELD_RULES) + len(special) == len(DETECTION_TYPES)


def test_suppression_sets_are_as_written() -> None:
    assert set(DETECTION_TYPES) - SUPPRESSED_IN[Mode.INSPECTION] == {"power_failure", "alarm_button", "inspection"}
    assert SUPPRESSED_IN[Mode.OUT_OF_SERVICE] == {
        "entrapment",
        "stop_outside_door_zone",
        "door_open_too_long",
        "door_reopen_repeated",
    }
    assert Mode.FIRE not in SUPPRESSED_IN and Mode.NORMAL not in SUPPRESSED_IN


# A condition's `reads` must name every signal it depends on: the detector re-evaluates a rule only
# when one of those changes. Derived facts count as the signals they come from.
DERIVED = {
    "running": ("run_start", "top_zone_seen", "bottom_zone_seen"),
    "door": ("door_closed", "door_left_closed_at", "door_closed_since"),
    "door_zone": ("door_zone_since", "top_zone_seen", "bottom_zone_seen"),
    "floor": ("top_zone_seen", "bottom_zone_seen"),
}
CHOICES = {
    "floor": (0, 1, 5, 10, 11),
    "direction": (-1, 0, 1),
    "running": (False, True),
    "speed_mm_s": (0, 1840, 1841),
    "door": tuple(Door),
    "door_zone": (False, True),
    "door_lock": (False, True),
    "safety_circuit": (False, True),
    "occupied": (None, False, True),
    "alarm_button": (False, True),
    "power": (False, True),
    "mode": tuple(Mode),
    "fault_code": (0, 5),
}


def random_signals(rng: random.Random) -> Signals:
    s = Signals(LIMITS, DetectorConfig())
    for name, values in CHOICES.items():
        setattr(s, name, rng.choice(values))
    s.door_closed = s.door is Door.CLOSED
    for name in ("run_start", "door_left_closed_at", "door_closed_since", "door_zone_since"):
        setattr(s, name, rng.choice((None, 0, 1000, 2000)))
    s.top_zone_seen = rng.random() < 0.5
    s.bottom_zone_seen = rng.random() < 0.5
    return s


@pytest.mark.parametrize("rule", HELD_RULES, ids=[r.name for r in HELD_RULES])
def test_rule_reads_every_signal_its_condition_depends_on(rule: object) -> None:
    from edge_agent.detect.rules import HeldRule

    assert isinstance(rule, HeldRule)
    reads = set(rule.reads.split())
    rng = random.Random(rule.name)
    for _ in range(800):
        s = random_signals(rng)
        before = rule.condition(s)
        clear_before = [c.since(s) for c in rule.clear]
        name = rng.choice([n for n in CHOICES if n not in reads])
        for attr in (name, *DERIVED.get(name, ())):
            if attr in CHOICES:
                setattr(s, attr, rng.choice(CHOICES[attr]))
            elif attr in ("top_zone_seen", "bottom_zone_seen", "door_closed"):
                setattr(s, attr, rng.random() < 0.5)
            else:
                setattr(s, attr, rng.choice((None, 0, 1000, 2000)))
        assert rule.condition(s) == before, f"{rule.name} changed with {name}, which it does not list"
        assert [c.since(s) for c in rule.clear] == clear_before
