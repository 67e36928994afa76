"""Read models: what a card, a queue, a report or a board shows, read in one place.

Everything here only reads. Handlers, jobs, the CLI (and later reports and the web board) call these
instead of writing SQL of their own; use cases (bot.usecases) are the only writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.config import Settings
from bot.domain.agencies import TRIAGE_CODE, is_destination_only
from bot.domain.lifecycle import DONE_STATUSES, OPEN_STATUSES, Status
from bot.domain.outbox import CARD_DUE, REJECTED_NOTICE_PREFIX, REPLY_DUE, CardKind, CardState, ReplyState
from bot.domain.posts import XMedia, album_items, media_of, parse_photo_row_text, reply_weight, tweet_url
from bot.models import (
    Agency,
    AgencyChat,
    CardOutbox,
    Complaint,
    Cursor,
    Event,
    Note,
    ReplyOutbox,
    TelegramUser,
    Tweet,
    XUsage,
)

# ---------------------------------------------------------------------------------------------------
# Cards


@dataclass(frozen=True, kw_only=True)
class CardView:
    """Everything a card shows; built by the use-case layer, rendered here."""

    complaint_id: int
    version: int
    status: str
    agency_code: str | None
    agency_short: str | None
    citizen_name: str
    citizen_username: str
    text: str
    place_label: str | None
    created_at: datetime
    routing_reasons: tuple[str, ...] = ()
    confidence: float | None = None
    tweet_url: str
    reply_eligible: bool
    desk_username: str
    claimer_name: str | None = None
    followups: int = 0
    photo_urls: tuple[str, ...] = ()
    media: tuple[XMedia, ...] = ()
    # A quote post: the quoted post's author and text (None text with an id: X no longer has it).
    quoted_x_id: str | None = None
    quoted_author: str | None = None
    quoted_text: str | None = None
    retweet_count: int = 0
    alternatives: tuple[tuple[str, str, float], ...] = ()
    history_note: str | None = None
    reply_text: str | None = None
    reply_url: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    rejected_reason: str | None = None
    deleted: bool = False
    edited: bool = False
    is_triage_card: bool = False
    # Not the province's matter: whose it is (short name) and the routing's words for it.
    destination_short: str | None = None
    jurisdiction: str | None = None
    requires_approval: bool = False
    moved_to: str | None = None
    # Tombstone details; the handler fills them from the reassign event.
    moved_by: str | None = None
    moved_reason: str | None = None
    # Complaints of other citizens in the same conversation (the one this answers, and those answering it).
    related: tuple[int, ...] = ()
    # Why each candidate is one (parallel to `alternatives`; "" when the router gave no words).
    alternative_reasons: tuple[str, ...] = ()
    destination_code: str | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismissed_reason: str | None = None
    forwarded_to: str | None = None
    forwarded_by: str | None = None
    notes: int = 0
    last_note: tuple[str, str] | None = None  # (author, text)
    # Triage's copy of a card an agency holds (posted by /cari in the triage group): that agency.
    elsewhere: str | None = None

    @property
    def is_live(self) -> bool:
        """Whether staff can still act on this card."""
        return self.moved_to is None and self.status not in DONE_STATUSES


async def build_view(s: AsyncSession, c: Complaint, card: CardOutbox | None, *, desk_username: str,
                     in_chat: int | None = None) -> CardView:
    """The card as shown in the chat of `card` (or `in_chat`): in the triage group it is a triage card,
    also when it is triage's copy of a complaint an agency holds."""
    agency = await s.get(Agency, c.agency_id) if c.agency_id is not None else None
    held_by_triage = agency is None or agency.code == TRIAGE_CODE
    chat_id = card.chat_id if card is not None else in_chat
    is_triage = held_by_triage
    if chat_id is not None:
        triage_chat = await repo.chat_of_agency(s, (await repo.triage_agency(s)).id)
        is_triage = held_by_triage or (triage_chat is not None and triage_chat.chat_id == chat_id)
    elsewhere = agency.short_name if is_triage and not held_by_triage and agency is not None else None
    alternatives: list[tuple[str, str, float]] = []
    alternative_reasons: list[str] = []
    if is_triage and held_by_triage:
        # The agency that just sent it back is not offered again as a one-tap choice.
        returned = await s.scalar(select(Event).where(Event.complaint_id == c.id, Event.action == "return_to_triage")
                                  .order_by(Event.id.desc()).limit(1))
        skip = str(returned.detail.get("from")) if returned is not None else None
        codes = [str(a[0]) for a in c.routing_alternatives if a and a[0] and str(a[0]) != skip]
        if codes:
            names = {a.code: a.short_name for a in (await s.scalars(
                select(Agency).where(Agency.code.in_(codes), Agency.active.is_(True)))).all()
                if not is_destination_only(a.kind)}
            kept = [a for a in c.routing_alternatives if a and str(a[0]) in names and str(a[0]) != skip][:3]
            alternatives = [(str(a[0]), names[str(a[0])], float(a[1])) for a in kept]
            alternative_reasons = [str(a[2]) if len(a) > 2 and a[2] else "" for a in kept]
    destination_short = None
    if c.routing_destination:
        dest = await s.scalar(select(Agency).where(Agency.code == c.routing_destination))
        destination_short = dest.short_name if dest is not None else c.routing_destination
    moved_to = moved_by = moved_reason = None
    if card is not None and card.superseded:
        moved_to = agency.short_name if agency else "?"
        ev = await s.scalar(select(Event).where(Event.complaint_id == c.id,
                                                Event.action.in_(["reassign", "return_to_triage", "reopen"]))
                            .order_by(Event.id.desc()).limit(1))
        if ev is not None:
            moved_by = await _actor_name(s, ev.actor)
            # A written reason ("Lainnya…") is staff's own words; a key is shown by its label.
            moved_reason = str(ev.detail.get("note") or ev.detail.get("reason") or "")
    reply_text = reply_url = None
    if c.reply_x_id:
        reply = await s.scalar(select(ReplyOutbox).where(ReplyOutbox.complaint_id == c.id,
                                                         ReplyOutbox.state == ReplyState.POSTED)
                               .order_by(ReplyOutbox.id.desc()).limit(1))
        reply_text = reply.text if reply else None
        reply_url = f"https://x.com/{desk_username}/status/{c.reply_x_id}"
    dismissed_at = dismissed_by = dismissed_reason = forwarded_by = None
    if c.status in (Status.DISMISSED, Status.FORWARDED):
        action = "dismiss" if c.status == Status.DISMISSED else "forward"
        ev = await s.scalar(select(Event).where(Event.complaint_id == c.id, Event.action == action)
                            .order_by(Event.id.desc()).limit(1))
        if ev is not None:
            who = await _actor_name(s, ev.actor)
            if action == "dismiss":
                dismissed_at, dismissed_by = ev.at, who
                dismissed_reason = str(ev.detail.get("note") or ev.detail.get("reason") or "")
            else:
                forwarded_by = who
    forwarded_to = None
    if c.forwarded_to:
        dest = await s.scalar(select(Agency).where(Agency.code == c.forwarded_to))
        forwarded_to = dest.short_name if dest is not None else c.forwarded_to
    notes = int(await s.scalar(select(func.count(Note.id)).where(Note.complaint_id == c.id)) or 0)
    last = await s.scalar(select(Note).where(Note.complaint_id == c.id).order_by(Note.id.desc()).limit(1)) \
        if notes else None
    answering = (await s.scalars(select(Complaint.id).where(Complaint.related_to_id == c.id)
                                 .order_by(Complaint.id).limit(9))).all()
    related = tuple(([c.related_to_id] if c.related_to_id is not None else []) + list(answering))
    return CardView(
        related=related,
        complaint_id=c.id, version=c.version, status=c.status,
        agency_code=agency.code if agency else None,
        agency_short=agency.short_name if agency and agency.code != TRIAGE_CODE else None,
        citizen_name=c.author_name, citizen_username=c.author_username, text=c.text, place_label=c.place_label,
        created_at=c.tweeted_at, routing_reasons=tuple(str(r) for r in c.routing_reasons),
        confidence=c.routing_confidence, tweet_url=tweet_url(c.author_username, c.tweet_x_id),
        reply_eligible=c.reply_eligible, desk_username=desk_username, claimer_name=c.claimer_name,
        followups=c.followups, photo_urls=tuple(str(u) for u in c.photo_urls), alternatives=tuple(alternatives),
        media=media_of(c.media), quoted_x_id=c.quoted_x_id, quoted_author=c.quoted_author,
        quoted_text=c.quoted_text, retweet_count=c.retweet_count or 0,
        history_note=c.history_note, reply_text=reply_text, reply_url=reply_url, answered_by=c.answered_by,
        answered_at=c.answered_at, rejected_reason=c.rejected_reason, deleted=c.deleted, edited=c.edited,
        is_triage_card=is_triage, requires_approval=bool(agency and agency.requires_approval),
        moved_to=moved_to, moved_by=moved_by, moved_reason=moved_reason,
        destination_short=destination_short, jurisdiction=c.routing_jurisdiction,
        alternative_reasons=tuple(alternative_reasons), destination_code=c.routing_destination,
        dismissed_at=dismissed_at, dismissed_by=dismissed_by, dismissed_reason=dismissed_reason,
        forwarded_to=forwarded_to, forwarded_by=forwarded_by, notes=notes,
        last_note=(last.author_name, last.text) if last is not None else None, elsewhere=elsewhere,
    )


