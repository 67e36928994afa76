"""SQLAlchemy 2 typed models. Timestamps are timezone-aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot import clock


def utcnow() -> datetime:
    """The desk's wall clock (bot/clock.py): what rows store and due times compare with."""
    return clock.utcnow()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out — also on SQLite, which stores no offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))
    x_handle: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    retired_into: Mapped[str | None] = mapped_column(String(40))
    # Regencies/cities only: the Kemendagri code ("33.14") from the packaged wilayah data.
    kemendagri_code: Mapped[str | None] = mapped_column(String(13))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AgencyChat(Base):
    """The Telegram group bound to an agency (one each; the triage desk has one too)."""

    __tablename__ = "agency_chats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    bound_by: Mapped[int | None] = mapped_column(BigInteger)
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when Telegram says the bot was removed: cards wait instead of being retried forever.
    parked_reason: Mapped[str | None] = mapped_column(String(200))


class BindCode(Base):
    __tablename__ = "bind_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    used_by: Mapped[int | None] = mapped_column(BigInteger)
    used_title: Mapped[str | None] = mapped_column(String(200))
    # A code for an agency that already has a group only asks to move it: "pending" until a triage
    # admin presses Setujui ("approved") or Tolak ("rejected"); None for a direct bind.
    decision: Mapped[str | None] = mapped_column(String(12))
    decided_by: Mapped[int | None] = mapped_column(BigInteger)


