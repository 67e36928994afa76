"""Issue #11 items 1, 4 and 6: a webhook without a strong secret, a token in a start-up traceback, a dead database.

Each test drives the real bot (PTB over HTTP to the Telegram sandbox) or the real `kemala run` process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import DatabaseUnavailable, make_services, run_bot
from bot.config import ConfigError, load_settings
from bot.db import upgrade
from bot.models import Complaint
from bot.sandbox.telegram import TelegramSandbox
from tests.conftest import on_postgres
from tests.db_faults import Breaker as _Breaker
from tests.desk_harness import BUDI, DPU, ROAD, TOKEN, Desk, is_alert

STRONG_SECRET = "Wb7-kq_3ZxYp0s9LmN2vR4tU6wA8cE1gH5jJ"  # 36 characters of Telegram's alphabet


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- item 1: the webhook needs a strong secret, and refusals are counted -----------------------------------


@pytest.mark.parametrize("secret", ["", "short-secret", "has spaces but is long enough for the minimum!!"])
def test_webhook_mode_refuses_to_start_without_a_strong_secret(secret: str) -> None:
    env = {"KEMALA_WEBHOOK_URL": "https://desk.example.org", "KEMALA_WEBHOOK_SECRET": secret}
    with pytest.raises(ConfigError) as err:
        load_settings(env, env_file=None)
    message = str(err.value)
    assert message.startswith("KEMALA_WEBHOOK_SECRET:")
    assert "secrets.token_urlsafe(32)" in message
    assert "\n" not in message
    if secret:
        assert secret not in message
    ok = load_settings({**env, "KEMALA_WEBHOOK_SECRET": STRONG_SECRET}, env_file=None)
    assert ok.webhook_secret.get() == STRONG_SECRET


def test_kemala_run_with_a_weak_webhook_secret_exits_with_one_line(tmp_path: Path) -> None:
    env = {**_clean_env(), "KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_WEBHOOK_URL": "https://desk.example.org",
           "KEMALA_WEBHOOK_SECRET": "", "KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    proc = subprocess.run([sys.executable, "-m", "bot", "run", "--no-x"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "KEMALA_WEBHOOK_SECRET" in lines[0]


def _post(url: str, body: dict[str, Any], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def test_forged_webhook_updates_are_refused_counted_and_change_nothing(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    d = Desk(db_url, env={"KEMALA_WEBHOOK_URL": f"http://127.0.0.1:{port}", "KEMALA_WEBHOOK_SECRET": STRONG_SECRET,
                          "KEMALA_WEB_LISTEN": "127.0.0.1", "KEMALA_WEB_PORT": str(port)})
    await d.setup()
    settings = d.settings()
    d.svc = make_services(settings)
    d.stop_event = asyncio.Event()
    caplog.set_level(logging.INFO)
    d.task = asyncio.create_task(run_bot(settings, stop=d.stop_event, svc=d.svc))
    try:
        await d.wait_for(lambda: any(c["method"] == "setWebhook" and c["ok"] for c in d.tg.calls()))
        d.tweet(ROAD)
        card = await d.card(DPU)
        claim = d.button(card, "cl")
        cid = int(claim.split(":")[2])
        forged = {"update_id": 990001, "callback_query": {
            "id": "forged-1", "from": {**BUDI, "is_bot": False}, "chat_instance": "1", "data": claim,
            "message": {"message_id": card["message_id"], "date": int(time.time()),
                        "chat": {"id": DPU, "type": "supergroup", "title": "DPUBMCK Kemala"}, "text": card["text"]}}}
        url = f"http://127.0.0.1:{port}/telegram"
        statuses = [await asyncio.to_thread(_post, url, {**forged, "update_id": 990001 + i}, secret)
                    for i, secret in enumerate((None, "wrong-secret-of-the-attacker", "", None))]
        assert statuses == [403, 403, 403, 403]
        await asyncio.sleep(0.5)
        complaint = await d.complaint(cid)
        assert complaint.claimer_id is None and complaint.status == "routed"
        assert not any(c["method"] == "answerCallbackQuery" and c["params"].get("callback_query_id") == "forged-1"
                       for c in d.tg.calls())
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "webhook: refused" in r.getMessage()]
        assert warnings, [r.getMessage() for r in caplog.records]
        assert "127.0.0.1" in warnings[0].getMessage()
        assert d.svc.webhook_refusals.total == 4
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert STRONG_SECRET not in logged and "wrong-secret-of-the-attacker" not in logged
        # Telegram itself (the sandbox sends the configured secret) still gets through.
        answer = await d.press(DPU, card, BUDI, claim)
        assert not is_alert(answer)
        assert (await d.complaint(cid)).claimer_id == BUDI["id"]
    finally:
        await d.close()


# --- item 4: a rejected token never reaches stderr ----------------------------------------------------------


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    env["KEMALA_TRIAGE_CHAT_ID"] = "-1009000000001"  # `run` refuses to start without a triage group
    return env


@pytest.mark.parametrize("case", ["revoked-token", "wrong-api-path"])
def test_rejected_token_is_one_line_without_the_token(tmp_path: Path, case: str) -> None:
    sandbox = TelegramSandbox(bot_token="7000009:the-only-token-this-sandbox-knows")
    sandbox.start()
    try:
        token = "7000001:AAH-revoked-but-real-looking-token-xyz"
        api_url = sandbox.url if case == "revoked-token" else f"{sandbox.url}/wrong/path"
        if case == "wrong-api-path":
            token = "7000009:the-only-token-this-sandbox-knows"
        env = {**_clean_env(), "KEMALA_TELEGRAM_TOKEN": token, "KEMALA_TELEGRAM_API_URL": api_url,
               "KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
        proc = subprocess.run([sys.executable, "-m", "bot", "run", "--no-x"], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=90)
    finally:
        sandbox.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert token not in out and token.split(":")[1] not in out
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    assert "KEMALA_TELEGRAM_TOKEN" in errors[0]
    assert "Traceback" not in proc.stderr


def test_uncaught_exceptions_go_through_the_redaction() -> None:
    code = ("from bot.logsafe import install_excepthooks\n"
            "import threading\n"
            "install_excepthooks(['7000001:AAH-secret-token-value'])\n"
            "t = threading.Thread(target=lambda: (_ for _ in ()).throw(RuntimeError('thread 7000001:AAH-secret-token-value')))\n"
            "t.start(); t.join()\n"
            "raise RuntimeError('main 7000001:AAH-secret-token-value')\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "AAH-secret-token-value" not in proc.stderr
    assert "RuntimeError: main ***" in proc.stderr and "RuntimeError: thread ***" in proc.stderr


# --- item 6: a dead database ends the process with one line -------------------------------------------------


async def test_a_database_that_stays_away_stops_the_process_with_one_line(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    d = Desk(db_url, env={"KEMALA_DB_FAILURE_EXIT_SECONDS": "2"})
    await d.setup()
    d.svc = make_services(d.settings())
    breaker = _Breaker(d.svc.engine)
    d.stop_event = asyncio.Event()
    caplog.set_level(logging.INFO)
    d.task = asyncio.create_task(run_bot(d.settings(), stop=d.stop_event, svc=d.svc))
    try:
        await d.wait_for(lambda: any(c["method"] == "deleteWebhook" for c in d.tg.calls()), what="polling")
        assert d.svc.db_health.healthy
        await breaker.set(True)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as err:
            await asyncio.wait_for(asyncio.shield(d.task), 45)
        elapsed = time.monotonic() - started
        assert elapsed < 40
        assert "database unavailable for" in str(err.value) and "KEMALA_DB_FAILURE_EXIT_SECONDS=2" in str(err.value)
        lines = [r for r in caplog.records if r.levelno >= logging.ERROR and "database unavailable" in r.getMessage()]
        assert len(lines) == 1
        d.task = None
    finally:
        await breaker.set(False)
        await d.close()


async def test_a_short_database_outage_is_survived(db_url: str) -> None:
    d = Desk(db_url, env={"KEMALA_DB_FAILURE_EXIT_SECONDS": "4"})
    await d.setup()
    d.svc = make_services(d.settings())
    breaker = _Breaker(d.svc.engine)
    d.stop_event = asyncio.Event()
    d.task = asyncio.create_task(run_bot(d.settings(), stop=d.stop_event, svc=d.svc))
    try:
        await d.wait_for(lambda: any(c["method"] == "deleteWebhook" for c in d.tg.calls()), what="polling")
        await breaker.set(True)
        await d.wait_for(lambda: not d.svc.db_health.healthy, what="the probe to notice", timeout=10)
        await breaker.set(False)
        await d.wait_for(lambda: d.svc.db_health.healthy, what="recovery", timeout=10)
        await asyncio.sleep(4.5)
        assert not d.task.done()
        # And the desk still works: a tweet becomes a complaint.
        d.tweet(ROAD)
        await d.card(DPU)

        async def q(s: Any) -> int:
            return len((await s.scalars(select(Complaint.id))).all())
        assert await d.db(q) == 1
    finally:
        await breaker.set(False)
        await d.close()


def test_an_unusable_database_at_start_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    if on_postgres():
        pytest.skip("the read-only URI seam is SQLite's")
    sandbox = TelegramSandbox(bot_token=TOKEN)
    sandbox.start()
    try:
        env = {**_clean_env(), "KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_TELEGRAM_API_URL": sandbox.url,
               "KEMALA_DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true", "KEMALA_DB_FAILURE_EXIT_SECONDS": "2"}
        proc = subprocess.run([sys.executable, "-m", "bot", "run", "--no-x"], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=90)
    finally:
        sandbox.stop()
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert TOKEN not in proc.stdout + proc.stderr


async def test_a_hung_database_fails_the_probe_within_its_limit(db_url: str) -> None:
    """A lock never released (or a network black hole) counts as a failure, not as a probe that never ends."""
    if not on_postgres():
        pytest.skip("SQLite's own busy timeout (30 s) ends a locked wait; the probe's limit matters on PostgreSQL")
    from sqlalchemy import text as sql

    from bot.db import make_engine, make_sessionmaker
    from bot.health import DbHealth

    holder, engine = make_engine(db_url), make_engine(db_url)
    try:
        async with holder.connect() as conn:
            await conn.execute(sql("LOCK TABLE leases IN ACCESS EXCLUSIVE MODE"))
            health = DbHealth()
            started = time.monotonic()
            assert await health.probe(make_sessionmaker(engine), limit_s=0.5) is False
            assert time.monotonic() - started < 5
            assert not health.healthy and "no answer within 0.5 s" in health.last_error
            await conn.rollback()
        assert await health.probe(make_sessionmaker(engine), limit_s=5) is True and health.healthy
    finally:
        await engine.dispose()
        await holder.dispose()
