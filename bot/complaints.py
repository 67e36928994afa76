"""Use cases: one transaction each. Handlers and jobs call these; nothing else commits."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import StorageUnavailable, is_storage_failure, unit_of_work
from bot.directory import DirectoryError, bind_chat_in
from bot.domain.agencies import TRIAGE_CODE
from bot.domain.lifecycle import Action, IllegalTransition, Status, next_status
from bot.domain.outbox import CARD_DUE, REPLY_IN_FLIGHT, UNSENT, CardState, ReplyState
from bot.domain.posts import DeskAccount, XTweet, tweet_url
from bot.domain.tweet_text import contains_secret, weighted_length
from bot.models import Agency, AgencyChat, BindCode, CardOutbox, Complaint, Event, Prompt, ReplyOutbox, Tweet, utcnow

MAX_REPLY_WEIGHT = 280
log = logging.getLogger(__name__)


class Refused(Exception):
    """A staff action that cannot be done; `key` is an i18n catalogue key, `kw` its placeholders."""

    def __init__(self, key: str, **kw: Any) -> None:
        super().__init__(key)
        self.key = key
        self.kw = kw


class RouterLike(Protocol):
    def route(self, text: str, *, author_location: str | None = None, mentions: Sequence[str] = ()) -> Any: ...


@dataclass(frozen=True)
class IngestPolicy:
    reply_policy: str = "summoned"
    flood_per_hour: int = 5
    hashtag: str = "#KemalaJateng"


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    complaints: int = 0
    followups: int = 0
    context: int = 0
    edits: int = 0
    flood: int = 0
    own: int = 0
    reopened: int = 0
    parked: int = 0
    new_ids: list[int] = field(default_factory=list)


def actor_of(user_id: int | None) -> str:
    return f"tg:{user_id}" if user_id is not None else "system"


def _transition(s: AsyncSession, c: Complaint, action: Action, actor: str, **detail: Any) -> None:
    old = Status(c.status)
    new = next_status(old, action)
    c.status = new.value
    c.version += 1
    repo.add_event(s, complaint_id=c.id, actor=actor, action=action.value, from_status=old.value,
                   to_status=new.value, **detail)


async def _enqueue_card(s: AsyncSession, c: Complaint) -> CardOutbox:
    """A fresh card for the complaint in its agency's group (the triage group when unbound)."""
    chat = await repo.chat_of_agency(s, c.agency_id) if c.agency_id is not None else None
    if chat is None:
        chat = await repo.chat_of_agency(s, (await repo.triage_agency(s)).id)
    card = CardOutbox(complaint_id=c.id, chat_id=chat.chat_id if chat else 0, kind="card",
                      state=CardState.PENDING if chat else CardState.PARKED,
                      last_error=None if chat else "no Telegram group bound for this agency or triage")
    s.add(card)
    return card


async def _supersede_cards(s: AsyncSession, c: Complaint) -> None:
    for card in await repo.live_cards(s, c.id):
        card.superseded = True
        if card.state == CardState.SENT:
            card.needs_edit = True
        elif card.state in (CardState.PENDING, CardState.PARKED):
            card.state = CardState.CANCELLED


def _mentions_desk(t: XTweet, desk: DeskAccount | None) -> bool:
    return desk is not None and desk.username.lower() in t.mentions


# --- ingest ------------------------------------------------------------------------------------------

async def ingest_tweets(sessions: async_sessionmaker[AsyncSession], tweets: Sequence[XTweet], *,
                        desk: DeskAccount | None, router: RouterLike, policy: IngestPolicy) -> IngestResult:
    """Store a page of tweets exactly once and turn each into a complaint, a follow-up or context.

    The common case — a new tweet that opens a complaint — is batched: the page costs a handful of
    queries, not a dozen per tweet. Edits, replies into known conversations and floods take the
    per-tweet path, after the batch so far is flushed so that they see it.
    """
    result = IngestResult()
    # Oldest first, so a conversation's opening tweet is stored before the replies under it.
    ordered = sorted({t.id: t for t in tweets}.values(), key=lambda x: int(x.id))
    try:
        async with unit_of_work(sessions) as s:
            page = await _Page.load(s, ordered, desk=desk, policy=policy)
            for t in ordered:
                if t.id in page.known:
                    result.duplicates += 1
                elif page.is_simple_opener(t):
                    page.open(t, router=router, result=result)
                else:
                    await page.flush(s, result)
                    await _ingest_one(s, t, desk=desk, router=router, policy=policy, result=result)
            await page.flush(s, result)
        return result
    except Exception as e:
        if is_storage_failure(e):
            # The database itself failed (full, locked, read-only, gone): nothing here is the tweets'
            # fault, so nothing is parked; the caller keeps its cursor and reads the page again.
            raise StorageUnavailable(_first_line(e)) from e
        # One tweet the database (or a parser/router bug) refuses must not poison the page, and with it
        # every later poll: redo it tweet by tweet and park the ones that still fail, with the reason.
        log.warning("page of %d tweets failed (%s); ingesting one by one", len(ordered), _first_line(e))
    result = IngestResult()
    for t in ordered:
        try:
            async with unit_of_work(sessions) as s:
                await _ingest_one(s, t, desk=desk, router=router, policy=policy, result=result)
        except Exception as e:
            if is_storage_failure(e):
                raise StorageUnavailable(_first_line(e)) from e
            await _park_tweet(sessions, t, _first_line(e)[:200])
            result.parked += 1
    return result


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


