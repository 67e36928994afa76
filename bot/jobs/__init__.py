"""Scheduled entries: each is thin, calling use cases (bot.usecases), read models (bot.queries) and the
Telegram gateway (bot.telegram.gateway); no SQL and no rendering here.

`JOBS` is the one table the composition root (bot.app) schedules from: a new job is a module here and
a row there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import time

from telegram import Bot

from bot.config import Settings
from bot.jobs.cards import refresh_card, send_cards, sweep_cards
from bot.jobs.clock import watch_clock
from bot.jobs.replies import publish_replies
from bot.jobs.retrain import retrain_router
from bot.jobs.x_intake import (
    CURSOR_MENTIONS_RESUME,
    CURSOR_MENTIONS_SINCE,
    CURSOR_RESUME,
    CURSOR_SINCE,
    MAX_PAGES_PER_POLL,
    alert_triage,
    check_deleted,
    ensure_desk,
    flush_usage,
    month_of,
    poll_x,
)
from bot.services import Services

__all__ = [
    "CURSOR_MENTIONS_RESUME",
    "CURSOR_MENTIONS_SINCE",
    "CURSOR_RESUME",
    "CURSOR_SINCE",
    "JOBS",
    "MAX_PAGES_PER_POLL",
    "Job",
    "alert_triage",
    "check_deleted",
    "ensure_desk",
    "flush_usage",
    "month_of",
    "poll_x",
    "publish_replies",
    "refresh_card",
    "retrain_router",
    "send_cards",
    "sweep_cards",
    "watch_clock",
]

JobFn = Callable[[Services, Bot], Awaitable[object]]


@dataclass(frozen=True)
class Job:
    """One scheduled entry: every `every(settings)` seconds, or daily at `daily_at` in the desk's time zone."""

    name: str
    run: JobFn
    every: Callable[[Settings], float] | None = None
    first: float = 0.0
    daily_at: time | None = None


async def _poll_x(svc: Services, bot: Bot) -> None:
    await poll_x(svc)


async def _publish(svc: Services, bot: Bot) -> None:
    await publish_replies(svc)


async def _deleted(svc: Services, bot: Bot) -> None:
    await check_deleted(svc)


JOBS: tuple[Job, ...] = (
    Job("poll_x", _poll_x, every=lambda s: s.poll_seconds, first=0.2),
    Job("sweep_cards", sweep_cards, every=lambda s: 1.0, first=0.3),
    Job("publish_replies", _publish, every=lambda s: 2.0, first=0.5),
    Job("retrain_router", retrain_router, daily_at=time(2, 0)),
    Job("check_deleted", _deleted, every=lambda s: s.deleted_check_minutes * 60, first=60),
    Job("watch_clock", watch_clock, every=lambda s: 1.0, first=1.0),
)
