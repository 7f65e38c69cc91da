"""The broker fixture itself: a real Mosquitto that can be stopped and started on the same port."""

import socket

from tests.support.services import Broker, port_open, wait_for


def test_broker_restarts_on_same_port(broker: Broker) -> None:
    assert port_open(broker.port)
    broker.stop()
    wait_for(lambda: not port_open(broker.port), 5, what="port to close")
    broker.start()
    with socket.create_connection(("127.0.0.1", broker.port), timeout=2) as s:
        # MQTT CONNECT (protocol 3.1.1, clean session, keepalive 10) answered by CONNACK 0x20.
        s.sendall(bytes.fromhex("101000044d5154540402000a0004746573 74".replace(" ", "")))
        assert s.recv(4)[:1] == b"\x20"
