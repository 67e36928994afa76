"""Commands: /start /bantuan, /antrian, /cari, /hubungkan and /bind."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import queries
from bot import usecases as uc
from bot.handlers.common import (
    ADMIN_STATUSES,
    answer_query,
    arg,
    edit_text,
    is_triage_admin,
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
from bot.models import utcnow
from bot.telegram.callbacks import Callback
from bot.telegram.cards import render_card
from bot.telegram.keyboards import (
    bind_request_keyboard,
)
from bot.telegram.messages import render_help, render_queue, render_status
from bot.usecases import Refused

log = logging.getLogger(__name__)


async def on_start(update: Update, context: KemalaContext) -> None:
    msg, user = update.effective_message, update.effective_user
    if msg is None:
        return
    payload = (context.args or [""])[0]
    if user is not None and msg.chat.type == ChatType.PRIVATE and payload.startswith(LINK_PAYLOAD):
        # The admin pressed Start on the deep link /hubungkan left in the group: re-check, then mint.
        await _code_in_private(context, msg, user, payload.removeprefix(LINK_PAYLOAD))
        return
    await context.svc.pacer.before_send(msg.chat.id)
    await msg.reply_text(render_help(context.svc.lang), parse_mode=ParseMode.HTML)


async def on_queue(update: Update, context: KemalaContext) -> None:
    msg = update.effective_message
    if msg is None:
        return
    svc = context.svc
    rows = await queries.queue_of_chat(svc.sessions, msg.chat.id)
    if rows is None:
        await reply(context, msg, t("bind.unbound", svc.lang))
        return
    text = render_queue(rows, now=utcnow(), lang=svc.lang)
    await svc.pacer.before_send(msg.chat.id)
    await msg.reply_text(text, parse_mode=ParseMode.HTML)


async def on_status(update: Update, context: KemalaContext) -> None:
    """/status: what is stuck, for the provincial triage group only (it names every agency's troubles)."""
    msg = update.effective_message
    if msg is None:
        return
    svc = context.svc
    if msg.chat.id != await triage_chat_id(svc):
        await reply(context, msg, t("desk_status.only_triage", svc.lang))
        return
    text = render_status(await queries.stuck_report(svc.sessions, utcnow()), lang=svc.lang)
    await svc.pacer.before_send(msg.chat.id)
    await msg.reply_text(text, parse_mode=ParseMode.HTML)


async def on_search(update: Update, context: KemalaContext) -> None:
    msg = update.effective_message
    if msg is None:
        return
    svc = context.svc
    raw = arg(context).lstrip("#")
    if not raw.isdigit():
        await reply(context, msg, t("search.usage", svc.lang))
        return
    view = await queries.card_for_search(svc.sessions, chat_id=msg.chat.id, complaint_id=int(raw),
                                   desk_username=svc.desk_username)
    if view is None:
        await reply(context, msg, t("alert.not_found", svc.lang, number=raw))
        return
    text = render_card(view, now=utcnow(), lang=svc.lang, tz=svc.settings.tz,
                       mask_personal=svc.settings.mask_personal_data)
    await svc.pacer.before_send(msg.chat.id)
    await msg.reply_text(text, parse_mode=ParseMode.HTML, disable_web_page_preview=True)


# The deep-link payload names the agency, never the code: the code is minted only after Start, for a
# user re-checked as a triage admin. Telegram allows [A-Za-z0-9_-]{1,64}; agency codes are [a-z0-9-].
LINK_PAYLOAD = "hubungkan_"


async def _mint_code(context: KemalaContext, msg: Message, user: User, code: str) -> str | None:
    """A one-time code for the agency, or None after telling the user why not (not an admin, bad code)."""
    svc = context.svc
    if not await is_triage_admin(context, user.id):
        await record_refusal(svc, None, user, "alert.not_admin", command="hubungkan")
        await reply(context, msg, t("alert.not_admin", svc.lang))
        return None
    try:
        return await uc.create_bind_code(svc.sessions, agency_code=code, staff=staff_of(user))
    except Refused as r:
        await record_refusal(svc, None, user, r.key, command="hubungkan", agency=code[:40])
        if r.key == "bind.triage_config":
            await reply(context, msg, t("bind.triage_config", svc.lang))
        else:
            await reply(context, msg, t("bind.unknown", svc.lang, code=code, examples="dpubmck, dinkes, disdikbud"))
        return None


async def _code_in_private(context: KemalaContext, msg: Message, user: User, code: str) -> None:
    one_time = await _mint_code(context, msg, user, code)
    if one_time is not None:
        await reply(context, msg, t("bind.code_private", context.svc.lang, agency=await short_name(context.svc, code),
                                     code=one_time))


async def on_link(update: Update, context: KemalaContext) -> None:
    """/hubungkan <agency>: a triage admin gets a one-time code in a private chat (never in the group)."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    code = arg(context).lower()
    if not code:
        await reply(context, msg, t("bind.usage", svc.lang, example="dpubmck"))
        return
    if msg.chat.type == ChatType.PRIVATE:
        await _code_in_private(context, msg, user, code)
        return
    one_time = await _mint_code(context, msg, user, code)
    if one_time is None:
        return
    agency = await short_name(svc, code)
    name = user.full_name or str(user.id)
    try:
        await svc.pacer.before_send(user.id)
        await context.bot.send_message(user.id, t("bind.code_private", svc.lang, agency=agency, code=one_time))
    except (Forbidden, BadRequest) as e:
        # Never started the bot (403 "bot can't initiate conversation"), or blocked it: the code nobody
        # saw is voided, and the group gets a link that opens the private chat instead.
        log.info("bind code for %s not delivered privately to %s: %s", code, user.id, e.message)
        await uc.revoke_bind_code(svc.sessions, code=one_time)
        link = f"https://t.me/{svc.bot_username}?start={LINK_PAYLOAD}{code}"
        await reply(context, msg, t("bind.code_link", svc.lang, name=name, agency=agency, link=link))
        return
    await reply(context, msg, t("bind.code_sent", svc.lang, agency=agency, name=name))


async def on_bind(update: Update, context: KemalaContext) -> None:
    """/bind <code> in an agency group, by one of its administrators."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    if msg.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await reply(context, msg, t("bind.private", svc.lang))
        return
    code = arg(context)
    if not code:
        await reply(context, msg, t("bind.bind_usage", svc.lang))
        return
    if await member_status(context, msg.chat.id, user.id) not in ADMIN_STATUSES:
        await record_refusal(svc, None, user, "bind.not_admin")
        await reply(context, msg, t("bind.not_admin", svc.lang))
        return
    try:
        result = await uc.use_bind_code(svc.sessions, code=code, chat_id=msg.chat.id, title=msg.chat.title,
                                        staff=staff_of(user))
    except Refused as r:
        await record_refusal(svc, None, user, r.key)
        await reply(context, msg, refusal_text(svc, r))
        return
    name = user.full_name or str(user.id)
    group = msg.chat.title or str(msg.chat.id)
    if result.pending:
        await _ask_triage(context, result, name=name, group=group)
        await reply(context, msg, t("bind.pending", svc.lang, agency=result.agency_name))
        return
    await reply(context, msg, t("bind.ok", svc.lang, agency=result.agency_name))
    await uc.alert_triage(svc.sessions, svc.x.alerted, f"bind:{result.request_id}",
                          t("bind.announce", svc.lang, group=group, chat_id=msg.chat.id, agency=result.agency_name,
                            name=name))
    kick_sweeps(context)


async def _ask_triage(context: KemalaContext, result: uc.BindResult, *, name: str, group: str) -> None:
    """Post the held re-bind in the triage group with Setujui/Tolak."""
    svc = context.svc
    triage = await triage_chat_id(svc)
    text = t("bind.request", svc.lang, agency=result.agency_name, old=result.old_title or str(result.old_chat_id),
             group=group, chat_id=result.chat_id, name=name)
    if triage is None:
        log.error("re-bind request %s for %s cannot be shown: no triage group configured", result.request_id,
                  result.agency)
        return
    try:
        await svc.pacer.before_send(triage)
        await context.bot.send_message(triage, text, reply_markup=bind_request_keyboard(result.request_id, svc.lang))
    except TelegramError as e:
        log.warning("could not post re-bind request %s in the triage group: %s", result.request_id, e)


async def on_bind_decision(context: KemalaContext, q: Any, cb: Callback, msg: Message, user: User) -> None:
    """Setujui/Tolak on a held re-bind: only a triage admin, only in the triage group."""
    svc = context.svc
    try:
        if msg.chat.id != await triage_chat_id(svc) or cb.arg not in ("ok", "no"):
            raise Refused("alert.invalid")
        if not await is_triage_admin(context, user.id):
            raise Refused("alert.not_admin")
        approve = cb.arg == "ok"
        result = await uc.decide_bind(svc.sessions, request_id=cb.complaint_id, approve=approve, staff=staff_of(user))
    except Refused as r:
        log.info("refused bind decision on request %s by %s: %s", cb.complaint_id, user.id, r.key)
        await record_refusal(svc, None, user, r.key, act=cb.act.value, request=cb.complaint_id)
        await answer_query(svc, q, refusal_text(svc, r), alert=True)
        return
    await answer_query(svc, q, t("ok.bind_approved" if approve else "ok.bind_rejected", svc.lang))
    admin = user.full_name or str(user.id)
    group = result.title or str(result.chat_id)
    old = result.old_title or str(result.old_chat_id)
    key = "bind.approved" if approve else "bind.rejected"
    await edit_text(svc, msg, t(key, svc.lang, admin=admin, agency=result.agency_name, group=group, old=old))
    try:  # best effort: the requesting group learns the outcome
        await svc.pacer.before_send(result.chat_id)
        await context.bot.send_message(result.chat_id, t("bind.group_approved" if approve else "bind.group_rejected",
                                                         svc.lang, agency=result.agency_name))
    except TelegramError as e:
        log.warning("could not tell chat %s about the bind decision: %s", result.chat_id, e)
    if approve:
        kick_sweeps(context)
