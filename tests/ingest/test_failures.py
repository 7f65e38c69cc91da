"""Broker failures are said once, clearly, and /healthz turns 503 with the reason (issue 13 item 6)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from collector.config import CollectorConfig
from tests.collector.conftest import Running, http_get, wait_until
from tests.support.services import Broker, free_port


def _warnings(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and needle in r.getMessage()]


async def test_wrong_password_is_one_warning_with_the_reason_and_healthz_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the broker drops root before reading the file: it needs a folder the mosquitto user can enter
    shared = Path(tempfile.mkdtemp(prefix="elev-pw-"))
    shared.chmod(0o755)
    pw = shared / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "collector", "right-password"], check=True)
    pw.chmod(0o644)
    try:
        await _wrong_password(tmp_path, pw, caplog)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


async def _wrong_password(tmp_path: Path, pw: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker(tmp_path, extra_conf=f"password_file {pw}", allow_anonymous=False).start()
    try:
        cfg = CollectorConfig(
            broker_url=f"mqtt://collector:wrong-password@127.0.0.1:{broker.port}",
            db_url=f"sqlite:///{tmp_path / 'c.db'}",
            http_port=free_port(),
            client_id="collector-wrong-pw",
            health_grace_s=1.0,
        )
        caplog.set_level(logging.INFO, logger="collector")
        run = Running(cfg)
        run.task = asyncio.create_task(run.collector.run(run.stop))
        try:
            async with asyncio.timeout(15):
                await run.collector.ready.wait()
            ingest = run.collector.ingest
            assert ingest is not None
            url = f"http://127.0.0.1:{cfg.http_port}/healthz"

            async def unhealthy() -> object:
                status, body = await asyncio.to_thread(http_get, url, None)
                return (status, body) if status == 503 else None

            res = await wait_until(unhealthy, what="/healthz 503")
            await wait_until(lambda: ingest.session.attempts >= 3, timeout_s=15, what="three attempts")
            said = _warnings(caplog, "refused")
            assert len(said) == 1, said
            assert "not authori" in said[0].lower(), said
            ok, reason = ingest.health()
            assert not ok and "not authori" in reason.lower()
            assert res[0] == 503
        finally:
            await run.close()
    finally:
        broker.stop()


async def test_broker_stop_and_start_is_one_warning_each_way(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker(tmp_path).start()
    cfg = CollectorConfig(
        broker_url=broker.url,
        db_url=f"sqlite:///{tmp_path / 'c.db'}",
        http_port=free_port(),
        client_id="collector-outage",
        health_grace_s=1.0,
    )
    caplog.set_level(logging.INFO, logger="collector")
    run = await Running(cfg).start()
    try:
        ingest = run.collector.ingest
        assert ingest is not None
        broker.stop()
        await wait_until(lambda: not ingest.connected.is_set(), what="the outage noticed")
        before = ingest.session.attempts
        await wait_until(lambda: ingest.session.attempts >= before + 2, timeout_s=15, what="two retries")
        await wait_until(lambda: not ingest.health()[0], what="health to turn bad after the grace")
        assert "no broker" in ingest.health()[1]
        broker.start()
        await wait_until(ingest.connected.is_set, timeout_s=20, what="reconnect")
        assert ingest.health() == (True, "ok")
        lost = _warnings(caplog, "MQTT")
        assert len(lost) == 2, lost
        assert "lost" in lost[0] and "connected again" in lost[1], lost
    finally:
        await run.close()
        broker.stop()
