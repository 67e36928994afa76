"""Intake: posts from X become complaints (one batched path for a page of any size), parking, cursors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import StorageUnavailable, is_storage_failure, unit_of_work
from bot.domain.agencies import TRIAGE_CODE, is_destination_only
from bot.domain.lifecycle import Action, Status, next_status
from bot.domain.outbox import CardState, ReplyState
from bot.domain.posts import DeskAccount, XTweet
from bot.models import Agency, AgencyChat, CardOutbox, Complaint, Event, ReplyOutbox, Tweet, utcnow
from bot.routing import RoutingDecision
from bot.usecases.common import (
    enqueue_card,
    first_line,
    new_card_values,
    supersede_cards,
    transition,
)

log = logging.getLogger(__name__)


class RouterLike(Protocol):
    def route(self, text: str, *, author_location: str | None = None,
              mentions: Sequence[str] = ()) -> RoutingDecision: ...


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
    reposts: int = 0
    new_ids: list[int] = field(default_factory=list)


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
            await _ingest_page(s, ordered, desk=desk, router=router, policy=policy, result=result)
        return result
    except Exception as e:
        if is_storage_failure(e):
            # The database itself failed (full, locked, read-only, gone): nothing here is the tweets'
            # fault, so nothing is parked; the caller keeps its cursor and reads the page again.
            raise StorageUnavailable(first_line(e)) from e
        # One tweet the database (or a parser/router bug) refuses must not poison the page, and with it
        # every later poll: redo it tweet by tweet and park the ones that still fail, with the reason.
        log.warning("page of %d tweets failed (%s); ingesting one by one", len(ordered), first_line(e))
    result = IngestResult()
    for t in ordered:
        try:
            async with unit_of_work(sessions) as s:
                # The single-post path is the page path on a page of one.
                await _ingest_page(s, [t], desk=desk, router=router, policy=policy, result=result)
        except Exception as e:
            if is_storage_failure(e):
                raise StorageUnavailable(first_line(e)) from e
            await _park_tweet(sessions, t, first_line(e)[:200])
            result.parked += 1
    return result


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
                await _ingest_page(s, [t], desk=desk, router=router, policy=policy, result=result)
                repo.add_event(s, complaint_id=None, actor="system", action="tweet_unparked", tweet=t.id)
        except Exception as e:
            if is_storage_failure(e):
                raise StorageUnavailable(first_line(e)) from e
            log.error("tweet %s still cannot be stored: %s", t.id, first_line(e))
            async with unit_of_work(sessions) as s:
                row = await s.scalar(select(Tweet).where(Tweet.x_id == t.id, Tweet.role == "parked"))
                if row is not None:
                    row.parked_reason = first_line(e)[:200]
            result.parked += 1
    return result


async def _ingest_page(s: AsyncSession, ordered: Sequence[XTweet], *, desk: DeskAccount | None,
                       router: RouterLike, policy: IngestPolicy, result: IngestResult) -> None:
    """The one path from posts to complaints, inside the caller's transaction: openers are batched,
    the rest (edits, replies into known conversations, floods, our own posts) go one by one after the
    batch so far is flushed, so that they see it."""
    page = await _Page.load(s, ordered, desk=desk, policy=policy)
    for t in ordered:
        if t.is_retweet:
            # A repost says "me too", never a complaint of its own; the original's retweet_count shows it.
            result.reposts += 1
        elif t.id in page.known:
            result.duplicates += 1
        elif page.is_simple_opener(t):
            page.open(t, router=router, result=result)
        else:
            await page.flush(s, result)
            await _ingest_one(s, t, desk=desk, router=router, policy=policy, result=result)
    await page.flush(s, result)


def _resolve_agency(decision: RoutingDecision, find: Callable[[str], Agency | None]) -> Agency | None:
    """The agency a routing decision names, following a retired agency to its successor; None = triage."""
    agency = find(decision.agency) if decision.agency else None
    if agency is not None and not agency.active:
        agency = find(agency.retired_into) if agency.retired_into else None
    if agency is not None and is_destination_only(agency.kind):
        return None  # a destination is proposed on the triage card, never given the complaint
    return agency


def _opening_values(t: XTweet, decision: RoutingDecision, agency: Agency | None, triage: Agency, *,
                    desk: DeskAccount | None, policy: IngestPolicy) -> dict[str, Any]:
    """A new complaint's row, stored already routed (version 2: what the route transition does)."""
    values = _complaint_values(t, decision, agency or triage, desk=desk, policy=policy)
    values["status"] = next_status(Status.NEW, _route_action(agency)).value
    values["version"] = 2
    return values