async def _actor_name(s: AsyncSession, actor: str) -> str:
    """An audit actor ("tg:123") as staff know them: @username, else the first name."""
    if actor.startswith("tg:") and actor[3:].isdigit():
        who = await s.get(TelegramUser, int(actor[3:]))
        if who is not None:
            return f"@{who.username}" if who.username else who.first_name
    return actor


# ---------------------------------------------------------------------------------------------------
# What a press acts on


@dataclass(frozen=True)
class PressTarget:
    """The complaint a button names, the card row the press came from, and where the complaint lives."""

    complaint: Complaint | None
    card: CardOutbox | None
    live_cards: tuple[CardOutbox, ...]
    triage_agency_id: int


async def press_target(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, chat_id: int,
                       message_id: int) -> PressTarget:
    async with sessions() as s:
        c = await s.get(Complaint, complaint_id)
        card = await repo.card_at(s, chat_id, message_id)
        current = tuple(await repo.live_cards(s, complaint_id)) if c else ()
        triage = await repo.triage_agency(s)
    return PressTarget(c, card, current, triage.id)


async def triage_chat_id(sessions: async_sessionmaker[AsyncSession], configured: int | None) -> int | None:
    """The triage group: KEMALA_TRIAGE_CHAT_ID, else a binding an operator made (CLI), never one from Telegram."""
    if configured is not None:
        return configured
    async with sessions() as s:
        chat = await repo.chat_of_agency(s, (await repo.triage_agency(s)).id)
    # A binding made through Telegram (bound_by set) predates configuration-only triage: it could have
    # been a takeover, so it grants nothing.
    return chat.chat_id if chat is not None and chat.bound_by is None else None


