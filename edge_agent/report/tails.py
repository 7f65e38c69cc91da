"""Which trip and door-cycle records carry their statistics tail over the air.

The statistics of a trip or door cycle (re-level, stopping/opening/closing/lock times, the GB/T
24476 run, running-time and door-cycle counters) are what trend watch uses, and trend watch runs on
the gateway (`edge_agent.trend`), fed with the full records before they reach the outbox; the
collector only stores the figures and hears trend watch's advisories as events. Sending the tail
with every record cost ~10 B of the ~25 B of each of ~4,300 records on a busy office day: 45 KB of
the 100 KB a day budget (issue 14), for figures nobody upstream computes anything from.

So, under the `budget` policy and outside a live view, a record keeps its tail only when it says
something on its own:

- a trip that was a re-level, or that did not end level in the door zone (a fault-like stop);
- the first trip and the first door cycle after `stats_every_s` without one that carried its
  tail: the counters are running totals, so the collector's latest counters are at most that old
  while the car works, and it keeps a sample of the timing figures.

Every other record travels with the short body (the wire's tail-less form, which decodes with the
tail's defaults). Sans-IO: the record's time is an argument.
"""

from __future__ import annotations

from dataclasses import replace

from protocols.frames import Body, DoorCycle, StopQuality, Trip


class TailPolicy:
    """Full records in, the bodies to put on the wire out."""

    def __init__(self, stats_every_s: float) -> None:
        self.every_ms = round(stats_every_s * 1000)
        self._trip_sent_ms: int | None = None
        self._door_sent_ms: int | None = None

    def wire(self, body: Body, t_ms: int, full_rate: bool) -> Body:
        """The body as it should travel; `full_rate`: full policy or a live view (everything travels)."""
        if isinstance(body, Trip):
            if not body.has_stats:
                return body
            if full_rate or self.every_ms <= 0 or body.relevel or body.stop_quality is not StopQuality.LEVEL:
                return body
            if self._trip_sent_ms is None or t_ms - self._trip_sent_ms >= self.every_ms:
                self._trip_sent_ms = t_ms
                return body
            return replace(body, relevel=False, stopping_ms=None, runs=None, running_s=None)
        if isinstance(body, DoorCycle):
            if not body.has_stats or full_rate or self.every_ms <= 0:
                return body
            if self._door_sent_ms is None or t_ms - self._door_sent_ms >= self.every_ms:
                self._door_sent_ms = t_ms
                return body
            return replace(body, opening_ms=None, closing_ms=None, lock_ms=None, cycles=None)
        return body
