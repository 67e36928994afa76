"""Database helpers shared by the command-line entries (bot.cli and bot.commands import this, not
each other)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings

T = TypeVar("T")


async def with_db(settings: Settings, fn: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    from bot.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        return await fn(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def ensure_schema(settings: Settings) -> None:
    """Commands that need the schema bring it up to date first (a no-op when already there)."""
    from bot.db import upgrade

    upgrade(settings.database_url)
    from bot.directory import sync_directory

    asyncio.run(with_db(settings, lambda s: sync_directory(s, update_existing=False)))
