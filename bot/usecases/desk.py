"""Desk actions by staff: claim, release, reassign, dismiss, answer outside, drafts and approval."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import unit_of_work
from bot.domain.agencies import TRIAGE_CODE, is_destination_only
from bot.domain.lifecycle import UNDO_DISMISS_DAYS, Action, Status
from bot.domain.outbox import REPLY_IN_FLIGHT, CardKind, CardState, ReplyMode, ReplyState
from bot.domain.posts import fallback_text, reply_weight
from bot.domain.tweet_text import contains_secret, weighted_length
from bot.models import Agency, CardOutbox, Complaint, Event, Note, Prompt, ReplyOutbox, Tweet, utcnow
from bot.usecases.common import (
    MAX_REPLY_WEIGHT,
    Refused,
    Staff,
    actor_of,
    apply_action,
    cancel_drafts,
    check_version,
    enqueue_card,
    load_complaint,
    new_card_values,
    supersede_cards,
)

log = logging.getLogger(__name__)


async def claim(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                staff: Staff) -> Complaint:
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, None)
        if c.status == Status.CLAIMED.value or c.claimer_id is not None:
            if c.claimer_id == staff.id:
                raise Refused("alert.already_yours")
            raise Refused("alert.already_claimed", name=c.claimer_name or "?")
        check_version(c, version)
        apply_action(s, c, Action.CLAIM, staff.actor)
        c.claimer_id, c.claimer_name = staff.id, staff.name
        agency = await s.get(Agency, c.agency_id) if c.agency_id else None
        if agency is not None and agency.code != TRIAGE_CODE:
            c.confirmed_agency = agency.code
        await repo.mark_cards_dirty(s, c.id)
        return c


async def release(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                  staff: Staff, is_admin: bool) -> Complaint:
    async with unit_of_work(sessions) as s:
        c = await _owner_transition(s, complaint_id, version, staff, is_admin, Action.RELEASE)
        c.claimer_id, c.claimer_name = None, None
        return c


async def _owner_transition(s: AsyncSession, complaint_id: int, version: int | None, staff: Staff, is_admin: bool,
                            action: Action) -> Complaint:
    """An action only the owner (or an admin) may take; open drafts die with it."""
    c = await load_complaint(s, complaint_id, version)
    if c.claimer_id != staff.id and not is_admin:
        raise Refused("alert.not_owner", name=c.claimer_name or "-")
    await cancel_drafts(s, c)
    apply_action(s, c, action, staff.actor)
    await repo.mark_cards_dirty(s, c.id)
    return c


# A written reason ("Lainnya…") or note is a sentence, not an essay: it is shown on cards.
MAX_REASON_CHARS = 300
MAX_NOTE_CHARS = 2000


def _written(text: str | None, limit: int) -> str | None:
    """Staff's own words, trimmed; Refused when empty or too long."""
    if text is None:
        return None
    text = " ".join(text.split())
    if not text:
        raise Refused("alert.reason_empty")
    if len(text) > limit:
        raise Refused("alert.reason_long", n=len(text), limit=limit)
    return text


async def reassign(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                   staff: Staff, target_code: str, reason: str, note: str | None = None,
                   shown_reason: str | None = None) -> Complaint:
    """Move a complaint to another agency (or to triage): the old card becomes a tombstone, a new card goes out.

    `reason` is the key the audit keeps; `note` staff's written reason; `shown_reason` the key's label in
    staff's language (what the card's history line says: never an internal code)."""
    note = _written(note, MAX_REASON_CHARS)
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, version)
        target = await repo.agency_by_code(s, target_code)
        if target is None or not target.active:
            raise Refused("alert.invalid")
        old_agency = await s.get(Agency, c.agency_id) if c.agency_id else None
        if old_agency is not None and old_agency.id == target.id:
            raise Refused("alert.same_agency")
        to_triage = target.code == TRIAGE_CODE
        action = Action.RETURN_TO_TRIAGE if to_triage else Action.REASSIGN
        await cancel_drafts(s, c)
        apply_action(s, c, action, staff.actor, **{"from": old_agency.code if old_agency else None, "to": target.code,
                                             "reason": reason, "note": note})
        c.agency_id, c.claimer_id, c.claimer_name = target.id, None, None
        if not to_triage:
            c.confirmed_agency = target.code  # an admin's correction: a training label for the router
        by = f"@{staff.username}" if staff.username else staff.name
        said = note or shown_reason or reason
        c.history_note = f"{old_agency.short_name if old_agency else '?'} → {target.short_name}, {by}: {said}"
        await supersede_cards(s, c)
        await enqueue_card(s, c)
        return c


