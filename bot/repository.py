"""Queries shared by the use cases and jobs. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.agencies import TRIAGE_CODE
from bot.domain.outbox import CARD_DUE, CardKind, CardState, ReplyState
from bot.models import (
    Agency,
    AgencyChat,
    CardOutbox,
    Complaint,
    Cursor,
    Event,
    ReplyOutbox,
    TelegramUser,
    XRead,
    XUsage,
    utcnow,
)


async def insert_ignore(s: AsyncSession, table: Any, values: dict[str, Any], key: str) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when this call inserted the row (the unique key decides)."""
    dialect = s.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    result = await s.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def agency_by_code(s: AsyncSession, code: str) -> Agency | None:
    return await s.scalar(select(Agency).where(Agency.code == code))


async def triage_agency(s: AsyncSession) -> Agency:
    agency = await agency_by_code(s, TRIAGE_CODE)
    if agency is None:  # the directory seed always adds it; a missing row means a broken database
        raise RuntimeError("the triage desk 'triase' is missing from the agency directory")
    return agency


async def chat_of_agency(s: AsyncSession, agency_id: int) -> AgencyChat | None:
    return await s.scalar(select(AgencyChat).where(AgencyChat.agency_id == agency_id))


async def resume_parked_cards(s: AsyncSession, agency_id: int, chat_id: int) -> int:
    """The agency has a group (again): its parked cards go there now. Returns how many."""
    cards = (await s.scalars(select(CardOutbox).join(Complaint, Complaint.id == CardOutbox.complaint_id)
                             .where(Complaint.agency_id == agency_id, CardOutbox.state == CardState.PARKED))).all()
    for card in cards:
        card.chat_id, card.state, card.next_attempt_at = chat_id, CardState.PENDING, utcnow()
    return len(cards)


async def park_cards_of_chat(s: AsyncSession, chat_id: int, reason: str) -> int:
    """The group is gone (unbound, or the bot removed): cards bound for it wait instead of failing."""
    result = await s.execute(update(CardOutbox).where(CardOutbox.chat_id == chat_id,
                                                      CardOutbox.state.in_(CARD_DUE))
                             .values(state=CardState.PARKED, last_error=reason))
    return int(getattr(result, "rowcount", 0) or 0)


async def agency_of_chat(s: AsyncSession, chat_id: int) -> Agency | None:
    return await s.scalar(select(Agency).join(AgencyChat, AgencyChat.agency_id == Agency.id)
                          .where(AgencyChat.chat_id == chat_id))


async def lock_complaint(s: AsyncSession, complaint_id: int) -> Complaint | None:
    """Load a complaint for change; PostgreSQL row lock (SQLite already holds the write lock)."""
    return await s.scalar(select(Complaint).where(Complaint.id == complaint_id).with_for_update())


async def live_cards(s: AsyncSession, complaint_id: int) -> Sequence[CardOutbox]:
    return (await s.scalars(select(CardOutbox).where(
        CardOutbox.complaint_id == complaint_id, CardOutbox.kind == "card", CardOutbox.superseded.is_(False)
    ))).all()


async def card_at(s: AsyncSession, chat_id: int, message_id: int) -> CardOutbox | None:
    return await s.scalar(select(CardOutbox).where(CardOutbox.chat_id == chat_id, CardOutbox.message_id == message_id,
                                                   CardOutbox.kind == CardKind.CARD))


async def mark_preview_dirty(s: AsyncSession, reply_id: int) -> None:
    """The reply's preview message says where the reply stands: the next sweep edits it."""
    await s.execute(update(CardOutbox).where(CardOutbox.kind == CardKind.PREVIEW, CardOutbox.text == str(reply_id),
                                             CardOutbox.state == CardState.SENT).values(needs_edit=True))


async def mark_draft_previews_dirty(s: AsyncSession, complaint_id: int) -> None:
    """The citizen wrote more: previews of drafts not yet sent are drawn again, with the follow-up and
    (when it mentions the desk) the choice of post to answer under."""
    drafts = [str(i) for i in (await s.scalars(select(ReplyOutbox.id).where(
        ReplyOutbox.complaint_id == complaint_id, ReplyOutbox.state == ReplyState.DRAFT))).all()]
    if drafts:
        await s.execute(update(CardOutbox).where(
            CardOutbox.kind == CardKind.PREVIEW, CardOutbox.complaint_id == complaint_id,
            CardOutbox.text.in_(drafts), CardOutbox.state == CardState.SENT).values(needs_edit=True))


async def mark_cards_dirty(s: AsyncSession, complaint_id: int) -> None:
    """Every sent card of this complaint (tombstones too) is edited by the next sweep.

    A card being sent right now counts too: it was drawn before this change, and a press on the new
    message can arrive before the send is recorded, so the edit must follow the send.
    """
    await s.execute(update(CardOutbox).where(
        CardOutbox.complaint_id == complaint_id, CardOutbox.kind == CardKind.CARD,
        CardOutbox.state.in_((CardState.SENT, CardState.SENDING))).values(needs_edit=True))


def add_event(s: AsyncSession, *, complaint_id: int | None, actor: str, action: str, from_status: str | None = None,
              to_status: str | None = None, at: datetime | None = None, **detail: Any) -> None:
    s.add(Event(complaint_id=complaint_id, actor=actor, action=action, from_status=from_status,
                to_status=to_status, at=at or utcnow(), detail=detail))


async def get_cursor(s: AsyncSession, name: str) -> str | None:
    row = await s.get(Cursor, name)
    return row.value if row else None


async def set_cursor(s: AsyncSession, name: str, value: str | None) -> None:
    row = await s.get(Cursor, name)
    if row is None:
        s.add(Cursor(name=name, value=value))
    else:
        row.value = value


async def add_usage(s: AsyncSession, month: str, counts: dict[str, int]) -> None:
    for kind, n in counts.items():
        if not n:
            continue
        row = await s.get(XUsage, (month, kind), with_for_update=True)
        if row is None:
            s.add(XUsage(month=month, kind=kind, count=n))
        else:
            row.count += n


async def first_reads_today(s: AsyncSession, day: str, reads: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (kind, post id) reads that are a post's first of the UTC day, recorded so later ones are not.

    Days before yesterday are dropped: nothing bills against them any more.
    """
    firsts: dict[str, str] = {}
    for kind, x_id in reads:
        firsts.setdefault(x_id, kind)
    if firsts:
        seen = set((await s.scalars(select(XRead.x_id).where(XRead.day == day,
                                                             XRead.x_id.in_(list(firsts))))).all())
        fresh = [(kind, x_id) for x_id, kind in firsts.items() if x_id not in seen]
    else:
        fresh = []
    if fresh:
        # DO NOTHING: another replica's reconciliation may record the same post in the same instant.
        dialect_insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
        await s.execute(dialect_insert(XRead).on_conflict_do_nothing(),
                        [{"day": day, "x_id": x_id, "kind": kind} for kind, x_id in fresh])
    await s.execute(delete(XRead).where(XRead.day < _day_before(day)))
    return fresh


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


async def remember_user(s: AsyncSession, user_id: int, first_name: str, username: str | None) -> None:
    row = await s.get(TelegramUser, user_id)
    if row is None:
        s.add(TelegramUser(id=user_id, first_name=first_name[:120], username=username))
    else:
        row.first_name, row.username, row.last_seen = first_name[:120], username, utcnow()
