"""Outbox outcomes: replies posted / rejected / target gone, chats migrated or lost, card rows re-sent."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import unit_of_work
from bot.domain.lifecycle import Action, Status
from bot.domain.outbox import CARD_DUE, UNSENT, CardState, ReplyState
from bot.models import AgencyChat, CardOutbox, Prompt, ReplyOutbox, utcnow
from bot.usecases.common import (
    transition,
)
from bot.usecases.intake import mark_deleted

log = logging.getLogger(__name__)


async def reply_posted(s: AsyncSession, r: ReplyOutbox, tweet_id: str, *, adopted: bool = False) -> None:
    c = await repo.lock_complaint(s, r.complaint_id)
    assert c is not None
    r.state, r.posted_x_id, r.posted_at, r.last_error = ReplyState.POSTED, tweet_id, utcnow(), None
    if c.status == Status.APPROVED.value:
        transition(s, c, Action.REPLY_POSTED, "x", reply=tweet_id, adopted=adopted)
    c.reply_x_id, c.answered_by, c.answered_at, c.rejected_reason = tweet_id, r.author_name, utcnow(), None
    await repo.mark_cards_dirty(s, c.id)


async def reply_rejected(s: AsyncSession, r: ReplyOutbox, reason: str) -> None:
    c = await repo.lock_complaint(s, r.complaint_id)
    assert c is not None
    r.state, r.last_error = ReplyState.REJECTED, reason
    if c.status == Status.APPROVED.value:
        transition(s, c, Action.REPLY_REJECTED, "x", reason=reason)
    c.rejected_reason = reason
    if reason == "not_mentioned":
        # X refused the thread: the next draft offers the fallback instead of another in-thread Kirim.
        c.reply_eligible = False
    await repo.mark_cards_dirty(s, c.id)
    cards = await repo.live_cards(s, c.id)
    if cards:
        s.add(CardOutbox(complaint_id=c.id, chat_id=cards[0].chat_id, kind="notice", text=f"rejected:{reason}",
                         reply_to_outbox_id=cards[0].id))


async def target_gone(sessions: async_sessionmaker[AsyncSession], reply_id: int, tweet_x_id: str) -> None:
    """X says the tweet we replied to is gone: the opening tweet marks the complaint deleted; a deleted
    follow-up only sends later replies back under the opening tweet."""
    async with unit_of_work(sessions) as s:
        r = await s.get(ReplyOutbox, reply_id)
        c = await repo.lock_complaint(s, r.complaint_id) if r is not None else None
        opening = c is None or c.tweet_x_id == tweet_x_id
        if c is not None and not opening and c.reply_target_x_id == tweet_x_id:
            c.reply_target_x_id = c.tweet_x_id
            repo.add_event(s, complaint_id=c.id, actor="x", action="reply_target_gone", tweet=tweet_x_id)
    if opening:
        await mark_deleted(sessions, [tweet_x_id])


async def migrate_chat(sessions: async_sessionmaker[AsyncSession], *, old_chat_id: int, new_chat_id: int) -> bool:
    """A group became a supergroup: follow it (binding, unsent cards), and send each live card again there.

    The old group's messages do not exist in the supergroup, so a card sent there can never be edited
    again: it is retired and sent once more in the new chat. Open ForceReply prompts are retired too
    (a reply to them is impossible now); staff press Balas again on the new card. Idempotent: Telegram
    tells us twice (the service message in both chats, or a ChatMigrated error), only the first moves.
    """

    async with unit_of_work(sessions) as s:
        chat = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == old_chat_id))
        if chat is None:
            return False
        chat.chat_id = new_chat_id
        await s.execute(update(CardOutbox).where(CardOutbox.chat_id == old_chat_id,
                                                 CardOutbox.state.in_(UNSENT))
                        .values(chat_id=new_chat_id, state=CardState.PENDING, next_attempt_at=utcnow()))
        resent = 0
        for card in (await s.scalars(select(CardOutbox).where(
                CardOutbox.chat_id == old_chat_id, CardOutbox.kind == "card", CardOutbox.state == CardState.SENT,
                CardOutbox.superseded.is_(False)))).all():
            _resend_card(s, card, chat_id=new_chat_id)
            resent += 1
        await s.execute(update(Prompt).where(Prompt.chat_id == old_chat_id, Prompt.used_at.is_(None))
                        .values(used_at=utcnow()))
        repo.add_event(s, complaint_id=None, actor="telegram", action="chat_migrated", old=old_chat_id,
                       new=new_chat_id, cards_resent=resent)
        return True


def _resend_card(s: AsyncSession, card: CardOutbox, *, chat_id: int) -> CardOutbox:
    """Retire a card whose message can no longer be edited and queue the same card as a new message."""
    card.state, card.superseded, card.needs_edit = CardState.RETIRED, True, False
    fresh = CardOutbox(complaint_id=card.complaint_id, chat_id=chat_id, kind="card", state=CardState.PENDING,
                       next_attempt_at=utcnow())
    s.add(fresh)
    return fresh


async def resend_card(sessions: async_sessionmaker[AsyncSession], row_id: int) -> bool:
    """Telegram says this card's message can never be edited (deleted, or too old): send it again, once."""
    async with unit_of_work(sessions) as s:
        card = await s.get(CardOutbox, row_id, with_for_update=True)
        if card is None or card.kind != "card" or card.state != CardState.SENT or card.superseded:
            return False
        _resend_card(s, card, chat_id=card.chat_id)
        repo.add_event(s, complaint_id=card.complaint_id, actor="telegram", action="card_resent",
                       chat_id=card.chat_id, old_message=card.message_id)
        return True


async def park_chat(sessions: async_sessionmaker[AsyncSession], *, chat_id: int, reason: str) -> bool:
    """The bot was removed from a group: its outgoing cards wait instead of being retried forever."""

    async with unit_of_work(sessions) as s:
        chat = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == chat_id))
        first = chat is not None and chat.parked_reason is None
        if chat is not None:
            chat.parked_reason = reason
        await s.execute(update(CardOutbox).where(CardOutbox.chat_id == chat_id,
                                                 CardOutbox.state.in_(CARD_DUE))
                        .values(state=CardState.PARKED, last_error=reason))
        if first:
            repo.add_event(s, complaint_id=None, actor="telegram", action="chat_parked", chat_id=chat_id,
                           reason=reason)
        return first
