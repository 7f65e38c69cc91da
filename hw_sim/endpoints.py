"""Addresses and errors shared by the simulator's commands, kept free of heavy imports.

`elev-sim inject` only needs these and the control client, so it starts without loading pymodbus.
"""

from __future__ import annotations


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
