"""The wall clock's steps: noticed against the monotonic clock, and rows due in wall time moved with them."""

from __future__ import annotations

import logging

from telegram import Bot

from bot import usecases as uc
from bot.services import Services

log = logging.getLogger(__name__)


async def watch_clock(svc: Services, bot: Bot) -> None:
    moved = svc.clock_watch.check()
    if moved < 0:
        rows = await uc.shift_waiting(svc.sessions, -moved)
        log.warning("the wall clock went back %.0f s; %d waiting outbox rows moved back with it", -moved, rows)
    elif moved > 0:
        # Ahead: rows become due early, which only means sooner; the loops never waited on it.
        log.warning("the wall clock jumped ahead %.0f s", moved)
