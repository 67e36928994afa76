"""The reply text: a staff member's answer to the ForceReply prompt becomes a draft with a preview."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import usecases as uc
from bot.handlers.common import (
    kick_sweeps,
    record_refusal,
    refusal_text,
    reply,
    staff_of,
)
from bot.handlers.context import KemalaContext
from bot.telegram.keyboards import (
    draft_keyboard,
)
from bot.telegram.messages import render_draft_preview
from bot.usecases import Refused

log = logging.getLogger(__name__)


async def on_reply_text(update: Update, context: KemalaContext) -> None:
    msg = update.effective_message
    user = update.effective_user
    if msg is None or user is None or msg.reply_to_message is None or not msg.text:
        return
    svc = context.svc
    prompt = await uc.find_prompt(svc.sessions, chat_id=msg.chat.id, message_id=msg.reply_to_message.message_id)
    if prompt is None:
        return  # a reply to something that is not our prompt: not ours to handle
    staff = staff_of(user)
    try:
        result = await uc.write_draft(svc.sessions, prompt_id=prompt.id, staff=staff, text=msg.text,
                                      secrets=svc.settings.secrets())
    except Refused as r:
        await record_refusal(svc, prompt.complaint_id, user, r.key)
        await reply(context, msg, refusal_text(svc, r, prompt.complaint_id))
        if r.key == "alert.secret_in_reply":
            # The secret should not stay readable in the group either (needs the delete right; best effort).
            try:
                await msg.delete()
            except TelegramError as e:
                log.warning("could not delete a message holding a secret in chat %s: %s", msg.chat.id, e)
        return
    c = result.complaint
    preview = render_draft_preview(result.draft.text, result.weight, eligible=c.reply_eligible,
                                   desk_username=svc.desk_username, citizen_username=c.author_username,
                                   lang=svc.lang, url_price=svc.settings.price_post_with_url,
                                   plain_price=svc.settings.price_post_created)
    keyboard = draft_keyboard(c.id, c.version, result.draft.id, c.reply_eligible, svc.lang)
    await svc.pacer.before_send(msg.chat.id)
    await context.bot.send_message(msg.chat.id, preview, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                   reply_to_message_id=msg.message_id, allow_sending_without_reply=True)
    kick_sweeps(context)