async def groups_bound(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(provincial agencies with a group, active provincial agencies): the start-up line's directory part."""
    async with sessions() as s:
        provincial = [a for a in (await s.scalars(select(Agency).where(Agency.active.is_(True)))).all()
                      if a.code != TRIAGE_CODE and not is_destination_only(a.kind)]
        bound = set((await s.scalars(select(AgencyChat.agency_id))).all())
        return sum(1 for a in provincial if a.id in bound), len(provincial)


async def picker_agencies(sessions: async_sessionmaker[AsyncSession], *, exclude: int | None) -> list[tuple[str, str]]:
    """(code, short name) of every active agency but triage and `exclude`, by short name."""
    async with sessions() as s:
        rows = (await s.scalars(select(Agency).where(Agency.active.is_(True), Agency.code != TRIAGE_CODE)
                                .order_by(Agency.short_name))).all()
    return [(a.code, a.short_name) for a in rows if a.id != exclude and not is_destination_only(a.kind)]


async def chat_binding(sessions: async_sessionmaker[AsyncSession], chat_id: int) -> tuple[str, str] | None:
    """(code, short name) of the agency this chat is bound to (TRIAGE_CODE for the triage group)."""
    async with sessions() as s:
        agency = await repo.agency_of_chat(s, chat_id)
    return (agency.code, agency.short_name) if agency is not None else None


async def forward_destinations(sessions: async_sessionmaker[AsyncSession], *,
                               first: str | None) -> list[tuple[str, str]]:
    """(code, short name) of the regency/city governments and vertical bodies, the proposed one first."""
    async with sessions() as s:
        rows = (await s.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.short_name))).all()
    out = [(a.code, a.short_name) for a in rows if is_destination_only(a.kind)]
    out.sort(key=lambda pair: pair[0] != first)
    return out


