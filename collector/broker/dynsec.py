"""The access rules as Mosquitto dynamic-security state: pure values, no IO.

A device's credentials sit on a Pi in a machine room and are assumed leaked, so each device login
gets exactly what its agent needs and nothing else:

    device login ID (client id pinned to elev-agent-ID)
        publish    elev/v1/ID/up, elev/v1/ID/presence (retained; also its last will)
        subscribe  elev/v1/ID/ack, elev/v1/ID/cmd          (literal: nothing with a wildcard,
        receive    elev/v1/ID/ack, elev/v1/ID/cmd           no $share group, no $SYS)
    collector login
        subscribe  $share/GROUP/elev/v1/+/up, $share/GROUP/elev/v1/+/presence
        receive    elev/v1/+/up, elev/v1/+/presence
        publish    elev/v1/+/ack, elev/v1/+/cmd
    broker-admin login (client id pinned): the plugin's control topic only

Everything else is refused by default (`defaultACLAccess`), so a SUBSCRIBE the rules do not name
gets SUBACK 0x80 and a CONNECT with another party's client id gets CONNACK 5: the broker checks the
client id before a session is taken over, so the victim stays connected. Literal subscribe rules per
device because `%u` in a subscribe pattern is not substituted by Mosquitto 2.0.11 (see
../shared/notes/mosquitto-2.0.11.md). Passwords are stored as the plugin stores them:
base64(PBKDF2-HMAC-SHA512(password, salt, iterations)) with a base64 12-byte salt.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
from typing import Any

from protocols import topics

ADMIN_USER = "broker-admin"
ADMIN_CLIENT_ID = "elev-broker-admin"
COLLECTOR_USER = "collector"
COLLECTOR_ROLE = "collector"
ADMIN_ROLE = "broker-admin"
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC = "$CONTROL/dynamic-security/v1/response"
ITERATIONS = 101

State = dict[str, Any]


def agent_client_id(device_id: str) -> str:
    """The one client id a device login may connect with (surface v2: the agent's client id)."""
    return f"elev-agent-{topics.validate_device_id(device_id)}"


def device_role_name(device_id: str) -> str:
    return f"device-{topics.validate_device_id(device_id)}"


def hashed_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> dict[str, Any]:
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
    }


def password_matches(client: dict[str, Any], password: str) -> bool:
    salt = base64.b64decode(client["salt"])
    return hashed_password(password, salt, int(client["iterations"]))["password"] == client["password"]


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def device_acls(device_id: str) -> list[dict[str, Any]]:
    own_in = (topics.ack_topic(device_id), topics.command_topic(device_id))
    return (
        [_acl("publishClientSend", t) for t in (topics.uplink_topic(device_id), topics.presence_topic(device_id))]
        + [_acl("subscribeLiteral", t) for t in own_in]
        + [_acl("publishClientReceive", t) for t in own_in]
        + [_acl("unsubscribeLiteral", t) for t in own_in]
    )


def collector_acls(share_group: str = "collectors") -> list[dict[str, Any]]:
    filters = topics.collector_filters(share_group)
    plain = [f.split("/", 2)[2] for f in filters]  # $share/GROUP/elev/v1/+/up -> elev/v1/+/up
    outgoing = (f"{topics.PREFIX}/+/ack", f"{topics.PREFIX}/+/cmd")
    return (
        [_acl("subscribeLiteral", f) for f in filters]
        + [_acl("unsubscribeLiteral", f) for f in filters]
        + [_acl("publishClientReceive", t) for t in plain]
        + [_acl("publishClientSend", t) for t in outgoing]
    )


def admin_acls() -> list[dict[str, Any]]:
    control = "$CONTROL/dynamic-security/#"
    return [
        _acl("publishClientSend", control),
        _acl("publishClientReceive", control),
        _acl("subscribePattern", control),
        _acl("unsubscribePattern", control),
    ]


def _client(username: str, password: str, clientid: str | None, role: str, text: str) -> dict[str, Any]:
    c: dict[str, Any] = {"username": username, "textName": text, **hashed_password(password)}
    if clientid:
        c["clientid"] = clientid
    c["roles"] = [{"rolename": role, "priority": 0}]
    return c


def initial_state(collector_password: str, admin_password: str, share_group: str = "collectors") -> State:
    """A broker with the collector and admin logins and no device yet; everything else refused."""
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": False,
        },
        "clients": [
            # Not pinned to one id: each collector process derives its own; no device may use any.
            _client(COLLECTOR_USER, collector_password, None, COLLECTOR_ROLE, "district collector"),
            _client(ADMIN_USER, admin_password, ADMIN_CLIENT_ID, ADMIN_ROLE, "elev-collector devices"),
        ],
        "groups": [],
        "roles": [
            {"rolename": COLLECTOR_ROLE, "acls": collector_acls(share_group)},
            {"rolename": ADMIN_ROLE, "acls": admin_acls()},
        ],
    }


def device_ids(state: State) -> list[str]:
    prefix = "device-"
    return sorted(r["rolename"][len(prefix) :] for r in state.get("roles", []) if r["rolename"].startswith(prefix))


def with_device(state: State, device_id: str, password: str) -> State:
    """A copy of `state` with the device's login (replacing an older one of the same id)."""
    out = without_device(state, device_id)
    out["clients"].append(
        _client(device_id, password, agent_client_id(device_id), device_role_name(device_id), f"elevator {device_id}")
    )
    out["roles"].append({"rolename": device_role_name(device_id), "acls": device_acls(device_id)})
    return out


def without_device(state: State, device_id: str) -> State:
    out = copy.deepcopy(state)
    role = device_role_name(device_id)
    out["clients"] = [c for c in out.get("clients", []) if c["username"] != device_id]
    out["roles"] = [r for r in out.get("roles", []) if r["rolename"] != role]
    return out


def add_device_commands(device_id: str, password: str) -> list[dict[str, Any]]:
    """Control-API commands that give a running broker the device's login (as `with_device`)."""
    role = device_role_name(device_id)
    return (
        [{"command": "createRole", "rolename": role, "textname": f"elevator {device_id}"}]
        + [{"command": "addRoleACL", "rolename": role, **acl} for acl in device_acls(device_id)]
        + [
            {
                "command": "createClient",
                "username": device_id,
                "password": password,
                "clientid": agent_client_id(device_id),
                "textname": f"elevator {device_id}",
                "roles": [{"rolename": role, "priority": 0}],
            }
        ]
    )


def remove_device_commands(device_id: str) -> list[dict[str, Any]]:
    """Delete the login (which also disconnects it) and its role."""
    return [
        {"command": "deleteClient", "username": device_id},
        {"command": "deleteRole", "rolename": device_role_name(device_id)},
    ]
