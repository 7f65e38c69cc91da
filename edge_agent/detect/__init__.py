"""The safety core: the rules of `../shared/contract/detection.md` as a pure, clock-free state machine.

`Detector.step(snapshot)` takes the fused signal state and returns the raises and clears it decides;
`Detector.advance(now_ms)` fires timers when time moves on without a new snapshot. No IO, no
asyncio, no wall clock: the same object runs live in the agent and in `elev-agent replay`.
"""

from .config import DetectError, DetectorConfig, DetectorConfigError, ElevatorLimits
from .detector import Detector
from .rules import HELD_RULES, SUPPRESSED_IN

__all__ = [
    "HELD_RULES",
    "SUPPRESSED_IN",
    "DetectError",
    "Detector",
    "DetectorConfig",
    "DetectorConfigError",
    "ElevatorLimits",
]
