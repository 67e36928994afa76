"""Issue 15, items 4–5: the one web server (/healthz, /metrics, /telegram) in the bot's process, the
metrics scraped while the desk works and checked against the database, and the operator's log lines."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.config import load_settings
from bot.models import CardOutbox, Complaint, ReplyOutbox
from bot.web.server import build_web_app
from tests.desk_harness import BUDI, DINKES, DPU, HEALTH, ROAD, Desk, complaint_id_of

ROOT = Path(__file__).resolve().parent.parent


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def by_label(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> dict[str, float]:
    return {labels[0][1]: v for (n, labels), v in scraped.items() if n == name and labels and v}


async def db_counts(desk: Desk, column: Any) -> dict[str, float]:
    async def q(s: Any) -> dict[str, float]:
        return {str(k): float(n) for k, n in (await s.execute(select(column, func.count()).group_by(column))).all()}
    return await desk.db(q)


async def test_metrics_scraped_while_the_desk_works_match_the_database(db_url: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    desk = Desk(db_url)
    await desk.setup()
    caplog.set_level(logging.INFO)
    try:
        await desk.start_bot()
        assert desk.svc is not None
        base = f"http://127.0.0.1:{desk.svc.web_port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as web:
            await desk.wait_for(lambda: desk.svc is not None and desk.svc.db_health.last_ok is not None,
                                what="first database probe")
            health = (await web.get("/healthz")).json()
            assert health["status"] == "ok" and health["telegram"] == "polling" and health["x"] == "on"

            for i in range(3):
                desk.tweet(f"{ROAD} nomor {i}", username=f"warga{i}")
            desk.tweet(HEALTH, username="warga_sehat")
            card = await desk.card(DPU)
            await desk.card(DINKES)
            answer = await desk.press(DPU, card, BUDI, desk.button(card, "cl"))
            assert "text" in answer

            scraped = samples((await web.get("/metrics")).text)
            assert scraped[("kemala_x_posts_read_total", ())] >= 4
            for name, column in (("kemala_complaints", Complaint.status), ("kemala_cards", CardOutbox.state),
                                 ("kemala_replies", ReplyOutbox.state)):
                assert by_label(scraped, name) == await db_counts(desk, column), name
            assert by_label(scraped, "kemala_complaints")["claimed"] == 1
            assert scraped[("kemala_job_duration_seconds_count", (("job", "poll_x"),))] >= 1
            assert ("kemala_outbox_oldest_pending_seconds", (("outbox", "cards"),)) in scraped

            # Telegram asks the desk to slow down: each refusal is counted by service and code.
            desk.tg.fault("sendMessage", status=429, retry_after=1)
            desk.tweet(f"{ROAD} lagi", username="warga_lagi")
            await desk.card(DPU, containing="lagi")
            scraped = samples((await web.get("/metrics")).text)
            assert scraped[("kemala_api_errors_total", (("code", "429"), ("service", "telegram")))] == 1
    finally:
        await desk.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("Kemala desk starting" in m and "web http://127.0.0.1:" in m for m in lines)
    cid = complaint_id_of(card)
    assert any(m.startswith("card sent") and f"#{cid}" in m for m in lines), lines
    assert any(m.startswith("post read") and "→ complaint #" in m for m in lines), lines
    assert not any(ROAD[:30] in m for m in lines)  # ids and numbers, never the citizen's words


async def test_metrics_need_loopback_or_the_token_and_health_says_503_when_the_database_fails(db_url: str) -> None:
    from bot.app import make_services

    settings = load_settings({"KEMALA_DATABASE_URL": db_url, "KEMALA_METRICS_TOKEN": "metrics-token-0123456789"},
                             env_file=None)
    svc = make_services(settings)
    app = build_web_app(svc, telegram=None)
    try:
        remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=remote, base_url="http://desk") as web:
            assert (await web.get("/metrics")).status_code == 403
            wrong = await web.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403
            ok = await web.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
            assert ok.status_code == 200 and "kemala_complaints" in ok.text
            assert (await web.get("/telegram")).status_code == 404  # not in webhook mode: no such route
            svc.db_health.failed(RuntimeError("database is locked"))
            health = await web.get("/healthz")
            assert health.status_code == 503 and health.json()["database"] == "database is locked"
    finally:
        await svc.engine.dispose()
    no_token = make_services(load_settings({"KEMALA_DATABASE_URL": db_url}, env_file=None))
    try:
        transport = httpx.ASGITransport(app=build_web_app(no_token), client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as web:
            assert (await web.get("/metrics", headers={"Authorization": "Bearer "})).status_code == 403
        local = httpx.ASGITransport(app=build_web_app(no_token), client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=local, base_url="http://desk") as web:
            assert (await web.get("/metrics")).status_code == 200
    finally:
        await no_token.engine.dispose()


@pytest.mark.once
def test_old_webhook_listen_and_port_names_still_work_with_a_warning() -> None:
    s = load_settings({"KEMALA_WEBHOOK_LISTEN": "0.0.0.0", "KEMALA_WEBHOOK_PORT": "8443"}, env_file=None)
    assert (s.web_listen, s.web_port) == ("0.0.0.0", 8443)
    assert any("KEMALA_WEBHOOK_PORT is now KEMALA_WEB_PORT" in w for w in s.warnings)
    both = load_settings({"KEMALA_WEBHOOK_PORT": "8443", "KEMALA_WEB_PORT": "9000"}, env_file=None)
    assert both.web_port == 9000
    default = load_settings({}, env_file=None)
    assert (default.web_listen, default.web_port) == ("127.0.0.1", 8080)


@pytest.mark.slow
@pytest.mark.once
def test_a_taken_web_port_is_one_line(tmp_path: Path) -> None:
    import os

    from bot.sandbox.telegram import TelegramSandbox

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    tg = TelegramSandbox(bot_token="7000001:AAH-web-port-test-token")
    tg.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
        env.update({"PYTHONPATH": str(ROOT), "KEMALA_TELEGRAM_TOKEN": "7000001:AAH-web-port-test-token",
                    "KEMALA_TELEGRAM_API_URL": tg.url, "KEMALA_TRIAGE_CHAT_ID": "-1009",
                    "KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "KEMALA_WEB_PORT": str(port)})
        proc = subprocess.run([sys.executable, "-m", "bot", "run", "--no-x"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=90)
    finally:
        tg.stop()
        holder.close()
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in errors[0] and "KEMALA_WEB_PORT" in errors[0]
    assert "Traceback" not in proc.stderr
