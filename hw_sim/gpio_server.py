"""Serves the retrofit sensor levels of a simulated car over TCP (protocols.gpio_link).

Any number of clients: each gets one full message with every fitted line when it connects, then
one message per model tick in which something changed. The full message is written and the client
subscribed in the same step, so a change can neither be lost nor arrive before the full message.
Clients send nothing; a client that stops reading is dropped once its backlog passes
`MAX_BACKLOG_BYTES`, so it cannot make the simulator grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hw_sim.endpoints import SimServeError, close_handlers
from hw_sim.live import LiveElevator
from protocols.gpio_link import encode_levels

log = logging.getLogger(__name__)

MAX_BACKLOG_BYTES = 256 * 1024


class GpioServer:
    def __init__(self, car: LiveElevator) -> None:
        self.car = car
        self.clients = 0
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(self._serve_client, host, port, reuse_address=True)
        except OSError as exc:
            raise SimServeError(f"cannot listen for GPIO clients on {host}:{port}: {exc.strerror}") from None

    async def close(self) -> None:
        """Stop listening and hang up on every client."""
        if self._server is not None:
            self._server.close()
        await close_handlers(self._handlers)

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        try:
            await self._stream_levels(reader, writer)
        finally:
            del self._handlers[task]

    async def _stream_levels(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        gone = asyncio.Event()

        def on_change(t_ms: int, changed: dict[str, bool]) -> None:
            if writer.is_closing():
                gone.set()
                return
            if writer.transport.get_write_buffer_size() > MAX_BACKLOG_BYTES:
                log.warning("GPIO client %s is not reading; dropping it", peer)
                writer.close()
                gone.set()
                return
            writer.write(encode_levels(t_ms, changed))

        writer.write(encode_levels(self.car.t_ms, self.car.levels))
        self.car.add_levels_listener(on_change)
        self.clients += 1
        log.info("GPIO client %s connected", peer)
        try:
            reading = asyncio.ensure_future(reader.read(1024))
            waiting = asyncio.ensure_future(gone.wait())
            while True:
                done, _ = await asyncio.wait({reading, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if waiting in done or (reading in done and not reading.result()):
                    break
                reading = asyncio.ensure_future(reader.read(1024))  # ignore whatever the client says
        except (ConnectionError, OSError):
            pass  # the client went away; nothing to clean up beyond the finally below
        finally:
            for task in (reading, waiting):
                task.cancel()
            self.car.remove_levels_listener(on_change)
            self.clients -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            log.info("GPIO client %s disconnected", peer)
