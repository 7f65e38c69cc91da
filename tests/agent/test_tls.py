"""The uplink over TLS with username/password against a real Mosquitto: verified, or not at all."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge_agent.config import Overrides, build
from edge_agent.outbox import Outbox
from protocols.events import Action, Event
from tests.agent.support import until
from tests.agent.test_uplink import running
from tests.support.services import Broker


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> Path:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)  # fmt: skip
    return d / f"{name}.pem"


@pytest.fixture
def tls_broker(tmp_path: Path) -> tuple[Broker, Path]:
    d = tmp_path / "pki"
    d.mkdir()
    ca = make_ca(d, "ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=d)  # fmt: skip
    passwd = d / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "lift-t", "s3cret"], check=True, capture_output=True)
    passwd.chmod(0o600)
    conf = f"user root\ncafile {ca}\ncertfile {d / 'server.pem'}\nkeyfile {d / 'server.key'}\npassword_file {passwd}\n"
    b = Broker(tmp_path, extra_conf=conf, allow_anonymous=False).start()
    yield b, ca  # type: ignore[misc]
    b.stop()


def cfg_for(tmp_path: Path, port: int, ca: Path, user: str = "lift-t:s3cret") -> object:
    doc = {"broker": {"ca_file": str(ca)}, "uplink": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3}}
    url = f"mqtts://{user}@127.0.0.1:{port}"
    return build(doc, "<test>", Overrides("lift-t", url, "127.0.0.1:1", None, str(tmp_path), None))


async def test_verified_tls_with_password_connects(tmp_path: Path, tls_broker: tuple[Broker, Path]) -> None:
    broker, ca = tls_broker
    cfg = cfg_for(tmp_path, broker.port, ca)
    async with Outbox(tmp_path / "ob.db") as ob, running(cfg, ob) as up:  # type: ignore[arg-type]
        await ob.put_event(1, 1, True, Event(1, "alarm_button", Action.RAISE))
        await until(lambda: up.online and up.counters.records_sent >= 1, 15, "a TLS connection and a frame sent")


@pytest.mark.parametrize("case", ["unknown_ca", "wrong_password"])
async def test_refuses_a_broker_it_cannot_verify_or_that_refuses_it(
    tmp_path: Path, tls_broker: tuple[Broker, Path], case: str
) -> None:
    broker, ca = tls_broker
    if case == "unknown_ca":
        other = tmp_path / "other"
        other.mkdir()
        cfg = cfg_for(tmp_path, broker.port, make_ca(other, "impostor"))
    else:
        cfg = cfg_for(tmp_path, broker.port, ca, user="lift-t:wrong")
    async with Outbox(tmp_path / "ob.db") as ob, running(cfg, ob) as up:  # type: ignore[arg-type]
        await until(lambda: up.counters.connect_failures >= 2, 15, "refused connections")
        assert up.counters.connects == 0 and not up.online
        if case == "unknown_ca":
            assert "certificate verify failed" in up.last_error.lower(), up.last_error
