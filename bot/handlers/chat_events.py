"""Chat events: a group migrated to a supergroup, the bot removed from a group, and handler errors."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.error import Forbidden, TelegramError

from bot import usecases as uc
from bot.handlers.common import (
    answer_query,
)
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
    if change.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED):
        svc = context.svc
        if await uc.park_chat(svc.sessions, chat_id=change.chat.id, reason="bot removed from the group"):
            await uc.alert_kicked(svc.sessions, svc.x.alerted, change.chat.id, svc.lang)


async def on_error(update: object, context: KemalaContext) -> None:
    """Log the cause; a press still gets an answer so the spinner stops."""
    log.error("handler failed: %s", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.callback_query is not None:
        try:
            await answer_query(context.svc, update.callback_query, t("alert.error", context.svc.lang), alert=True)
        except (Forbidden, TelegramError):
            pass