async def _park_tweet(sessions: async_sessionmaker[AsyncSession], t: XTweet, reason: str) -> None:
    """Keep the id (so it is never retried) and why it could not be taken; staff can look it up."""
    log.error("tweet %s parked: %s", t.id, reason)
    async with unit_of_work(sessions) as s:
        await repo.insert_ignore(s, Tweet.__table__, {
            "x_id": t.id, "conversation_id": t.id, "author_x_id": t.author_id[:32],
            "author_username": t.author_username[:60].encode("utf-8", "replace").decode("utf-8"),
            "role": "parked", "text": "", "tweeted_at": t.created_at, "raw": {}, "parked_reason": reason,
            "created_at": utcnow(),
        }, "x_id")
        repo.add_event(s, complaint_id=None, actor="x", action="tweet_parked", tweet=t.id, reason=reason)


async def parked_tweets(sessions: async_sessionmaker[AsyncSession], *, only: str | None = None) -> list[Tweet]:
    """Posts whose own content could not be stored, oldest first (`kemala status`)."""
    async with sessions() as s:
        q = select(Tweet).where(Tweet.role == "parked").order_by(Tweet.id)
        if only is not None:
            q = q.where(Tweet.x_id == only)
        return list((await s.scalars(q)).all())


async def retry_parked(sessions: async_sessionmaker[AsyncSession], tweets: Sequence[XTweet], *,
                       desk: DeskAccount | None, router: RouterLike, policy: IngestPolicy) -> IngestResult:
    """Ingest parked posts again, fetched afresh from X. The parked row goes in the same transaction as
    the ingest, so a post that fails again stays parked (with the new reason) and is never lost."""
    result = IngestResult()
    for t in sorted(tweets, key=lambda x: int(x.id)):
        try:
            async with unit_of_work(sessions) as s:
                await s.execute(delete(Tweet).where(Tweet.x_id == t.id, Tweet.role == "parked"))
                await _ingest_one(s, t, desk=desk, router=router, policy=policy, result=result)
                repo.add_event(s, complaint_id=None, actor="system", action="tweet_unparked", tweet=t.id)
        except Exception as e:
            if is_storage_failure(e):
                raise StorageUnavailable(_first_line(e)) from e
            log.error("tweet %s still cannot be stored: %s", t.id, _first_line(e))
            async with unit_of_work(sessions) as s:
                row = await s.scalar(select(Tweet).where(Tweet.x_id == t.id, Tweet.role == "parked"))
                if row is not None:
                    row.parked_reason = _first_line(e)[:200]
            result.parked += 1
    return result


