"""The main job on embedded defaults: simulator -> agents -> Mosquitto -> collector on SQLite.

Grows with the project (issue 9). Until the agent and collector exist it replays the contract's
sample traces through the shared trace reader so a new user sees the data the system works on.
"""

from __future__ import annotations

import sys
from pathlib import Path

from protocols.signals import TraceReader


def main() -> int:
    samples = Path(__file__).resolve().parents[2] / "shared" / "contract" / "samples"
    for csv in sorted(samples.glob("*.csv")):
        with csv.open() as f:
            reader = TraceReader(f, str(csv))
            rows = sum(1 for _ in reader)
        print(f"{csv.name}: {rows} rows, floors {reader.settings.lowest_floor}..{reader.settings.highest_floor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
