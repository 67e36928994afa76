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
    """Counts webhook requests refused for a missing or wrong secret token, logged at WARNING.

    python-telegram-bot's webhook handler answers them 403 and logs only at DEBUG; a filter on its logger
    sees each refusal (`log_exception` with the HTTP 403 and the peer address) whatever our log level is.
    One WARNING line at most every `every` seconds carries the running count, so a flood cannot flood the log.
    """

    every: float = 10.0
    clock: Callable[[], float] = time.monotonic
    total: int = 0
    _since_line: int = 0
    _last_line: float | None = None
    _last_peer: str = "?"
    _keep_debug: bool = False
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

    def install(self, logger_name: str = "telegram.ext.Updater") -> None:
        """PTB logs refusals at DEBUG: let DEBUG through on its logger, keep ours, pass the rest as before."""
        logger = logging.getLogger(logger_name)
        self._keep_debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
        if logger.getEffectiveLevel() > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
        # A filter left by an earlier run in this process would swallow the records before ours sees them.
        for old in list(logger.filters):
            if isinstance(getattr(old, "__self__", None), WebhookRefusals):
                logger.removeFilter(old)
        logger.addFilter(self._filter)
        self._logger_name = logger_name

    def uninstall(self) -> None:
        name = getattr(self, "_logger_name", None)
        if name is not None:
            logging.getLogger(name).removeFilter(self._filter)

    def _filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else record.exc_info
        status = getattr(exc, "status_code", None)
        if status == 403 and isinstance(record.args, tuple) and record.args:
            self.refused(str(record.args[0]))
            return False
        if isinstance(record.msg, str) and "secret token" in record.msg:
            return False  # PTB's own line quotes the wrong token the caller sent: counted above, not repeated
        return record.levelno > logging.DEBUG or self._keep_debug
