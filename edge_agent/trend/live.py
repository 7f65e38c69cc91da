"""Trend watch in the running agent: records in, advisory events out, baselines kept on disk.

The watch learns for a week before it judges anything, so a restart must not forget: its state
is saved to `DATA_DIR/trend.json` whenever a day closes (written beside and renamed over, so a
power cut leaves the old file or the new one). A file that cannot be read is reported once and
the watch starts learning again; it is never a reason for the agent not to start.

`save` blocks (a small file once a day): the agent calls it through `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from edge_agent.trend.watch import BY_FIGURE, TrendConfig, TrendStateError, TrendWatch
from protocols.events import Action, Event
from protocols.frames import DoorCycle, Trip

log = logging.getLogger("elev-agent.trend")

STATE_FILE = "trend.json"


class LiveTrend:
    def __init__(self, config: TrendConfig, data_dir: Path) -> None:
        self.config = config
        self.path = data_dir / STATE_FILE
        self.watch = self._load()
        self.dirty = False

    def _load(self) -> TrendWatch:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return TrendWatch(self.config)
        except OSError as exc:
            log.warning("%s: cannot read trend watch state (%s): learning the baselines again", self.path, exc)
            return TrendWatch(self.config)
        try:
            watch = TrendWatch.from_state(json.loads(text), self.config)
        except (ValueError, TrendStateError) as exc:  # json.JSONDecodeError is a ValueError
            log.warning("%s: not a trend watch state (%s): learning the baselines again", self.path, exc)
            return TrendWatch(self.config)
        log.info("trend watch: %d days seen, baselines %s", watch.days_seen, "learned" if watch.learned else "learning")
        return watch

    def raised_events(self) -> set[str]:
        """The advisory event types the watch holds raised."""
        return {BY_FIGURE[f].event for f in self.watch.raised()}

    def step(self, body: Trip | DoorCycle | None, wall_ms: int, t_ms: int) -> list[Event]:
        """Feed a record (or only the time, `body=None`); advisory raises/clears as events at `t_ms`."""
        before = self.watch.days_seen
        if isinstance(body, Trip):
            advisories = self.watch.trip(body, wall_ms)
        elif isinstance(body, DoorCycle):
            advisories = self.watch.door(body, wall_ms)
        else:
            advisories = self.watch.tick(wall_ms)
        if self.watch.days_seen != before:
            self.dirty = True
        out = []
        for a in advisories:
            log.warning(
                "trend advisory %s %s: %s %.3f (baseline %.3f, bound %.3f)",
                a.event_type,
                "raised" if a.raised else "cleared",
                a.figure,
                a.value,
                a.baseline,
                a.bound,
            )
            out.append(Event(t_ms, a.event_type, Action.RAISE if a.raised else Action.CLEAR))
        return out

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(self.watch.to_state(), f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("%s: cannot save trend watch state: %s", self.path, exc)
            return
        self.dirty = False
