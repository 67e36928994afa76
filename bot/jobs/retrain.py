"""Nightly: every confirmed label since the last run teaches the router."""

from __future__ import annotations

from telegram import Bot

from bot import usecases as uc
from bot.services import Services


async def retrain_router(svc: Services, bot: Bot) -> None:
    model, _ = await uc.retrain(svc.sessions)
    svc.router = svc.router.with_model(model)
