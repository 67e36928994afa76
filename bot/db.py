"""Engine, sessions and the unit of work: the only place that opens transactions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _migrations_dir() -> Path:
    """KEMALA_MIGRATIONS_DIR if set; else the copy an installed wheel carries (bot/_migrations); else the
    source tree's migrations/ (an editable install or a checkout)."""
    if os.environ.get("KEMALA_MIGRATIONS_DIR"):
        return Path(os.environ["KEMALA_MIGRATIONS_DIR"])
    packaged = Path(__file__).resolve().parent / "_migrations"
    return packaged if (packaged / "env.py").is_file() else Path(__file__).resolve().parent.parent / "migrations"


MIGRATIONS_DIR = _migrations_dir()


class StorageUnavailable(Exception):
    """The database itself refused work (full, locked, read-only, gone): retry later, park nothing."""


# PostgreSQL SQLSTATE classes and codes that say "the server cannot do this now", not "this row is bad":
# connection (08), insufficient resources such as disk full (53), operator intervention such as admin
# shutdown (57), system I/O errors (58), a read-only transaction, serialization failures and lock waits.
_PG_STORAGE_CLASSES = frozenset({"08", "53", "57", "58"})
_PG_STORAGE_CODES = frozenset({"25006", "40001", "40P01", "55P03", "55006"})


def is_storage_failure(e: BaseException) -> bool:
    """True when the database failed as a whole; False when it refused this statement's content.

    SQLite reports a full disk, a lock timeout, a read-only file and I/O errors as OperationalError;
    PostgreSQL says which through the SQLSTATE. Integrity and data errors (a value X sent that we cannot
    store) are content problems: only those may park a tweet.
    """
    if isinstance(e, StorageUnavailable | OSError | ConnectionError | TimeoutError | sa_exc.TimeoutError
                  | sa_exc.InterfaceError | sa_exc.OperationalError | sa_exc.ResourceClosedError):
        return True
    if isinstance(e, sa_exc.DBAPIError):
        if e.connection_invalidated:
            return True
        code = str(getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None) or "")
        return code[:2] in _PG_STORAGE_CLASSES or code in _PG_STORAGE_CODES
    cause = e.__cause__
    return cause is not None and cause is not e and is_storage_failure(cause)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and immediate write transactions."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own BEGIN handling defers locks; we issue BEGIN IMMEDIATE ourselves so two
            # writers queue on the busy timeout instead of failing with "database is locked" mid-way.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    async with sessions() as session, session.begin():
        yield session


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run Alembic migrations to `revision` (a no-op when already there)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
