"""Chat events: a group migrated to a supergroup, the bot removed from a group, and handler errors."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError

from bot import queries
from bot import usecases as uc
from bot.handlers.common import answer_query, triage_chat_id
from bot.handlers.context import KemalaContext
from bot.i18n import t

log = logging.getLogger(__name__)


async def on_migrate(update: Update, context: KemalaContext) -> None:
    msg = update.effective_message
    if msg is None or not msg.migrate_to_chat_id:
        return
    moved = await uc.migrate_chat(context.svc.sessions, old_chat_id=msg.chat.id, new_chat_id=msg.migrate_to_chat_id)
    log.info("group %s became supergroup %s (binding followed: %s)", msg.chat.id, msg.migrate_to_chat_id, moved)


async def on_my_chat_member(update: Update, context: KemalaContext) -> None:
    change = update.my_chat_member
    if change is None:
        return
    svc = context.svc
    if change.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED):
        if await uc.park_chat(svc.sessions, chat_id=change.chat.id, reason="bot removed from the group"):
            await uc.alert_kicked(svc.sessions, svc.x.alerted, change.chat.id, svc.lang)
        return
    was_out = change.old_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED)
    if was_out and change.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        await _welcome(context, change.chat.id)


async def _welcome(context: KemalaContext, chat_id: int) -> None:
    """The bot was added to a group: say what to do there (triage, already linked, or how to join)."""
    svc = context.svc
    if chat_id == await triage_chat_id(svc):
        text = t("welcome.triage", svc.lang)
    else:
        bound = await queries.chat_binding(svc.sessions, chat_id)
        text = t("welcome.group", svc.lang) if bound is None else t("ok.bound_here", svc.lang, agency=bound[1])
    try:
        await svc.pacer.before_send(chat_id)
        await context.bot.send_message(chat_id, text)
    except TelegramError as e:
        log.info("could not greet chat %s: %s", chat_id, e)


async def on_error(update: object, context: KemalaContext) -> None:
    """Log the cause; a press still gets an answer so the spinner stops."""
    log.error("handler failed: %s", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.callback_query is not None:
        try:
            await answer_query(context.svc, update.callback_query, t("alert.error", context.svc.lang), alert=True)
        except (Forbidden, TelegramError):
            pass
