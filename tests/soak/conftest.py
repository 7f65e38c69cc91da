from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.soak.procs import ProjectBroker
from tests.soak.system import System


@pytest.fixture
def broker() -> Iterator[ProjectBroker]:
    """The soak's broker is the one production runs: written by `elev-collector broker-config`."""
    b = ProjectBroker().start()
    try:
        yield b
    finally:
        b.cleanup()


@pytest.fixture
def system_factory(tmp_path: Path, broker: ProjectBroker) -> Iterator[list[System]]:
    """Systems a test builds; each is cleaned up (every process killed) even when the test fails."""
    made: list[System] = []
    try:
        yield made
    finally:
        for s in made:
            s.cleanup()
