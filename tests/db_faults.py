"""Storage faults for tests, with seams that work as root (CI runs as root; chmod does not stop root).

SQLite: `PRAGMA query_only` for a read-only database, `PRAGMA max_page_count` for a full disk, both set
on every connection checkout so they land before our BEGIN IMMEDIATE. PostgreSQL: the database's
`default_transaction_read_only`, with the bot's sessions terminated so the new default applies at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from bot.db import make_engine
from tests.conftest import PG_URL

SQLITE_MAX_PAGES = 1073741823  # SQLite's default max_page_count


class Breaker:
    """Makes the bot's own database connections fail, as a read-only (or, on SQLite, full) database would."""

    def __init__(self, engine: Any, *, mode: str = "readonly") -> None:
        assert mode in ("readonly", "full")
        self.broken = False
        self.mode = mode
        self.engine = engine
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "checkout", self._sqlite_checkout)

    def _sqlite_checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        cur = dbapi_conn.cursor()
        if self.mode == "readonly":
            cur.execute(f"PRAGMA query_only = {'ON' if self.broken else 'OFF'}")
        else:
            # A full disk: the file may not grow past its current size, so small writes that fit in free
            # pages still succeed while a page of tweets fails with "database or disk is full".
            cur.execute("PRAGMA page_count")
            pages = cur.fetchone()[0]
            cur.execute(f"PRAGMA max_page_count = {pages if self.broken else SQLITE_MAX_PAGES}")
        cur.close()

    async def set(self, broken: bool) -> None:
        self.broken = broken
        if self.engine.dialect.name == "postgresql":
            admin = make_engine(PG_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
                                if PG_URL.startswith("postgresql://") else PG_URL)
            try:
                async with admin.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    # This session must be able to write even when the database default says read-only.
                    await conn.execute(text("SET default_transaction_read_only = off"))
                    name = await conn.scalar(text("SELECT current_database()"))
                    flag = "on" if broken else "off"
                    await conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {flag}'))
                    await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            finally:
                await admin.dispose()
