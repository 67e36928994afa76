"""Retraining the router from confirmed labels: complaints people handled (claims kept, replies sent,
reassignments) and labelled history imported from other channels. The use cases read the labels,
store labels and models; the nightly job (bot/jobs/) and the CLI only call them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, unit_of_work
from bot.models import Complaint, RouterModel, RoutingLabel

log = logging.getLogger(__name__)
MAX_LABELS = 50_000
IMPORT_SOURCE = "import"
_SPACE_RE = re.compile(r"\s+")


def text_hash(text: str) -> str:
    """Same text up to case and spacing → same hash (an import of the same file counts once)."""
    return hashlib.sha256(_SPACE_RE.sub(" ", text).strip().lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    already: int
    per_agency: dict[str, int]  # new rows per label
    labels_total: int


async def import_labels(sessions: async_sessionmaker[AsyncSession],
                        rows: Sequence[tuple[str, str, str | None]], *,
                        source: str = IMPORT_SOURCE) -> ImportResult:
    """Store (text, agency, location) rows as confirmed labels; rows already stored are skipped."""
    seen: set[tuple[str, str]] = set()
    fresh: list[tuple[str, str, str, str | None]] = []
    for text, agency, location in rows:
        key = (text_hash(text), agency)
        if key in seen:
            continue
        seen.add(key)
        fresh.append((key[0], text, agency, location))
    added = 0
    per_agency: Counter[str] = Counter()
    async with unit_of_work(sessions) as s:
        hashes = list({h for h, *_ in fresh})
        existing: set[tuple[str, str]] = set()
        for i in range(0, len(hashes), 500):  # IN lists stay well under any driver's parameter cap
            chunk = hashes[i:i + 500]
            existing.update((str(h), str(a)) for h, a in (await s.execute(
                select(RoutingLabel.text_hash, RoutingLabel.agency).where(RoutingLabel.text_hash.in_(chunk)))).all())
        for h, text, agency, location in fresh:
            if (h, agency) in existing:
                continue
            s.add(RoutingLabel(text_hash=h, text=text, agency=agency, location=(location or None) and location[:200],
                               source=source))
            added += 1
            per_agency[agency] += 1
    total = await _count_labels(sessions)
    return ImportResult(added, len(rows) - added, dict(per_agency), total)


async def _count_labels(sessions: async_sessionmaker[AsyncSession]) -> int:
    from sqlalchemy import func

    async with sessions() as s:
        return int(await s.scalar(select(func.count(RoutingLabel.id))) or 0)


async def confirmed_labels(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    """Labels people confirmed on the desk, newest first, then imported history."""
    async with sessions() as s:
        rows = (await s.execute(select(Complaint.text, Complaint.confirmed_agency)
                                .where(Complaint.confirmed_agency.is_not(None))
                                .order_by(Complaint.id.desc()).limit(MAX_LABELS))).all()
        imported = (await s.execute(select(RoutingLabel.text, RoutingLabel.agency)
                                    .order_by(RoutingLabel.id.desc()).limit(MAX_LABELS))).all()
    return [(str(text), str(code)) for text, code in rows] + [(str(t), str(a)) for t, a in imported]


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


async def import_and_retrain(sessions: async_sessionmaker[AsyncSession],
                             rows: Sequence[tuple[str, str, str | None]]) -> dict[str, Any]:
    """`kemala route import`: store the rows, retrain, store the model (the desk swaps it in)."""
    result = await import_labels(sessions, rows)
    _, n = await retrain(sessions)
    return {"added": result.added, "already_stored": result.already, "per_agency": result.per_agency,
            "imported_total": result.labels_total, "labels": n}


async def retrain_and_save(settings: Settings) -> dict[str, Any]:
    engine = make_engine(settings.database_url)
    try:
        _, n = await retrain(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    return {"labels": n, "path": "database (table router_models)"}
