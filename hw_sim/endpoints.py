"""Addresses and errors shared by the simulator's commands, kept free of heavy imports.

`elev-sim inject` only needs these and the control client, so it starts without loading pymodbus.
"""

from __future__ import annotations

import asyncio


class SimServeError(Exception):
    """The simulator cannot serve (port in use, bad device path, no control socket); says which."""


class ConfigError(ValueError):
    """Bad settings; the message names the flag or the file and key."""


def parse_hostport(text: str, what: str) -> tuple[str, int]:
    """'HOST:PORT', '[v6]:PORT' or ':PORT' (loopback) to (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{what}: expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text)


def hostport(hp: tuple[str, int]) -> str:
    return f"[{hp[0]}]:{hp[1]}" if ":" in hp[0] else f"{hp[0]}:{hp[1]}"


async def close_handlers(handlers: dict[asyncio.Task[None], asyncio.StreamWriter], timeout_s: float = 2.0) -> None:
    """Hang up on the clients of a stream server and wait (bounded) for their handlers to return.

    Handlers are not cancelled: asyncio's stream server logs a cancelled handler as an error
    (Python 3.11), and a clean hang-up is what clients should see anyway.
    """
    for writer in handlers.values():
        writer.close()
    if handlers:
        await asyncio.wait(set(handlers), timeout=timeout_s)
