"""Retraining the router from labels people confirmed (claims, replies, reassignments): the use cases
that read the labels and store a model; the nightly job (bot/jobs/) only calls them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, unit_of_work
from bot.models import Complaint, RouterModel

log = logging.getLogger(__name__)
MAX_LABELS = 50_000


async def confirmed_labels(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as s:
        rows = (await s.execute(select(Complaint.text, Complaint.confirmed_agency)
                                .where(Complaint.confirmed_agency.is_not(None))
                                .order_by(Complaint.id.desc()).limit(MAX_LABELS))).all()
    return [(str(text), str(code)) for text, code in rows]


async def retrain(sessions: async_sessionmaker[AsyncSession]) -> tuple[Any, int]:
    """Train on the packaged set plus every confirmed label; store the model; return (model, labels)."""
    from bot.routing_training import train_default_plus

    labels = await confirmed_labels(sessions)
    model = await asyncio.to_thread(train_default_plus, labels)
    async with unit_of_work(sessions) as s:
        s.add(RouterModel(labels=len(labels), model=model.to_json()))
    log.info("router retrained with %d confirmed label(s)", len(labels))
    return model, len(labels)


async def latest_model(sessions: async_sessionmaker[AsyncSession]) -> Any | None:
    from bot.routing import NaiveBayesModel

    async with sessions() as s:
        row = await s.scalar(select(RouterModel).order_by(RouterModel.id.desc()).limit(1))
    return NaiveBayesModel.from_json(row.model) if row is not None else None


async def retrain_and_save(settings: Settings) -> dict[str, Any]:
    engine = make_engine(settings.database_url)
    try:
        _, n = await retrain(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    return {"labels": n, "path": "database (table router_models)"}
