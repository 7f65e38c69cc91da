"""Issue 12, items 1 and 2, against a real Mosquitto run from the directory `broker-config` writes.

A device's credentials are assumed leaked: with them one may subscribe to nothing but the device's
own acks and commands, publish nothing but its own uplink and presence, and connect only as
`elev-agent-<device>`, so it can neither join the collectors' share group nor throw the collector
or another elevator off the broker. On the old password/ACL files every refusal below was a grant.
"""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from protocols import topics
from tests.broker.conftest import Site

pytestmark = pytest.mark.asyncio

REFUSED = 0x80


def codes(granted: object) -> list[int]:
    return [int(getattr(g, "value", g)) for g in granted]  # type: ignore[attr-defined]


def device_client(device: str, password: str, port: int, client_id: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, username=device, password=password, identifier=client_id or f"elev-agent-{device}"
    )


async def next_message(client: aiomqtt.Client, timeout_s: float = 5.0) -> aiomqtt.Message:
    async with asyncio.timeout(timeout_s):
        async for m in client.messages:
            return m
    raise AssertionError("no message")


async def test_device_login_gets_only_its_own_topics(site: Site) -> None:
    pw_a = site.add_device("lift-a")
    site.add_device("lift-b")
    site.broker.start()
    port = site.broker.port
    async with (
        device_client("lift-a", pw_a, port) as a,
        aiomqtt.Client("127.0.0.1", port, username="collector", password=site.collector_password) as col,
    ):
        for own in (topics.ack_topic("lift-a"), topics.command_topic("lift-a")):
            assert codes(await a.subscribe(own, qos=1)) == [1], own
        hostile = [
            "$share/collectors/elev/v1/+/up",
            "$share/collectors/elev/v1/+/presence",
            "#",
            "$SYS/#",
            topics.ack_topic("lift-b"),
            topics.command_topic("lift-b"),
            "elev/v1/+/ack",
            topics.uplink_topic("lift-b"),
        ]
        for f in hostile:
            assert codes(await a.subscribe(f, qos=1)) == [REFUSED], f
        for f in topics.collector_filters():
            assert codes(await col.subscribe(f, qos=1)) == [1], f
        # A device may not publish as another one; its own uplink reaches the collector.
        await a.publish(topics.uplink_topic("lift-b"), b"forged", qos=1)
        await a.publish(topics.ack_topic("lift-a"), b"self-ack", qos=1)
        await a.publish(topics.uplink_topic("lift-a"), b"own", qos=1)
        m = await next_message(col)
        assert (str(m.topic), bytes(m.payload)) == (topics.uplink_topic("lift-a"), b"own")  # type: ignore[arg-type]
        # The collector's commands and acks reach the device; nothing else did.
        await col.publish(topics.command_topic("lift-a"), b"live-view", qos=1)
        m = await next_message(a)
        assert (str(m.topic), bytes(m.payload)) == (topics.command_topic("lift-a"), b"live-view")  # type: ignore[arg-type]


async def test_nobody_takes_another_partys_client_id(site: Site) -> None:
    pw_a = site.add_device("lift-a")
    pw_b = site.add_device("lift-b")
    site.broker.start()
    port = site.broker.port
    collector_id = "elev-collector-district-8080"
    async with (
        device_client("lift-b", pw_b, port) as victim,
        aiomqtt.Client(
            "127.0.0.1", port, username="collector", password=site.collector_password, identifier=collector_id
        ) as col,
    ):
        await victim.subscribe(topics.ack_topic("lift-b"), qos=1)
        await col.subscribe(topics.collector_filters()[0], qos=1)
        # (An empty client id is let in by Mosquitto 2.0.11 with a broker-assigned random id: it takes
        # over nobody's session, and the login's topic rules still hold.)
        for stolen in ("elev-agent-lift-b", collector_id, "elev-agent-lift-a-check", "elev-agent-lift-a "):
            with pytest.raises(aiomqtt.MqttCodeError) as refused:
                async with device_client("lift-a", pw_a, port, client_id=stolen or None):
                    pass
            assert "not authori" in str(refused.value.rc).lower(), (stolen, refused.value)  # CONNACK 5
        # A wrong password is refused too, and an unknown user.
        for user, pw in (("lift-a", "wrong"), ("nobody", pw_a)):
            with pytest.raises(aiomqtt.MqttCodeError):
                async with device_client(user, pw, port, client_id="elev-agent-lift-a"):
                    pass
        # Both victims are still connected: each still receives what the other sends.
        await victim.publish(topics.uplink_topic("lift-b"), b"still here", qos=1)
        m = await next_message(col)
        assert bytes(m.payload) == b"still here"  # type: ignore[arg-type]
        await col.publish(topics.ack_topic("lift-b"), b"ack", qos=1)
        m = await next_message(victim)
        assert bytes(m.payload) == b"ack"  # type: ignore[arg-type]
    assert "closing old connection" not in site.broker.log()