async def dismiss(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                  staff: Staff, reason: str = "spam", note: str | None = None) -> Complaint:
    note = _written(note, MAX_REASON_CHARS)
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, version)
        await cancel_drafts(s, c)
        apply_action(s, c, Action.DISMISS, staff.actor, reason=reason, note=note)
        await repo.mark_cards_dirty(s, c.id)
        return c


async def undismiss(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                    staff: Staff) -> Complaint:
    """Triage's undo of "Abaikan" within UNDO_DISMISS_DAYS: the complaint waits in triage again."""
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, version)
        if c.status != Status.DISMISSED.value:
            raise Refused("alert.illegal", status=c.status)
        at = await s.scalar(select(Event.at).where(Event.complaint_id == c.id, Event.action == Action.DISMISS.value)
                            .order_by(Event.id.desc()).limit(1))
        if at is None or utcnow() - at > timedelta(days=UNDO_DISMISS_DAYS):
            raise Refused("alert.undo_expired", days=UNDO_DISMISS_DAYS)
        apply_action(s, c, Action.UNDISMISS, staff.actor)
        triage = await repo.triage_agency(s)
        c.agency_id = triage.id
        await repo.mark_cards_dirty(s, c.id)
        return c


@dataclass(frozen=True)
class Forwarded:
    complaint: Complaint
    destination: str  # the destination's name as the citizen reads it
    handle: str | None  # its X account, when the directory knows it


async def forward(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                  staff: Staff, destination_code: str | None, written: str | None,
                  citizen_text: Callable[[str, str | None], str]) -> Forwarded:
    """Not the province's matter: the citizen is told where it goes (in the thread when X allows, else a
    new post mentioning them), and the complaint ends `forwarded`. One transaction: the status, the audit
    and the reply's outbox row commit together, so the citizen is told exactly once."""
    written = _written(written, MAX_REASON_CHARS)
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, version)
        if c.status in (Status.ANSWERED.value, Status.CLOSED.value) or c.reply_x_id:
            raise Refused("alert.forward_answered", number=c.id)
        handle: str | None = None
        if destination_code is not None:
            dest = await repo.agency_by_code(s, destination_code)
            if dest is None or not dest.active or not is_destination_only(dest.kind):
                raise Refused("alert.forward_not_destination")
            name, handle = dest.short_name, (f"@{dest.x_handle.lstrip('@')}" if dest.x_handle else None)
        else:
            assert written is not None
            name = written
        await cancel_drafts(s, c)
        apply_action(s, c, Action.FORWARD, staff.actor, to=destination_code, written=written)
        c.forwarded_to = destination_code
        c.claimer_id = c.claimer_name = None
        text = citizen_text(name, handle)
        mode, in_reply_to = ReplyMode.THREAD, c.reply_target_x_id
        if not c.reply_eligible:
            text = fallback_text(c.author_username, text, c.tweet_x_id)
            mode, in_reply_to = ReplyMode.FALLBACK, None
        if weighted_length(text) > MAX_REPLY_WEIGHT:
            raise Refused("alert.too_long", n=weighted_length(text), limit=MAX_REPLY_WEIGHT)
        s.add(ReplyOutbox(complaint_id=c.id, text=text, author_id=staff.id, author_name=staff.name, mode=mode,
                          in_reply_to=in_reply_to, state=ReplyState.PENDING, approved_by=staff.id,
                          approved_at=utcnow(), next_attempt_at=utcnow()))
        await repo.mark_cards_dirty(s, c.id)
        return Forwarded(c, name, handle)


