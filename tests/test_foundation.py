"""Configuration, migrations, the agency directory and the CLI, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from bot.config import ConfigError, Secret, load_settings, normalise_database_url
from bot.db import make_engine
from bot.directory import DirectoryError, load_rows
from bot.models import Agency, AgencyChat, Base, Complaint, Event

ROOT = Path(__file__).resolve().parent.parent


def run_cli(db_url: str, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env["KEMALA_DATABASE_URL"] = db_url
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


# --- configuration -------------------------------------------------------------------------------------

def test_defaults_and_url_forms() -> None:
    s = load_settings({}, env_file=None)
    assert s.database_url == "sqlite+aiosqlite:///kemala.db"
    assert s.poll_seconds == 15 and s.hashtag == "#KemalaJateng" and s.x_reply_policy == "summoned"
    assert s.telegram_api_url == "https://api.telegram.org" and s.x_api_url == "https://api.x.com"
    assert normalise_database_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert normalise_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"


@pytest.mark.parametrize(("name", "value"), [
    ("KEMALA_POLL_SECONDS", "0"), ("KEMALA_POLL_SECONDS", "abc"), ("KEMALA_ADMIN_IDS", "12,x"),
    ("KEMALA_X_REPLY_POLICY", "always"), ("KEMALA_LANGUAGE", "fr"), ("KEMALA_TIMEZONE", "Mars/Olympus"),
    ("KEMALA_DATABASE_URL", "mysql://x"), ("KEMALA_TRIAGE_CHAT_ID", "triage"), ("KEMALA_TELEGRAM_API_URL", "ftp://x"),
])
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, env_file=None)


def test_secrets_never_print(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEMALA_TELEGRAM_TOKEN=999:SECRETTOKENVALUE\nKEMALA_ADMIN_IDS=1, 2\n")
    s = load_settings({"KEMALA_X_BEARER_TOKEN": "BEARERSECRET",
                       "KEMALA_DATABASE_URL": "postgresql://u:pgpass@h/db"}, env_file=env_file)
    assert s.telegram_token.get() == "999:SECRETTOKENVALUE" and s.admin_ids == {1, 2}
    dumped = json.dumps(s.dump()) + repr(s) + str(s.telegram_token)
    for secret in ("SECRETTOKENVALUE", "BEARERSECRET", "pgpass"):
        assert secret not in dumped
    assert isinstance(s.x_bearer_token, Secret) and set(s.secrets()) == {"999:SECRETTOKENVALUE", "BEARERSECRET"}


def test_config_command_hides_secrets(db_url: str) -> None:
    out = run_cli(db_url, "config", extra_env={"KEMALA_TELEGRAM_TOKEN": "42:TOPSECRETXYZ"})
    assert out.returncode == 0, out.stderr
    assert "TOPSECRETXYZ" not in out.stdout and '"telegram_token": "***"' in out.stdout


def test_bad_env_is_one_line_and_nonzero(db_url: str) -> None:
    out = run_cli(db_url, "agencies", "list", extra_env={"KEMALA_POLL_SECONDS": "-5"})
    assert out.returncode == 78  # EX_CONFIG: a supervisor does not restart into the same error
    assert out.stderr.strip().count("\n") == 0 and "KEMALA_POLL_SECONDS" in out.stderr


# --- schema and directory ------------------------------------------------------------------------------

async def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    await engine.dispose()
    assert diff == []


def test_db_upgrade_on_empty_file_twice_then_list_and_bind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = run_cli(url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "49 agencies added" in first.stdout
    second = run_cli(url, "db", "upgrade")
    assert second.returncode == 0 and "0 agencies added" in second.stdout
    listed = run_cli(url, "agencies", "list", "--json")
    rows = json.loads(listed.stdout)
    codes = {r["code"] for r in rows}
    expected = {r.code for r in load_rows(ROOT / "bot" / "data" / "agencies.csv")}
    # 48 agencies + triage, then 35 regency/city governments and 14 vertical bodies (destinations only).
    assert len(rows) == len(expected) == 98 and codes == expected and "triase" in codes and "dpubmck" in codes
    assert {"kab-sragen", "kota-semarang", "kab-semarang", "pln"} <= codes
    bound = run_cli(url, "agencies", "bind", "dpubmck", "-1001000000013")
    assert bound.returncode == 0, bound.stderr
    rows = json.loads(run_cli(url, "agencies", "list", "--json").stdout)
    assert next(r for r in rows if r["code"] == "dpubmck")["chat_id"] == -1001000000013


@pytest.mark.slow
def test_cli_edits_and_refusals(db_url: str) -> None:
    assert run_cli(db_url, "agencies", "add", "dinas-baru", "Dinas Baru Provinsi", "--short-name", "Dinbar").returncode == 0
    assert run_cli(db_url, "agencies", "rename", "dinas-baru", "Dinas Lebih Baru").returncode == 0
    assert run_cli(db_url, "agencies", "set", "dinas-baru", "requires_approval", "true").returncode == 0
    rows = {r["code"]: r for r in json.loads(run_cli(db_url, "agencies", "list", "--json").stdout)}
    assert rows["dinas-baru"]["name"] == "Dinas Lebih Baru" and rows["dinas-baru"]["requires_approval"] is True
    for args, needle in [
        (("agencies", "bind", "nope", "-100123"), "unknown agency code 'nope'"),
        (("agencies", "add", "dinkes", "Dup"), "already exists"),
        (("agencies", "set", "dinkes", "colour", "red"), "cannot set 'colour'"),
        (("agencies", "retire", "triase"), "cannot be retired"),
        (("agencies", "bind", "kab-sragen", "-100124"), "cannot have a Telegram group"),
    ]:
        out = run_cli(db_url, *args)
        assert out.returncode == 2 and needle in out.stderr, (args, out.stderr)
    assert run_cli(db_url, "agencies", "bind", "dinkes", "-1002").returncode == 0
    clash = run_cli(db_url, "agencies", "bind", "dinsos", "-1002")
    assert clash.returncode == 2 and "already bound to dinkes" in clash.stderr


async def test_retire_refuses_with_open_complaints_then_moves_them(db_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    async with sessions() as s, s.begin():
        dinkes = await s.scalar(select(Agency).where(Agency.code == "dinkes"))
        for i in range(3):
            s.add(Complaint(tweet_x_id=f"1{i:018d}", conversation_id=f"1{i:018d}", author_x_id="5",
                            author_username="warga", author_name="Warga", text="obat kosong", status="routed",
                            agency_id=dinkes.id, tweeted_at=datetime.now(UTC)))
    refused = run_cli(db_url, "agencies", "retire", "dinkes")
    assert refused.returncode == 2 and "3 open complaint(s)" in refused.stderr
    async with sessions() as s:
        assert await s.scalar(select(Agency.active).where(Agency.code == "dinkes")) is True
    moved = run_cli(db_url, "agencies", "retire", "dinkes", "--move-to", "rsud-moewardi")
    assert moved.returncode == 0, moved.stderr
    async with sessions() as s:
        target = await s.scalar(select(Agency.id).where(Agency.code == "rsud-moewardi"))
        assert await s.scalar(select(func.count()).where(Complaint.agency_id == target)) == 3
        assert await s.scalar(select(Agency.active).where(Agency.code == "dinkes")) is False
        assert await s.scalar(select(func.count()).where(Event.action == "reassign")) == 3


def test_csv_with_duplicate_code_is_refused(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "agencies.csv"
    bad.write_text("code,kind,name,short_name,x_handle\ndinkes,dinas,A,A,\ndinkes,dinas,B,B,\n")
    with pytest.raises(DirectoryError, match="line 3: duplicate agency code 'dinkes'"):
        load_rows(bad)
    out = run_cli(db_url, "agencies", "sync", "--file", str(bad))
    assert out.returncode == 2 and "duplicate agency code" in out.stderr


def test_unreachable_database_is_one_line() -> None:
    out = run_cli("postgresql://nobody@127.0.0.1:1/none", "agencies", "list")
    assert out.returncode == 2 and "cannot reach the database" in out.stderr
    assert "Traceback" not in out.stderr


async def test_timestamps_are_aware_utc(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        agency = await s.scalar(select(Agency).where(Agency.code == "dinkes"))
        assert agency.created_at.tzinfo is not None and agency.created_at.utcoffset().total_seconds() == 0
        assert await s.scalar(select(func.count(AgencyChat.id))) == 0


# --- packaging ---------------------------------------------------------------------------------------

def test_dockerfile_and_compose_are_consistent() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    assert docker.count("FROM ") >= 2 and "USER " in docker
    assert "kemala db upgrade" in docker and "kemala run" in docker
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert {"bot", "db"} <= set(compose["services"])
    assert compose["services"]["bot"]["environment"]["KEMALA_DATABASE_URL"].startswith("postgresql://")
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kemala"] == "bot.cli:main"
    from bot import cli

    assert callable(cli.main)


def test_migration_0004_gives_a_shared_x_post_back_to_reconciliation(tmp_path: Path) -> None:
    """Replies left sharing one X post by the old adoption bug: the oldest keeps it, the others reconcile again."""
    import sqlalchemy as sa

    from bot.db import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    upgrade(url, "0003")
    sync = sa.create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with sync.begin() as conn:
        conn.execute(sa.text("INSERT INTO agencies (id, code, name, short_name, kind, active, requires_approval, "
                             "created_at, updated_at) VALUES (1, 'dpu', 'DPU', 'DPU', 'dinas', 1, 0, "
                             "'2026-01-01', '2026-01-01')"))
        for cid in (1, 2):
            conn.execute(sa.text(
                "INSERT INTO complaints (id, tweet_x_id, conversation_id, author_x_id, author_username, author_name, "
                "text, status, routing_reasons, routing_alternatives, photo_urls, reply_eligible, followups, "
                "version, deleted, edited, tweeted_at, created_at, updated_at) VALUES "
                f"({cid}, '{cid}', '{cid}', 'a{cid}', 'w{cid}', 'W', 't', 'answered', '[]', '[]', '[]', 0, 0, 1, 0, 0, "
                "'2026-01-01', '2026-01-01', '2026-01-01')"))
            conn.execute(sa.text(
                "INSERT INTO reply_outbox (id, complaint_id, text, author_id, author_name, mode, state, attempts, "
                "next_attempt_at, posted_x_id, posted_at, created_at) VALUES "
                f"({cid}, {cid}, 'x', 1, 'B', 'fallback', 'posted', 1, '2026-01-01', '777', '2026-01-01', "
                "'2026-01-01')"))
    upgrade(url)
    with sync.begin() as conn:
        rows = conn.execute(sa.text("SELECT id, state, posted_x_id FROM reply_outbox ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "posted", "777"), (2, "unknown", None)]
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("UPDATE reply_outbox SET posted_x_id = '777' WHERE id = 2"))
    sync.dispose()