class BindAttempt(Base):
    """One failed /bind (unknown, used or expired code): the rate limit counts these per user and chat."""

    __tablename__ = "bind_attempts"
    __table_args__ = (Index("ix_bind_attempts_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_agency", "status", "agency_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tweet_x_id: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(32), index=True)
    author_x_id: Mapped[str] = mapped_column(String(32), index=True)
    author_username: Mapped[str] = mapped_column(String(60))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    claimer_id: Mapped[int | None] = mapped_column(BigInteger)
    claimer_name: Mapped[str | None] = mapped_column(String(120))
    place_code: Mapped[str | None] = mapped_column(String(20))
    place_label: Mapped[str | None] = mapped_column(String(120))
    routing_agency: Mapped[str | None] = mapped_column(String(40))
    routing_confidence: Mapped[float | None] = mapped_column(Float)
    routing_reasons: Mapped[list[Any]] = mapped_column(default=list)
    routing_alternatives: Mapped[list[Any]] = mapped_column(default=list)
    # provinsi / kabkota / vertikal, and the proposed non-provincial destination (kab-…, pln, …).
    routing_jurisdiction: Mapped[str | None] = mapped_column(String(20))
    routing_destination: Mapped[str | None] = mapped_column(String(40))
    photo_urls: Mapped[list[Any]] = mapped_column(default=list)
    # Attachments as the card shows them (bot.domain.posts.XMedia.to_json); None before migration 0007.
    media: Mapped[list[Any] | None] = mapped_column(JSON)
    # A quote post's quoted post: shown as context and routed on; text None when X no longer has it.
    quoted_x_id: Mapped[str | None] = mapped_column(String(32))
    quoted_author: Mapped[str | None] = mapped_column(String(60))
    quoted_text: Mapped[str | None] = mapped_column(Text)
    # public_metrics.retweet_count as last read (reposts no longer reach us through search).
    retweet_count: Mapped[int | None] = mapped_column(Integer)
    reply_target_x_id: Mapped[str | None] = mapped_column(String(32))
    reply_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    followups: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on every change that alters the card: buttons carry it, stale presses are refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    history_note: Mapped[str | None] = mapped_column(Text)
    reply_x_id: Mapped[str | None] = mapped_column(String(32))
    # Another citizen's hashtagged reply or quote in this complaint's conversation opens its own
    # complaint; this points at the one it answered or quoted ("terkait #N" on both cards).
    related_to_id: Mapped[int | None] = mapped_column(Integer, index=True)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    answered_at: Mapped[datetime | None]
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    # Where triage forwarded a matter that is not the province's (an agency code: kab-…, pln, …).
    forwarded_to: Mapped[str | None] = mapped_column(String(40))
    # The agency a human confirmed (claim, reply, reassignment): a training label for the router.
    confirmed_agency: Mapped[str | None] = mapped_column(String(40))
    tweeted_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tweet(Base):
    """Every tweet seen, stored once (unique X id), raw payload kept."""

    __tablename__ = "tweets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    x_id: Mapped[str] = mapped_column(String(32), unique=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(32), index=True)
    author_x_id: Mapped[str] = mapped_column(String(32))
    author_username: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))  # opening, followup, context, edit, flood, own, parked
    text: Mapped[str] = mapped_column(Text)
    tweeted_at: Mapped[datetime]
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parked_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """Append-only audit log: every transition, press, draft and refusal."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CardOutbox(Base):
    """A Telegram message to send or keep in sync: a card, a follow-up, a photo, a notice."""

    __tablename__ = "card_outbox"
    __table_args__ = (
        Index("ix_card_outbox_due", "state", "next_attempt_at"),
        Index("ix_card_outbox_message", "chat_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))  # card, followup, photo, notice
    text: Mapped[str | None] = mapped_column(Text)
    reply_to_outbox_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending, sent, parked, failed
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # A sent card whose complaint changed since: the sweep edits it.
    needs_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    # A card that no longer leads (its complaint moved to another group): shown as a tombstone.
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ReplyOutbox(Base):
    """A reply to a citizen: a draft until approved, then posted on X exactly once."""

    __tablename__ = "reply_outbox"
    __table_args__ = (
        Index("ix_reply_outbox_due", "state", "next_attempt_at"),
        # One X post answers one reply: reconciliation can never record a post for two citizens.
        Index("uq_reply_outbox_posted_x_id", "posted_x_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(120))
    mode: Mapped[str] = mapped_column(String(20), default="thread")  # thread, fallback
    in_reply_to: Mapped[str | None] = mapped_column(String(32))
    # draft, pending, unknown (outcome not known: reconcile first), posted, rejected, cancelled
    state: Mapped[str] = mapped_column(String(20), default="draft")
    approved_by: Mapped[int | None] = mapped_column(BigInteger)
    approved_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    posted_x_id: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime | None]
    # The draft preview in Telegram: once the reply is on X the preview says so, with the link.
    preview_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    preview_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(Base):
    """A ForceReply prompt waiting for its owner's answer (kept in the DB to survive restarts)."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20), default="reply")  # reply, reason
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class Cursor(Base):
    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TelegramUser(Base):
    __tablename__ = "telegram_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(60))
    first_name: Mapped[str] = mapped_column(String(120))
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class XUsage(Base):
    """Monthly X API usage counters, for the cost meter."""

    __tablename__ = "x_usage"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class XRead(Base):
    """Posts read from X per UTC day: X bills a post read twice in one day once (its first read's class)."""

    __tablename__ = "x_reads"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    x_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))


class Lease(Base):
    """A named lock with an expiry: one Telegram poller and one X poller across replicas."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime]


class RouterModel(Base):
    """A router model retrained from confirmed labels; the newest row is the one in use."""

    __tablename__ = "router_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    labels: Mapped[int] = mapped_column(Integer)
    model: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingLabel(Base):
    """A labelled complaint from elsewhere (an imported history): training data for the router.

    One row per (text, agency): importing the same file twice stores it once.
    """

    __tablename__ = "routing_labels"
    __table_args__ = (UniqueConstraint("text_hash", "agency", name="uq_routing_labels_text_agency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    """Staff's internal note on a complaint (a reply to its card in the group): never posted on X."""

    __tablename__ = "notes"
    __table_args__ = (Index("uq_notes_message", "chat_id", "message_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
