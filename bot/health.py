"""Process health: is the database answering, and who knocked on the webhook without the secret.

Both are plain state objects fed by the composition root (`bot/app.py`); a health endpoint can read them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import unit_of_work

log = logging.getLogger(__name__)

# A write that changes nothing: on SQLite our BEGIN IMMEDIATE already needs the write lock, and PostgreSQL
# refuses any UPDATE in a read-only transaction, so a read-only database fails the probe on both.
PROBE_SQL = "UPDATE leases SET holder = holder WHERE 1 = 0"


def first_line(e: BaseException) -> str:
    text_ = str(e).strip()
    return (text_.splitlines()[0] if text_ else type(e).__name__)[:200]


@dataclass
class DbHealth:
    """When did the database last take a write, and since when has it been failing."""

    clock: Callable[[], float] = time.monotonic
    last_ok: float | None = None
    failing_since: float | None = None
    last_error: str = ""

    def ok(self) -> None:
        if self.failing_since is not None:
            log.warning("database answering again after %.0f s", self.clock() - self.failing_since)
        self.last_ok = self.clock()
        self.failing_since = None
        self.last_error = ""

    def failed(self, e: BaseException) -> None:
        if self.failing_since is None:
            self.failing_since = self.clock()
            log.warning("database call failed: %s", first_line(e))
        self.last_error = first_line(e)

    @property
    def healthy(self) -> bool:
        return self.failing_since is None

    def failing_for(self) -> float:
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since

    async def probe(self, sessions: async_sessionmaker[AsyncSession], *, limit_s: float = 15.0) -> bool:
        try:
            # A database that hangs (a lock never released, a network black hole) fails like one that refuses.
            async with asyncio.timeout(limit_s):
                async with unit_of_work(sessions) as s:
                    await s.execute(text(PROBE_SQL))
        except TimeoutError:
            self.failed(TimeoutError(f"no answer within {limit_s:g} s"))
            return False
        except Exception as e:  # any failure of the probe counts; it runs no code of ours to get wrong
            self.failed(e)
            return False
        self.ok()
        return True


@dataclass
class WebhookRefusals:
    """Counts webhook requests refused for a missing or wrong secret token (bot/web/server.py), logged at
    WARNING: one line at most every `every` seconds carries the running count, so a flood cannot flood the log.
    """

    every: float = 10.0
    clock: Callable[[], float] = time.monotonic
    total: int = 0
    _since_line: int = 0
    _last_line: float | None = None
    _last_peer: str = "?"
    peers: dict[str, int] = field(default_factory=dict)

    def refused(self, peer: str) -> None:
        self.total += 1
        self._since_line += 1
        self._last_peer = peer
        self.peers[peer] = self.peers.get(peer, 0) + 1
        now = self.clock()
        if self._last_line is None or now - self._last_line >= self.every:
            log.warning("webhook: refused %d request(s) without a valid secret token (last from %s; %d since start)",
                        self._since_line, self._last_peer, self.total)
            self._since_line = 0
            self._last_line = now
