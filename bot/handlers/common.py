"""What the handlers share: who is pressing (live membership), refusals in the audit log, paced replies and edits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import ChatMember, Message, User
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot import jobs, queries
from bot import usecases as uc
from bot.handlers.context import KemalaContext
from bot.i18n import t
from bot.models import CardOutbox
from bot.services import Services
from bot.telegram import gateway
from bot.telegram.messages import reason_prompt
from bot.telegram.text import short_label
from bot.usecases import Refused, Staff

log = logging.getLogger(__name__)


T = TypeVar("T")


MEMBER_STATUSES = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER}


ADMIN_STATUSES = {ChatMember.ADMINISTRATOR, ChatMember.OWNER}


def staff_of(user: User) -> Staff:
    return Staff(id=user.id, name=user.full_name[:120] or str(user.id), username=user.username)


async def member_status(context: KemalaContext, chat_id: int, user_id: int) -> str:
    """The user's status in the chat, from getChatMember ('left' when Telegram does not know them)."""
    try:
        member = await patiently(context.svc, lambda: context.bot.get_chat_member(chat_id, user_id))
        status = str(member.status)
        if status == ChatMember.RESTRICTED and getattr(member, "is_member", False):
            status = ChatMember.MEMBER
    except BadRequest:
        status = ChatMember.LEFT
    return status


async def triage_chat_id(svc: Services) -> int | None:
    return await queries.triage_chat_id(svc.sessions, svc.settings.triage_chat_id)


async def is_triage_admin(context: KemalaContext, user_id: int) -> bool:
    svc = context.svc
    if user_id in svc.settings.admin_ids:
        return True
    chat = await triage_chat_id(svc)
    return chat is not None and await member_status(context, chat, user_id) in ADMIN_STATUSES


def refusal_text(svc: Services, r: Refused, number: int | str = "?") -> str:
    kw: dict[str, Any] = {"number": number, "name": "?", "status": "?", "n": 0, "limit": 280, "detail": ""}
    kw.update(r.kw)
    return t(r.key, svc.lang, **kw)


async def record_refusal(svc: Services, complaint_id: int | None, user: User, key: str, **detail: Any) -> None:
    await uc.record_refusal(svc.sessions, complaint_id=complaint_id, user_id=user.id, key=key, **detail)


def kick_sweeps(context: KemalaContext) -> None:
    """Ask the card and reply sweeps to run now instead of at their next tick (never waits for them)."""
    context.svc.loops.kick("sweep_cards", "publish_replies")


# --- buttons -----------------------------------------------------------------------------------------


async def patiently(svc: Services, call: Callable[[], Awaitable[T]]) -> T:
    return await gateway.patiently(svc.pacer, call)


async def answer_query(svc: Services, query: Any, text: str | None, *, alert: bool = False) -> None:
    await gateway.answer_query(svc.pacer, query, text, alert=alert)


async def picker_agencies(svc: Services, exclude: int | None) -> list[tuple[str, str]]:
    return [(code, short_label(short)) for code, short in await queries.picker_agencies(svc.sessions, exclude=exclude)]


async def short_name(svc: Services, code: str) -> str:
    return await queries.agency_short_name(svc.sessions, code)


async def edit_markup(svc: Services, msg: Message, markup: Any) -> None:
    try:
        await patiently(svc, lambda: msg.edit_reply_markup(reply_markup=markup))
    except BadRequest as e:
        if "not modified" not in e.message.lower():
            raise


async def edit_text(svc: Services, msg: Message, text: str) -> None:
    try:
        await patiently(svc, lambda: msg.edit_text(text))
    except BadRequest as e:
        if "not modified" not in e.message.lower():
            log.warning("editing preview failed: %s", e.message)


async def refresh(context: KemalaContext, card: CardOutbox | None) -> None:
    """Re-render the pressed card right away (other cards of the complaint follow in the sweep)."""
    if card is None:
        return
    await jobs.refresh_card(context.svc, context.bot, card.id, press=True)


# --- the reply text (answer to a ForceReply prompt) -------------------------------------------------------


async def reply(context: KemalaContext, msg: Message, text: str) -> None:
    await context.svc.pacer.before_send(msg.chat.id)
    try:
        await msg.reply_text(text, allow_sending_without_reply=True)
    except TelegramError as e:
        log.warning("could not answer in chat %s: %s", msg.chat.id, e)


async def reply_prompt_for_reason(context: KemalaContext, msg: Message, user: User, complaint_id: int,
                                  detail: dict[str, str], what: str) -> None:
    """A ForceReply asking `user` for the reason in their own words; their answer carries out the action."""
    svc = context.svc
    text, markup = reason_prompt(complaint_id=complaint_id, username=user.username, user_id=user.id,
                                 first_name=user.first_name, what=what, lang=svc.lang)
    await svc.pacer.before_send(msg.chat.id)
    prompt = await context.bot.send_message(msg.chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                            reply_to_message_id=msg.message_id, allow_sending_without_reply=True)
    await uc.record_prompt(svc.sessions, chat_id=msg.chat.id, message_id=prompt.message_id,
                           complaint_id=complaint_id, user_id=user.id, kind="reason", detail=dict(detail))


# --- commands ------------------------------------------------------------------------------------------


def arg(context: KemalaContext) -> str:
    return " ".join(context.args or []).strip()
