"""`elev-collector devices add|list|remove`: the registry, and the device's broker login.

Frames from a device not in the registry are refused. With `--broker-config DIR` (a directory
written by `elev-collector broker-config`) `add` creates the device's login in Mosquitto's
dynamic-security rules (collector.broker.dynsec: its own topics only, client id pinned to
`elev-agent-ID`), applied to the running broker at once, and `remove` deletes it.

Older setups: when `--password-file` and `--acl-file` are
given, the same command keeps Mosquitto in step: `add` creates the device's login (username = the
device id, a generated password printed once for the installer) and `remove` deletes it; the ACL
file is rewritten from the registry each time, so a device may publish only `elev/v1/ID/up` and
`elev/v1/ID/presence` and read only `elev/v1/ID/ack`, while the collector's login reads everything
under `elev/v1` and writes acknowledgements. Mosquitto reads both files again on SIGHUP
(`systemctl reload mosquitto`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collector.broker import files
from collector.config import DEFAULT_DB_URL, BrokerAddress, read_toml
from collector.errors import CollectorError, ConfigError, DeviceError
from collector.store import open_store
from protocols import topics

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
ACL_HEADER = "# Written by `elev-collector devices`; edits are overwritten. Reload Mosquitto after a change.\n"


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="elev-collector devices", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True, metavar="{add,list,remove}")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", metavar="DB_URL", help=f"registry database (default {DEFAULT_DB_URL})")
        sp.add_argument("--config", metavar="FILE", help="the collector's TOML file (db_url, broker_url, …)")
        sp.add_argument("--debug", action="store_true")

    def broker_files(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--broker-config",
            metavar="DIR",
            help="a directory written by `elev-collector broker-config`: the login is applied to the broker",
        )
        sp.add_argument("--password-file", metavar="FILE", help="Mosquitto password file to maintain")
        sp.add_argument("--acl-file", metavar="FILE", help="Mosquitto ACL file to rewrite from the registry")
        sp.add_argument("--collector-user", default="collector", help="the collectors' broker login (collector)")

    add = sub.add_parser("add", help="register a device (and create its broker login)")
    add.add_argument("device_id")
    add.add_argument("--broker", metavar="URL", help="broker address to print for the installer")
    add.add_argument(
        "--ca-file", metavar="FILE", help="the broker's CA certificate (PEM), printed for the gateway to trust"
    )
    common(add)
    broker_files(add)
    lst = sub.add_parser("list", help="list registered devices")
    common(lst)
    rm = sub.add_parser("remove", help="unregister a device (and delete its broker login)")
    rm.add_argument("device_id")
    common(rm)
    broker_files(rm)
    return p


def hash_password(password: str, salt: bytes | None = None, iterations: int = 101) -> str:
    """Mosquitto 2 password hash ($7$: PBKDF2-SHA512), used when mosquitto_passwd is not installed."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _atomic_write(path: Path, text: str) -> None:
    """Replace the file whole (Mosquitto never reads half a file), keeping its mode and owner."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if path.exists():
            st = path.stat()
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # not root: the file stays ours, as it was
        else:
            os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def set_password(password_file: Path, username: str, password: str) -> None:
    binary = shutil.which("mosquitto_passwd") or (MOSQUITTO_PASSWD if os.path.exists(MOSQUITTO_PASSWD) else None)
    if binary:
        args = [binary, "-b", str(password_file), username, password]
        if not password_file.exists():
            args.insert(1, "-c")
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            raise DeviceError(f"mosquitto_passwd {password_file}: {(r.stderr or r.stdout).strip()}")
        return
    lines = password_file.read_text().splitlines() if password_file.exists() else []
    lines = [ln for ln in lines if ln.split(":", 1)[0] != username]
    lines.append(f"{username}:{hash_password(password)}")
    _atomic_write(password_file, "\n".join(lines) + "\n")


def delete_password(password_file: Path, username: str) -> None:
    if not password_file.exists():
        return
    lines = password_file.read_text().splitlines()
    kept = [ln for ln in lines if ln.split(":", 1)[0] != username]
    if len(kept) != len(lines):
        _atomic_write(password_file, "\n".join(kept) + ("\n" if kept else ""))


def print_gateway_files(device_id: str, broker: str, password: str | None, ca_file: str | None) -> None:
    """What the installer copies onto the gateway: /etc/smart-elevator/agent.toml and the CA file.

    Printed as files to paste, so provisioning is one copy and nothing is retyped by hand.
    """
    scheme, _, hostport = broker.partition("://")
    login = f"{device_id}:{password}@" if password else ""
    print("")
    print("--- /etc/smart-elevator/agent.toml (mode 0640 root:elev-agent) ---")
    print(f'device_id = "{device_id}"')
    print('data_dir = "/var/lib/smart-elevator"')
    print("[broker]")
    print(f'url = "{scheme}://{login}{hostport}"')
    if ca_file:
        print('ca_file = "/etc/smart-elevator/ca.crt"')
    print("[modbus]")
    print('rtu = "/dev/ttyUSB0"          # FILL IN: the RS485 adapter (or tcp = "HOST:502", and no rtu)')
    print("baud = 19200                 # FILL IN: the controller's Modbus baud rate (parity N, 1 stop bit)")
    print("unit_id = 1")
    print("[elevator]                   # FILL IN both floors: check refuses and run warns without them")
    print("# lowest_floor = -1          # the building's floor number of the lowest landing")
    print("# highest_floor = 12")
    print("rated_speed_mm_s = 0         # 0: read from the controller; or the nameplate's speed")
    if ca_file:
        print("--- /etc/smart-elevator/ca.crt ---")
        print(read_ca(ca_file).rstrip("\n"))
    print("---")


def read_ca(ca_file: str) -> str:
    try:
        pem = Path(ca_file).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeviceError(f"--ca-file {ca_file}: cannot read it ({exc})") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise DeviceError(f"--ca-file {ca_file}: not a PEM certificate")
    return pem


def acl_text(device_ids: list[str], collector_user: str) -> str:
    out = [ACL_HEADER, f"user {collector_user}", f"topic read {topics.PREFIX}/#"]
    out += [f"topic write {topics.PREFIX}/+/ack", ""]
    for d in sorted(device_ids):
        out += [
            f"user {d}",
            f"topic write {topics.uplink_topic(d)}",
            f"topic write {topics.presence_topic(d)}",
            f"topic read {topics.ack_topic(d)}",
            "",
        ]
    return "\n".join(out)


def _db_url(args: argparse.Namespace) -> tuple[str, str | None]:
    file_values = read_toml(args.config) if args.config else {}
    db = args.db or file_values.get("db_url") or DEFAULT_DB_URL
    broker = getattr(args, "broker", None) or file_values.get("broker_url")
    if not isinstance(db, str) or not isinstance(broker, str | None):
        raise ConfigError(f"{args.config}: db_url and broker_url must be strings")
    return db, broker


async def _run(args: argparse.Namespace) -> int:
    db, broker = _db_url(args)
    if getattr(args, "ca_file", None):
        read_ca(args.ca_file)  # refuse a bad CA file before anything is registered
    if args.action != "list":
        try:
            topics.validate_device_id(args.device_id)
        except topics.TopicError as exc:
            raise DeviceError(str(exc)) from None
    pw_file = Path(args.password_file) if getattr(args, "password_file", None) else None
    broker_dir = Path(args.broker_config) if getattr(args, "broker_config", None) else None
    if broker_dir is not None and (pw_file is not None or getattr(args, "acl_file", None)):
        raise ConfigError("--broker-config replaces --password-file/--acl-file: give one or the other")
    if broker_dir is not None:
        files.read_admin(files.Layout(broker_dir))  # refuse a bad directory before anything is registered
    applied = ""
    acl_file = Path(args.acl_file) if getattr(args, "acl_file", None) else None
    async with open_store(db) as store:
        if args.action == "list":
            devices = await store.devices()
            print(f"{'device_id':24s} {'online':6s} last_seen")
            for d in devices:
                seen = "-"
                if d.last_seen_ms:
                    seen = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.last_seen_ms / 1000))
                print(f"{d.device_id:24s} {'yes' if d.online else 'no':6s} {seen}")
            print(f"{len(devices)} device(s)", file=sys.stderr)
            return 0
        if args.action == "add":
            if not await store.add_device(args.device_id, args.device_id, time.time_ns() // 1_000_000):
                raise DeviceError(f"device {args.device_id} is already registered")
            password = None
            if pw_file is not None:
                password = secrets.token_urlsafe(18)
                set_password(pw_file, args.device_id, password)
            if broker_dir is not None:
                password = secrets.token_urlsafe(18)
                try:
                    applied = await files.add_device(broker_dir, args.device_id, password)
                except CollectorError:
                    await store.remove_device(args.device_id)  # no registered device without its login
                    raise
        else:
            if not await store.remove_device(args.device_id):
                raise DeviceError(f"device {args.device_id} is not registered")
            if pw_file is not None:
                delete_password(pw_file, args.device_id)
            if broker_dir is not None:
                applied = await files.remove_device(broker_dir, args.device_id)
        if acl_file is not None:
            ids = [d.device_id for d in await store.devices()]
            _atomic_write(acl_file, acl_text(ids, args.collector_user))
    if args.action == "add":
        address = BrokerAddress.parse(broker) if broker else None
        where = (
            f"{'mqtts' if address and address.tls else 'mqtt'}://{address.host}:{address.port}"
            if address
            else (f"mqtts://{socket.getfqdn()}:8883")
        )
        print(f"device_id: {args.device_id}")
        print(f"username:  {args.device_id}")
        print(f"password:  {password if password else '(broker logins not managed here: no --broker-config)'}")
        print(f"broker:    {where}")
        if password:
            print(
                f"agent:     elev-agent run --device-id {args.device_id} --broker "
                f"{where.split('://')[0]}://{args.device_id}:{password}@{where.split('://')[1]} "
                "--modbus-rtu /dev/ttyUSB0 --floors=LOW..HIGH --data-dir /var/lib/smart-elevator"
            )
            if applied:
                print(f"(the password is shown only now; broker login {applied})")
            else:
                print("(the password is shown only now; reload Mosquitto to apply: systemctl reload mosquitto)")
        print_gateway_files(args.device_id, where, password, getattr(args, "ca_file", None))
    else:
        print(f"removed {args.device_id}" + (f" (broker login {applied})" if applied else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except ConfigError as exc:
        print(f"elev-collector devices: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"elev-collector devices: {exc}", file=sys.stderr)
        return 2
    except CollectorError as exc:
        if args.debug:
            raise
        print(f"elev-collector devices: {exc}", file=sys.stderr)
        return 1
