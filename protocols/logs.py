"""How every smart-elevator daemon writes its log: readable by hand, right in the journal, no secrets.

    configure(debug=False, fmt="text")

- Under journald (systemd sets `$JOURNAL_STREAM` to the device:inode of the stream it gave us, and
  stderr is that stream) the line carries no timestamp: the journal stamps every line itself, so a
  second one would be doubled. Anywhere else (a terminal, a file, a pipe) each line starts with the
  local time to the millisecond.
- `fmt="json"` (or `$ELEV_LOG_FORMAT=json`): one JSON object per line, `{"ts", "level", "logger",
  "msg"}` (`"exc"` with a traceback), for a log shipper.
- Every message is passed through `mask_credentials` after formatting, so no code path can put a
  password into the log: `mqtt://user:secret@host` becomes `mqtt://user:***@host`, and
  `password=...`, `token=...`, `Authorization: Bearer ...` lose their values.

Pure text functions plus one `logging.Formatter`; `configure` is the only function that touches
the process (the root logger).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import TextIO

__all__ = ["configure", "mask_credentials", "under_journald", "Formatter"]

MASK = "***"

# scheme://user:password@host  ->  scheme://user:***@host (any scheme: mqtt, mqtts, postgresql, http...)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)(?P<secret>[^\s@/'\"]+)(?=@)")
# password=..., "password": "...", token: ..., secret=..., api_key=...
_KEY_VALUE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|token|secret|api[_-]?key)['\"]?\s*[=:]\s*['\"]?)(?P<secret>[^\s'\",;&}]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\bBearer\s+)(?P<secret>[A-Za-z0-9._~+/=-]+)", re.IGNORECASE)


def mask_credentials(text: str) -> str:
    """`text` with every credential it carries replaced by ***."""
    for pattern in (_URL_PASSWORD, _KEY_VALUE, _BEARER):
        text = pattern.sub(lambda m: m.group("head") + MASK, text)
    return text


def under_journald(stream: TextIO, environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """True when `stream` is the journal's own stream (systemd.exec(5), $JOURNAL_STREAM)."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        return False


class Formatter(logging.Formatter):
    """Text (`[time ]LEVEL logger: message`) or JSON lines, always with credentials masked."""

    def __init__(self, fmt: str = "text", timestamps: bool = True) -> None:
        super().__init__()
        self.kind = fmt
        self.timestamps = timestamps

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        message = mask_credentials(record.getMessage())
        exc = mask_credentials(self.formatException(record.exc_info)) if record.exc_info else ""
        if self.kind == "json":
            out: dict[str, object] = {"level": record.levelname, "logger": record.name, "msg": message}
            if self.timestamps:
                out = {"ts": round(record.created, 3), **out}
            if exc:
                out["exc"] = exc
            return json.dumps(out, ensure_ascii=False)
        line = f"{record.levelname} {record.name}: {message}"
        if self.timestamps:
            line = f"{self.formatTime(record)} {line}"
        return line + (f"\n{exc}" if exc else "")


def configure(debug: bool = False, fmt: str | None = None, stream: TextIO | None = None) -> None:
    """Root logger to stderr (the journal under systemd); `fmt` None: $ELEV_LOG_FORMAT or text."""
    stream = stream or sys.stderr
    kind = fmt or os.environ.get("ELEV_LOG_FORMAT", "text")
    if kind not in ("text", "json"):
        kind = "text"
    handler = logging.StreamHandler(stream)
    # JSON lines keep their own timestamp even in the journal: a shipper reads the field, not the journal.
    handler.setFormatter(Formatter(kind, timestamps=kind == "json" or not under_journald(stream)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
