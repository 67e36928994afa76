"""Database helpers shared by the command-line entries (bot.cli and bot.commands import this, not
each other)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings

T = TypeVar("T")


class SchemaMissing(Exception):
    """The database (or its Kemala schema) is not there or behind: `kemala db upgrade` makes it."""


async def with_db(settings: Settings, fn: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    from bot.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        return await fn(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def ensure_schema(settings: Settings) -> None:
    """`kemala run` brings the schema up to date first (a no-op when already there)."""
    from bot.db import upgrade

    upgrade(settings.database_url)
    from bot.directory import sync_directory

    asyncio.run(with_db(settings, lambda s: sync_directory(s, update_existing=False)))


def require_schema(settings: Settings) -> None:
    """Every other command works on an existing, current database and never creates one (a typo in
    KEMALA_DATABASE_URL, or a command run in the wrong folder, must not leave a fresh empty database)."""
    path = sqlite_path(settings.database_url)
    if path is not None and not path.is_file():
        raise SchemaMissing(f"no database at {path.resolve()}: run `kemala db upgrade` first (it creates it), "
                            "or set KEMALA_DATABASE_URL")
    current = asyncio.run(_revision(settings))
    from alembic.script import ScriptDirectory

    from bot.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    if current is None:
        raise SchemaMissing("the database has no Kemala schema yet: run `kemala db upgrade`")
    if current != head:
        raise SchemaMissing(f"the database schema is at {current}, this version needs {head}: "
                            "run `kemala db upgrade`")


async def _revision(settings: Settings) -> str | None:
    from sqlalchemy import inspect, text

    from bot.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            if not await conn.run_sync(lambda c: inspect(c).has_table("alembic_version")):
                return None
            return await conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
