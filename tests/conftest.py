from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Broker

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "contract" / "samples"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port, stopped after the test."""
    b = Broker(tmp_path).start()
    try:
        yield b
    finally:
        b.stop()
