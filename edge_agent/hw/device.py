"""One slave on a bus: read its register map block by block, back off while it is dead.

A cycle is all or nothing: if any block fails, the cycle yields no values, so a snapshot is never
assembled from a fresh block and a stale one. A noisy line (garbled answers) still counts as a
device that answers: the remaining blocks are read and `last_answer` moves on, so line noise alone
does not look like a dead controller; a silent one (timeouts) ends the cycle at once.

A device that misses `down_after` cycles in a row without any valid answer is declared down
(logged once) and then probed with a doubling delay up to `backoff_max_s`, so a dead slave cannot
eat the bus time of the others; its first good answer is logged once as recovery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from edge_agent.hw import BusError, RegisterBus
from protocols.registers import RegisterMap

log = logging.getLogger(__name__)


class DeviceReader:
    def __init__(
        self,
        bus: RegisterBus,
        regmap: RegisterMap,
        unit_id: int | None = None,
        backoff_max_s: float = 5.0,
        down_after: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.regmap = regmap
        self.unit_id = regmap.unit_id if unit_id is None else unit_id
        self.blocks = regmap.blocks()
        self.backoff_max_s = backoff_max_s
        self.down_after = down_after
        self.clock = clock
        self.fail_streak = 0
        self.down_since: float | None = None
        self.last_ok: float | None = None  # last complete cycle
        self.last_answer: float | None = None  # last valid answer to any block
        self.last_error = ""
        self._delay_s = 0.0
        self._next_probe = 0.0

    @property
    def online(self) -> bool:
        return self.down_since is None and self.last_ok is not None

    async def read(self) -> dict[str, int] | None:
        """Raw register values by name, or None (failed, or backed off and not due for a probe)."""
        now = self.clock()
        if self.down_since is not None and now < self._next_probe:
            self.bus.counters.skipped_backoff += 1
            return None
        values: dict[str, int] = {}
        failed: BusError | None = None
        for block in self.blocks:
            try:
                regs = await self.bus.read_holding(self.unit_id, block.start, block.count)
            except BusError as exc:
                failed = exc
                if exc.kind in ("timeout", "disconnected"):
                    break  # silence: asking the next block now would only wait out another timeout
                continue
            self.last_answer = self.clock()
            for r in block.registers:
                values[r.name] = regs[r.address - block.start]
        if failed is not None:
            self._failed(str(failed))
            return None
        self._succeeded()
        return values

    def _failed(self, why: str) -> None:
        now = self.clock()
        self.fail_streak += 1
        self.last_error = why
        answering = self.last_answer is not None and self.last_answer >= now - 1.0
        if self.down_since is None and self.fail_streak >= self.down_after and not answering:
            self.down_since = now
            self._delay_s = 0.25
            log.warning("%s (unit %d) stopped answering: %s; backing off", self.regmap.name, self.unit_id, why)
        elif self.down_since is not None:
            self._delay_s = min(self._delay_s * 2, self.backoff_max_s)
        if self.down_since is not None:
            self._next_probe = now + self._delay_s

    def _succeeded(self) -> None:
        now = self.clock()
        if self.down_since is not None:
            log.warning(
                "%s (unit %d) answering again after %.1f s", self.regmap.name, self.unit_id, now - self.down_since
            )
        elif self.last_ok is None:
            log.info("%s (unit %d) answering", self.regmap.name, self.unit_id)
        self.down_since = None
        self.fail_streak = 0
        self.last_ok = now
