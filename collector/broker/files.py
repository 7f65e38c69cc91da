"""A broker configuration directory written by the project, and changes applied to a running broker.

    DIR/mosquitto.conf               root 0644   one plain listener, no anonymous access, the plugin
    DIR/broker-admin.json            root 0600   where and how `devices add` reaches the control API
    DIR/dynsec/                      mosquitto 0700  (the plugin rewrites its file here)
    DIR/dynsec/dynamic-security.json mosquitto 0600  logins and rules (see collector.broker.dynsec)
    DIR/data/                        mosquitto 0700  persistence

Mosquitto drops root before the plugin reads its file, so as root the files the broker reads or
writes are given to the broker's user; everything else stays root's.

While the broker runs, the plugin owns its file (it rewrites it on every change and never reads it
again), so a device is added through the control topic by the admin login; when the broker is not
running the file is edited in place and read at the next start.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pwd
import secrets
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from collector.broker import dynsec
from collector.errors import DeviceError

PLUGIN_GLOBS = ("/usr/lib/*/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so")
CONF_HEADER = "# Written by `elev-collector broker-config`; rerun it rather than editing this file.\n"


class BrokerConfigError(DeviceError):
    """The configuration directory cannot be written, read or applied; the message names the file."""


@dataclass(frozen=True)
class AdminAccess:
    host: str
    port: int
    username: str
    password: str
    client_id: str


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def admin(self) -> Path:
        return self.root / "broker-admin.json"

    @property
    def dynsec_dir(self) -> Path:
        return self.root / "dynsec"

    @property
    def dynsec(self) -> Path:
        return self.dynsec_dir / "dynamic-security.json"

    @property
    def data(self) -> Path:
        return self.root / "data"


def find_plugin() -> str:
    for pattern in PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise BrokerConfigError(
        "mosquitto_dynamic_security.so not found (apt-get install mosquitto, version 2); pass --plugin PATH"
    )


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BrokerConfigError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:1883")
    return host.strip("[]"), int(port)


def read_secret(path: str, what: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BrokerConfigError(f"{what} {path}: cannot read it ({exc})") from None
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise BrokerConfigError(f"{what} {path}: the first line is empty (expected the password)")
    return secret


def conf_text(layout: Layout, host: str, port: int, user: str, plugin: str) -> str:
    return (
        CONF_HEADER
        + "per_listener_settings false\n"
        + "allow_anonymous false\n"
        + f"user {user}\n"
        + f"listener {port} {host}\n"
        + "protocol mqtt\n"
        + f"plugin {plugin}\n"
        + f"plugin_opt_config_file {layout.dynsec}\n"
        + "persistence true\n"
        + f"persistence_location {layout.data}/\n"
        + "max_queued_messages 100000\n"
        + "max_inflight_messages 100\n"
        + "set_tcp_nodelay true\n"
    )


def _write(path: Path, text: str, mode: int, owner: tuple[int, int] | None) -> None:
    """Replace the file whole, with the given mode (and owner, as root)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _broker_owner(user: str) -> tuple[int, int] | None:
    """The broker user's uid/gid when we can give files away (root), else None (files stay ours)."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise BrokerConfigError(f"--user {user}: no such user on this host") from None
    return pw.pw_uid, pw.pw_gid


def _mkdir(path: Path, mode: int, owner: tuple[int, int] | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, *owner)


def load_state(layout: Layout) -> dynsec.State:
    try:
        state = json.loads(layout.dynsec.read_text())
    except FileNotFoundError:
        raise BrokerConfigError(
            f"{layout.dynsec}: missing; run `elev-collector broker-config {layout.root} …`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BrokerConfigError(f"{layout.dynsec}: cannot read it ({exc})") from None
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("clients"), list)
        or not isinstance(state.get("roles"), list)
    ):
        raise BrokerConfigError(f"{layout.dynsec}: not a dynamic-security file (no clients/roles lists)")
    return state


def save_state(layout: Layout, state: dynsec.State) -> None:
    st = layout.dynsec.stat() if layout.dynsec.exists() else layout.dynsec_dir.stat()
    owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None
    _write(layout.dynsec, json.dumps(state, indent=1) + "\n", 0o600, owner)


def write_config(
    root: Path, listen: str, collector_password: str, user: str = "mosquitto", plugin: str | None = None
) -> Layout:
    """Write (or rewrite) DIR; device logins already in DIR are kept, the rest is made anew."""
    host, port = parse_listen(listen)
    plugin = plugin or find_plugin()
    layout = Layout(root)
    owner = _broker_owner(user)
    try:
        _mkdir(root, 0o755, None)
        _mkdir(layout.dynsec_dir, 0o700, owner)
        _mkdir(layout.data, 0o700, owner)
        state = dynsec.initial_state(collector_password, secrets.token_urlsafe(24))
        if layout.dynsec.exists():
            old = load_state(layout)
            for device_id in dynsec.device_ids(old):
                state["clients"] += [c for c in old["clients"] if c.get("username") == device_id]
                state["roles"] += [r for r in old["roles"] if r.get("rolename") == dynsec.device_role_name(device_id)]
        admin = next(c for c in state["clients"] if c["username"] == dynsec.ADMIN_USER)
        admin_password = secrets.token_urlsafe(24)
        admin.update(dynsec.hashed_password(admin_password))
        _write(layout.dynsec, json.dumps(state, indent=1) + "\n", 0o600, owner)
        access = {
            "host": "127.0.0.1" if host in ("0.0.0.0", "::", "") else host,
            "port": port,
            "username": dynsec.ADMIN_USER,
            "password": admin_password,
            "client_id": dynsec.ADMIN_CLIENT_ID,
        }
        _write(layout.admin, json.dumps(access, indent=1) + "\n", 0o600, None)
        _write(layout.conf, conf_text(layout, host, port, user, plugin), 0o644, None)
    except OSError as exc:
        raise BrokerConfigError(f"{root}: cannot write the broker configuration ({exc})") from None
    return layout


def read_admin(layout: Layout) -> AdminAccess:
    try:
        raw = json.loads(layout.admin.read_text())
        return AdminAccess(
            str(raw["host"]), int(raw["port"]), str(raw["username"]), str(raw["password"]), str(raw["client_id"])
        )
    except FileNotFoundError:
        raise BrokerConfigError(
            f"{layout.admin}: missing; run `elev-collector broker-config {layout.root} …`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BrokerConfigError(f"{layout.admin}: cannot read it ({exc})") from None


class BrokerNotRunning(BrokerConfigError):
    """Nothing listens at the admin address: the file is edited instead."""


async def send_commands(access: AdminAccess, commands: list[dict[str, Any]], timeout_s: float = 10.0) -> None:
    """Run control-API commands on the running broker; BrokerConfigError naming the first refusal."""
    try:
        async with aiomqtt.Client(
            access.host,
            access.port,
            username=access.username,
            password=access.password,
            identifier=access.client_id,
            timeout=timeout_s,
        ) as client:
            await client.subscribe(dynsec.CONTROL_RESPONSE_TOPIC, qos=1)
            correlation = uuid.uuid4().hex
            tagged = [{**c, "correlationData": f"{correlation}-{i}"} for i, c in enumerate(commands)]
            await client.publish(dynsec.CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    responses = json.loads(bytes(message.payload)).get("responses", [])
                    ours = [r for r in responses if str(r.get("correlationData", "")).startswith(correlation)]
                    if not ours:
                        continue
                    errors = [f"{r.get('command')}: {r['error']}" for r in ours if r.get("error")]
                    if errors:
                        raise BrokerConfigError(f"broker {access.host}:{access.port} refused " + "; ".join(errors))
                    return
    except TimeoutError:
        raise BrokerConfigError(f"broker {access.host}:{access.port}: no answer on the control topic") from None
    except aiomqtt.MqttCodeError as exc:
        raise BrokerConfigError(
            f"broker {access.host}:{access.port} refused the admin login ({exc}); rerun broker-config"
        ) from None
    except aiomqtt.MqttError as exc:
        raise BrokerNotRunning(f"broker {access.host}:{access.port}: not reachable ({exc})") from None


async def add_device(root: Path, device_id: str, password: str) -> str:
    """Give the device its login; returns how it was applied (one line for the operator)."""
    layout = Layout(root)
    access = read_admin(layout)
    try:
        await send_commands(access, dynsec.add_device_commands(device_id, password))
        return f"applied to the running broker at {access.host}:{access.port}"
    except BrokerNotRunning:
        save_state(layout, dynsec.with_device(load_state(layout), device_id, password))
        return f"broker not running: written to {layout.dynsec} (read when it starts)"


async def remove_device(root: Path, device_id: str) -> str:
    layout = Layout(root)
    access = read_admin(layout)
    try:
        await send_commands(access, dynsec.remove_device_commands(device_id))
        return f"removed from the running broker at {access.host}:{access.port}"
    except BrokerNotRunning:
        save_state(layout, dynsec.without_device(load_state(layout), device_id))
        return f"broker not running: removed from {layout.dynsec}"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
