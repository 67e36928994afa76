"""The typed dependencies that handlers and jobs receive (built once in the composition root)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.i18n import Lang
from bot.twitter_bridge import DeskAccount, XBridge

# Telegram's documented send limits, with a little headroom so we never meet a 429.
GROUP_SENDS_PER_MINUTE = 20
BOT_CALLS_PER_SECOND = 30


class SendPacer:
    """Sliding-window pacing of sends: 20/min per group and ~30/s per bot, leaving room for presses."""

    def __init__(self, *, per_group: int = GROUP_SENDS_PER_MINUTE, per_second: int = BOT_CALLS_PER_SECOND - 8,
                 clock: Any = time.monotonic) -> None:
        self.per_group = per_group
        self.per_second = per_second
        self._clock = clock
        self._group: dict[int, deque[float]] = {}
        self._second: deque[float] = deque()
        self._blocked_until: dict[int, float] = {}

    def _trim(self, q: deque[float], window: float, now: float) -> None:
        while q and now - q[0] >= window:
            q.popleft()

    def can_send(self, chat_id: int) -> bool:
        now = self._clock()
        if self._blocked_until.get(chat_id, 0.0) > now:
            return False
        self._trim(self._second, 1.05, now)
        if len(self._second) >= self.per_second:
            return False
        if chat_id < 0:
            q = self._group.setdefault(chat_id, deque())
            self._trim(q, 60.5, now)
            if len(q) >= self.per_group:
                return False
        return True

    def note_send(self, chat_id: int) -> None:
        now = self._clock()
        self._second.append(now)
        if chat_id < 0:
            self._group.setdefault(chat_id, deque()).append(now)

    def note_call(self) -> None:
        """Edits and answers count against the per-second budget only."""
        self._second.append(self._clock())

    async def acquire(self, *, press: bool = True) -> None:
        """Wait (briefly) for room in the per-second budget; presses may use the headroom sweeps leave."""
        limit = self.per_second + (4 if press else 0)
        while True:
            now = self._clock()
            self._trim(self._second, 1.05, now)
            if len(self._second) < limit:
                self._second.append(now)
                return
            await asyncio.sleep(max(0.01, 1.05 - (now - self._second[0])))

    def block(self, chat_id: int, seconds: float) -> None:
        """Telegram said retry_after: nothing more to that chat until then."""
        self._blocked_until[chat_id] = self._clock() + seconds


@dataclass
class XState:
    """What the X side learned at run time (pauses after 401/402/usage cap, rate-limit resets)."""

    desk: DeskAccount | None = None
    reads_paused: str | None = None
    posts_paused_until: datetime | None = None
    next_poll_at: datetime | None = None
    alerted: set[str] = field(default_factory=set)
    failures: int = 0


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    router: Any
    bridge: XBridge | None
    lang: Lang
    pacer: SendPacer = field(default_factory=SendPacer)
    x: XState = field(default_factory=XState)
    bot_username: str = "kemala_desk_bot"
    in_flight: int = 0  # jobs running now (a clean stop waits for them)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    @property
    def desk_username(self) -> str:
        return self.x.desk.username if self.x.desk else "KemalaDesk"

    @property
    def triage_chat_id(self) -> int | None:
        return self.settings.triage_chat_id