class _Page:
    """What one page's new complaints need, loaded once: directory, bindings, known ids, recent authors."""

    def __init__(self, *, desk: DeskAccount | None, policy: IngestPolicy) -> None:
        self.desk, self.policy = desk, policy
        self.known: set[str] = set()
        self.agencies: dict[str, Agency] = {}
        self.chats: dict[int, int] = {}
        self.triage: Agency | None = None
        self.busy_conversations: set[str] = set()
        self.recent: dict[str, list[datetime]] = {}
        self.pending: list[tuple[dict[str, Any], XTweet, Agency | None, Any]] = []

    @classmethod
    async def load(cls, s: AsyncSession, tweets: Sequence[XTweet], *, desk: DeskAccount | None,
                   policy: IngestPolicy) -> _Page:
        page = cls(desk=desk, policy=policy)
        ids = [t.id for t in tweets]
        if not ids:
            return page
        page.known = set((await s.scalars(select(Tweet.x_id).where(Tweet.x_id.in_(ids)))).all())
        page.agencies = {a.code: a for a in (await s.scalars(select(Agency))).all()}
        page.triage = page.agencies.get(TRIAGE_CODE) or await repo.triage_agency(s)
        page.chats = {a: c for a, c in (await s.execute(select(AgencyChat.agency_id, AgencyChat.chat_id))).all()}
        conversations = {t.conversation_id for t in tweets if t.conversation_id}
        page.busy_conversations = set((await s.scalars(select(Complaint.conversation_id).where(
            Complaint.conversation_id.in_(conversations)))).all()) if conversations else set()
        authors = {t.author_id for t in tweets}
        since = min(t.created_at for t in tweets) - timedelta(hours=1)
        for author, at in (await s.execute(select(Complaint.author_x_id, Complaint.tweeted_at).where(
                Complaint.author_x_id.in_(authors), Complaint.tweeted_at >= since))).all():
            page.recent.setdefault(author, []).append(at)
        return page

    def is_simple_opener(self, t: XTweet) -> bool:
        """A tweet that opens a complaint with no question asked: not ours, no edit, no thread, no flood."""
        if self.desk is not None and t.author_id == self.desk.id:
            return False
        if [i for i in t.edit_history_ids if i != t.id] or t.in_reply_to_tweet_id or t.quoted_tweet_id:
            return False
        if (t.conversation_id or t.id) != t.id or t.id in self.busy_conversations:
            return False
        since = t.created_at - timedelta(hours=1)
        return sum(1 for at in self.recent.get(t.author_id, ()) if at >= since) < self.policy.flood_per_hour

    def open(self, t: XTweet, *, router: RouterLike, result: IngestResult) -> None:
        decision = router.route(t.text, author_location=t.author_location, mentions=t.mentions)
        agency = self.agencies.get(decision.agency) if decision.agency else None
        if agency is not None and not agency.active:
            agency = self.agencies.get(agency.retired_into) if agency.retired_into else None
        assert self.triage is not None
        action = Action.ROUTE if agency is not None else Action.SEND_TO_TRIAGE
        values = _complaint_values(t, decision, agency or self.triage, desk=self.desk, policy=self.policy)
        # Stored already routed, version bumped once: what _transition would have done after the insert.
        values["status"], values["version"] = next_status(Status.NEW, action).value, 2
        self.pending.append((values, t, agency, decision))
        self.busy_conversations.add(values["conversation_id"])
        self.recent.setdefault(t.author_id, []).append(t.created_at)
        self.known.add(t.id)
        result.stored += 1
        result.complaints += 1

    async def flush(self, s: AsyncSession, result: IngestResult) -> None:
        """Write the batched openers with one multi-row statement per table."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        now = utcnow()
        table = cast(Table, Complaint.__table__)
        # Core inserts (not ORM bulk inserts): one multi-row statement each, no per-row id fetches.
        inserted = await s.execute(insert(table).returning(table.c.id, table.c.tweet_x_id),
                                   [{**values, "created_at": now, "updated_at": now} for values, _, _, _ in batch])
        ids = {x_id: cid for cid, x_id in inserted.all()}
        assert self.triage is not None
        triage_chat = self.chats.get(self.triage.id)
        tweets, events, cards = [], [], []
        for values, t, agency, decision in batch:
            cid = ids[t.id]
            tweets.append({"x_id": t.id, "complaint_id": cid, "conversation_id": values["conversation_id"],
                           "author_x_id": t.author_id, "author_username": t.author_username[:60], "role": "opening",
                           "text": t.text, "tweeted_at": t.created_at, "raw": t.raw, "parked_reason": None,
                           "created_at": now})
            routed = Action.ROUTE if agency is not None else Action.SEND_TO_TRIAGE
            events += [
                {"complaint_id": cid, "actor": "x", "action": "ingested", "from_status": None,
                 "to_status": Status.NEW.value, "at": now, "detail": {"tweet": t.id}},
                {"complaint_id": cid, "actor": "router", "action": routed.value, "from_status": Status.NEW.value,
                 "to_status": values["status"], "at": now,
                 "detail": {"agency": (agency or self.triage).code, "confidence": round(decision.confidence, 3),
                            "reasons": list(decision.reasons)}},
            ]
            chat = self.chats.get(values["agency_id"]) or triage_chat
            cards.append({"complaint_id": cid, "chat_id": chat or 0, "kind": "card", "text": None,
                          "reply_to_outbox_id": None, "message_id": None,
                          "state": CardState.PENDING if chat else CardState.PARKED,
                          "needs_edit": False, "superseded": False, "attempts": 0, "next_attempt_at": now,
                          "last_error": None if chat else "no Telegram group bound for this agency or triage",
                          "created_at": now, "sent_at": None})
            result.new_ids.append(cid)
        for model, rows in ((Tweet, tweets), (Event, events), (CardOutbox, cards)):
            await s.execute(insert(cast(Table, model.__table__)), rows)


def _complaint_values(t: XTweet, decision: Any, agency: Agency, *, desk: DeskAccount | None,
                      policy: IngestPolicy) -> dict[str, Any]:
    place = getattr(decision, "place", None)
    return {
        "tweet_x_id": t.id, "conversation_id": t.conversation_id or t.id, "author_x_id": t.author_id,
        "author_username": t.author_username[:60], "author_name": (t.author_name or t.author_username)[:200],
        "text": t.text, "status": Status.NEW.value, "agency_id": agency.id, "claimer_id": None, "claimer_name": None,
        "place_code": (place.kecamatan_code or place.kabkota_code) if place else None,
        "place_label": place.label if place else None,
        "routing_agency": decision.agency, "routing_confidence": float(decision.confidence),
        "routing_reasons": list(decision.reasons), "routing_alternatives": [list(a) for a in decision.alternatives],
        "photo_urls": list(t.photo_urls), "reply_target_x_id": t.id,
        "reply_eligible": _mentions_desk(t, desk) or policy.reply_policy == "unrestricted",
        "followups": 0, "version": 1, "deleted": False, "edited": False, "history_note": None,
        "reply_x_id": None, "related_to_id": None, "answered_by": None, "answered_at": None, "rejected_reason": None,
        "confirmed_agency": None, "tweeted_at": t.created_at,
    }


async def _ingest_one(s: AsyncSession, t: XTweet, *, desk: DeskAccount | None, router: RouterLike,
                      policy: IngestPolicy, result: IngestResult) -> None:
    inserted = await repo.insert_ignore(s, Tweet.__table__, {
        "x_id": t.id, "conversation_id": t.conversation_id or t.id, "author_x_id": t.author_id,
        "author_username": t.author_username[:60], "role": "pending", "text": t.text,
        "tweeted_at": t.created_at, "raw": t.raw, "created_at": utcnow(),
    }, "x_id")
    if not inserted:
        result.duplicates += 1
        return
    result.stored += 1
    row = await s.scalar(select(Tweet).where(Tweet.x_id == t.id))
    assert row is not None
    if desk is not None and t.author_id == desk.id:
        row.role = "own"
        result.own += 1
        return

    # An edit: a new id whose history holds a tweet we know.
    earlier = [i for i in t.edit_history_ids if i != t.id]
    if earlier:
        # The latest version we stored (an edit of an edit knows several).
        prior = await s.scalar(select(Tweet).where(Tweet.x_id.in_(earlier), Tweet.complaint_id.is_not(None))
                               .order_by(Tweet.id.desc()).limit(1))
        if prior is not None and prior.complaint_id is not None:
            c = await repo.lock_complaint(s, prior.complaint_id)
            if c is not None:
                row.role, row.complaint_id = "edit", c.id
                if c.tweet_x_id in earlier:  # the opening tweet, in any of its versions
                    c.text, c.edited = t.text, True
                c.version += 1
                repo.add_event(s, complaint_id=c.id, actor="x", action="edited", tweet=t.id, replaces=prior.x_id)
                await repo.mark_cards_dirty(s, c.id)
                result.edits += 1
                return

    # A tweet in a conversation that already has a complaint joins it, unless another citizen tagged it:
    # "Sama, di Purwodadi juga…  #KemalaJateng" is that citizen's own complaint, linked to the first.
    c = await _complaint_for_conversation(s, t)
    if c is not None and t.author_id != c.author_x_id and _carries_hashtag(t, policy):
        await _open_complaint(s, t, row, desk=desk, router=router, policy=policy, result=result, related=c)
        return
    if c is not None:
        await _attach(s, c, t, row, desk=desk, policy=policy, result=result)
        return

    # A flood from one author is grouped under their latest open complaint.
    since = t.created_at - timedelta(hours=1)
    recent = await s.scalar(select(func.count(Complaint.id)).where(
        Complaint.author_x_id == t.author_id, Complaint.tweeted_at >= since))
    if recent is not None and recent >= policy.flood_per_hour:
        latest = await s.scalar(select(Complaint).where(Complaint.author_x_id == t.author_id)
                                # Tweets of one burst share a millisecond: the id breaks the tie.
                                .order_by(Complaint.tweeted_at.desc(), Complaint.id.desc()).limit(1))
        if latest is not None:
            row.role, row.complaint_id = "flood", latest.id
            latest.followups += 1
            latest.version += 1
            repo.add_event(s, complaint_id=latest.id, actor="x", action="flood_grouped", tweet=t.id)
            await repo.mark_cards_dirty(s, latest.id)
            result.flood += 1
            return

    await _open_complaint(s, t, row, desk=desk, router=router, policy=policy, result=result)


def _carries_hashtag(t: XTweet, policy: IngestPolicy) -> bool:
    """The post carries the intake hashtag: its author files a complaint of their own.

    A mention of the desk alone does not count here: X adds it to every reply under the desk's answer,
    so "terima kasih" to the desk would otherwise open a complaint.
    """
    tag = policy.hashtag.lstrip("#").casefold()
    return any(h.casefold() == tag for h in t.hashtags)


async def _complaint_for_conversation(s: AsyncSession, t: XTweet) -> Complaint | None:
    ids = [i for i in (t.in_reply_to_tweet_id, t.quoted_tweet_id) if i]
    if ids:
        via = await s.scalar(select(Tweet.complaint_id).where(Tweet.x_id.in_(ids), Tweet.complaint_id.is_not(None)))
        if via is not None:
            return await repo.lock_complaint(s, via)
    # Also when `t` is the conversation's root: a reply under it may have arrived first (pages come
    # newest first) and opened the complaint; the root then joins it instead of opening a second one.
    # A conversation can hold several citizens' complaints: the author's own comes first.
    conversation = t.conversation_id or t.id
    cid = await s.scalar(select(Complaint.id).where(Complaint.conversation_id == conversation,
                                                    Complaint.author_x_id == t.author_id)
                         .order_by(Complaint.id).limit(1))
    if cid is None:
        cid = await s.scalar(select(Complaint.id).where(Complaint.conversation_id == conversation)
                             .order_by(Complaint.id).limit(1))
    if cid is not None:
        return await repo.lock_complaint(s, cid)
    return None


async def _attach(s: AsyncSession, c: Complaint, t: XTweet, row: Tweet, *, desk: DeskAccount | None,
                  policy: IngestPolicy, result: IngestResult) -> None:
    row.complaint_id = c.id
    by_author = t.author_id == c.author_x_id
    row.role = "followup" if by_author else "context"
    if by_author and t.id == c.conversation_id and c.tweet_x_id != t.id and int(t.id) < int(c.tweet_x_id):
        # The citizen's first tweet arrived after a reply under it had opened the complaint (pages come
        # newest first): the first tweet becomes the complaint's text, the earlier opener a follow-up.
        await s.execute(update(Tweet).where(Tweet.x_id == c.tweet_x_id).values(role="followup"))
        row.role = "opening"
        c.tweet_x_id, c.text, c.tweeted_at = t.id, t.text, t.created_at
        c.followups += 1
        c.version += 1
        repo.add_event(s, complaint_id=c.id, actor="x", action="opener_found", tweet=t.id)
        await repo.mark_cards_dirty(s, c.id)
        result.followups += 1
        return
    if by_author:
        c.followups += 1
        result.followups += 1
        if _mentions_desk(t, desk) or policy.reply_policy == "unrestricted":
            # The reply goes under the citizen's latest tweet that @mentions the desk.
            c.reply_target_x_id = t.id
            c.reply_eligible = True
        if Status(c.status) in (Status.ANSWERED, Status.CLOSED):
            _transition(s, c, Action.REOPEN, "x", tweet=t.id)
            await _supersede_cards(s, c)
            await _enqueue_card(s, c)
            result.reopened += 1
        else:
            c.version += 1
        card = (await repo.live_cards(s, c.id))
        s.add(CardOutbox(complaint_id=c.id, chat_id=card[0].chat_id if card else 0, kind="followup",
                         text=t.text, reply_to_outbox_id=card[0].id if card else None,
                         state=CardState.PENDING if card else CardState.PARKED))
        repo.add_event(s, complaint_id=c.id, actor="x", action="followup", tweet=t.id)
    else:
        result.context += 1
        repo.add_event(s, complaint_id=c.id, actor="x", action="context", tweet=t.id, author=t.author_username)
    await repo.mark_cards_dirty(s, c.id)


async def _open_complaint(s: AsyncSession, t: XTweet, row: Tweet, *, desk: DeskAccount | None,
                          router: RouterLike, policy: IngestPolicy, result: IngestResult,
                          related: Complaint | None = None) -> None:
    decision = router.route(t.text, author_location=t.author_location, mentions=t.mentions)
    agency: Agency | None = await repo.agency_by_code(s, decision.agency) if decision.agency else None
    if agency is not None and not agency.active:
        agency = await repo.agency_by_code(s, agency.retired_into) if agency.retired_into else None
    triage = await repo.triage_agency(s)
    c = Complaint(**_complaint_values(t, decision, agency or triage, desk=desk, policy=policy))
    if related is not None:
        c.related_to_id = related.id
    s.add(c)
    await s.flush()
    row.role, row.complaint_id = "opening", c.id
    repo.add_event(s, complaint_id=c.id, actor="x", action="ingested", to_status=Status.NEW.value, tweet=t.id)
    if related is not None:
        repo.add_event(s, complaint_id=related.id, actor="x", action="related_opened", related=c.id, tweet=t.id)
        await repo.mark_cards_dirty(s, related.id)  # its card now says "terkait #<new>"
    action = Action.ROUTE if agency is not None else Action.SEND_TO_TRIAGE
    _transition(s, c, action, "router", agency=(agency or triage).code, confidence=round(decision.confidence, 3),
                reasons=list(decision.reasons))
    await _enqueue_card(s, c)
    result.complaints += 1
    result.new_ids.append(c.id)


async def advance_cursor(sessions: async_sessionmaker[AsyncSession], name: str, value: str | None) -> None:
    async with unit_of_work(sessions) as s:
        await repo.set_cursor(s, name, value)


async def read_cursor(sessions: async_sessionmaker[AsyncSession], name: str) -> str | None:
    async with sessions() as s:
        return await repo.get_cursor(s, name)


# --- staff actions -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    username: str | None = None

    @property
    def actor(self) -> str:
        return actor_of(self.id)


def _check_version(c: Complaint, version: int | None) -> None:
    if version is not None and version != c.version:
        raise Refused("alert.stale")


async def _load(s: AsyncSession, complaint_id: int, version: int | None) -> Complaint:
    c = await repo.lock_complaint(s, complaint_id)
    if c is None:
        raise Refused("alert.invalid")
    _check_version(c, version)
    return c


def _apply(s: AsyncSession, c: Complaint, action: Action, actor: str, **detail: Any) -> None:
    try:
        _transition(s, c, action, actor, **detail)
    except IllegalTransition as e:
        raise Refused("alert.illegal", status=e.status.value) from e


async def claim(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                staff: Staff) -> Complaint:
    async with unit_of_work(sessions) as s:
        c = await _load(s, complaint_id, None)
        if c.status == Status.CLAIMED.value or c.claimer_id is not None:
            if c.claimer_id == staff.id:
                raise Refused("alert.already_yours")
            raise Refused("alert.already_claimed", name=c.claimer_name or "?")
        _check_version(c, version)
        _apply(s, c, Action.CLAIM, staff.actor)
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
    c = await _load(s, complaint_id, version)
    if c.claimer_id != staff.id and not is_admin:
        raise Refused("alert.not_owner", name=c.claimer_name or "-")
    await _cancel_drafts(s, c)
    _apply(s, c, action, staff.actor)
    await repo.mark_cards_dirty(s, c.id)
    return c


async def _cancel_drafts(s: AsyncSession, c: Complaint) -> None:
    for r in (await s.scalars(select(ReplyOutbox).where(ReplyOutbox.complaint_id == c.id,
                                                        ReplyOutbox.state == ReplyState.DRAFT))).all():
        r.state = ReplyState.CANCELLED


async def reassign(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                   staff: Staff, target_code: str, reason: str, note: str | None = None) -> Complaint:
    """Move a complaint to another agency (or to triage): the old card becomes a tombstone, a new card goes out."""
    async with unit_of_work(sessions) as s:
        c = await _load(s, complaint_id, version)
        target = await repo.agency_by_code(s, target_code)
        if target is None or not target.active:
            raise Refused("alert.invalid")
        old_agency = await s.get(Agency, c.agency_id) if c.agency_id else None
        if old_agency is not None and old_agency.id == target.id:
            raise Refused("alert.same_agency")
        to_triage = target.code == TRIAGE_CODE
        action = Action.RETURN_TO_TRIAGE if to_triage else Action.REASSIGN
        await _cancel_drafts(s, c)
        _apply(s, c, action, staff.actor, **{"from": old_agency.code if old_agency else None, "to": target.code,
                                             "reason": reason, "note": note})
        c.agency_id, c.claimer_id, c.claimer_name = target.id, None, None
        if not to_triage:
            c.confirmed_agency = target.code  # an admin's correction: a training label for the router
        by = f"@{staff.username}" if staff.username else staff.name
        c.history_note = f"{old_agency.short_name if old_agency else '?'} → {target.short_name}, {by}: {reason}"
        await _supersede_cards(s, c)
        await _enqueue_card(s, c)
        return c


async def dismiss(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                  staff: Staff) -> Complaint:
    async with unit_of_work(sessions) as s:
        c = await _load(s, complaint_id, version)
        await _cancel_drafts(s, c)
        _apply(s, c, Action.DISMISS, staff.actor)
        await repo.mark_cards_dirty(s, c.id)
        return c


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
        c = await _load(s, complaint_id, version)
        if c.claimer_id != staff.id:
            raise Refused("alert.not_owner" if c.claimer_id else "alert.claim_first")
        if c.status not in (Status.CLAIMED.value, Status.DRAFTED.value):
            raise Refused("alert.illegal", status=c.status)
        repo.add_event(s, complaint_id=c.id, actor=staff.actor, action="reply_prompt")
        return c


async def record_prompt(sessions: async_sessionmaker[AsyncSession], *, chat_id: int, message_id: int,
                        complaint_id: int, user_id: int) -> None:
    async with unit_of_work(sessions) as s:
        s.add(Prompt(chat_id=chat_id, message_id=message_id, complaint_id=complaint_id, user_id=user_id))


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
        c = await _load(s, prompt.complaint_id, None)
        if c.claimer_id != staff.id:
            raise Refused("alert.not_owner")
        if not text:
            raise Refused("alert.empty_reply")
        if contains_secret(text, secrets):
            raise Refused("alert.secret_in_reply")  # the handler records the refusal (never the text)
        weight = weighted_length(text)
        if weight > MAX_REPLY_WEIGHT:
            repo.add_event(s, complaint_id=c.id, actor=staff.actor, action="draft_refused", weight=weight)
            raise Refused("alert.too_long", n=weight, limit=MAX_REPLY_WEIGHT)
        await _cancel_drafts(s, c)
        _apply(s, c, Action.DRAFT_REPLY, staff.actor, weight=weight)
        prompt.used_at = utcnow()
        draft = ReplyOutbox(complaint_id=c.id, text=text, author_id=staff.id, author_name=staff.name,
                            mode="thread", in_reply_to=c.reply_target_x_id, state=ReplyState.DRAFT)
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


async def approve_reply(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, version: int | None,
                        draft_id: int, staff: Staff, is_admin: bool, fallback: bool = False) -> ReplyOutbox:
    """Kirim: the reply enters the outbox in the same transaction as the approval."""
    async with unit_of_work(sessions) as s:
        c = await _load(s, complaint_id, None)
        draft = await _load_draft(s, c, draft_id)
        _check_version(c, version)
        agency = await s.get(Agency, c.agency_id) if c.agency_id else None
        if agency is not None and agency.requires_approval:
            if not is_admin:
                raise Refused("alert.needs_approval")
        elif c.claimer_id != staff.id:
            raise Refused("alert.not_owner")
        if not c.reply_eligible and not fallback:
            raise Refused("alert.not_eligible")
        if fallback:
            url = tweet_url(c.author_username, c.tweet_x_id)
            text = f"@{c.author_username} {draft.text} {url}"
            weight = weighted_length(text)
            if weight > MAX_REPLY_WEIGHT:
                raise Refused("alert.too_long", n=weight, limit=MAX_REPLY_WEIGHT)
            draft.text, draft.mode, draft.in_reply_to = text, "fallback", None
        _apply(s, c, Action.APPROVE_REPLY, staff.actor, draft=draft.id, mode=draft.mode)
        draft.state, draft.approved_by, draft.approved_at = ReplyState.PENDING, staff.id, utcnow()
        draft.next_attempt_at = utcnow()
        await repo.mark_cards_dirty(s, c.id)
        return draft


async def cancel_draft(sessions: async_sessionmaker[AsyncSession], *, complaint_id: int, draft_id: int,
                       staff: Staff, is_admin: bool) -> Complaint:
    async with unit_of_work(sessions) as s:
        c = await _load(s, complaint_id, None)
        draft = await _load_draft(s, c, draft_id)
        if c.claimer_id != staff.id and not is_admin:
            raise Refused("alert.not_owner", name=c.claimer_name or "-")
        draft.state = ReplyState.CANCELLED
        if c.status == Status.DRAFTED.value:
            _apply(s, c, Action.CANCEL_DRAFT, staff.actor, draft=draft.id)
        await repo.mark_cards_dirty(s, c.id)
        return c


# --- reply outcomes (called by the reply sweep) ------------------------------------------------------

async def reply_posted(s: AsyncSession, r: ReplyOutbox, tweet_id: str, *, adopted: bool = False) -> None:
    c = await repo.lock_complaint(s, r.complaint_id)
    assert c is not None
    r.state, r.posted_x_id, r.posted_at, r.last_error = ReplyState.POSTED, tweet_id, utcnow(), None
    if c.status == Status.APPROVED.value:
        _transition(s, c, Action.REPLY_POSTED, "x", reply=tweet_id, adopted=adopted)
    c.reply_x_id, c.answered_by, c.answered_at, c.rejected_reason = tweet_id, r.author_name, utcnow(), None
    await repo.mark_cards_dirty(s, c.id)


async def reply_rejected(s: AsyncSession, r: ReplyOutbox, reason: str) -> None:
    c = await repo.lock_complaint(s, r.complaint_id)
    assert c is not None
    r.state, r.last_error = ReplyState.REJECTED, reason
    if c.status == Status.APPROVED.value:
        _transition(s, c, Action.REPLY_REJECTED, "x", reason=reason)
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


async def mark_deleted(sessions: async_sessionmaker[AsyncSession], tweet_x_ids: Sequence[str]) -> int:
    """Citizens deleted these tweets: mark their complaints and cancel replies not yet sent."""
    n = 0
    async with unit_of_work(sessions) as s:
        for c in (await s.scalars(select(Complaint).where(Complaint.tweet_x_id.in_(list(tweet_x_ids)),
                                                          Complaint.deleted.is_(False)))).all():
            c.deleted = True
            c.version += 1
            for r in (await s.scalars(select(ReplyOutbox).where(
                    ReplyOutbox.complaint_id == c.id,
                    ReplyOutbox.state.in_([ReplyState.DRAFT, ReplyState.PENDING])))).all():
                r.state, r.last_error = ReplyState.CANCELLED, "tweet deleted"
                if c.status == Status.APPROVED.value:
                    _transition(s, c, Action.REPLY_REJECTED, "x", reason="deleted")
            repo.add_event(s, complaint_id=c.id, actor="x", action="tweet_deleted")
            await repo.mark_cards_dirty(s, c.id)
            n += 1
    return n


# --- binding groups ----------------------------------------------------------------------------------

BIND_CODE_TTL = timedelta(minutes=10)
# Failed /bind attempts (unknown, used or expired codes) allowed per user and per chat in the window:
# with 40-bit codes this keeps guessing hopeless. Counted in the database, so replicas share the count.
BIND_ATTEMPT_LIMIT = 5
BIND_ATTEMPT_WINDOW = timedelta(minutes=10)
# A request to move an agency to another group must be decided while the group's admin still waits.
BIND_REQUEST_TTL = timedelta(days=1)
_COUNTED_FAILURES = {"bind.bad_code", "bind.used_code", "bind.expired_code", "bind.triage_config"}


@dataclass(frozen=True)
class BindResult:
    """What a /bind or a triage decision did: `pending` means triage must still confirm the move."""

    request_id: int
    agency: str
    agency_name: str
    chat_id: int
    title: str | None
    requested_by: int | None
    pending: bool
    old_chat_id: int | None = None
    old_title: str | None = None


async def create_bind_code(sessions: async_sessionmaker[AsyncSession], *, agency_code: str, staff: Staff) -> str:
    async with unit_of_work(sessions) as s:
        agency = await repo.agency_by_code(s, agency_code.strip().lower())
        if agency is not None and agency.code == TRIAGE_CODE:
            raise Refused("bind.triage_config")  # the triage group comes from KEMALA_TRIAGE_CHAT_ID only
        if agency is None or not agency.active:
            raise Refused("bind.unknown_agency", code=agency_code)
        code = secrets.token_hex(5)
        s.add(BindCode(code=code, agency_id=agency.id, created_by=staff.id, expires_at=utcnow() + BIND_CODE_TTL))
        repo.add_event(s, complaint_id=None, actor=staff.actor, action="bind_code_created", agency=agency.code)
        return code


async def revoke_bind_code(sessions: async_sessionmaker[AsyncSession], *, code: str) -> None:
    """A code that could not be delivered privately is void at once: nobody saw it, a fresh one follows."""
    async with unit_of_work(sessions) as s:
        row = await s.scalar(select(BindCode).where(BindCode.code == code).with_for_update())
        if row is not None and row.used_at is None:
            row.expires_at = utcnow()


async def use_bind_code(sessions: async_sessionmaker[AsyncSession], *, code: str, chat_id: int, title: str | None,
                        staff: Staff) -> BindResult:
    """/bind: bind the group now, or hold the move of an already bound agency for triage's confirmation."""
    from bot.models import BindAttempt

    now = utcnow()
    async with sessions() as s:
        failed = int(await s.scalar(select(func.count(BindAttempt.id)).where(
            BindAttempt.at > now - BIND_ATTEMPT_WINDOW,
            or_(BindAttempt.user_id == staff.id, BindAttempt.chat_id == chat_id))) or 0)
    # Updates are handled one at a time by the single Telegram poller, so check-then-record is not raced.
    if failed >= BIND_ATTEMPT_LIMIT:
        raise Refused("bind.rate_limited", minutes=int(BIND_ATTEMPT_WINDOW.total_seconds() // 60))
    try:
        return await _use_bind_code(sessions, code=code, chat_id=chat_id, title=title, staff=staff, now=now)
    except Refused as r:
        if r.key in _COUNTED_FAILURES:
            # Its own transaction: the refused use case rolled back, the attempt must still count.
            async with unit_of_work(sessions) as s:
                s.add(BindAttempt(user_id=staff.id, chat_id=chat_id, at=now))
                repo.add_event(s, complaint_id=None, actor=staff.actor, action="bind_failed", reason=r.key,
                               chat_id=chat_id)
                await s.execute(delete(BindAttempt).where(BindAttempt.at < now - timedelta(days=1)))
        raise


async def _use_bind_code(sessions: async_sessionmaker[AsyncSession], *, code: str, chat_id: int, title: str | None,
                         staff: Staff, now: datetime) -> BindResult:
    async with unit_of_work(sessions) as s:
        row = await s.scalar(select(BindCode).where(BindCode.code == code.strip().lower()).with_for_update())
        if row is None:
            raise Refused("bind.bad_code")
        if row.used_at is not None:
            raise Refused("bind.used_code")
        if row.expires_at < now:
            raise Refused("bind.expired_code")
        agency = await s.get(Agency, row.agency_id)
        assert agency is not None
        if agency.code == TRIAGE_CODE:  # a code minted before the triage group became configuration-only
            raise Refused("bind.triage_config")
        other = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == chat_id))
        if other is not None and other.agency_id != agency.id:
            owner = await s.get(Agency, other.agency_id)
            raise Refused("bind.chat_taken", detail=owner.short_name if owner else "?")
        current = await repo.chat_of_agency(s, agency.id)
        row.used_at, row.used_chat_id, row.used_by, row.used_title = now, chat_id, staff.id, title
        result = BindResult(request_id=row.id, agency=agency.code, agency_name=agency.short_name, chat_id=chat_id,
                            title=title, requested_by=staff.id, pending=False,
                            old_chat_id=current.chat_id if current else None,
                            old_title=current.title if current else None)
        if current is not None and current.chat_id != chat_id:
            # Moving an agency away from its group would hand its citizens' complaints to whoever holds
            # the code: a triage admin decides.
            row.decision = "pending"
            repo.add_event(s, complaint_id=None, actor=staff.actor, action="bind_requested", agency=agency.code,
                           chat_id=chat_id, old_chat_id=current.chat_id)
            return replace(result, pending=True)
        await _bind_now(s, agency, chat_id=chat_id, title=title, actor=staff.actor, user_id=staff.id)
        return result


