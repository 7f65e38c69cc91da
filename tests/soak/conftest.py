from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.soak.system import System
from tests.support.services import Broker


@pytest.fixture
def system_factory(tmp_path: Path, broker: Broker) -> Iterator[list[System]]:
    """Systems a test builds; each is cleaned up (every process killed) even when the test fails."""
    made: list[System] = []
    try:
        yield made
    finally:
        for s in made:
            s.cleanup()
