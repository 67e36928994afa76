"""What every use case shares: refusals, staff, transitions, card rows for a complaint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import repository as repo
from bot.domain.lifecycle import Action, IllegalTransition, Status, next_status
from bot.domain.outbox import CardKind, CardState, ReplyState
from bot.models import CardOutbox, Complaint, ReplyOutbox, utcnow

MAX_REPLY_WEIGHT = 280


log = logging.getLogger(__name__)


class Refused(Exception):
    """A staff action that cannot be done; `key` is an i18n catalogue key, `kw` its placeholders."""

    def __init__(self, key: str, **kw: Any) -> None:
        super().__init__(key)
        self.key = key
        self.kw = kw


def actor_of(user_id: int | None) -> str:
    return f"tg:{user_id}" if user_id is not None else "system"


def transition(s: AsyncSession, c: Complaint, action: Action, actor: str, **detail: Any) -> None:
    old = Status(c.status)
    new = next_status(old, action)
    c.status = new.value
    c.version += 1
    repo.add_event(s, complaint_id=c.id, actor=actor, action=action.value, from_status=old.value,
                   to_status=new.value, **detail)


async def enqueue_card(s: AsyncSession, c: Complaint) -> CardOutbox:
    """A fresh card for the complaint in its agency's group (the triage group when unbound)."""
    chat = await repo.chat_of_agency(s, c.agency_id) if c.agency_id is not None else None
    if chat is None:
        chat = await repo.chat_of_agency(s, (await repo.triage_agency(s)).id)
    card = CardOutbox(**new_card_values(c.id, chat.chat_id if chat else None, utcnow()))
    s.add(card)
    return card


def new_card_values(complaint_id: int, chat_id: int | None, now: datetime) -> dict[str, Any]:
    """A card-outbox row for a complaint's card: pending in its chat, parked while no chat is bound."""
    return {"complaint_id": complaint_id, "chat_id": chat_id or 0, "kind": CardKind.CARD, "text": None,
            "reply_to_outbox_id": None, "message_id": None,
            "state": CardState.PENDING if chat_id else CardState.PARKED,
            "needs_edit": False, "superseded": False, "attempts": 0, "next_attempt_at": now,
            "last_error": None if chat_id else "no Telegram group bound for this agency or triage",
            "created_at": now, "sent_at": None}


async def supersede_cards(s: AsyncSession, c: Complaint) -> None:
    for card in await repo.live_cards(s, c.id):
        card.superseded = True
        if card.state == CardState.SENT:
            card.needs_edit = True
        elif card.state in (CardState.PENDING, CardState.PARKED):
            card.state = CardState.CANCELLED


def first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    username: str | None = None

    @property
    def actor(self) -> str:
        return actor_of(self.id)


def check_version(c: Complaint, version: int | None) -> None:
    if version is not None and version != c.version:
        raise Refused("alert.stale")


async def load_complaint(s: AsyncSession, complaint_id: int, version: int | None) -> Complaint:
    c = await repo.lock_complaint(s, complaint_id)
    if c is None:
        raise Refused("alert.invalid")
    check_version(c, version)
    return c


def apply_action(s: AsyncSession, c: Complaint, action: Action, actor: str, **detail: Any) -> None:
    try:
        transition(s, c, action, actor, **detail)
    except IllegalTransition as e:
        raise Refused("alert.illegal", status=e.status.value) from e


async def cancel_drafts(s: AsyncSession, c: Complaint) -> None:
    for r in (await s.scalars(select(ReplyOutbox).where(ReplyOutbox.complaint_id == c.id,
                                                        ReplyOutbox.state == ReplyState.DRAFT))).all():
        r.state = ReplyState.CANCELLED
