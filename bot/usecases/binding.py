"""Binding agency groups with one-time codes, and triage's decision on a held re-bind."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import unit_of_work
from bot.directory import DirectoryError, bind_chat_in
from bot.domain.agencies import TRIAGE_CODE, is_destination_only
from bot.models import Agency, AgencyChat, BindCode, utcnow
from bot.usecases.common import (
    Refused,
    Staff,
)

log = logging.getLogger(__name__)


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


DAFTAR_PREFIX = "daftar-"


async def request_bind(sessions: async_sessionmaker[AsyncSession], *, agency_code: str, chat_id: int,
                       title: str | None, staff: Staff) -> BindResult:
    """/daftar: a group's admin asks triage to link the group to an agency (held like a re-bind: triage
    decides with Setujui/Tolak). One open request per group."""
    now = utcnow()
    async with unit_of_work(sessions) as s:
        agency = await repo.agency_by_code(s, agency_code.strip().lower())
        if agency is None or not agency.active:
            raise Refused("daftar.unknown", code=agency_code[:40])
        if agency.code == TRIAGE_CODE:
            raise Refused("daftar.triage")
        if is_destination_only(agency.kind):
            raise Refused("daftar.not_provincial", agency=agency.short_name)
        bound = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == chat_id))
        if bound is not None:
            owner = await s.get(Agency, bound.agency_id)
            raise Refused("daftar.triage" if owner is not None and owner.code == TRIAGE_CODE else "daftar.already",
                          agency=owner.short_name if owner else "?")
        open_request = await s.scalar(select(BindCode.id).where(
            BindCode.used_chat_id == chat_id, BindCode.decision == "pending",
            BindCode.used_at > now - BIND_REQUEST_TTL))
        if open_request is not None:
            raise Refused("daftar.pending")
        current = await repo.chat_of_agency(s, agency.id)
        row = BindCode(code=DAFTAR_PREFIX + secrets.token_hex(8), agency_id=agency.id, created_by=staff.id,
                       expires_at=now, used_at=now, used_chat_id=chat_id, used_by=staff.id, used_title=title,
                       decision="pending")
        s.add(row)
        await s.flush()
        repo.add_event(s, complaint_id=None, actor=staff.actor, action="bind_requested", agency=agency.code,
                       chat_id=chat_id, old_chat_id=current.chat_id if current else None, via="daftar")
        return BindResult(request_id=row.id, agency=agency.code, agency_name=agency.short_name, chat_id=chat_id,
                          title=title, requested_by=staff.id, pending=True,
                          old_chat_id=current.chat_id if current else None,
                          old_title=current.title if current else None)


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
    await repo.resume_parked_cards(s, agency.id, chat_id)


async def unbind_chat(sessions: async_sessionmaker[AsyncSession], *, code: str, actor: str = "cli") -> tuple[int, int]:
    """Take the agency's group away (the group is closed, or it was the wrong one): its cards wait, parked,
    until a group is bound again. Returns (the chat id it had, cards parked)."""
    async with unit_of_work(sessions) as s:
        agency = await s.scalar(select(Agency).where(Agency.code == code))
        if agency is None:
            raise DirectoryError(f"no agency with code {code!r}")
        chat = await repo.chat_of_agency(s, agency.id)
        if chat is None:
            raise DirectoryError(f"agency {code!r} has no group bound")
        chat_id = chat.chat_id
        await s.delete(chat)
        parked = await repo.park_cards_of_chat(s, chat_id, "group unbound")
        repo.add_event(s, complaint_id=None, actor=actor, action="chat_unbound", chat_id=chat_id, code=code)
        return chat_id, parked
