"""Replies in a group: to the reply prompt (a draft with a preview), to a reason prompt (the written reason
carries out the reassign/return/dismiss/forward it was asked for), or to a card (an internal note)."""

from __future__ import annotations

import logging

from telegram import Message, Update, User
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import queries
from bot import usecases as uc
from bot.domain.agencies import TRIAGE_CODE
from bot.domain.policy import ChatKind, DeskAction
from bot.handlers.buttons import authorise, forward_to
from bot.handlers.common import (
    ADMIN_STATUSES,
    MEMBER_STATUSES,
    kick_sweeps,
    member_status,
    record_refusal,
    refusal_text,
    reply,
    short_name,
    staff_of,
    triage_chat_id,
)
from bot.handlers.context import KemalaContext
from bot.i18n import t
from bot.models import Prompt
from bot.telegram.keyboards import draft_keyboard
from bot.telegram.messages import render_draft_preview
from bot.usecases import Refused

log = logging.getLogger(__name__)

# What a reason prompt was asked for → the permission it needs when the answer arrives (re-checked: the
# answer may come minutes later, from someone who has since lost the right).
REASON_ACTIONS = {"reassign": DeskAction.REASSIGN, "return": DeskAction.RETURN_TO_TRIAGE,
                  "dismiss": DeskAction.DISMISS, "forward": DeskAction.FORWARD}


async def on_reply_text(update: Update, context: KemalaContext) -> None:
    msg = update.effective_message
    user = update.effective_user
    if msg is None or user is None or msg.reply_to_message is None or not msg.text:
        return
    svc = context.svc
    prompt = await uc.find_prompt(svc.sessions, chat_id=msg.chat.id, message_id=msg.reply_to_message.message_id)
    if prompt is None:
        await _maybe_note(context, msg, user)
        return
    if prompt.kind == "reason":
        await _reason_answer(context, msg, user, prompt)
        return
    await _draft_answer(context, msg, user, prompt)


async def _draft_answer(context: KemalaContext, msg: Message, user: User, prompt: Prompt) -> None:
    svc = context.svc
    assert msg.text is not None
    try:
        result = await uc.write_draft(svc.sessions, prompt_id=prompt.id, staff=staff_of(user), text=msg.text,
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
    sent = await context.bot.send_message(msg.chat.id, preview, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                          reply_to_message_id=msg.message_id, allow_sending_without_reply=True)
    # The preview is kept in step with the reply: "✅ Terkirim ke X" with the link once it is posted.
    await uc.record_preview(svc.sessions, complaint_id=c.id, draft_id=result.draft.id, chat_id=msg.chat.id,
                            message_id=sent.message_id)
    kick_sweeps(context)


async def _reason_answer(context: KemalaContext, msg: Message, user: User, prompt: Prompt) -> None:
    """The written reason: carry out what the picker's "Lainnya…" asked for, with the reason attached."""
    svc = context.svc
    text = " ".join((msg.text or "").split())
    number = prompt.complaint_id
    staff = staff_of(user)
    try:
        if not text:
            raise Refused("alert.reason_empty")
        if len(text) > uc.MAX_REASON_CHARS:
            raise Refused("alert.reason_long", n=len(text), limit=uc.MAX_REASON_CHARS)
        detail = prompt.detail or {}
        action = REASON_ACTIONS.get(str(detail.get("act")))
        if action is None:
            raise Refused("alert.invalid")
        c = await queries.complaint_by_id(svc.sessions, number)
        if c is None:
            raise Refused("alert.invalid")
        status = await member_status(context, msg.chat.id, user.id)
        if status not in MEMBER_STATUSES:
            raise Refused("alert.not_member")
        chat = ChatKind.TRIAGE if msg.chat.id == await triage_chat_id(svc) else ChatKind.AGENCY
        await authorise(context, action, c, chat, user,
                        is_group_admin=status in ADMIN_STATUSES or user.id in svc.settings.admin_ids)
        await uc.take_reason_prompt(svc.sessions, prompt_id=prompt.id, staff=staff)
        done = await _carry_out(context, str(detail.get("act")), detail, number, staff, text)
    except Refused as r:
        await record_refusal(svc, number, user, r.key, via="reason")
        await reply(context, msg, refusal_text(svc, r, number))
        return
    kick_sweeps(context)
    await reply(context, msg, done)


async def _carry_out(context: KemalaContext, act: str, detail: dict[str, object], number: int, staff: uc.Staff,
                     text: str) -> str:
    svc = context.svc
    if act == "reassign":
        target = str(detail.get("target") or "")
        await uc.reassign(svc.sessions, complaint_id=number, version=None, staff=staff, target_code=target,
                          reason="lainnya", note=text, shown_reason=text)
        return t("ok.reassigned", svc.lang, number=number, agency=await short_name(svc, target))
    if act == "return":
        await uc.reassign(svc.sessions, complaint_id=number, version=None, staff=staff, target_code=TRIAGE_CODE,
                          reason="lainnya", note=text, shown_reason=text)
        return t("ok.triaged", svc.lang, number=number)
    if act == "dismiss":
        await uc.dismiss(svc.sessions, complaint_id=number, version=None, staff=staff, reason="lainnya", note=text)
        return t("ok.dismissed", svc.lang, number=number)
    # forward: the written text names where the matter goes
    return await forward_to(context, None, number, None, staff, code=None, written=text)


async def _maybe_note(context: KemalaContext, msg: Message, user: User) -> None:
    """A reply to one of our cards (not to a prompt) is an internal note on that complaint: stored, shown
    on the card, never posted on X."""
    reply_to = msg.reply_to_message
    if reply_to is None or reply_to.from_user is None or reply_to.from_user.id != context.bot.id:
        return
    svc = context.svc
    number = await queries.card_of_message(svc.sessions, chat_id=msg.chat.id, message_id=reply_to.message_id)
    if number is None:
        return
    try:
        added = await uc.add_note(svc.sessions, complaint_id=number, chat_id=msg.chat.id, message_id=msg.message_id,
                                 staff=staff_of(user), text=msg.text or "")
    except Refused as r:
        await reply(context, msg, refusal_text(svc, r, number))
        return
    if added is None:
        return  # the same message delivered twice
    kick_sweeps(context)  # the card shows "📝 n catatan" with the latest
    if added[1]:
        # Said once per person and complaint: the group is not flooded, and nobody takes a note for an
        # answer to the citizen.
        await reply(context, msg, t("ok.note", svc.lang, number=number))