async def decide_bind(sessions: async_sessionmaker[AsyncSession], *, request_id: int, approve: bool,
                      staff: Staff) -> BindResult:
    """A triage admin's Setujui/Tolak on a held re-bind."""
    async with unit_of_work(sessions) as s:
        row = await s.scalar(select(BindCode).where(BindCode.id == request_id).with_for_update())
        if row is None or row.decision is None or row.used_chat_id is None or row.used_at is None:
            raise Refused("alert.invalid")
        if row.decision != "pending":
            raise Refused("bind.decided")
        if row.used_at + BIND_REQUEST_TTL < utcnow():
            raise Refused("bind.request_expired")
        agency = await s.get(Agency, row.agency_id)
        assert agency is not None
        current = await repo.chat_of_agency(s, agency.id)
        result = BindResult(request_id=row.id, agency=agency.code, agency_name=agency.short_name,
                            chat_id=row.used_chat_id, title=row.used_title, requested_by=row.used_by, pending=False,
                            old_chat_id=current.chat_id if current else None,
                            old_title=current.title if current else None)
        row.decided_by = staff.id
        row.decision = "approved" if approve else "rejected"
        repo.add_event(s, complaint_id=None, actor=staff.actor, action=f"bind_{row.decision}", agency=agency.code,
                       chat_id=row.used_chat_id)
        if approve:
            await _bind_now(s, agency, chat_id=row.used_chat_id, title=row.used_title, actor=staff.actor,
                            user_id=row.used_by)
        return result