async def agency_short_name(sessions: async_sessionmaker[AsyncSession], code: str) -> str:
    async with sessions() as s:
        a = await repo.agency_by_code(s, code)
    return a.short_name if a else code


async def chat_names(sessions: async_sessionmaker[AsyncSession], chat_id: int) -> tuple[str, str]:
    """(agency short name, group title) of a bound chat, "?" / the id when unknown."""
    async with sessions() as s:
        agency = await repo.agency_of_chat(s, chat_id)
        chat = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == chat_id))
    return (agency.short_name if agency else "?"), ((chat.title if chat else None) or str(chat_id))


# ---------------------------------------------------------------------------------------------------
# Queue


async def queue_of_chat(sessions: async_sessionmaker[AsyncSession],
                        chat_id: int) -> list[tuple[int, str, str | None, datetime]] | None:
    """/antrian: (number, status, claimer, tweeted at) of the chat's agency's open complaints, oldest
    first; None when the chat is not bound to an agency."""
    async with sessions() as s:
        agency = await repo.agency_of_chat(s, chat_id)
        if agency is None:
            return None
        rows = (await s.execute(select(Complaint.id, Complaint.status, Complaint.claimer_name, Complaint.tweeted_at)
                                .where(Complaint.agency_id == agency.id,
                                       Complaint.status.in_([st.value for st in OPEN_STATUSES]))
                                .order_by(Complaint.tweeted_at))).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


@dataclass(frozen=True)
class SearchHit:
    number: int
    status: str
    text: str
    author: str


@dataclass(frozen=True)
class SearchResult:
    """What /cari found in the chat's scope (its agency's complaints; everything from the triage group)."""

    bound: bool  # the chat is an agency group or the triage group
    hits: tuple[SearchHit, ...] = ()
    total: int = 0
    number_elsewhere: bool = False  # a number that exists but is not this group's


SEARCH_LIMIT = 8


async def search_complaints(sessions: async_sessionmaker[AsyncSession], *, chat_id: int, number: int | None = None,
                            handle: str | None = None, words: tuple[str, ...] = ()) -> SearchResult:
    """/cari by number, by the citizen's @handle, or by words found in the text, the place or the handle;
    newest first."""
    async with sessions() as s:
        agency = await repo.agency_of_chat(s, chat_id)
        if agency is None:
            return SearchResult(bound=False)
        triage = await repo.triage_agency(s)
        scope = [] if agency.id == triage.id else [Complaint.agency_id == agency.id]
        if number is not None:
            c = await s.get(Complaint, number)
            if c is None:
                return SearchResult(bound=True)
            if scope and c.agency_id != agency.id:
                return SearchResult(bound=True, number_elsewhere=True)
            return SearchResult(bound=True, hits=(SearchHit(c.id, c.status, c.text, c.author_username),), total=1)
        where = list(scope)
        if handle is not None:
            where.append(func.lower(Complaint.author_username) == handle.lower())
        for word in words:
            # LIKE's own wildcards in the input are matched literally.
            pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(func.lower(Complaint.text).like(pattern, escape="\\")
                         | func.lower(func.coalesce(Complaint.place_label, "")).like(pattern, escape="\\")
                         | func.lower(Complaint.author_username).like(pattern, escape="\\"))
        total = int(await s.scalar(select(func.count(Complaint.id)).where(*where)) or 0)
        rows = (await s.scalars(select(Complaint).where(*where).order_by(Complaint.id.desc())
                                .limit(SEARCH_LIMIT))).all()
    return SearchResult(bound=True, hits=tuple(SearchHit(c.id, c.status, c.text, c.author_username) for c in rows),
                        total=total)


