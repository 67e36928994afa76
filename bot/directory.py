"""The agency directory: the packaged data file, and use cases that edit it in the database."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import unit_of_work
from bot.domain.agencies import AGENCY_KINDS, TRIAGE_CODE, destinations, is_destination_only
from bot.domain.lifecycle import OPEN_STATUSES, Action, Status, next_status
from bot.models import Agency, AgencyChat, Complaint, Event

TRIAGE_ROW = (TRIAGE_CODE, TRIAGE_CODE, "Tim Triase Provinsi Jawa Tengah (admin Kemala)", "Triase", None)


class DirectoryError(ValueError):
    """A directory change that cannot be made; the message says why in one line."""


@dataclass(frozen=True)
class AgencyRow:
    code: str
    kind: str
    name: str
    short_name: str
    x_handle: str | None
    kemendagri_code: str | None = None


def packaged_csv() -> Path:
    return Path(str(resources.files("bot") / "data" / "agencies.csv"))


def load_rows(path: Path | None = None) -> list[AgencyRow]:
    """Read the directory CSV; a duplicate or empty code is an error naming the line."""
    path = path or packaged_csv()
    if not path.is_file():
        raise DirectoryError(f"no such file: {path}")
    rows: list[AgencyRow] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"code", "kind", "name", "short_name"} - set(reader.fieldnames or ())
        if missing:
            raise DirectoryError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
        for lineno, rec in enumerate(reader, start=2):
            code = (rec.get("code") or "").strip()
            if not code:
                raise DirectoryError(f"{path.name} line {lineno}: empty agency code")
            if code in seen:
                raise DirectoryError(f"{path.name} line {lineno}: duplicate agency code {code!r}")
            seen.add(code)
            if (rec.get("kind") or "").strip() not in AGENCY_KINDS:
                raise DirectoryError(f"{path.name} line {lineno}: unknown kind {(rec.get('kind') or '').strip()!r}; "
                                     f"known: {', '.join(sorted(AGENCY_KINDS))}")
            handle = (rec.get("x_handle") or "").strip().lstrip("@") or None
            rows.append(AgencyRow(code, rec["kind"].strip(), rec["name"].strip(), rec["short_name"].strip(), handle))
    if TRIAGE_CODE not in seen:
        rows.append(AgencyRow(*TRIAGE_ROW))
    # Regency/city governments and vertical bodies: destinations a complaint can be forwarded to.
    for d in destinations():
        if d.code not in seen:
            rows.append(AgencyRow(d.code, d.kind, d.name, d.short_name, d.x_handle, d.kemendagri_code))
    return rows


class SyncCounts(NamedTuple):
    added: int
    updated: int
    destinations_added: int = 0  # of `added`: regency/city governments and vertical bodies


async def sync_directory(
    sessions: async_sessionmaker[AsyncSession], *, path: Path | None = None, update_existing: bool = True
) -> SyncCounts:
    """Insert missing agencies (and refresh names of existing ones); returns (added, updated, …)."""
    rows = load_rows(path)
    added = updated = dest_added = 0
    async with unit_of_work(sessions) as s:
        existing = {a.code: a for a in (await s.scalars(select(Agency))).all()}
        for row in rows:
            agency = existing.get(row.code)
            if agency is None:
                s.add(Agency(code=row.code, kind=row.kind, name=row.name, short_name=row.short_name,
                             x_handle=row.x_handle, active=True, kemendagri_code=row.kemendagri_code))
                added += 1
                dest_added += is_destination_only(row.kind)
                continue
            # A destination's handle is edited in the database (`agencies set kab-x x_handle …`):
            # the packaged data has none and must not erase it.
            handle = row.x_handle if row.x_handle or not is_destination_only(row.kind) else agency.x_handle
            if agency.kemendagri_code != row.kemendagri_code and row.kemendagri_code:
                agency.kemendagri_code = row.kemendagri_code
            if update_existing and (agency.name, agency.short_name, agency.kind, agency.x_handle) != (
                row.name, row.short_name, row.kind, handle
            ):
                agency.name, agency.short_name, agency.kind = row.name, row.short_name, row.kind
                agency.x_handle = handle
                updated += 1
        if added or updated:
            s.add(Event(actor="system", action="directory_synced", detail={"added": added, "updated": updated}))
    return SyncCounts(added, updated, dest_added)


async def list_agencies(
    sessions: async_sessionmaker[AsyncSession], *, include_retired: bool = True
) -> list[dict[str, object]]:
    async with sessions() as s:
        q = (
            select(Agency, AgencyChat.chat_id)
            .outerjoin(AgencyChat, AgencyChat.agency_id == Agency.id)
            .order_by(Agency.id)
        )
        out: list[dict[str, object]] = []
        for agency, chat_id in (await s.execute(q)).all():
            if not include_retired and not agency.active:
                continue
            out.append({
                "code": agency.code, "name": agency.name, "short_name": agency.short_name, "kind": agency.kind,
                "x_handle": agency.x_handle, "active": agency.active, "requires_approval": agency.requires_approval,
                "chat_id": chat_id, "retired_into": agency.retired_into,
            })
        return out


async def _get(s: AsyncSession, code: str) -> Agency:
    agency = await s.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise DirectoryError(f"unknown agency code {code!r} (see `kemala agencies list`)")
    return agency


async def add_agency(sessions: async_sessionmaker[AsyncSession], *, code: str, name: str, short_name: str,
                     kind: str = "dinas", x_handle: str | None = None) -> None:
    code = code.strip().lower()
    if not code or not all(c.isalnum() or c == "-" for c in code):
        raise DirectoryError(f"agency code must be lower-case letters, digits and '-', got {code!r}")
    _check_kind(kind)
    async with unit_of_work(sessions) as s:
        if await s.scalar(select(Agency.id).where(Agency.code == code)) is not None:
            raise DirectoryError(f"agency code {code!r} already exists")
        s.add(Agency(code=code, name=name, short_name=short_name, kind=kind, x_handle=x_handle, active=True))
        s.add(Event(actor="cli", action="agency_added", detail={"code": code, "name": name}))


def _check_kind(kind: str) -> str:
    if kind not in AGENCY_KINDS:
        raise DirectoryError(f"unknown kind {kind!r}; known: {', '.join(sorted(AGENCY_KINDS))}")
    return kind


async def rename_agency(sessions: async_sessionmaker[AsyncSession], *, code: str, name: str,
                        short_name: str | None = None) -> None:
    async with unit_of_work(sessions) as s:
        agency = await _get(s, code)
        old = agency.name
        agency.name = name
        if short_name:
            agency.short_name = short_name
        s.add(Event(actor="cli", action="agency_renamed", detail={"code": code, "from": old, "to": name}))


SETTABLE = {"x_handle", "kind", "requires_approval", "short_name", "name", "active"}


async def set_agency(sessions: async_sessionmaker[AsyncSession], *, code: str, field: str, value: str) -> None:
    if field not in SETTABLE:
        raise DirectoryError(f"cannot set {field!r}; settable: {', '.join(sorted(SETTABLE))}")
    async with unit_of_work(sessions) as s:
        agency = await _get(s, code)
        parsed: object = value
        if field in ("requires_approval", "active"):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise DirectoryError(f"{field} expects true or false, got {value!r}")
            parsed = value.lower() in ("true", "1", "yes")
        elif field == "kind":
            parsed = _check_kind(value)
        elif field == "x_handle":
            parsed = value.lstrip("@") or None
        setattr(agency, field, parsed)
        s.add(Event(actor="cli", action="agency_set", detail={"code": code, "field": field, "value": str(parsed)}))


async def retire_agency(sessions: async_sessionmaker[AsyncSession], *, code: str, move_to: str | None) -> int:
    """Retire an agency; with move_to, its open complaints move there (a merger). Returns how many moved."""
    if code == TRIAGE_CODE:
        raise DirectoryError("the triage desk cannot be retired")
    async with unit_of_work(sessions) as s:
        agency = await _get(s, code)
        if not agency.active:
            raise DirectoryError(f"agency {code!r} is already retired")
        open_q = select(Complaint).where(Complaint.agency_id == agency.id,
                                         Complaint.status.in_([st.value for st in OPEN_STATUSES]))
        open_rows = list((await s.scalars(open_q)).all())
        target: Agency | None = None
        if move_to:
            target = await _get(s, move_to)
            if not target.active:
                raise DirectoryError(f"cannot move complaints to retired agency {move_to!r}")
            if target.id == agency.id:
                raise DirectoryError("--move-to must name another agency")
        elif open_rows:
            raise DirectoryError(
                f"agency {code!r} has {len(open_rows)} open complaint(s); use --move-to OTHER to move them"
            )
        for c in open_rows:
            assert target is not None
            old = Status(c.status)
            new = next_status(old, Action.REASSIGN) if old != Status.APPROVED else old
            c.agency_id, c.status, c.claimer_id, c.claimer_name = target.id, new.value, None, None
            c.version += 1
            c.history_note = f"{agency.short_name} → {target.short_name} (penggabungan)"
            s.add(Event(complaint_id=c.id, actor="cli", action="reassign", from_status=old.value,
                        to_status=new.value, detail={"from": code, "to": target.code, "reason": "retired"}))
        agency.active = False
        agency.retired_into = target.code if target else None
        s.add(Event(actor="cli", action="agency_retired", detail={"code": code, "moved": len(open_rows),
                                                                   "move_to": move_to}))
        return len(open_rows)


async def bind_chat(sessions: async_sessionmaker[AsyncSession], *, code: str, chat_id: int,
                    title: str | None = None, actor: str = "cli", user_id: int | None = None) -> None:
    """Bind a Telegram group to an agency; a group already bound to another agency is refused."""
    async with unit_of_work(sessions) as s:
        await bind_chat_in(s, code=code, chat_id=chat_id, title=title, actor=actor, user_id=user_id)
        agency = await _get(s, code)
        await repo.resume_parked_cards(s, agency.id, chat_id)  # cards that waited for a group go out now


async def bind_chat_in(s: AsyncSession, *, code: str, chat_id: int, title: str | None, actor: str,
                       user_id: int | None) -> None:
    agency = await _get(s, code)
    if not agency.active:
        raise DirectoryError(f"agency {code!r} is retired")
    if is_destination_only(agency.kind):
        raise DirectoryError(f"{code!r} is a destination ({agency.short_name}), not a provincial agency: "
                             "it cannot have a Telegram group")
    other = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == chat_id))
    if other is not None and other.agency_id != agency.id:
        owner = await s.get(Agency, other.agency_id)
        raise DirectoryError(f"chat {chat_id} is already bound to {owner.code if owner else '?'}")
    current = await s.scalar(select(AgencyChat).where(AgencyChat.agency_id == agency.id))
    if current is None:
        s.add(AgencyChat(agency_id=agency.id, chat_id=chat_id, title=title, bound_by=user_id))
    else:
        current.chat_id, current.title, current.bound_by, current.parked_reason = chat_id, title, user_id, None
    s.add(Event(actor=actor, action="chat_bound", detail={"code": code, "chat_id": chat_id}))


async def count_agencies(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count(Agency.id))) or 0)
