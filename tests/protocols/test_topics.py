"""The MQTT topic layout: device ids that are safe in a topic level, and exact round trips."""

from __future__ import annotations

import pytest

from protocols import topics
from protocols.topics import (
    TopicError,
    ack_topic,
    collector_filters,
    parse_topic,
    presence_topic,
    uplink_topic,
    validate_device_id,
)


@pytest.mark.parametrize("device_id", ["a", "lift-07", "Tower_B-3", "0", "x" * 64])
def test_valid_device_ids_round_trip_through_every_topic(device_id: str) -> None:
    assert validate_device_id(device_id) == device_id
    assert uplink_topic(device_id) == f"elev/v1/{device_id}/up"
    assert ack_topic(device_id) == f"elev/v1/{device_id}/ack"
    assert presence_topic(device_id) == f"elev/v1/{device_id}/presence"
    for topic, channel in ((uplink_topic(device_id), "up"), (ack_topic(device_id), "ack")):
        assert parse_topic(topic) == (device_id, channel)
    assert parse_topic(presence_topic(device_id)) == (device_id, "presence")


@pytest.mark.parametrize(
    "device_id",
    ["", "x" * 65, "lift+1", "lift#1", "a/b", "+", "#", "/", "lift 1", "lift.1", "läuft", "a\x00b", "$SYS"],
)
def test_unsafe_device_ids_are_refused_by_name(device_id: str) -> None:
    with pytest.raises(TopicError) as err:
        validate_device_id(device_id)
    assert repr(device_id) in str(err.value)
    for make in (uplink_topic, ack_topic, presence_topic):
        with pytest.raises(TopicError):
            make(device_id)


def test_a_non_string_device_id_is_a_topic_error() -> None:
    with pytest.raises(TopicError):
        validate_device_id(7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "topic",
    [
        "elev/v1/lift/down",
        "elev/v2/lift/up",
        "elev/v1/lift/up/extra",
        "elev/v1/up",
        "elev/v1//up",
        "elev/v1/+/up",
        "elev/v1/#",
        "/elev/v1/lift/up",
        "elev/v1/lift/up/",
        "$share/collectors/elev/v1/lift/up",
        "",
    ],
)
def test_parse_topic_refuses_anything_else(topic: str) -> None:
    with pytest.raises(TopicError) as err:
        parse_topic(topic)
    assert repr(topic) in str(err.value)


def test_collector_filters_are_shared_subscriptions_on_uplink_and_presence() -> None:
    assert collector_filters() == ("$share/collectors/elev/v1/+/up", "$share/collectors/elev/v1/+/presence")
    assert collector_filters("district-3") == (
        "$share/district-3/elev/v1/+/up",
        "$share/district-3/elev/v1/+/presence",
    )
    for f in collector_filters():
        _share, group, *rest = f.split("/")
        assert _share == "$share" and group == "collectors"
        assert "/".join(rest).startswith(topics.PREFIX + "/+/")
    with pytest.raises(TopicError):
        collector_filters("a/b")
    with pytest.raises(TopicError):
        collector_filters("")


def test_filters_match_exactly_the_topics_a_collector_receives() -> None:
    """A tiny MQTT matcher: '+' is one level. The ack channel is the agents', not the collectors'."""

    def matches(pattern: str, topic: str) -> bool:
        p, t = pattern.split("/"), topic.split("/")
        return len(p) == len(t) and all(a in ("+", b) for a, b in zip(p, t, strict=True))

    plain = [f.split("/", 2)[2] for f in collector_filters()]
    assert any(matches(p, uplink_topic("lift-1")) for p in plain)
    assert any(matches(p, presence_topic("lift-1")) for p in plain)
    assert not any(matches(p, ack_topic("lift-1")) for p in plain)