async def complaint_by_id(sessions: async_sessionmaker[AsyncSession], complaint_id: int) -> Complaint | None:
    """The complaint as it is now (detached: read its columns, change nothing)."""
    async with sessions() as s:
        return await s.get(Complaint, complaint_id)


async def notes_of(sessions: async_sessionmaker[AsyncSession], complaint_id: int,
                   limit: int = 10) -> list[tuple[datetime, str, str]]:
    """(when, who, text) of a complaint's internal notes, oldest first (the latest `limit`)."""
    async with sessions() as s:
        rows = (await s.scalars(select(Note).where(Note.complaint_id == complaint_id).order_by(Note.id.desc())
                                .limit(limit))).all()
    return [(n.created_at, n.author_name, n.text) for n in reversed(rows)]


async def card_of_message(sessions: async_sessionmaker[AsyncSession], *, chat_id: int,
                          message_id: int) -> int | None:
    """The complaint whose card (live or a tombstone) is this message, if any."""
    async with sessions() as s:
        card = await repo.card_at(s, chat_id, message_id)
    return card.complaint_id if card is not None else None


# ---------------------------------------------------------------------------------------------------
# X usage


async def usage_report(sessions: async_sessionmaker[AsyncSession], settings: Settings, month: str) -> dict[str, Any]:
    """The month's X usage and its estimated cost by X's price classes (the cost meter, `kemala x usage`).

    Reads are what X bills: a post read twice in one UTC day counts once. Every post created is in
    `posts_created`; of those, `posts_with_url` pay the URL price and `summoned_replies` (replies to a
    post that @mentions the desk, without a link) the summoned-reply price; the rest the create price.
    """
    async with sessions() as s:
        rows = {u.kind: u.count for u in (await s.scalars(select(XUsage).where(XUsage.month == month))).all()}
    reads, owned = rows.get("posts_read", 0), rows.get("owned_reads", 0)
    created, with_url = rows.get("posts_created", 0), rows.get("posts_with_url", 0)
    summoned = rows.get("summoned_replies", 0)
    plain = max(0, created - with_url - summoned)
    by_class = {
        "post_read": round(reads * settings.price_post_read, 4),
        "owned_read": round(owned * settings.price_owned_read, 4),
        "post_create": round(plain * settings.price_post_created, 4),
        "summoned_reply": round(summoned * settings.price_summoned_reply, 4),
        "url_post": round(with_url * settings.price_post_with_url, 4),
    }
    cost = (reads * settings.price_post_read + owned * settings.price_owned_read
            + plain * settings.price_post_created + summoned * settings.price_summoned_reply
            + with_url * settings.price_post_with_url)
    out: dict[str, Any] = {"month": month, "posts_read": reads, "owned_reads": owned, "posts_created": created,
                           "posts_with_url": with_url, "summoned_replies": summoned,
                           "reads_returned": rows.get("reads_returned", reads + owned),
                           "requests": rows.get("requests", 0), "cost_by_class": by_class,
                           "estimated_usd": round(cost, 4), "budget_usd": settings.x_monthly_budget_usd}
    return out


# ---------------------------------------------------------------------------------------------------
# What the sweeps work on


async def open_tweet_ids(sessions: async_sessionmaker[AsyncSession], *, limit: int = 500) -> list[str]:
    """X ids of open complaints not known to be deleted, newest first (the deleted-post check)."""
    async with sessions() as s:
        return list((await s.scalars(select(Complaint.tweet_x_id).where(
            Complaint.status.in_([st.value for st in OPEN_STATUSES]), Complaint.deleted.is_(False))
            .order_by(Complaint.id.desc()).limit(limit))).all())


async def due_reply_ids(sessions: async_sessionmaker[AsyncSession], now: datetime, *, limit: int) -> list[int]:
    async with sessions() as s:
        return list((await s.scalars(select(ReplyOutbox.id).where(
            ReplyOutbox.state.in_(REPLY_DUE), ReplyOutbox.next_attempt_at <= now)
            .order_by(ReplyOutbox.id).limit(limit))).all())