async def add_note(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, chat_id: int, message_id: int,
                   staff: Staff, text: str) -> tuple[Note, bool] | None:
    """A staff member's reply to a card: an internal note (never posted on X), and whether it is this
    person's first note on the complaint. None when this message is already a note (Telegram may deliver
    an update twice)."""
    text = text.strip()
    if not text:
        raise Refused("alert.reason_empty")
    if len(text) > MAX_NOTE_CHARS:
        raise Refused("alert.reason_long", n=len(text), limit=MAX_NOTE_CHARS)
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, None)
        if await s.scalar(select(Note.id).where(Note.chat_id == chat_id, Note.message_id == message_id)):
            return None
        first = await s.scalar(select(Note.id).where(Note.complaint_id == c.id, Note.author_id == staff.id)
                               .limit(1)) is None
        note = Note(complaint_id=c.id, chat_id=chat_id, message_id=message_id, author_id=staff.id,
                    author_name=staff.name, text=text)
        s.add(note)
        await repo.remember_user(s, staff.id, staff.name, staff.username)
        repo.add_event(s, complaint_id=c.id, actor=staff.actor, action="note", chars=len(text))
        await repo.mark_cards_dirty(s, c.id)
        await s.flush()
        return note, first


async def record_preview(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, draft_id: int,
                         chat_id: int, message_id: int) -> None:
    """The draft preview just sent: once the reply is posted (or refused) the card sweep edits it to say so."""
    async with unit_of_work(sessions) as s:
        s.add(CardOutbox(complaint_id=complaint_id, chat_id=chat_id, kind=CardKind.PREVIEW, text=str(draft_id),
                         state=CardState.SENT, message_id=message_id, sent_at=utcnow()))


async def repost_card(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, chat_id: int) -> CardOutbox:
    """Post the complaint's card again in this chat (its agency's group, or triage's copy in the triage
    group), with the buttons that chat may use; the card sweep sends it."""
    async with unit_of_work(sessions) as s:
        c = await s.get(Complaint, complaint_id)
        chat_agency = await repo.agency_of_chat(s, chat_id)
        if c is None or chat_agency is None:
            raise Refused("alert.not_found", number=complaint_id)
        triage = await repo.triage_agency(s)
        if chat_agency.id not in (c.agency_id, triage.id):
            raise Refused("search.here_only", number=complaint_id)
        card = CardOutbox(**new_card_values(c.id, chat_id, utcnow()))
        s.add(card)
        repo.add_event(s, complaint_id=c.id, actor="desk", action="card_reposted", chat_id=chat_id)
        await s.flush()
        return card


async def answer_outside(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                         staff: Staff, is_admin: bool) -> Complaint:
    async with unit_of_work(sessions) as s:
        # Only the owner (or an admin) closes a case as answered elsewhere: an unclaimed card does not
        # offer the button, and a forged press by any member must not end someone's complaint.
        c = await _owner_transition(s, complaint_id, version, staff, is_admin, Action.ANSWER_OUTSIDE)
        c.answered_by, c.answered_at = staff.name, utcnow()
        return c


async def open_prompt(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                      staff: Staff) -> Complaint:
    """Check that `staff` may write the reply now (the ForceReply prompt is recorded by record_prompt)."""
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, version)
        if c.claimer_id != staff.id:
            raise Refused("alert.not_owner" if c.claimer_id else "alert.claim_first")
        if c.status not in (Status.CLAIMED.value, Status.DRAFTED.value):
            raise Refused("alert.illegal", status=c.status)
        repo.add_event(s, complaint_id=c.id, actor=staff.actor, action="reply_prompt")
        return c


