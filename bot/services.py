"""The typed dependencies that handlers and jobs receive (built once in the composition root)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.health import DbHealth, WebhookRefusals
from bot.i18n import Lang
from bot.metrics import Metrics
from bot.routing import RouterPort
from bot.twitter_bridge import DeskAccount, XBridge

# Telegram's documented send limits, with a little headroom so we never meet a 429.
GROUP_SENDS_PER_MINUTE = 20
BOT_CALLS_PER_SECOND = 30


class SendPacer:
    """Sliding-window pacing: 20 sends/min per group, and a per-second call budget in which button
    presses get headroom the sweeps may not use, so a press never waits behind a backlog of cards."""

    def __init__(self, *, per_group: int = GROUP_SENDS_PER_MINUTE, per_second: int = 17, press_extra: int = 7,
                 clock: Any = time.monotonic) -> None:
        self.per_group = per_group
        # Sweeps stay near 16/s (17 per 1.1 s) — what 48 groups × 20/min can use — and presses may go 7 more
        # higher: below Telegram's 30/s with room for calls that arrive bunched after waiting.
        self.per_second = per_second
        self.press_extra = press_extra
        self._clock = clock
        self._group: dict[int, deque[float]] = {}
        self._second: deque[float] = deque()
        self._blocked_until: dict[int, float] = {}
        self._presses_waiting = 0
        # The metrics hook (set by the composition root): every failed Bot API call the gateway saw.
        self.on_error: Callable[[str], None] | None = None

    def failed(self, code: str) -> None:
        if self.on_error is not None:
            self.on_error(code)

    def _trim(self, q: deque[float], window: float, now: float) -> None:
        while q and now - q[0] >= window:
            q.popleft()

    def can_send(self, chat_id: int, n: int = 1) -> bool:
        """Whether the group has room for n messages in its per-minute window (and is not in a retry_after
        pause). An album of n photos is n messages to Telegram."""
        now = self._clock()
        if self._blocked_until.get(chat_id, 0.0) > now:
            return False
        if chat_id < 0:
            q = self._group.setdefault(chat_id, deque())
            self._trim(q, 60.5, now)
            if len(q) + min(n, self.per_group) > self.per_group:
                return False
        return True

    async def before_send(self, chat_id: int, *, press: bool = True, n: int = 1) -> None:
        """Count n messages against the group's window and wait for a per-second slot (one call)."""
        if chat_id < 0:
            at = self._clock()
            self._group.setdefault(chat_id, deque()).extend([at] * n)
        await self.acquire(press=press)

    async def acquire(self, *, press: bool = True) -> None:
        """Wait (briefly) for room in the per-second budget; a waiting press goes before any sweep."""
        limit = self.per_second + (self.press_extra if press else 0)
        if press:
            self._presses_waiting += 1
        try:
            while True:
                now = self._clock()
                self._trim(self._second, 1.1, now)
                if len(self._second) < limit and (press or not self._presses_waiting):
                    self._second.append(now)
                    return
                wait = 1.1 - (now - self._second[0]) if self._second and len(self._second) >= limit else 0.01
                await asyncio.sleep(max(0.005, wait))
        finally:
            if press:
                self._presses_waiting -= 1

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
    router: RouterPort
    bridge: XBridge | None
    lang: Lang
    pacer: SendPacer = field(default_factory=SendPacer)
    x: XState = field(default_factory=XState)
    bot_username: str = "kemala_desk_bot"
    db_health: DbHealth = field(default_factory=DbHealth)
    webhook_refusals: WebhookRefusals = field(default_factory=WebhookRefusals)
    metrics: Metrics = field(default_factory=Metrics)
    # How this process takes Telegram updates: starting, polling, standby (another replica polls), webhook.
    telegram_role: str = "starting"
    web_port: int = 0  # where the web server listens (the chosen port when KEMALA_WEB_PORT=0)
    fatal: str | None = None  # set when the process must stop with an error (the database stayed away)
    in_flight: int = 0  # jobs running now (a clean stop waits for them)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    @contextlib.asynccontextmanager
    async def job(self) -> AsyncIterator[None]:
        """Counts running jobs, so a stop can wait for them instead of cancelling them mid-way."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    @property
    def desk_username(self) -> str:
        return self.x.desk.username if self.x.desk else "KemalaDesk"