async def x_ids_owned_by_other_replies(sessions: async_sessionmaker[AsyncSession], reply_id: int,
                                       since: datetime) -> set[str]:
    """X posts already recorded for another reply (posted since `since`): never adopted for this one."""
    async with sessions() as s:
        return {x for x in (await s.scalars(select(ReplyOutbox.posted_x_id).where(
            ReplyOutbox.id != reply_id, ReplyOutbox.posted_x_id.is_not(None),
            ReplyOutbox.posted_at >= since))).all() if x}


async def due_card_rows(sessions: async_sessionmaker[AsyncSession], now: datetime, *,
                        limit: int) -> list[tuple[int, int, int]]:
    """(row id, chat id, messages it sends) of card-outbox rows due for sending: cards, follow-ups and
    notices oldest first, then pictures oldest first, so a card never waits behind pictures."""
    async with sessions() as s:
        rows = (await s.execute(select(CardOutbox.id, CardOutbox.chat_id, CardOutbox.kind, CardOutbox.text).where(
            CardOutbox.state.in_(CARD_DUE), CardOutbox.next_attempt_at <= now)
            .order_by(CardOutbox.kind == CardKind.PHOTO, CardOutbox.id).limit(limit))).all()
    out: list[tuple[int, int, int]] = []
    for row_id, chat_id, kind, text in rows:
        spec = parse_photo_row_text(text) if kind == CardKind.PHOTO else None
        # An album of n counts n against the group's 20 messages a minute; links are one message.
        out.append((int(row_id), int(chat_id), spec[1] - spec[0] if spec is not None and not spec[2] else 1))
    return out


async def dirty_card_ids(sessions: async_sessionmaker[AsyncSession], *, limit: int) -> list[int]:
    """Sent cards whose complaint changed since they were last drawn."""
    async with sessions() as s:
        return list((await s.scalars(select(CardOutbox.id).where(
            CardOutbox.needs_edit.is_(True), CardOutbox.state == CardState.SENT
        ).order_by(CardOutbox.id).limit(limit))).all())


class NoticeKind(StrEnum):
    TEXT = "text"
    REJECTED = "rejected"  # a reply X refused: the row's text is "rejected:<reason>"


@dataclass(frozen=True)
class OutboxMessage:
    """One card-outbox row as the Telegram side draws it."""

    row_id: int
    kind: CardKind
    state: CardState
    chat_id: int
    message_id: int | None
    superseded: bool
    reply_to_message_id: int | None
    view: CardView | None = None  # kind card
    complaint_number: int | None = None
    author_username: str | None = None
    text: str = ""  # followup body, notice text
    notice: NoticeKind = NoticeKind.TEXT
    rejected_reason: str = ""
    # kind photo: the pictures this row sends (or links, after Telegram refused them), and where they are on X
    pictures: tuple[XMedia, ...] = ()
    picture_offset: int = 0
    picture_total: int = 0
    as_links: bool = False
    tweet_url: str = ""
    # kind preview: the reply's state, who wrote it and, once posted, its address on X
    reply_state: ReplyState | None = None
    reply_author: str = ""
    reply_url: str | None = None
    # kind preview, reply still a draft: what the preview shows again after a citizen's follow-up
    draft: DraftPreview | None = None


@dataclass(frozen=True)
class DraftPreview:
    """A draft's preview as it stands now: the text, the weight X will count, where it can go, and what
    the citizen added since it was written (author's follow-ups, oldest first)."""

    complaint_id: int
    version: int
    draft_id: int
    text: str
    weight: int
    eligible: bool
    citizen_username: str
    followups: tuple[str, ...]
    latest: int | None  # row id of a newer post to answer under (a follow-up that mentions the desk)
    earlier: bool  # the post the preview first named is still a choice