async def record_prompt(sessions: async_sessionmaker[AsyncSession], *, chat_id: int, message_id: int,
                        complaint_id: int, user_id: int, kind: str = "reply",
                        detail: dict[str, Any] | None = None) -> None:
    """A ForceReply prompt: kind "reply" (the answer becomes a draft) or "reason" (a written reason for
    the action in `detail`: {"act": reassign|return|dismiss|forward, "target": code})."""
    async with unit_of_work(sessions) as s:
        s.add(Prompt(chat_id=chat_id, message_id=message_id, complaint_id=complaint_id, user_id=user_id, kind=kind,
                     detail=detail or {}))


async def take_reason_prompt(sessions: async_sessionmaker[AsyncSession], *, prompt_id: int,
                             staff: Staff) -> dict[str, Any]:
    """The written reason's prompt, used once and only by whom it asked."""
    async with unit_of_work(sessions) as s:
        prompt = await s.get(Prompt, prompt_id, with_for_update=True)
        if prompt is None or prompt.kind != "reason":
            raise Refused("alert.invalid")
        if prompt.user_id != staff.id:
            raise Refused("alert.not_your_prompt")
        if prompt.used_at is not None:
            raise Refused("alert.stale")
        prompt.used_at = utcnow()
        return dict(prompt.detail or {})


@dataclass(frozen=True)
class DraftResult:
    complaint: Complaint
    draft: ReplyOutbox
    weight: int


async def find_prompt(sessions: async_sessionmaker[AsyncSession], *, chat_id: int, message_id: int) -> Prompt | None:
    async with sessions() as s:
        return await s.scalar(select(Prompt).where(Prompt.chat_id == chat_id, Prompt.message_id == message_id))


async def write_draft(sessions: async_sessionmaker[AsyncSession], *, prompt_id: int, staff: Staff,
                      text: str, secrets: Sequence[str] = ()) -> DraftResult:
    """The owner's answer to a prompt becomes a draft (never posted without an explicit Kirim).

    A text holding one of the desk's secrets (or a credential's shape) is refused outright: once on X it
    is public.
    """
    text = text.strip()
    async with unit_of_work(sessions) as s:
        prompt = await s.get(Prompt, prompt_id, with_for_update=True)
        if prompt is None:
            raise Refused("alert.invalid")
        if prompt.user_id != staff.id:
            raise Refused("alert.not_your_prompt")
        c = await load_complaint(s, prompt.complaint_id, None)
        if c.claimer_id != staff.id:
            raise Refused("alert.not_owner")
        if not text:
            raise Refused("alert.empty_reply")
        if contains_secret(text, secrets):
            raise Refused("alert.secret_in_reply")  # the handler records the refusal (never the text)
        # The weight is what X will count: the fallback post adds the citizen's @name and the link.
        weight = draft_weight(text, c)
        if weight > MAX_REPLY_WEIGHT:
            repo.add_event(s, complaint_id=c.id, actor=staff.actor, action="draft_refused", weight=weight)
            if not c.reply_eligible:
                raise Refused("alert.too_long_fallback", n=weight, limit=MAX_REPLY_WEIGHT,
                              extra=weight - weighted_length(text))
            raise Refused("alert.too_long", n=weight, limit=MAX_REPLY_WEIGHT)
        await cancel_drafts(s, c)
        apply_action(s, c, Action.DRAFT_REPLY, staff.actor, weight=weight)
        prompt.used_at = utcnow()
        # in_reply_to is the post the preview promised to answer under (none while only the fallback can go).
        draft = ReplyOutbox(complaint_id=c.id, text=text, author_id=staff.id, author_name=staff.name,
                            mode=ReplyMode.THREAD, in_reply_to=c.reply_target_x_id if c.reply_eligible else None,
                            state=ReplyState.DRAFT)
        s.add(draft)
        await s.flush()
        await repo.mark_cards_dirty(s, c.id)
        return DraftResult(c, draft, weight)


async def _load_draft(s: AsyncSession, c: Complaint, draft_id: int) -> ReplyOutbox:
    """The complaint's draft, still a draft: a second Kirim or a stale preview is refused."""
    draft = await s.get(ReplyOutbox, draft_id, with_for_update=True)
    if draft is None or draft.complaint_id != c.id:
        raise Refused("alert.invalid")
    if draft.state != ReplyState.DRAFT:
        raise Refused("alert.already_sent" if draft.state in REPLY_IN_FLIGHT else "alert.stale")
    return draft


