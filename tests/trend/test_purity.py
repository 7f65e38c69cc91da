"""The trend rule is pure like the detector: it imports no IO, no asyncio, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import edge_agent.trend.watch as watch

ALLOWED = {"__future__", "collections.abc", "dataclasses", "enum", "statistics", "typing", "protocols.frames"}


def test_watch_imports_nothing_that_does_io() -> None:
    tree = ast.parse(Path(watch.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported <= ALLOWED, imported - ALLOWED