async def outbox_message(sessions: async_sessionmaker[AsyncSession], row_id: int, *,
                         desk_username: str) -> OutboxMessage | None:
    async with sessions() as s:
        row = await s.get(CardOutbox, row_id)
        if row is None:
            return None
        reply_to: int | None = None
        if row.reply_to_outbox_id is not None:
            parent = await s.get(CardOutbox, row.reply_to_outbox_id)
            reply_to = parent.message_id if parent is not None and parent.chat_id == row.chat_id else None
        c = await s.get(Complaint, row.complaint_id) if row.complaint_id is not None else None
        base: dict[str, Any] = {"row_id": row.id, "kind": CardKind(row.kind), "state": CardState(row.state),
                                "chat_id": row.chat_id, "message_id": row.message_id,
                                "superseded": row.superseded, "reply_to_message_id": reply_to,
                                "complaint_number": c.id if c else None,
                                "author_username": c.author_username if c else None, "text": row.text or ""}
        if row.kind == CardKind.CARD and c is not None:
            base["view"] = await build_view(s, c, row, desk_username=desk_username)
        if row.kind == CardKind.PHOTO and c is not None:
            spec = parse_photo_row_text(row.text)
            everything = album_items(media_of(c.media))
            if spec is not None:
                base.update(pictures=tuple(everything[spec[0]:spec[1]]), picture_offset=spec[0],
                            picture_total=len(everything), as_links=spec[2],
                            tweet_url=tweet_url(c.author_username, c.tweet_x_id))
        if row.kind == CardKind.PREVIEW and (row.text or "").isdigit():
            r = await s.get(ReplyOutbox, int(row.text or "0"))
            if r is not None and c is not None and r.state == ReplyState.DRAFT:
                base["draft"] = await _draft_preview(s, c, r)
            if r is not None:
                base.update(reply_state=ReplyState(r.state), reply_author=r.author_name,
                            rejected_reason=r.last_error or "",
                            reply_url=(f"https://x.com/{desk_username}/status/{r.posted_x_id}"
                                       if r.posted_x_id else None))
        if row.kind == CardKind.NOTICE and (row.text or "").startswith(REJECTED_NOTICE_PREFIX):
            base["notice"] = NoticeKind.REJECTED
            base["rejected_reason"] = (row.text or "")[len(REJECTED_NOTICE_PREFIX):]
    return OutboxMessage(**base)


async def _draft_preview(s: AsyncSession, c: Complaint, r: ReplyOutbox) -> DraftPreview:
    followups = (await s.scalars(select(Tweet).where(
        Tweet.complaint_id == c.id, Tweet.role == "followup", Tweet.created_at >= r.created_at)
        .order_by(Tweet.tweeted_at, Tweet.id))).all()
    latest: int | None = None
    if c.reply_eligible and c.reply_target_x_id and c.reply_target_x_id != r.in_reply_to:
        latest = await s.scalar(select(Tweet.id).where(Tweet.x_id == c.reply_target_x_id,
                                                       Tweet.complaint_id == c.id))
    return DraftPreview(complaint_id=c.id, version=c.version, draft_id=r.id, text=r.text,
                        weight=reply_weight(r.text, eligible=c.reply_eligible, username=c.author_username,
                                            tweet_id=c.tweet_x_id),
                        eligible=c.reply_eligible,
                        citizen_username=c.author_username, followups=tuple(t.text for t in followups),
                        latest=latest, earlier=latest is not None and r.in_reply_to is not None)


# --- operations: metrics and what is stuck --------------------------------------------------------------


