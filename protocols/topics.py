"""The MQTT topic layout: one subtree per device, so the broker's ACL can tie it to the login.

    elev/v1/{device}/up         agent -> collector   uplink frames (QoS 1)
    elev/v1/{device}/ack        collector -> agent   end-to-end acknowledgements (QoS 1)
    elev/v1/{device}/presence   agent, retained      presence; also the agent's MQTT last will
    elev/v1/{device}/cmd        collector -> agent   commands (e.g. live view on demand), QoS 1

Collectors subscribe with shared subscriptions (`$share/{group}/...`) so several collector
processes split the devices' traffic between them; acks go back on the device's own topic, which
each agent subscribes to alone. A device id is what the frames do not repeat, so it must be safe in
a topic level: no wildcards, no separators, bounded length.
"""

from __future__ import annotations

import re

PREFIX = "elev/v1"
CHANNELS: tuple[str, ...] = ("up", "ack", "presence", "cmd")

_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TopicError(ValueError):
    """A device id or topic outside the layout; the message names it."""


def validate_device_id(device_id: str) -> str:
    """Return `device_id` if it is 1-64 of [A-Za-z0-9_-]; TopicError naming it otherwise."""
    if not isinstance(device_id, str) or _DEVICE_ID.fullmatch(device_id) is None:
        raise TopicError(f"device id {device_id!r} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return device_id


def uplink_topic(device_id: str) -> str:
    return f"{PREFIX}/{validate_device_id(device_id)}/up"


def ack_topic(device_id: str) -> str:
    return f"{PREFIX}/{validate_device_id(device_id)}/ack"


def presence_topic(device_id: str) -> str:
    return f"{PREFIX}/{validate_device_id(device_id)}/presence"


def command_topic(device_id: str) -> str:
    return f"{PREFIX}/{validate_device_id(device_id)}/cmd"


def collector_filters(group: str = "collectors") -> tuple[str, ...]:
    """The collector's subscriptions: every device's uplink and presence, shared within `group`."""
    if not isinstance(group, str) or _DEVICE_ID.fullmatch(group) is None:
        raise TopicError(f"share group {group!r} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return (f"$share/{group}/{PREFIX}/+/up", f"$share/{group}/{PREFIX}/+/presence")


def parse_topic(topic: str) -> tuple[str, str]:
    """`elev/v1/{device}/{channel}` -> (device_id, channel); TopicError for anything else."""
    if not isinstance(topic, str):
        raise TopicError(f"topic {topic!r} is not a string")
    parts = topic.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[3] not in CHANNELS:
        raise TopicError(f"topic {topic!r} is not {PREFIX}/{{device}}/{{{'|'.join(CHANNELS)}}}")
    try:
        validate_device_id(parts[2])
    except TopicError as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from None
    return parts[2], parts[3]
