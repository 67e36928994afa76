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
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import StepWatch
from bot.config import Settings
from bot.health import DbHealth, WebhookRefusals
from bot.i18n import Lang
from bot.loops import Loops
from bot.metrics import Metrics
from bot.routing import RouterPort
from bot.twitter_bridge import DeskAccount, XBridge

# Telegram's documented send limits, with a little headroom so we never meet a 429.
GROUP_SENDS_PER_MINUTE = 20
BOT_CALLS_PER_SECOND = 30


# Set for the update being handled when it comes from outside the desk's groups (bot/handlers/gate.py):
# its answers wait behind the cards instead of going ahead of them.
LOW_PRIORITY: ContextVar[bool] = ContextVar("kemala_low_priority", default=False)


class CommandLimiter:
    """Per-user token bucket for commands from outside the desk's groups: `burst` at once, then one per
    `every` seconds. The first refusal in a row is told; the rest are dropped without an answer."""

    ALLOW, TELL, DROP = "allow", "tell", "drop"

    def __init__(self, *, burst: int = 5, every: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 max_users: int = 10_000) -> None:
        self.burst, self.every, self._clock, self.max_users = burst, every, clock, max_users
        self._users: dict[int, tuple[float, float, bool]] = {}  # user → (tokens, at, told)

    def take(self, user_id: int) -> str:
        now = self._clock()
        tokens, at, told = self._users.get(user_id, (float(self.burst), now, False))
        tokens = min(float(self.burst), tokens + (now - at) / self.every)
        if tokens >= 1.0:
            self._users[user_id] = (tokens - 1.0, now, False)
            verdict = self.ALLOW
        else:
            self._users[user_id] = (tokens, now, True)
            verdict = self.DROP if told else self.TELL
        if len(self._users) > self.max_users:
            # Forget the users whose bucket is full again: they start over exactly where they would be.
            full = [u for u, (n, a, _) in self._users.items() if n + (now - a) / self.every >= self.burst]
            for u in full:
                del self._users[u]
        return verdict

    def retry_in(self, user_id: int) -> float:
        tokens, at, _ = self._users.get(user_id, (float(self.burst), self._clock(), False))
        return max(0.0, (1.0 - tokens) * self.every - (self._clock() - at))


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
        """Wait (briefly) for room in the per-second budget; a waiting press goes before any sweep.

        While an outsider's update is handled (LOW_PRIORITY), its answers take the sweeps' place, not a press's.
        """
        press = press and not LOW_PRIORITY.get()
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
    """What the X side learned at run time (pauses after 401/402/usage cap, rate-limit resets).

    The waits are on the monotonic clock (`clock`): a wall clock stepped back cannot stretch them.
    """

    desk: DeskAccount | None = None
    reads_paused: str | None = None
    posts_paused_until: float | None = None  # monotonic
    next_poll_at: float | None = None  # monotonic
    alerted: set[str] = field(default_factory=set)
    failures: int = 0
    failing_since: float | None = None  # monotonic: the first failed read of the current outage
    outage_alerted: bool = False
    clock: Callable[[], float] = time.monotonic

    def poll_in(self) -> float:
        """Seconds until polling may run again (0.0: now)."""
        return 0.0 if self.next_poll_at is None else max(0.0, self.next_poll_at - self.clock())

    def wait_polls(self, seconds: float) -> None:
        self.next_poll_at = self.clock() + max(0.0, seconds)

    def posts_pause_in(self) -> float:
        return 0.0 if self.posts_paused_until is None else max(0.0, self.posts_paused_until - self.clock())

    def pause_posts(self, seconds: float) -> None:
        self.posts_paused_until = self.clock() + seconds

    def read_failed(self) -> float:
        """Count one failed read; how long X has been failing, in seconds."""
        now = self.clock()
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        return now - self.failing_since

    def read_ok(self) -> float | None:
        """A good read: the outage (if any) is over. Its length in seconds when triage was told of it."""
        length = None
        if self.outage_alerted and self.failing_since is not None:
            length = self.clock() - self.failing_since
        self.failures, self.failing_since, self.outage_alerted = 0, None, False
        return length


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
    # The repeating sweeps and the X poll, on monotonic time (filled by the composition root).
    loops: Loops = field(default_factory=Loops)
    clock_watch: StepWatch = field(default_factory=StepWatch)
    outsiders: CommandLimiter = field(default_factory=CommandLimiter)
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
