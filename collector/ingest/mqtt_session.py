"""The collector's MQTT connection, owned directly through paho-mqtt's public API.

paho is driven by this asyncio loop (its documented external-loop mode: `loop_read` when the socket
is readable, `loop_write` when paho has something to send, `loop_misc` every second for the
keep-alive), so a message reaches `on_message` on the event loop thread with no queue, task or
thread hop in between, and the publish of an acknowledgement is one call that does not wait.

Back-pressure: `pause()` stops reading the socket. The kernel's receive buffer fills, the broker
can no longer write, its in-flight window for this client fills and it keeps the rest of the
session's QoS 1 messages queued; `resume()` reads again. Nothing is dropped on our side.

Why the outgoing window is bounded (`OUT_WINDOW` acknowledgements handed to paho at a time, the
rest in our own bounded deque): paho's `loop_read` reads up to (its outgoing messages + 1) packets
per call, whatever `pause()` says in between. With thousands of acknowledgements waiting for their
PUBACKs (which arrive behind the flood in the same socket), one readable event read thousands of
frames: the ingest queue overshot its bound and the event loop stalled. With the window one read
is at most `OUT_WINDOW` + 1 packets, which the ingest only queues (still encoded), so a read costs
a few ms. The window is not smaller because acknowledgements must keep flowing while reading is
paused (each needs its PUBACK, read from that same socket, before the next is handed over).

State changes are logged once each (a WARNING with the broker's reason when it refuses or cannot be
reached, one INFO when connected again), never once per retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from collector.config import BrokerAddress

log = logging.getLogger("collector.ingest")

MISC_INTERVAL_S = 1.0
OUT_WINDOW = 256  # publishes handed to paho at once (one read event reads at most this + 1 packets)
OUT_QUEUE_MAX = 20_000  # acknowledgements waiting for the window; the oldest is dropped beyond (re-sent)


class MqttSession:
    """One persistent (clean_session=False) MQTT session with QoS 1 subscriptions.

    `on_message(topic, payload)` is called on the event loop thread for every message. `connected`
    is set while the session is up; `down_reason` says why it is not (None while up)."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        subscriptions: Sequence[str],
        on_message: Callable[[str, bytes], None],
        *,
        out_window: int = OUT_WINDOW,
        out_queue_max: int = OUT_QUEUE_MAX,
        keepalive_s: int = 30,
        monotonic: Callable[[], float] = time.monotonic,
        on_up: Callable[[], None] | None = None,
    ) -> None:
        self._on_up = on_up
        self.address = address
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self._on_message = on_message
        self._out_window = out_window
        self._out: deque[tuple[str, bytes]] = deque(maxlen=out_queue_max)
        self._out_busy = 0  # publishes paho holds (handed over, PUBACK not yet in)
        self.out_dropped = 0  # acknowledgements dropped from a full deque (the agents re-send)
        self._keepalive_s = keepalive_s
        self._monotonic = monotonic
        self.connected = asyncio.Event()
        self.connects = 0
        self.attempts = 0  # connection attempts, successful or not
        self.down_reason: str | None = "not connected yet"
        self.down_since = monotonic()
        self._warned = False  # a WARNING about the current outage was logged
        self._ever_up = False
        self._paused = False
        self._client: paho.Client | None = None
        self._sock: Any = None
        self._closed: asyncio.Event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- the application's side -------------------------------------------------------------
    def publish(self, topic: str, payload: bytes) -> bool:
        """Queue a QoS 1 publish; False when not connected. Goes out through a window of
        `out_window` (see module doc); a full queue drops its oldest (a lost acknowledgement only
        makes the agent re-send, and the duplicate is acknowledged again)."""
        if self._client is None or not self.connected.is_set():
            return False
        if len(self._out) == self._out.maxlen:
            self.out_dropped += 1
        self._out.append((topic, payload))
        self._flush_out()
        return True

    def out_queued(self) -> int:
        return len(self._out) + self._out_busy

    def _flush_out(self) -> None:
        client = self._client
        while client is not None and self._out and self._out_busy < self._out_window:
            topic, payload = self._out.popleft()
            if client.publish(topic, payload, qos=1).rc != paho.MQTT_ERR_SUCCESS:
                return  # not connected any more: the rest wait for teardown to clear them
            self._out_busy += 1

    def _published(self) -> None:
        self._out_busy = max(0, self._out_busy - 1)
        self._flush_out()

    def pause(self) -> None:
        """Stop reading the socket: the broker keeps what it cannot deliver."""
        if not self._paused:
            self._paused = True
            if self._sock is not None and self._loop is not None and self.connected.is_set():
                self._loop.remove_reader(self._sock)

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            if self._sock is not None and self._loop is not None:
                self._loop.add_reader(self._sock, self._read)
                self._loop.call_soon(self._read)  # a TLS socket may hold decrypted bytes already

    @property
    def paused(self) -> bool:
        return self._paused

    def down_for_s(self) -> float:
        return 0.0 if self.connected.is_set() else self._monotonic() - self.down_since

    # --- the connection ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, subscribe, serve; reconnect with jittered backoff, for as long as it runs."""
        self._loop = asyncio.get_running_loop()
        backoff_s = 0.5
        while True:
            try:
                await self._serve_once()
                backoff_s = 0.5 if self._ever_up and self.connects else backoff_s
            finally:
                self._teardown()
            await asyncio.sleep(backoff_s * random.uniform(0.5, 1.0))
            backoff_s = min(backoff_s * 2, 10.0)

    async def _serve_once(self) -> None:
        loop = asyncio.get_running_loop()
        self.attempts += 1
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False, reconnect_on_failure=False
        )
        addr = self.address
        if addr.username is not None:
            client.username_pw_set(addr.username, addr.password)
        if addr.tls:
            client.tls_set_context(ssl.create_default_context())
        client.max_inflight_messages_set(self._out_window)
        client.max_queued_messages_set(self._out_window)
        connack: asyncio.Future[str | None] = loop.create_future()
        self._closed = asyncio.Event()

        def on_connect(_c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not connack.done():
                connack.set_result(None if not reason.is_failure else str(reason))

        def on_disconnect(_c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not connack.done():
                connack.set_result(f"connection closed before CONNACK ({reason})")
            elif self.connected.is_set():
                self._went_down(f"connection to {addr.host}:{addr.port} lost ({reason})")
            self._closed.set()

        def on_message(_c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
            self._on_message(message.topic, message.payload)

        def on_publish(_c: paho.Client, _u: Any, _mid: int, _reason: Any, _p: Any) -> None:
            self._published()

        def on_socket_open(_c: paho.Client, _u: Any, sock: Any) -> None:
            loop.call_soon_threadsafe(self._attach, sock)  # connect runs in an executor thread

        def on_socket_close(_c: paho.Client, _u: Any, sock: Any) -> None:
            self._detach(sock)
            self._closed.set()

        def on_register_write(_c: paho.Client, _u: Any, sock: Any) -> None:
            loop.call_soon_threadsafe(self._want_write, sock)

        def on_unregister_write(_c: paho.Client, _u: Any, sock: Any) -> None:
            loop.call_soon_threadsafe(self._no_write, sock)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.on_publish = on_publish
        client.on_socket_open = on_socket_open
        client.on_socket_close = on_socket_close
        client.on_socket_register_write = on_register_write
        client.on_socket_unregister_write = on_unregister_write
        self._client = client
        where = f"{addr.host}:{addr.port}"
        try:
            await loop.run_in_executor(None, client.connect, addr.host, addr.port, self._keepalive_s)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._went_down(f"cannot reach broker {where}: {_why(exc)}")
            return
        misc = asyncio.create_task(self._misc(client))
        try:
            try:
                async with asyncio.timeout(10):
                    refused = await connack
            except TimeoutError:
                refused = "no CONNACK within 10 s"
            if refused is not None:
                self._went_down(f"broker {where} refused the connection: {refused}")
                return
            result, _mid = client.subscribe([(f, 1) for f in self.subscriptions])
            if result != paho.MQTT_ERR_SUCCESS:
                self._went_down(f"subscribe failed: {paho.error_string(result)}")
                return
            self._went_up(where)
            try:
                await self._closed.wait()
            except asyncio.CancelledError:
                self._leave(client)
                raise
        finally:
            misc.cancel()

    def _leave(self, client: paho.Client) -> None:
        """Stopping: leave the share group before going, then say goodbye.

        The session is persistent, and Mosquitto keeps an offline session's shared subscription as
        a member of the group: it goes on handing that member its turn of every frame, queued for
        a process that may never come back (a second collector once tried and stopped took every
        other frame, an alarm among them, until the agent's second re-send 30 s later). UNSUBSCRIBE
        then DISCONNECT, written at once (the broker handles them in order): the session survives,
        without the subscriptions, and the next start subscribes again. A process killed without
        this stays a member until it returns (docs/scaling.md, "A dead member's session")."""
        if not self.connected.is_set() or self._sock is None:
            return
        self.connected.clear()  # (so the DISCONNECT's callback is not logged as a lost connection)
        self.down_since = self._monotonic()
        self.down_reason = "stopped"
        client.unsubscribe(list(self.subscriptions))
        client.disconnect()
        for _ in range(100):  # a few hundred bytes on a socket that has room: one write, bounded anyway
            if self._sock is None or not client.want_write():
                break
            if client.loop_write() != paho.MQTT_ERR_SUCCESS:
                break

    async def _misc(self, client: paho.Client) -> None:
        """paho's keep-alive and retries. Not while paused: its PINGRESP waits unread behind the
        paused stream, and paho would drop a healthy session after two keep-alives (the broker
        still hears the acknowledgements; should it drop us after a long store outage, the
        resumed read sees the close and the session reconnects)."""
        while True:
            await asyncio.sleep(MISC_INTERVAL_S)
            if not self._paused:
                client.loop_misc()

    def _attach(self, sock: Any) -> None:
        if self._loop is None or self._client is None:
            return
        self._sock = sock
        self._loop.add_reader(sock, self._read)  # even paused: the CONNACK must be read
        if self._client.want_write():
            self._loop.add_writer(sock, self._write)

    def _detach(self, sock: Any) -> None:
        if self._loop is not None and sock is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        if sock is self._sock:
            self._sock = None

    def _want_write(self, sock: Any) -> None:
        if self._loop is not None and sock is self._sock:
            self._loop.add_writer(sock, self._write)

    def _no_write(self, sock: Any) -> None:
        if self._loop is not None and sock is self._sock:
            self._loop.remove_writer(sock)

    def _read(self) -> None:
        if self._client is None or self._sock is None:
            return
        if self._paused and self.connected.is_set():
            if self._loop is not None:
                self._loop.remove_reader(self._sock)
            return
        self._client.loop_read()

    def _write(self) -> None:
        if self._client is not None and self._sock is not None:
            self._client.loop_write()

    def _teardown(self) -> None:
        client, self._client = self._client, None
        self._out.clear()  # acknowledgements of a closed session: the agents re-send and get them again
        self._out_busy = 0
        if self.connected.is_set():  # cancelled (stopping): not an outage to warn about
            self.connected.clear()
            self.down_since = self._monotonic()
            self.down_reason = "connection closed"
        if client is not None:
            sock = self._sock
            client.on_socket_close = None
            self._detach(sock)
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self._sock = None

    def _went_down(self, reason: str) -> None:
        if self.connected.is_set() or self.down_reason is None:
            self.down_since = self._monotonic()
        self.connected.clear()
        if not self._warned or reason != self.down_reason:
            if not self._warned:
                log.warning("MQTT %s; retrying in the background (said once until it recovers)", reason)
            self._warned = True
        self.down_reason = reason

    def _went_up(self, where: str) -> None:
        self.connects += 1
        self.connected.set()
        self.down_reason = None
        if self._warned:
            log.warning("MQTT connected again to %s as %s", where, self.client_id)
        else:
            log.info("connected to %s as %s", where, self.client_id)
        self._warned = False
        self._ever_up = True
        if self._on_up is not None:
            self._on_up()


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"host not found ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
