"""Issue 15, items 1–3 and 7: the operator's first hour — configuration checks, CLI values, read-only
commands that never create a database, `kemala run`'s refusals and its start-up line, unbind and backup.

Every bad value is run the way an operator meets it (the `kemala` process, its exit status, its stderr) and
checked for "nothing written" on the database or the folder.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import EXIT_CONFIG, ConfigError, load_settings
from bot.db import make_engine, make_sessionmaker
from bot.directory import bind_chat
from bot.models import Agency, AgencyChat, CardOutbox, Complaint, Event
from bot.sandbox.x import XSandbox

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "7000001:AAH-operator-test-token-not-real"
X_ENV = {"KEMALA_X_BEARER_TOKEN": "AAAA-op-bearer", "KEMALA_X_CONSUMER_KEY": "op-consumer-key",
         "KEMALA_X_CONSUMER_SECRET": "op-consumer-secret", "KEMALA_X_ACCESS_TOKEN": "1-op-access",
         "KEMALA_X_ACCESS_TOKEN_SECRET": "op-access-secret"}


def kemala(*args: str, cwd: Path, env: dict[str, str] | None = None,
           timeout: float = 90) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=clean,
                          cwd=cwd, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- 3. configuration checks ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "value", "says"), [
    ("KEMALA_POLL_SECONDS", "nan", "finite"),
    ("KEMALA_POLL_SECONDS", "inf", "finite"),
    ("KEMALA_POLL_SECONDS", "-inf", "finite"),
    ("KEMALA_ROUTING_THRESHOLD", "2", "at most 1"),
    ("KEMALA_ROUTING_THRESHOLD", "-0.1", "at least 0"),
    ("KEMALA_WEBHOOK_PORT", "99999", "1–65535"),
    ("KEMALA_WEB_PORT", "-1", "1–65535"),
    ("KEMALA_WEB_PORT", "65536", "1–65535"),
    ("KEMALA_TRIAGE_CHAT_ID", "12345", "negative"),
    ("KEMALA_TRIAGE_CHAT_ID", "0", "negative"),
    ("KEMALA_DATABASE_URL", "postgresql://", "needs a host"),
    ("KEMALA_DATABASE_URL", "postgresql:///kemala", "needs a host"),
    ("KEMALA_DATABASE_URL", "postgresql://kemala:pw@db:5432", "database name"),
    ("KEMALA_DATABASE_URL", "sqlite:///", "needs a file"),
    ("KEMALA_LOG_FORMAT", "xml", "text, json"),
])
@pytest.mark.once
def test_bad_values_are_refused_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({name: value}, env_file=None)
    message = str(err.value)
    assert message.startswith(f"{name}:") and says in message and "\n" not in message


@pytest.mark.once
def test_good_edges_are_accepted() -> None:
    s = load_settings({"KEMALA_ROUTING_THRESHOLD": "1", "KEMALA_WEB_PORT": "65535",
                       "KEMALA_TRIAGE_CHAT_ID": "-1001234567890", "KEMALA_LOG_FORMAT": "json",
                       "KEMALA_DATABASE_URL": "postgresql://kemala:pw@db:5432/kemala"}, env_file=None)
    assert (s.routing_threshold, s.web_port, s.triage_chat_id, s.log_format) == (1.0, 65535, -1001234567890,
                                                                                     "json")
    assert s.warnings == ()


@pytest.mark.once
def test_unknown_variables_and_unparsable_env_lines_are_warned_about(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEMALA_HASHTAG=#KemalaJateng\nthis line is not an assignment\nKEMALA_LANGUAGE=en\n")
    s = load_settings({"KEMALA_POLL_SECOND": "30", "KEMALA_SOMETHING_ELSE": "1"}, env_file=env_file)
    assert s.language == "en" and s.poll_seconds == 15.0  # the typo is not taken for the real name
    assert ".env line 2: not a NAME=value line, ignored" in s.warnings
    assert "unknown variable KEMALA_POLL_SECOND, ignored (did you mean KEMALA_POLL_SECONDS?)" in s.warnings
    assert "unknown variable KEMALA_SOMETHING_ELSE, ignored" in s.warnings


@pytest.mark.once
def test_a_config_error_exits_78_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    for name, value in (("KEMALA_POLL_SECONDS", "nan"), ("KEMALA_ROUTING_THRESHOLD", "2"),
                        ("KEMALA_WEBHOOK_PORT", "99999"), ("KEMALA_TRIAGE_CHAT_ID", "12345"),
                        ("KEMALA_DATABASE_URL", "postgresql://")):
        env = {name: value}
        if name != "KEMALA_DATABASE_URL":
            env["KEMALA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'k.db'}"
        proc = kemala("config", cwd=tmp_path, env=env)
        assert proc.returncode == EXIT_CONFIG, (name, proc.stderr)
        assert name in one_error_line(proc)
        assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.once
def test_warnings_reach_the_operator_on_stderr(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KEMALA_POLL_SECOND=30\n=broken\n")
    proc = kemala("config", cwd=tmp_path)
    assert proc.returncode == 0
    assert "kemala: warning: unknown variable KEMALA_POLL_SECOND, ignored (did you mean KEMALA_POLL_SECONDS?)" \
        in proc.stderr
    assert "kemala: warning: .env line 2" in proc.stderr
    assert '"poll_seconds": 15.0' in proc.stdout


# --- 1. read-only commands never create a database --------------------------------------------------------

@pytest.mark.parametrize("args", [("agencies", "list"), ("x", "usage"), ("status",), ("agencies", "bind", "dinkes",
                                                                                       "-1001")])
@pytest.mark.once
def test_commands_on_a_missing_database_say_to_upgrade_and_create_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = kemala(*args, cwd=tmp_path)  # the default URL: sqlite:///kemala.db in this folder
    assert proc.returncode != 0
    line = one_error_line(proc)
    assert "kemala db upgrade" in line and "kemala.db" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.once
def test_a_database_without_the_schema_says_to_upgrade(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    proc = kemala("agencies", "list", cwd=tmp_path, env={"KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert proc.returncode != 0 and "kemala db upgrade" in one_error_line(proc)
    tables = sqlite3.connect(tmp_path / "empty.db").execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


@pytest.mark.once
def test_routing_a_text_needs_no_database(tmp_path: Path) -> None:
    proc = kemala("route", "jalan provinsi Blora - Cepu rusak parah", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "agency: dpubmck" in proc.stdout
    assert list(tmp_path.iterdir()) == []


# --- 3. every CLI value validated, nothing written ---------------------------------------------------------

async def _events_and_chats(db_url: str) -> tuple[int, int]:
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            return (int(await s.scalar(select(func.count(Event.id))) or 0),
                    int(await s.scalar(select(func.count(AgencyChat.id))) or 0))
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("args", "says"), [
    (("agencies", "bind", "dpubmck", "12345"), "negative"),
    (("agencies", "bind", "dpubmck", "grup-dpu"), "integer"),
    (("agencies", "set", "dinkes", "kind", "xyz"), "unknown kind 'xyz'"),
    (("agencies", "add", "dinbaru", "Dinas Baru", "--kind", "xyz"), "unknown kind 'xyz'"),
    (("agencies", "sync", "--file", "/nope.csv"), "no such file: /nope.csv"),
    (("x", "usage", "--month", "2026-13"), "month 01–12"),
    (("x", "usage", "--month", "2026-1"), "YYYY-MM"),
    (("agencies", "unbind", "dinkes"), "has no group bound"),
    (("agencies", "unbind", "nope"), "no agency"),
])
async def test_bad_cli_values_get_one_line_and_change_nothing(db_url: str, tmp_path: Path, args: tuple[str, ...],
                                                              says: str) -> None:
    before = await _events_and_chats(db_url)
    proc = kemala(*args, cwd=tmp_path, env={"KEMALA_DATABASE_URL": db_url})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "cannot reach the database" not in proc.stderr
    assert await _events_and_chats(db_url) == before


# --- 7. unbind and backup ----------------------------------------------------------------------------------

async def test_unbind_parks_the_groups_cards_and_binding_again_sends_them(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        await bind_chat(sessions, code="dinkes", chat_id=-1001000000012)
        async with sessions() as s, s.begin():
            dinkes = await s.scalar(select(Agency).where(Agency.code == "dinkes"))
            assert dinkes is not None
            c = Complaint(tweet_x_id="1", conversation_id="1", author_x_id="9", author_username="warga",
                          author_name="Warga", text="demam berdarah", status="new", agency_id=dinkes.id,
                          tweeted_at=datetime.now(UTC))
            s.add(c)
            await s.flush()
            s.add(CardOutbox(complaint_id=c.id, chat_id=-1001000000012, kind="card", state="pending"))
    finally:
        await engine.dispose()
    env = {"KEMALA_DATABASE_URL": db_url}
    proc = kemala("agencies", "unbind", "dinkes", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "unbound dinkes from chat -1001000000012; 1 card(s) wait" in proc.stdout
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as s:
            assert await s.scalar(select(func.count(AgencyChat.id)).where(AgencyChat.chat_id == -1001000000012)) == 0
            card = await s.scalar(select(CardOutbox))
            assert card is not None and card.state == "parked" and card.last_error == "group unbound"
            assert await s.scalar(select(func.count(Event.id)).where(Event.action == "chat_unbound")) == 1
        proc = kemala("agencies", "bind", "dinkes", "-1001000000099", cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        async with sessions() as s:
            card = await s.scalar(select(CardOutbox))
            assert card is not None and (card.state, card.chat_id) == ("pending", -1001000000099)
    finally:
        await engine.dispose()


@pytest.mark.once
def test_sqlite_backup_is_a_working_copy_and_never_overwrites(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    assert kemala("db", "upgrade", cwd=tmp_path, env={"KEMALA_DATABASE_URL": url}).returncode == 0
    proc = kemala("db", "backup", str(tmp_path / "copy.db"), cwd=tmp_path, env={"KEMALA_DATABASE_URL": url})
    assert proc.returncode == 0, proc.stderr
    listed = kemala("agencies", "list", "--json", cwd=tmp_path,
                    env={"KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'copy.db'}"})
    assert listed.returncode == 0 and '"dpubmck"' in listed.stdout
    again = kemala("db", "backup", str(tmp_path / "copy.db"), cwd=tmp_path, env={"KEMALA_DATABASE_URL": url})
    assert again.returncode != 0 and "exists" in one_error_line(again)
    pg = kemala("db", "backup", "x.dump", cwd=tmp_path,
                env={"KEMALA_DATABASE_URL": "postgresql://kemala@127.0.0.1:5432/kemala"})
    assert pg.returncode != 0 and "pg_dump" in one_error_line(pg)


# --- 2. start-up: refusals, one line each, and the summary ---------------------------------------------------

@pytest.mark.once
@pytest.mark.slow
def test_run_refuses_what_it_needs_with_exit_78(tmp_path: Path) -> None:
    base = {"KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    no_triage = kemala("run", cwd=tmp_path, env={**base, **X_ENV})
    assert no_triage.returncode == EXIT_CONFIG and "KEMALA_TRIAGE_CHAT_ID" in one_error_line(no_triage)
    partial = {k: v for k, v in X_ENV.items() if k != "KEMALA_X_ACCESS_TOKEN_SECRET"}
    no_x = kemala("run", cwd=tmp_path, env={**base, **partial, "KEMALA_TRIAGE_CHAT_ID": "-1009"})
    line = one_error_line(no_x)
    assert no_x.returncode == EXIT_CONFIG and "KEMALA_X_ACCESS_TOKEN_SECRET" in line and "--no-x" in line
    assert not (tmp_path / "k.db").exists()
    for out in (no_triage.stderr, no_x.stderr):
        assert TOKEN not in out and "op-consumer-secret" not in out


@pytest.mark.once
@pytest.mark.slow
def test_run_with_unreachable_telegram_or_x_is_one_line(tmp_path: Path) -> None:
    base = {"KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KEMALA_TRIAGE_CHAT_ID": "-1009"}
    tg = kemala("run", "--no-x", cwd=tmp_path, env={**base, "KEMALA_TELEGRAM_API_URL": "http://127.0.0.1:9"})
    assert tg.returncode not in (0, EXIT_CONFIG)
    assert "cannot reach Telegram at http://127.0.0.1:9" in one_error_line(tg)  # Alembic said nothing either
    x = kemala("run", cwd=tmp_path, env={**base, **X_ENV, "KEMALA_X_API_URL": "http://127.0.0.1:9"})
    assert x.returncode not in (0, EXIT_CONFIG)
    assert "cannot reach X at http://127.0.0.1:9" in one_error_line(x)
    for out in (tg.stdout + tg.stderr, x.stdout + x.stderr):
        assert TOKEN not in out and TOKEN.split(":")[1] not in out and "op-access-secret" not in out


@pytest.mark.once
@pytest.mark.slow
def test_rejected_x_keys_stop_the_start(tmp_path: Path) -> None:
    x = XSandbox(desk_username="KemalaDesk", lag_seconds=0)
    x.start()
    try:
        env = {"KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
               "KEMALA_TRIAGE_CHAT_ID": "-1009", **X_ENV, "KEMALA_X_API_URL": x.url}
        x.fault(endpoint="me", status=401, count=10)
        proc = kemala("run", cwd=tmp_path, env=env)
    finally:
        x.stop()
    assert proc.returncode != 0 and "X rejected the credentials" in one_error_line(proc)


async def test_the_start_up_line_says_what_is_on(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from tests.desk_harness import Desk

    desk = Desk(db_url)
    await desk.setup()
    try:
        with caplog.at_level(logging.INFO, logger="bot.app"):
            await desk.start_bot()
            await desk.wait_for(lambda: any("Kemala desk starting" in r.getMessage() for r in caplog.records),
                                what="start-up line")
    finally:
        await desk.close()
    line = next(r.getMessage() for r in caplog.records if "Kemala desk starting" in r.getMessage())
    assert "Telegram @kemala_test_bot (long polling)" in line
    assert "X intake on" in line and "#KemalaJateng" in line and "replies summoned" in line
    assert "triage chat -1009000000001" in line
    assert "3 of 48 agencies have a group" in line
    assert TOKEN not in line and "secret" not in line.lower()


@pytest.mark.once
def test_json_logs_are_one_object_per_line_and_redacted() -> None:
    import io
    import json

    from bot.logsafe import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    stream = io.StringIO()
    try:
        configure_logging("INFO", ["s3cr3t-value"], stream=stream, fmt="json")
        logging.getLogger("bot.test").info("posted reply %s with s3cr3t-value", 7)
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    finally:
        root.handlers, level = saved
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "INFO" and record["logger"] == "bot.test"
    assert record["message"] == "posted reply 7 with ***"