def _route_action(agency: Agency | None) -> Action:
    return Action.ROUTE if agency is not None else Action.SEND_TO_TRIAGE


def _opening_events(cid: int, t: XTweet, decision: RoutingDecision, agency: Agency | None, triage: Agency,
                    status: str, now: datetime) -> list[dict[str, Any]]:
    """The audit trail of a new complaint: ingested, then routed (or sent to triage)."""
    return [
        {"complaint_id": cid, "actor": "x", "action": "ingested", "from_status": None,
         "to_status": Status.NEW.value, "at": now, "detail": {"tweet": t.id}},
        {"complaint_id": cid, "actor": "router", "action": _route_action(agency).value,
         "from_status": Status.NEW.value, "to_status": status, "at": now,
         "detail": {"agency": (agency or triage).code, "confidence": round(decision.confidence, 3),
                    "reasons": list(decision.reasons)}},
    ]


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
        decision = router.route(t.routing_text, author_location=t.author_location, mentions=t.mentions)
        agency = _resolve_agency(decision, self.agencies.get)
        assert self.triage is not None
        values = _opening_values(t, decision, agency, self.triage, desk=self.desk, policy=self.policy)
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
            events += _opening_events(cid, t, decision, agency, self.triage, values["status"], now)
            cards.append(new_card_values(cid, self.chats.get(values["agency_id"]) or triage_chat, now))
            result.new_ids.append(cid)
        for model, rows in ((Tweet, tweets), (Event, events), (CardOutbox, cards)):
            await s.execute(insert(cast(Table, model.__table__)), rows)