async def metrics_snapshot(sessions: async_sessionmaker[AsyncSession], now: datetime) -> dict[str, Any]:
    """What the database holds, for /metrics: rows by status/state, the oldest waiting row per outbox."""
    out: dict[str, Any] = {}
    async with sessions() as s:
        for key, col in (("complaints", Complaint.status), ("cards", CardOutbox.state),
                         ("replies", ReplyOutbox.state)):
            out[key] = {str(k): int(n) for k, n in (await s.execute(select(col, func.count()).group_by(col))).all()}
        oldest_card = await s.scalar(select(func.min(CardOutbox.created_at)).where(CardOutbox.state.in_(CARD_DUE)))
        oldest_reply = await s.scalar(select(func.min(func.coalesce(ReplyOutbox.approved_at, ReplyOutbox.created_at)))
                                      .where(ReplyOutbox.state.in_(REPLY_DUE)))
        out["oldest_pending_seconds"] = {
            name: max(0.0, (now - _aware(at)).total_seconds()) if at is not None else 0.0
            for name, at in (("cards", oldest_card), ("replies", oldest_reply))}
        out["parked_posts"] = int(await s.scalar(select(func.count(Tweet.id)).where(Tweet.role == "parked")) or 0)
        out["parked_groups"] = int(await s.scalar(select(func.count(AgencyChat.id))
                                                  .where(AgencyChat.parked_reason.is_not(None))) or 0)
    return out


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def stuck_report(sessions: async_sessionmaker[AsyncSession], now: datetime, *,
                       limit: int = 50) -> dict[str, Any]:
    """`kemala status` and /status: the counts, then each thing that waits on a person or a retry."""
    out = await metrics_snapshot(sessions, now)
    # The lists below are capped at `limit`; the totals stay whole.
    out["parked_posts_total"], out["parked_groups_total"] = out["parked_posts"], out["parked_groups"]
    async with sessions() as s:
        parked_cards = (await s.execute(
            select(CardOutbox.id, CardOutbox.complaint_id, CardOutbox.chat_id, CardOutbox.kind, CardOutbox.last_error,
                   CardOutbox.created_at)
            .where(CardOutbox.state.in_((CardState.PARKED, CardState.FAILED)))
            .order_by(CardOutbox.id).limit(limit))).all()
        out["parked_cards"] = [{"id": r.id, "complaint": r.complaint_id, "chat": r.chat_id, "kind": r.kind,
                                "reason": r.last_error or "", "since": _aware(r.created_at).isoformat()}
                               for r in parked_cards]
        replies = (await s.execute(
            select(ReplyOutbox.id, ReplyOutbox.complaint_id, ReplyOutbox.state, ReplyOutbox.last_error,
                   ReplyOutbox.created_at)
            .where(ReplyOutbox.state.in_((ReplyState.REJECTED, ReplyState.UNKNOWN)))
            .order_by(ReplyOutbox.id).limit(limit))).all()
        out["stuck_replies"] = [{"id": r.id, "complaint": r.complaint_id, "state": str(r.state),
                                 "reason": r.last_error or "", "since": _aware(r.created_at).isoformat()}
                                for r in replies]
        unclaimed = (await s.execute(
            select(Complaint.id, Complaint.status, Complaint.created_at, Agency.code)
            .join(Agency, Agency.id == Complaint.agency_id, isouter=True)
            .where(Complaint.claimer_id.is_(None), Complaint.deleted.is_(False),
                   Complaint.status.in_([Status.NEW.value, Status.TRIAGE.value, Status.ROUTED.value]))
            .order_by(Complaint.created_at).limit(limit))).all()
        out["unclaimed"] = [{"id": r.id, "status": r.status, "agency": r.code or TRIAGE_CODE,
                             "age_seconds": int((now - _aware(r.created_at)).total_seconds())} for r in unclaimed]
        parked_posts = (await s.scalars(select(Tweet).where(Tweet.role == "parked").order_by(Tweet.id)
                                        .limit(limit))).all()
        out["parked_posts"] = [{"id": t.x_id, "author": t.author_username, "reason": t.parked_reason or "",
                                     "since": _aware(t.created_at).isoformat()} for t in parked_posts]
        # jobs.x_intake.CURSOR_X_PAUSED (queries sit below the jobs and cannot import them)
        paused = await s.scalar(select(Cursor.value).where(Cursor.name == "x_paused"))
        out["x_paused"] = paused.split("|", 1)[0] if paused else None
        out["x_paused_since"] = paused.split("|", 1)[1] if paused and "|" in paused else None
        groups = (await s.execute(select(AgencyChat.chat_id, AgencyChat.parked_reason, Agency.code)
                                  .join(Agency, Agency.id == AgencyChat.agency_id)
                                  .where(AgencyChat.parked_reason.is_not(None)))).all()
        out["parked_groups"] = [{"chat": g.chat_id, "agency": g.code, "reason": g.parked_reason} for g in groups]
    return out


async def post_outcomes(sessions: async_sessionmaker[AsyncSession],
                        ids: list[str]) -> dict[str, tuple[str, int | None]]:
    """What each stored post became: (role, complaint id), for the intake's log lines."""
    async with sessions() as s:
        rows = (await s.execute(select(Tweet.x_id, Tweet.role, Tweet.complaint_id).where(Tweet.x_id.in_(ids)))).all()
    return {r.x_id: (r.role, r.complaint_id) for r in rows}
