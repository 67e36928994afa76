"""Read models: what a card, a queue, a report or a board shows, read in one place.

Everything here only reads. Handlers, jobs, the CLI (and later reports and the web board) call these
instead of writing SQL of their own; use cases (bot.usecases) are the only writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.agencies import TRIAGE_CODE
from bot.domain.lifecycle import Status
from bot.domain.outbox import ReplyState
from bot.domain.posts import tweet_url
from bot.models import Agency, CardOutbox, Complaint, Event, ReplyOutbox, TelegramUser

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
    requires_approval: bool = False
    moved_to: str | None = None
    # Tombstone details; the handler fills them from the reassign event.
    moved_by: str | None = None
    moved_reason: str | None = None
    # Complaints of other citizens in the same conversation (the one this answers, and those answering it).
    related: tuple[int, ...] = ()

    @property
    def is_live(self) -> bool:
        """Whether staff can still act on this card."""
        return self.moved_to is None and self.status not in (Status.ANSWERED, Status.CLOSED, Status.DISMISSED)


async def build_view(s: AsyncSession, c: Complaint, card: CardOutbox | None, *, desk_username: str) -> CardView:
    agency = await s.get(Agency, c.agency_id) if c.agency_id is not None else None
    is_triage = agency is None or agency.code == TRIAGE_CODE
    alternatives: list[tuple[str, str, float]] = []
    if is_triage:
        # The agency that just sent it back is not offered again as a one-tap choice.
        returned = await s.scalar(select(Event).where(Event.complaint_id == c.id, Event.action == "return_to_triage")
                                  .order_by(Event.id.desc()).limit(1))
        skip = str(returned.detail.get("from")) if returned is not None else None
        codes = [str(a[0]) for a in c.routing_alternatives if a and a[0] and str(a[0]) != skip]
        if codes:
            names = {a.code: a.short_name for a in (await s.scalars(
                select(Agency).where(Agency.code.in_(codes), Agency.active.is_(True)))).all()}
            alternatives = [(str(a[0]), names[str(a[0])], float(a[1]))
                            for a in c.routing_alternatives if a and str(a[0]) in names and str(a[0]) != skip][:3]
    moved_to = moved_by = moved_reason = None
    if card is not None and card.superseded:
        moved_to = agency.short_name if agency else "?"
        ev = await s.scalar(select(Event).where(Event.complaint_id == c.id,
                                                Event.action.in_(["reassign", "return_to_triage", "reopen"]))
                            .order_by(Event.id.desc()).limit(1))
        if ev is not None:
            moved_by = ev.actor
            if ev.actor.startswith("tg:") and ev.actor[3:].isdigit():
                who = await s.get(TelegramUser, int(ev.actor[3:]))
                moved_by = f"@{who.username}" if who and who.username else (who.first_name if who else ev.actor)
            moved_reason = str(ev.detail.get("reason") or "")
    reply_text = reply_url = None
    if c.reply_x_id:
        reply = await s.scalar(select(ReplyOutbox).where(ReplyOutbox.complaint_id == c.id,
                                                         ReplyOutbox.state == ReplyState.POSTED)
                               .order_by(ReplyOutbox.id.desc()).limit(1))
        reply_text = reply.text if reply else None
        reply_url = f"https://x.com/{desk_username}/status/{c.reply_x_id}"
    answering = (await s.scalars(select(Complaint.id).where(Complaint.related_to_id == c.id)
                                 .order_by(Complaint.id).limit(9))).all()
    related = tuple(([c.related_to_id] if c.related_to_id is not None else []) + list(answering))
    return CardView(
        related=related,
        complaint_id=c.id, version=c.version, status=c.status,
        agency_code=agency.code if agency else None, agency_short=agency.short_name if agency else None,
        citizen_name=c.author_name, citizen_username=c.author_username, text=c.text, place_label=c.place_label,
        created_at=c.tweeted_at, routing_reasons=tuple(str(r) for r in c.routing_reasons),
        confidence=c.routing_confidence, tweet_url=tweet_url(c.author_username, c.tweet_x_id),
        reply_eligible=c.reply_eligible, desk_username=desk_username, claimer_name=c.claimer_name,
        followups=c.followups, photo_urls=tuple(str(u) for u in c.photo_urls), alternatives=tuple(alternatives),
        history_note=c.history_note, reply_text=reply_text, reply_url=reply_url, answered_by=c.answered_by,
        answered_at=c.answered_at, rejected_reason=c.rejected_reason, deleted=c.deleted, edited=c.edited,
        is_triage_card=is_triage, requires_approval=bool(agency and agency.requires_approval),
        moved_to=moved_to, moved_by=moved_by, moved_reason=moved_reason,
    )
