"""The simulator's control socket: a tester injects faults into a running simulator by hand.

`elev-sim run --control HOST:PORT` (and `fleet`) listen here; `elev-sim inject` is the client.
Newline-delimited JSON, one request and one reply per line, any number of requests per connection:

    -> {"inject": "trap_between_floors", "duration_s": 60, "params": {}, "elevator": 0}
    <- {"ok": true, "line": {"ts": 1764400000.123, "inject": "trap_between_floors", ...}}
    -> {"status": true, "elevator": 0}
    <- {"ok": true, "t_ms": 81234, "registers": {"speed_mm_s": 1000, ...}, "levels": {...}, ...}
    <- {"ok": false, "error": "unknown fault 'trap'; known: ..."}

`line` is exactly the JSON line the simulator printed on its stdout for the injection. The socket
has no authentication: bind it to loopback (the default host when only a port is given).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from hw_sim.endpoints import SimServeError, close_handlers
from hw_sim.live import LiveElevator
from protocols.registers import NICE3000_MONITOR

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024


def _known_faults() -> frozenset[str]:
    from hw_sim.scenario import INJECTABLE  # faults and service-mode changes, as scenario files allow

    return INJECTABLE


def status_of(car: LiveElevator) -> dict[str, Any]:
    return {
        "t_ms": car.t_ms,
        "registers": {r.name: car.registers.get(r.address, 0) for r in NICE3000_MONITOR.registers},
        "levels": {k: int(v) for k, v in car.levels.items()},
        "comms_silent": car.comms_silent,
        "serial_noise_active": car.serial_noise_active,
    }


def handle_request(cars: Sequence[LiveElevator], request: object) -> dict[str, Any]:
    """One control request to its reply (pure apart from the injection itself)."""
    if not isinstance(request, dict):
        return {"ok": False, "error": "a request is a JSON object"}
    index = request.get("elevator", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cars):
        return {"ok": False, "error": f"elevator must be 0..{len(cars) - 1}, got {index!r}"}
    car = cars[index]
    if request.get("status"):
        return {"ok": True, **status_of(car)}
    fault = request.get("inject")
    if not isinstance(fault, str):
        return {"ok": False, "error": "request needs 'inject': FAULT or 'status': true"}
    faults = _known_faults()
    if fault not in faults:
        return {"ok": False, "error": f"unknown fault {fault!r}; known: {', '.join(sorted(faults))}"}
    if fault == "serial_noise" and not car.serves_rtu:
        return {
            "ok": False,
            "error": "serial_noise damages Modbus RTU frames and this simulator serves no RTU line "
            "(start it with --modbus-rtu auto); to silence the controller on TCP use comms_loss",
        }
    duration_s = request.get("duration_s")
    if duration_s is not None and (
        isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or duration_s <= 0
    ):
        return {"ok": False, "error": f"duration_s must be a positive number, got {duration_s!r}"}
    params = request.get("params", {})
    if not isinstance(params, dict):
        return {"ok": False, "error": "params must be an object of key -> value"}
    try:
        line = car.inject(fault, float(duration_s) if duration_s is not None else None, **params)
    except (ValueError, TypeError, KeyError) as exc:  # the model refuses bad fault parameters
        return {"ok": False, "error": f"{fault}: {exc}"}
    return {"ok": True, "line": line}


class ControlServer:
    def __init__(self, cars: Sequence[LiveElevator]) -> None:
        self.cars = cars
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(
                self._serve_client, host, port, reuse_address=True, limit=MAX_REQUEST_BYTES
            )
        except OSError as exc:
            raise SimServeError(f"cannot listen for control requests on {host}:{port}: {exc.strerror}") from None

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await close_handlers(self._handlers)

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        try:
            await self._answer(reader, writer)
        finally:
            del self._handlers[task]

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    reply: dict[str, Any] = {"ok": False, "error": f"not a JSON line: {exc}"}
                else:
                    reply = handle_request(self.cars, request)
                if not reply["ok"]:
                    log.warning("control request refused: %s", reply["error"])
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError, OSError):  # ValueError: a line past the reader's limit
            pass  # the client went away or misbehaved; its connection ends here
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def request(host: str, port: int, message: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one control request and return the reply (client side, used by `elev-sim inject`)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError) as exc:
        raise SimServeError(f"cannot reach the simulator's control socket at {host}:{port}: {exc}") from None
    try:
        writer.write(json.dumps(message).encode() + b"\n")
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    except (OSError, TimeoutError) as exc:
        raise SimServeError(f"control socket {host}:{port}: no reply: {exc}") from None
    finally:
        writer.close()
    try:
        reply = json.loads(line)
    except json.JSONDecodeError:
        raise SimServeError(f"control socket {host}:{port}: bad reply {line[:80]!r}") from None
    if not isinstance(reply, dict):
        raise SimServeError(f"control socket {host}:{port}: bad reply {line[:80]!r}")
    return reply
