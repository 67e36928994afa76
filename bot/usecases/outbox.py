"""Outbox outcomes: replies posted / rejected / target gone, chats migrated or lost, card rows re-sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import unit_of_work
from bot.domain.backoff import backoff
from bot.domain.lifecycle import Action, Status
from bot.domain.outbox import (
    CARD_DUE,
    REJECTED_NOTICE_PREFIX,
    REPLY_DUE,
    UNSENT,
    CardKind,
    CardState,
    ReplyState,
    card_move,
    reply_move,
)
from bot.domain.posts import album_items, album_slices, media_of, parse_photo_row_text, photo_row_text
from bot.i18n import Lang, t
from bot.models import AgencyChat, CardOutbox, Complaint, Prompt, ReplyOutbox, Tweet, utcnow
from bot.queries import chat_names
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
    await repo.mark_preview_dirty(s, r.id)


async def reply_rejected(s: AsyncSession, r: ReplyOutbox, reason: str) -> None:
    c = await repo.lock_complaint(s, r.complaint_id)
    assert c is not None
    r.state, r.last_error = ReplyState.REJECTED, reason
    if c.status == Status.APPROVED.value:
        transition(s, c, Action.REPLY_REJECTED, "x", reason=reason)
    c.rejected_reason = reason
    await repo.mark_preview_dirty(s, r.id)
    if reason == "not_mentioned":
        # X refused the thread: the next draft offers the fallback instead of another in-thread Kirim.
        c.reply_eligible = False
    await repo.mark_cards_dirty(s, c.id)
    cards = await repo.live_cards(s, c.id)
    if cards:
        s.add(CardOutbox(complaint_id=c.id, chat_id=cards[0].chat_id, kind=CardKind.NOTICE,
                         text=f"{REJECTED_NOTICE_PREFIX}{reason}", reply_to_outbox_id=cards[0].id))


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


# ---------------------------------------------------------------------------------------------------
# Alerts and usage


async def queue_alert(sessions: async_sessionmaker[AsyncSession], kind: str, text: str) -> None:
    """An alert for the triage group: logged as an event, sent by the card sweep as a notice."""
    async with unit_of_work(sessions) as s:
        triage = await repo.triage_agency(s)
        chat = await repo.chat_of_agency(s, triage.id)
        repo.add_event(s, complaint_id=None, actor="system", action="alert", kind=kind, text=text)
        if chat is not None:
            s.add(CardOutbox(complaint_id=None, chat_id=chat.chat_id, kind=CardKind.NOTICE, text=f"⚠️ {text}"))


async def record_usage(sessions: async_sessionmaker[AsyncSession], month: str, counts: dict[str, int],
                       reads: Sequence[tuple[str, str]] = (), *, day: str | None = None) -> dict[str, int]:
    """Add a drain of the X usage counter to the month; reads are billed once per post and UTC day.

    `counts` carries posts returned (`posts_read`, `owned_reads`); what is stored under those names is
    what X bills: each post's first read of the day, in its class. Returns what was added.
    """
    billed = dict(counts)
    async with unit_of_work(sessions) as s:
        if reads:  # without the posts' ids (an old caller) the counts stand as given
            day = day or utcnow().strftime("%Y-%m-%d")
            fresh = await repo.first_reads_today(s, day, reads)
            billed["posts_read"] = sum(1 for kind, _ in fresh if kind == "posts_read")
            billed["owned_reads"] = sum(1 for kind, _ in fresh if kind == "owned_reads")
            billed["reads_returned"] = len(reads)
        await repo.add_usage(s, month, billed)
    return billed


# ---------------------------------------------------------------------------------------------------
# The card sweep's rows


async def claim_card_row(sessions: async_sessionmaker[AsyncSession], row_id: int, hold: timedelta) -> bool:
    """Take a due row for this process (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer).

    A row stays "sending" until its send is committed; if the process dies in between, the row is due
    again after the claim expires, and at most one extra card can result (Telegram has no idempotency key).
    """
    async with unit_of_work(sessions) as s:
        row = await s.scalar(select(CardOutbox).where(
            CardOutbox.id == row_id, CardOutbox.state.in_(CARD_DUE),
            CardOutbox.next_attempt_at <= utcnow()).with_for_update(skip_locked=True))
        if row is None:
            return False
        row.state, row.next_attempt_at = card_move(row.state, CardState.SENDING), utcnow() + hold
        return True


async def record_card_sent(sessions: async_sessionmaker[AsyncSession], row_id: int, message_id: int, *,
                           photos: str = "album") -> None:
    """The message is on Telegram. A card's first send in a chat queues its pictures, replying to it, in
    the same transaction: they are sent once, and never before their card."""
    async with unit_of_work(sessions) as s:
        row = await s.get(CardOutbox, row_id)
        assert row is not None
        row.state = card_move(row.state, CardState.SENT)
        # needs_edit is kept: a change committed while the message was on its way (see
        # repository.mark_cards_dirty) is drawn by the next sweep.
        row.message_id, row.sent_at, row.last_error = message_id, utcnow(), None
        if photos == "album" and row.kind == CardKind.CARD and row.complaint_id is not None and not row.superseded:
            await _queue_pictures(s, row)


async def _queue_pictures(s: AsyncSession, card: CardOutbox) -> None:
    c = await s.get(Complaint, card.complaint_id)
    pictures = album_items(media_of(c.media)) if c is not None else []
    if not pictures:
        return
    # A card sent again in the same chat (edit impossible, reassigned back) does not repeat its pictures.
    already = await s.scalar(select(CardOutbox.id).where(CardOutbox.complaint_id == card.complaint_id,
                                                         CardOutbox.chat_id == card.chat_id,
                                                         CardOutbox.kind == CardKind.PHOTO).limit(1))
    if already is not None:
        return
    for start, end in album_slices(len(pictures)):
        s.add(CardOutbox(complaint_id=card.complaint_id, chat_id=card.chat_id, kind=CardKind.PHOTO,
                         text=photo_row_text(start, end), reply_to_outbox_id=card.id, state=CardState.PENDING,
                         next_attempt_at=utcnow()))


async def photos_as_links(sessions: async_sessionmaker[AsyncSession], row_id: int, error: str) -> bool:
    """Telegram refused the pictures (a URL it cannot fetch): send the same row as links, now. False when
    the row already was links (then it failed for good)."""
    async with unit_of_work(sessions) as s:
        r = await s.get(CardOutbox, row_id)
        spec = parse_photo_row_text(r.text) if r is not None and r.kind == CardKind.PHOTO else None
        if r is None or spec is None or spec[2]:
            return False
        r.text = photo_row_text(spec[0], spec[1], links=True)
        r.attempts += 1
        r.last_error = error
        r.state = card_move(r.state, CardState.PENDING)
        r.next_attempt_at = utcnow()
        repo.add_event(s, complaint_id=r.complaint_id, actor="telegram", action="photos_as_links",
                       reason=error[:200])
        return True


async def reschedule_card(sessions: async_sessionmaker[AsyncSession], row_id: int, *, delay: timedelta | None,
                          error: str, failed: bool = False) -> None:
    """The send did not happen: due again after `delay` (backoff when None), or failed for good."""
    async with unit_of_work(sessions) as s:
        r = await s.get(CardOutbox, row_id)
        if r is None:
            return
        r.attempts += 1
        r.last_error = error
        if r.state == CardState.SENDING:
            r.state = card_move(r.state, CardState.PENDING)
        if failed:
            r.state = card_move(r.state, CardState.FAILED)
        r.next_attempt_at = utcnow() + (delay if delay is not None else backoff(r.attempts))


async def take_card_for_edit(sessions: async_sessionmaker[AsyncSession], row_id: int) -> bool:
    """Clear the dirty flag before rendering: a change committed while we edit sets it again, so the next
    sweep edits once more instead of the change being lost. False when there is no message to edit."""
    async with unit_of_work(sessions) as s:
        row = await s.get(CardOutbox, row_id)
        if row is None or row.message_id is None:
            return False
        row.needs_edit = False
        return True


async def mark_card_dirty(sessions: async_sessionmaker[AsyncSession], row_id: int) -> None:
    """The edit did not happen: leave the card for the next sweep."""
    async with unit_of_work(sessions) as s:
        row = await s.get(CardOutbox, row_id)
        if row is not None:
            row.needs_edit = True


# ---------------------------------------------------------------------------------------------------
# The reply sweep's rows


@dataclass(frozen=True)
class ReplyAttempt:
    reply_id: int
    attempt: int
    text: str
    in_reply_to: str | None
    was_unknown: bool  # an earlier attempt may have posted: reconcile before posting
    # Accounts the post replied to @mentions (lowercase): a reply to one mentioning the desk is "summoned".
    target_mentions: tuple[str, ...] = ()
    complaint_id: int | None = None  # for the operator's log line


async def begin_reply_attempt(sessions: async_sessionmaker[AsyncSession], reply_id: int,
                              hold: timedelta) -> ReplyAttempt | None:
    """Mark the attempt before the call: a crash between the call and the commit leaves "unknown", which
    the next sweep reconciles instead of posting blindly. None when another replica took the row."""
    async with unit_of_work(sessions) as s:
        r = await s.get(ReplyOutbox, reply_id, with_for_update=True)
        if r is None or r.state not in REPLY_DUE or r.next_attempt_at > utcnow():
            return None
        was_unknown = r.state == ReplyState.UNKNOWN
        r.state, r.attempts = reply_move(r.state, ReplyState.UNKNOWN), r.attempts + 1
        r.next_attempt_at = utcnow() + hold
        mentions: tuple[str, ...] = ()
        if r.in_reply_to:
            target = await s.scalar(select(Tweet.raw).where(Tweet.x_id == r.in_reply_to))
            mentions = _mentions_in_raw(target)
        return ReplyAttempt(r.id, r.attempts, r.text, r.in_reply_to, was_unknown, mentions, r.complaint_id)


def _mentions_in_raw(raw: Any) -> tuple[str, ...]:
    """@usernames of a stored post (a long post's note entities included), lowercase; () when unknown."""
    if not isinstance(raw, dict):
        return ()
    found: list[str] = []
    note = raw.get("note_tweet")
    for holder in (raw, note if isinstance(note, dict) else {}):
        entities = holder.get("entities")
        mentions = entities.get("mentions") if isinstance(entities, dict) else None
        for m in mentions if isinstance(mentions, list) else []:
            if isinstance(m, dict) and isinstance(m.get("username"), str):
                found.append(m["username"].lower())
    return tuple(dict.fromkeys(found))


async def _still_ours(s: AsyncSession, a: ReplyAttempt) -> ReplyOutbox | None:
    """The row, if it is still in the state this attempt left it in (nobody else wrote an outcome)."""
    r = await s.get(ReplyOutbox, a.reply_id, with_for_update=True, populate_existing=True)
    return r if r is not None and r.state == ReplyState.UNKNOWN and r.attempts == a.attempt else None


class PostTaken(Exception):
    """The X post is already recorded for another reply (the unique index on posted_x_id said so)."""


async def attempt_posted(sessions: async_sessionmaker[AsyncSession], a: ReplyAttempt, tweet_id: str, *,
                         adopted: bool = False) -> bool:
    """The attempt's post is on X; PostTaken when another reply already owns that X post."""
    try:
        async with unit_of_work(sessions) as s:
            r = await _still_ours(s, a)
            if r is None:
                return False
            await reply_posted(s, r, tweet_id, adopted=adopted)
            return True
    except IntegrityError as e:
        raise PostTaken(tweet_id) from e


async def attempt_rejected(sessions: async_sessionmaker[AsyncSession], a: ReplyAttempt, reason: str) -> int | None:
    """X refused the attempt for good; the complaint's number, or None when the row moved on."""
    async with unit_of_work(sessions) as s:
        r = await _still_ours(s, a)
        if r is None:
            return None
        await reply_rejected(s, r, reason)
        return r.complaint_id


async def attempt_retry_later(sessions: async_sessionmaker[AsyncSession], a: ReplyAttempt, reason: str,
                              retry_at: datetime | None) -> None:
    """X cleanly did not post (429, 401, 5xx before the call took effect): pending again."""
    async with unit_of_work(sessions) as s:
        r = await _still_ours(s, a)
        if r is None:
            return
        r.state, r.last_error = reply_move(r.state, ReplyState.PENDING), reason
        r.next_attempt_at = retry_at or (utcnow() + backoff(r.attempts))


async def attempt_unknown(sessions: async_sessionmaker[AsyncSession], a: ReplyAttempt, reason: str) -> None:
    """Maybe posted: the next sweep reconciles first."""
    async with unit_of_work(sessions) as s:
        r = await _still_ours(s, a)
        if r is None:
            return
        r.state, r.last_error = reply_move(r.state, ReplyState.UNKNOWN), reason
        r.next_attempt_at = utcnow() + backoff(r.attempts, base=1.0, cap=120)


async def delay_reply(sessions: async_sessionmaker[AsyncSession], reply_id: int) -> None:
    """An attempt crashed on our side: try the row again after a backoff (its state is kept)."""
    async with unit_of_work(sessions) as s:
        r = await s.get(ReplyOutbox, reply_id, with_for_update=True)
        if r is not None and r.state in REPLY_DUE:
            r.next_attempt_at = utcnow() + backoff(r.attempts)


async def alert_triage(sessions: async_sessionmaker[AsyncSession], alerted: set[str], kind: str, text: str) -> None:
    """Queue one alert per kind for the triage group (per process: `alerted` remembers the kinds)."""
    if kind in alerted:
        return
    alerted.add(kind)
    await queue_alert(sessions, kind, text)


async def alert_kicked(sessions: async_sessionmaker[AsyncSession], alerted: set[str], chat_id: int,
                       lang: Lang) -> None:
    """The bot was removed from (or blocked in) a bound group: triage hears it once."""
    agency, group = await chat_names(sessions, chat_id)
    await alert_triage(sessions, alerted, f"kicked:{chat_id}", t("triage.kicked", lang, group=group, agency=agency))


# ---------------------------------------------------------------------------------------------------
# Operator retries (`kemala status retry`)


async def retry_cards(sessions: async_sessionmaker[AsyncSession], only: int | None = None) -> int:
    """Parked and failed card rows go out again at the next sweep (a card never reached its group, so a
    retry cannot show it twice). Returns how many rows were queued."""
    async with unit_of_work(sessions) as s:
        q = select(CardOutbox).where(CardOutbox.state.in_((CardState.PARKED, CardState.FAILED)))
        if only is not None:
            q = q.where(CardOutbox.id == only)
        rows = list((await s.scalars(q.with_for_update())).all())
        for row in rows:
            row.state = card_move(row.state, CardState.PENDING)
            row.next_attempt_at, row.attempts = utcnow(), 0
        if rows:
            repo.add_event(s, complaint_id=None, actor="cli", action="cards_retried", rows=[r.id for r in rows])
        return len(rows)


async def retry_unknown_replies(sessions: async_sessionmaker[AsyncSession], only: int | None = None) -> int:
    """Replies whose outcome is unknown are made due now; the reply sweep reconciles each with the desk's
    own posts on X before it posts anything (never a blind second post). Returns how many."""
    async with unit_of_work(sessions) as s:
        q = select(ReplyOutbox).where(ReplyOutbox.state == ReplyState.UNKNOWN)
        if only is not None:
            q = q.where(ReplyOutbox.id == only)
        rows = list((await s.scalars(q.with_for_update())).all())
        for row in rows:
            row.next_attempt_at = utcnow()
        if rows:
            repo.add_event(s, complaint_id=None, actor="cli", action="replies_retried", rows=[r.id for r in rows])
        return len(rows)


# ---------------------------------------------------------------------------------------------------
# The wall clock stepped back


async def shift_waiting(sessions: async_sessionmaker[AsyncSession], seconds: float) -> int:
    """The wall clock went back `seconds`: rows waiting for a wall-clock due time move back with it, so
    a card or reply due "now" before the step is due now after it, not `seconds` later.

    Only rows no attempt holds (pending): an attempt in flight holds its row by a due time in the future,
    and moving that hold could let a second attempt start beside it. Returns how many rows moved.
    """
    now, delta = utcnow(), timedelta(seconds=seconds)
    async with unit_of_work(sessions) as s:
        cards = (await s.scalars(select(CardOutbox).where(CardOutbox.state == CardState.PENDING,
                                                          CardOutbox.next_attempt_at > now))).all()
        replies = (await s.scalars(select(ReplyOutbox).where(ReplyOutbox.state == ReplyState.PENDING,
                                                             ReplyOutbox.next_attempt_at > now))).all()
        for card in cards:
            card.next_attempt_at = max(now, card.next_attempt_at - delta)
        for reply in replies:
            reply.next_attempt_at = max(now, reply.next_attempt_at - delta)
        moved = len(cards) + len(replies)
    return moved
