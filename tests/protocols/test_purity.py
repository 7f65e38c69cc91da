"""protocols/ is pure: what both sides share imports nothing that opens files, sockets or ports."""

from __future__ import annotations

import ast
from pathlib import Path

import protocols

PURE = {"__future__", "collections", "collections.abc", "dataclasses", "enum", "json", "msgpack", "re", "struct"}
PURE |= {"typing"}  # typing.IO is a type, not a file
# The one exception, by name: the shared log setup (every daemon logs the same way, credentials
# masked) touches only the process's own stderr and root logger.
ALLOWED = {"logs.py": {"logging", "os", "sys", "time"}}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_protocols_imports_no_io() -> None:
    files = sorted(Path(protocols.__file__).parent.glob("*.py"))
    assert {"frames.py", "topics.py", "signals.py", "events.py", "registers.py"} <= {f.name for f in files}
    for path in files:
        allowed = PURE | ALLOWED.get(path.name, set())
        impure = {m for m in imported_modules(path) if m not in allowed and m.split(".")[0] != "protocols"}
        assert not impure, f"{path.name} imports {sorted(impure)}"


def test_the_scan_sees_imports() -> None:
    here = imported_modules(Path(__file__))
    assert {"ast", "pathlib", "protocols"} <= here
