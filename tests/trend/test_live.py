"""Trend watch in the agent: advisory events, baselines kept across a restart in the data
directory, a damaged state file never stops the agent, and `[trend]` in agent.toml."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, build
from edge_agent.trend.live import STATE_FILE, LiveTrend
from edge_agent.trend.watch import DAY_MS, TrendConfig
from protocols.events import BY_NAME, Action, Severity
from protocols.frames import DoorCycle, StopQuality, Trip

T0 = 1_780_000_000_000 // DAY_MS * DAY_MS  # a UTC midnight


def a_day(live: LiveTrend, day: int, opening_ms: int = 2000) -> list[object]:
    out: list[object] = []
    wall = T0 + day * DAY_MS + 12 * 3_600_000
    for i in range(20):
        mono = day * 100_000 + i * 1000
        out += live.step(Trip(mono, mono + 900, 0, 3, 1600, StopQuality.LEVEL, False, 700), wall + i * 60_000, mono)
        out += live.step(DoorCycle(mono, mono + 900, 3, 400, 0, opening_ms, 300, 100), wall + i * 60_000 + 30_000, mono)
    return out


def test_advisories_are_events_and_the_baseline_survives_a_restart(tmp_path: Path) -> None:
    live = LiveTrend(TrendConfig(), tmp_path)
    for day in range(7):
        assert a_day(live, day) == []
        live.step(None, T0 + (day + 1) * DAY_MS, 0)  # midnight closes the day
        assert live.dirty
        live.save()
    assert live.watch.learned and (tmp_path / STATE_FILE).exists()
    again = LiveTrend(TrendConfig(), tmp_path)  # the agent restarted
    assert again.watch.learned and again.watch.baselines() == live.watch.baselines()
    events = []
    for day in range(7, 10):
        events += a_day(again, day, opening_ms=2600)
        events += again.step(None, T0 + (day + 1) * DAY_MS, 42)
    (ev,) = events
    assert (ev.type, ev.action, ev.t_ms) == ("trend_door_opening", Action.RAISE, 42)  # type: ignore[attr-defined]
    assert BY_NAME[ev.type].severity is Severity.ADVISORY  # type: ignore[attr-defined]


def test_a_damaged_state_file_means_learning_again_not_a_dead_agent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STATE_FILE).write_text('{"version": 1, "day": "x"')
    with caplog.at_level(logging.WARNING):
        live = LiveTrend(TrendConfig(), tmp_path)
    assert not live.watch.learned
    assert "not a trend watch state" in caplog.text and "learning the baselines again" in caplog.text
    (tmp_path / STATE_FILE).write_text('{"version": 99}')
    assert not LiveTrend(TrendConfig(), tmp_path).watch.learned


def test_trend_table_in_agent_toml(tmp_path: Path) -> None:
    base = {"device_id": "lift-1", "data_dir": str(tmp_path), "broker": {"url": "mqtt://h"}, "modbus": {"tcp": "h:1"}}
    cfg = build({**base, "trend": {"hold_days": 2}}, "agent.toml")
    assert cfg.trend == TrendConfig(hold_days=2)
    with pytest.raises(ConfigError, match=r"agent.toml: trend.learn_days must be an integer >= 3"):
        build({**base, "trend": {"learn_days": 1}}, "agent.toml")


class _NoController:
    async def read_holding(self, unit_id: int, start: int, count: int) -> tuple[int, ...]:
        raise AssertionError("not polled in this test")

    async def close(self) -> None:
        return None


async def test_an_advisory_the_watch_no_longer_holds_is_cleared_after_a_restart(tmp_path: Path) -> None:
    """The agent died with an advisory raised and its trend.json is gone: the advisory must not
    stay raised at the collector for good (the watch, learning again, would never clear it)."""
    from edge_agent.agent import Agent
    from edge_agent.config import AgentConfig, BrokerConfig, ModbusConfig
    from edge_agent.outbox import Outbox
    from protocols.events import Event

    cfg = AgentConfig("lift-trend", BrokerConfig("127.0.0.1", 1, False), ModbusConfig(tcp_host="sim"), tmp_path)
    async with Outbox(tmp_path / "outbox.db", cfg.outbox, cfg.timing.status_flush_s) as outbox:
        await outbox.put_event(1000, T0, True, Event(1000, "trend_relevels", Action.RAISE))
        await outbox.put_event(1100, T0 + 100, True, Event(1100, "entrapment", Action.RAISE, 3))
    async with Outbox(tmp_path / "outbox.db", cfg.outbox, cfg.timing.status_flush_s) as outbox:
        agent = Agent(cfg, _NoController(), object(), outbox, now_ms=lambda: 5000)  # type: ignore[arg-type]
        await agent.restore_active()
        active = await outbox.active_events()
    assert set(active) == {"entrapment"}  # the detector's alarm continues; the orphan advisory is cleared