def _complaint_values(t: XTweet, decision: RoutingDecision, agency: Agency, *, desk: DeskAccount | None,
                      policy: IngestPolicy) -> dict[str, Any]:
    place = decision.place
    return {
        "tweet_x_id": t.id, "conversation_id": t.conversation_id or t.id, "author_x_id": t.author_id,
        "author_username": t.author_username[:60], "author_name": (t.author_name or t.author_username)[:200],
        "text": t.text, "status": Status.NEW.value, "agency_id": agency.id, "claimer_id": None, "claimer_name": None,
        "place_code": (place.kecamatan_code or place.kabkota_code) if place else None,
        "place_label": place.label if place else None,
        "routing_agency": decision.agency, "routing_confidence": float(decision.confidence),
        "routing_reasons": list(decision.reasons), "routing_alternatives": decision.alternatives_with_reasons(),
        "routing_jurisdiction": decision.jurisdiction, "routing_destination": decision.destination,
        "photo_urls": list(t.photo_urls), "media": [m.to_json() for m in t.media],
        "quoted_x_id": t.quoted.id if t.quoted else None,
        "quoted_author": (t.quoted.author_username or "")[:60] or None if t.quoted else None,
        "quoted_text": t.quoted.text if t.quoted else None, "retweet_count": t.retweet_count,
        "reply_target_x_id": t.id,
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
        await _attach(s, c, t, row, desk=desk, policy=policy, result=result, router=router)
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


async def _reroute_on_opener(s: AsyncSession, c: Complaint, t: XTweet, router: RouterLike) -> bool:
    """The citizen's first post decides where the complaint goes, as it would have had it come first: a
    reply read before it (pages come newest first, a long thread spans pages) may have said only "tolong
    dong min". Unless a person has acted on it already (claimed, moved, corrected): then people decide.
    True when the complaint moved (its old card is superseded, a new one queued)."""
    if c.claimer_id is not None or c.history_note is not None or c.confirmed_agency is not None:
        return False
    if Status(c.status) not in (Status.TRIAGE, Status.ROUTED):
        return False
    decision = router.route(t.routing_text, author_location=t.author_location, mentions=t.mentions)
    agencies = {a.code: a for a in (await s.scalars(select(Agency))).all()}
    agency = _resolve_agency(decision, agencies.get)
    triage = agencies[TRIAGE_CODE]
    place = decision.place
    c.routing_agency, c.routing_confidence = decision.agency, float(decision.confidence)
    c.routing_reasons, c.routing_alternatives = list(decision.reasons), decision.alternatives_with_reasons()
    c.routing_jurisdiction, c.routing_destination = decision.jurisdiction, decision.destination
    c.place_code = (place.kecamatan_code or place.kabkota_code) if place else None
    c.place_label = place.label if place else None
    target = agency or triage
    if target.id == c.agency_id:
        return False
    if Status(c.status) is Status.TRIAGE:
        action = Action.ROUTE
    else:
        action = Action.RETURN_TO_TRIAGE if agency is None else Action.REASSIGN
    transition(s, c, action, "router", to=target.code, reason="opener_found",
               confidence=round(decision.confidence, 3))
    c.agency_id = target.id
    await supersede_cards(s, c)
    await enqueue_card(s, c)
    return True


async def _attach(s: AsyncSession, c: Complaint, t: XTweet, row: Tweet, *, desk: DeskAccount | None,
                  policy: IngestPolicy, result: IngestResult, router: RouterLike) -> None:
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
        if not await _reroute_on_opener(s, c, t, router):
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
            transition(s, c, Action.REOPEN, "x", tweet=t.id)
            await supersede_cards(s, c)
            await enqueue_card(s, c)
            result.reopened += 1
        else:
            c.version += 1
        card = (await repo.live_cards(s, c.id))
        s.add(CardOutbox(complaint_id=c.id, chat_id=card[0].chat_id if card else 0, kind="followup",
                         text=t.text, reply_to_outbox_id=card[0].id if card else None,
                         state=CardState.PENDING if card else CardState.PARKED))
        repo.add_event(s, complaint_id=c.id, actor="x", action="followup", tweet=t.id)
        await repo.mark_draft_previews_dirty(s, c.id)
    else:
        result.context += 1
        repo.add_event(s, complaint_id=c.id, actor="x", action="context", tweet=t.id, author=t.author_username)
    await repo.mark_cards_dirty(s, c.id)


async def _open_complaint(s: AsyncSession, t: XTweet, row: Tweet, *, desk: DeskAccount | None,
                          router: RouterLike, policy: IngestPolicy, result: IngestResult,
                          related: Complaint | None = None) -> None:
    decision = router.route(t.routing_text, author_location=t.author_location, mentions=t.mentions)
    agencies = {a.code: a for a in (await s.scalars(select(Agency))).all()}
    agency = _resolve_agency(decision, agencies.get)
    triage = agencies.get(TRIAGE_CODE) or await repo.triage_agency(s)
    # The same rows as a batched opener (see _Page.flush), written one by one.
    c = Complaint(**_opening_values(t, decision, agency, triage, desk=desk, policy=policy))
    if related is not None:
        c.related_to_id = related.id
    s.add(c)
    await s.flush()
    row.role, row.complaint_id = "opening", c.id
    now = utcnow()
    s.add_all(Event(**values) for values in _opening_events(c.id, t, decision, agency, triage, c.status, now))
    if related is not None:
        repo.add_event(s, complaint_id=related.id, actor="x", action="related_opened", related=c.id, tweet=t.id)
        await repo.mark_cards_dirty(s, related.id)  # its card now says "terkait #<new>"
    await enqueue_card(s, c)
    result.complaints += 1
    result.new_ids.append(c.id)


async def advance_cursor(sessions: async_sessionmaker[AsyncSession], name: str, value: str | None) -> None:
    async with unit_of_work(sessions) as s:
        await repo.set_cursor(s, name, value)


async def read_cursor(sessions: async_sessionmaker[AsyncSession], name: str) -> str | None:
    async with sessions() as s:
        return await repo.get_cursor(s, name)


# --- staff actions -----------------------------------------------------------------------------------


async def update_repost_counts(sessions: async_sessionmaker[AsyncSession], counts: dict[str, int]) -> int:
    """Store X's retweet_count of open complaints' posts; a card whose count changed is redrawn (the
    version stays: a repost changes nothing staff can act on, so their buttons stay valid)."""
    if not counts:
        return 0
    changed = 0
    async with unit_of_work(sessions) as s:
        for c in (await s.scalars(select(Complaint).where(Complaint.tweet_x_id.in_(list(counts))))).all():
            count = counts.get(c.tweet_x_id)
            if count is None or count == (c.retweet_count or 0):
                continue
            c.retweet_count = count
            await repo.mark_cards_dirty(s, c.id)
            changed += 1
    return changed


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
                    transition(s, c, Action.REPLY_REJECTED, "x", reason="deleted")
            repo.add_event(s, complaint_id=c.id, actor="x", action="tweet_deleted")
            await repo.mark_cards_dirty(s, c.id)
            n += 1
    return n


# --- binding groups ----------------------------------------------------------------------------------