async def _bind_now(s: AsyncSession, agency: Agency, *, chat_id: int, title: str | None, actor: str,
                    user_id: int | None) -> None:
    try:
        await bind_chat_in(s, code=agency.code, chat_id=chat_id, title=title, actor=actor, user_id=user_id)
    except DirectoryError as e:
        raise Refused("bind.chat_taken", detail=str(e)) from e
    # Cards that waited for this group go out now.
    for card in (await s.scalars(select(CardOutbox).join(Complaint, Complaint.id == CardOutbox.complaint_id)
                                 .where(Complaint.agency_id == agency.id, CardOutbox.state == CardState.PARKED))).all():
        card.chat_id, card.state, card.next_attempt_at = chat_id, CardState.PENDING, utcnow()


async def migrate_chat(sessions: async_sessionmaker[AsyncSession], *, old_chat_id: int, new_chat_id: int) -> bool:
    """A group became a supergroup: follow it (binding, unsent cards), and send each live card again there.

    The old group's messages do not exist in the supergroup, so a card sent there can never be edited
    again: it is retired and sent once more in the new chat. Open ForceReply prompts are retired too
    (a reply to them is impossible now); staff press Balas again on the new card. Idempotent: Telegram
    tells us twice (the service message in both chats, or a ChatMigrated error), only the first moves.
    """
    from bot.models import AgencyChat

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
    from bot.models import AgencyChat

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