async def approve_reply(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, draft_id: int,
                        staff: Staff, is_admin: bool, fallback: bool = False,
                        target: int | None = None) -> ReplyOutbox:
    """Kirim: the reply enters the outbox in the same transaction as the approval.

    The draft itself is the guard (still a draft, its complaint still with its owner): a citizen's
    follow-up between preview and Kirim changes the card's version but not the draft, so it stays valid.
    `target` (a stored tweet's row id, from the refreshed preview) picks the post to answer under: the
    one the preview first promised or the citizen's newer one that mentions the desk.
    """
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, None)
        draft = await _load_draft(s, c, draft_id)
        agency = await s.get(Agency, c.agency_id) if c.agency_id else None
        if agency is not None and agency.requires_approval:
            if not is_admin:
                raise Refused("alert.needs_approval")
        elif c.claimer_id != staff.id:
            raise Refused("alert.not_owner")
        if not c.reply_eligible and not fallback:
            raise Refused("alert.not_eligible")
        if fallback:
            text = fallback_text(c.author_username, draft.text, c.tweet_x_id)
            weight = weighted_length(text)
            if weight > MAX_REPLY_WEIGHT:
                raise Refused("alert.too_long", n=weight, limit=MAX_REPLY_WEIGHT)
            draft.text, draft.mode, draft.in_reply_to = text, ReplyMode.FALLBACK, None
        elif target is not None:
            tweet = await s.get(Tweet, target)
            if tweet is None or tweet.complaint_id != c.id or \
                    tweet.x_id not in {draft.in_reply_to, c.reply_target_x_id}:
                raise Refused("alert.invalid")
            draft.in_reply_to = tweet.x_id
        elif draft.in_reply_to is None:
            draft.in_reply_to = c.reply_target_x_id
        apply_action(s, c, Action.APPROVE_REPLY, staff.actor, draft=draft.id, mode=draft.mode,
                     under=draft.in_reply_to)
        draft.state, draft.approved_by, draft.approved_at = ReplyState.PENDING, staff.id, utcnow()
        draft.next_attempt_at = utcnow()
        await repo.mark_cards_dirty(s, c.id)
        return draft


def draft_weight(text: str, c: Complaint) -> int:
    """The weight X counts for this draft as it would go now: in the thread, or as the fallback post."""
    return reply_weight(text, eligible=c.reply_eligible, username=c.author_username, tweet_id=c.tweet_x_id)


async def cancel_draft(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, draft_id: int,
                       staff: Staff, is_admin: bool) -> Complaint:
    async with unit_of_work(sessions) as s:
        c = await load_complaint(s, complaint_id, None)
        draft = await _load_draft(s, c, draft_id)
        if c.claimer_id != staff.id and not is_admin:
            raise Refused("alert.not_owner", name=c.claimer_name or "-")
        draft.state = ReplyState.CANCELLED
        if c.status == Status.DRAFTED.value:
            apply_action(s, c, Action.CANCEL_DRAFT, staff.actor, draft=draft.id)
        await repo.mark_cards_dirty(s, c.id)
        return c


# --- reply outcomes (called by the reply sweep) ------------------------------------------------------


async def record_refusal(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int | None, user_id: int,
                         key: str, **detail: Any) -> None:
    """Every refused press, draft or command is in the audit log (under the complaint when it exists)."""
    async with unit_of_work(sessions) as s:
        exists = complaint_id is not None and await s.get(Complaint, complaint_id) is not None
        repo.add_event(s, complaint_id=complaint_id if exists else None, actor=actor_of(user_id), action="refused",
                       reason=key, **detail)


async def record_press(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, user_id: int,
                       first_name: str, username: str | None, act: str) -> None:
    async with unit_of_work(sessions) as s:
        await repo.remember_user(s, user_id, first_name, username)
        repo.add_event(s, complaint_id=complaint_id, actor=actor_of(user_id), action="press", act=act)
