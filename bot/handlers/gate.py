"""Before any handler (group -1): who the update is from decides how fast and how urgently it is answered.

Staff in the desk's groups pass untouched. Commands from anyone else (a private chat, a group not
linked) are rate-limited per user, and their answers wait behind the cards: 400 `/start` or 300 `/bind`
guesses from one account cannot delay an agency's cards or take a press's place.
"""

from __future__ import annotations

import logging
import math

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import queries
from bot.handlers.common import reply
from bot.handlers.context import KemalaContext
from bot.i18n import t
from bot.services import LOW_PRIORITY, CommandLimiter

log = logging.getLogger(__name__)


async def on_update(update: Update, context: KemalaContext) -> None:
    # Updates are handled one after another in one task: the flag is set afresh for every update.
    LOW_PRIORITY.set(False)
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None or update.callback_query is not None:
        return
    if not (msg.text or "").startswith("/"):
        return
    svc = context.svc
    if msg.chat.type != ChatType.PRIVATE and await queries.chat_binding(svc.sessions, msg.chat.id) is not None:
        return  # one of the desk's groups: staff
    if user.id in svc.settings.admin_ids:
        return
    LOW_PRIORITY.set(True)
    verdict = svc.outsiders.take(user.id)
    if verdict == CommandLimiter.ALLOW:
        return
    svc.metrics.commands_throttled.inc()
    if verdict == CommandLimiter.TELL:
        log.info("commands from user %s outside the desk's groups are rate-limited", user.id)
        await reply(context, msg, t("alert.slow_down", svc.lang,
                                    seconds=max(1, math.ceil(svc.outsiders.retry_in(user.id)))))
    raise ApplicationHandlerStop
