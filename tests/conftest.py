"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when KEMALA_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import normalise_database_url
from bot.db import make_engine, make_sessionmaker, upgrade
from bot.directory import sync_directory
from bot.models import Base

PG_URL = os.environ.get("KEMALA_TEST_DATABASE_URL", "").strip()


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per session: SQLite → a template file to copy; PostgreSQL → the test database itself."""
    if PG_URL:
        url = normalise_database_url(PG_URL)
        upgrade(url)
        yield url
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture
async def db_url(_template_db: str, tmp_path: Path) -> AsyncIterator[str]:
    """A clean, migrated database with the agency directory seeded."""
    if PG_URL:
        url = _template_db
        engine = make_engine(url)
        async with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()
    else:
        src = Path(_template_db.split("///", 1)[1])
        dst = tmp_path / "kemala-test.db"
        shutil.copy(src, dst)
        url = f"sqlite+aiosqlite:///{dst}"
    engine = make_engine(url)
    await sync_directory(make_sessionmaker(engine))
    await engine.dispose()
    yield url


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def desk(db_url: str) -> AsyncIterator[Any]:
    """The real bot running against both sandboxes, with the harness's groups and staff."""
    from tests.desk_harness import Desk

    d = Desk(db_url)
    await d.setup()
    await d.start_bot()
    try:
        yield d
    finally:
        await d.close()


def on_postgres() -> bool:
    return bool(PG_URL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The suite runs twice (SQLite, then PostgreSQL). A test marked `once` touches no database of the
    suite (the router, the sandboxes, the packaging, the demo with its own SQLite): the PostgreSQL half
    would only repeat it, so it runs in the SQLite half alone."""
    if not PG_URL:
        return
    skip = pytest.mark.skip(reason="uses no database of the suite: run in the SQLite half")
    for item in items:
        if item.get_closest_marker("once") is not None:
            item.add_marker(skip)
