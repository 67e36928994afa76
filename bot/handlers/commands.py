"""Commands: /start /bantuan, /antrian, /cari, /hubungkan and /bind."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import queries
from bot import usecases as uc
from bot.directory import DirectoryError
from bot.domain.agencies import TRIAGE_CODE
from bot.handlers.common import (
    ADMIN_STATUSES,
    MEMBER_STATUSES,
    answer_query,
    arg,
    edit_markup,
    edit_text,
    is_triage_admin,
    kick_sweeps,
    member_status,
    picker_agencies,
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
from bot.services import Services
from bot.telegram.callbacks import MAX_ID, Callback
from bot.telegram.keyboards import bind_request_keyboard, register_picker, search_results
from bot.telegram.messages import render_help, render_notes, render_queue, render_search, render_status
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
    await msg.reply_text(await _help_here(context.svc, msg), parse_mode=ParseMode.HTML)


async def _help_here(svc: Services, msg: Message) -> str:
    """/bantuan names what works in this chat: the triage group, an agency's group, a group not yet
    linked, or a private chat."""
    if msg.chat.type == ChatType.PRIVATE:
        return render_help("private", lang=svc.lang)
    if msg.chat.id == await triage_chat_id(svc):
        return render_help("triage", lang=svc.lang)
    bound = await queries.chat_binding(svc.sessions, msg.chat.id)
    if bound is None or bound[0] == TRIAGE_CODE:
        return render_help("unbound", lang=svc.lang)
    return render_help("agency", lang=svc.lang, agency=bound[1])


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


_NUMBER_RE = re.compile(r"#?([0-9]{1,10})")
_HANDLE_RE = re.compile(r"@([A-Za-z0-9_]{1,15})")
MAX_QUERY_CHARS = 100


async def on_search(update: Update, context: KemalaContext) -> None:
    """/cari by number (posts the card here, with this chat's buttons, and lists its notes), by @handle,
    or by words in the text or the place (results as buttons that post the card here)."""
    msg = update.effective_message
    if msg is None:
        return
    svc = context.svc
    raw = " ".join(arg(context).split())
    if not raw:
        await reply(context, msg, t("search.usage", svc.lang))
        return
    if len(raw) > MAX_QUERY_CHARS:
        raw = raw[:MAX_QUERY_CHARS]
    number_m, handle_m = _NUMBER_RE.fullmatch(raw), _HANDLE_RE.fullmatch(raw)
    if number_m is not None:
        if int(number_m[1]) > MAX_ID or int(number_m[1]) == 0:
            await reply(context, msg, t("alert.not_found", svc.lang, number=raw.lstrip("#")))
            return
        await _search_number(context, msg, int(number_m[1]))
        return
    if raw.startswith("#") and raw[1:].strip().isdigit():  # "#²", "#١٢": digits, but not ours
        await reply(context, msg, t("search.bad", svc.lang, query=raw[:20]))
        return
    words = tuple(w for w in re.split(r"\s+", raw.lower()) if len(w) >= 2)[:6]
    result = await queries.search_complaints(svc.sessions, chat_id=msg.chat.id,
                                             handle=handle_m[1] if handle_m else None,
                                             words=() if handle_m else words)
    if not result.bound:
        await reply(context, msg, t("search.unbound", svc.lang))
        return
    if not handle_m and not words:
        await reply(context, msg, t("search.usage", svc.lang))
        return
    if not result.hits:
        await reply(context, msg, t("search.none", svc.lang, query=raw))
        return
    text = render_search(result, query=raw, lang=svc.lang, mask_personal=svc.settings.mask_personal_data)
    buttons = search_results([(h.number, h.text) for h in result.hits], svc.lang)
    await svc.pacer.before_send(msg.chat.id)
    await msg.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=buttons, disable_web_page_preview=True)


async def _search_number(context: KemalaContext, msg: Message, number: int) -> None:
    svc = context.svc
    result = await queries.search_complaints(svc.sessions, chat_id=msg.chat.id, number=number)
    if not result.bound:
        await reply(context, msg, t("search.unbound", svc.lang))
        return
    if result.number_elsewhere:
        await reply(context, msg, t("search.here_only", svc.lang, number=number))
        return
    if not result.hits:
        await reply(context, msg, t("alert.not_found", svc.lang, number=number))
        return
    await _repost(context, msg.chat.id, number)
    notes = await queries.notes_of(svc.sessions, number)
    if notes:
        await reply(context, msg, render_notes(number, notes, lang=svc.lang, tz=svc.settings.tz))


async def _repost(context: KemalaContext, chat_id: int, number: int) -> None:
    """The card goes out through the outbox (sent once, kept in step like any card)."""
    await uc.repost_card(context.svc.sessions, complaint_id=number, chat_id=chat_id)
    kick_sweeps(context)


async def on_show(context: KemalaContext, q: Any, cb: Callback, msg: Message, user: User) -> None:
    """A search result's button: post that card here, for a member of this chat."""
    svc = context.svc
    try:
        if await member_status(context, msg.chat.id, user.id) not in MEMBER_STATUSES:
            raise Refused("alert.not_member")
        await _repost(context, msg.chat.id, cb.complaint_id)
    except Refused as r:
        await record_refusal(svc, cb.complaint_id, user, r.key, act=cb.act.value)
        await answer_query(svc, q, refusal_text(svc, r, cb.complaint_id), alert=True)
        return
    await answer_query(svc, q, t("ok.reposted", svc.lang, number=cb.complaint_id))


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


async def _group_admin(context: KemalaContext, msg: Message, user: User, *, command: str) -> bool:
    """Linking a group is its administrators' act, in the group itself; False after saying why not."""
    svc = context.svc
    if msg.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await reply(context, msg, t("bind.private", svc.lang))
        return False
    if await member_status(context, msg.chat.id, user.id) not in ADMIN_STATUSES:
        await record_refusal(svc, None, user, "bind.not_admin", command=command)
        await reply(context, msg, t("bind.not_admin", svc.lang))
        return False
    return True


async def on_bind(update: Update, context: KemalaContext) -> None:
    """/bind <code> in an agency group, by one of its administrators."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    if not await _group_admin(context, msg, user, command="bind"):
        return
    code = arg(context)
    if not code:
        await reply(context, msg, t("bind.bind_usage", svc.lang))
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
    if result.old_chat_id is None:  # a first link (/daftar), not a move from another group
        key = "daftar.approved" if approve else "daftar.rejected"
    else:
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


async def on_daftar(update: Update, context: KemalaContext) -> None:
    """/daftar [kode]: a group's administrator asks triage to link this group to an agency; without a code
    the agencies come as buttons."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    if not await _group_admin(context, msg, user, command="daftar"):
        return
    code = arg(context).lower()
    if not code:
        if msg.chat.id == await triage_chat_id(svc):
            await reply(context, msg, t("daftar.triage", svc.lang))
            return
        agencies = await picker_agencies(svc, exclude=None)
        await svc.pacer.before_send(msg.chat.id)
        await msg.reply_text(t("daftar.usage", svc.lang), reply_markup=register_picker(agencies, 0, svc.lang))
        return
    await _request_bind(context, msg, user, code)


async def _request_bind(context: KemalaContext, msg: Message, user: User, code: str) -> bool:
    """Store the request and post it in the triage group; False after telling the group why not."""
    svc = context.svc
    triage = await triage_chat_id(svc)
    if msg.chat.id == triage:
        await reply(context, msg, t("daftar.triage", svc.lang))
        return False
    if triage is None:
        await reply(context, msg, t("daftar.no_triage", svc.lang))
        return False
    try:
        result = await uc.request_bind(svc.sessions, agency_code=code, chat_id=msg.chat.id, title=msg.chat.title,
                                       staff=staff_of(user))
    except Refused as r:
        await record_refusal(svc, None, user, r.key, command="daftar", agency=code[:40])
        await reply(context, msg, refusal_text(svc, r))
        return False
    admin = f"@{user.username}" if user.username else (user.full_name or str(user.id))
    current = ("" if result.old_chat_id is None else
               t("daftar.request_current", svc.lang, agency=result.agency_name,
                 old=result.old_title or str(result.old_chat_id)))
    text = t("daftar.request", svc.lang, group=msg.chat.title or str(msg.chat.id), admin=admin,
             agency=result.agency_name, current=current)
    try:
        await svc.pacer.before_send(triage)
        await context.bot.send_message(triage, text, reply_markup=bind_request_keyboard(result.request_id, svc.lang))
    except TelegramError as e:
        log.warning("could not post bind request %s in the triage group: %s", result.request_id, e)
    await reply(context, msg, t("daftar.sent", svc.lang, agency=result.agency_name))
    return True


async def on_register_pick(context: KemalaContext, q: Any, cb: Callback, msg: Message, user: User) -> None:
    """A /daftar button: turn the page, or ask for the agency picked (group admins only)."""
    svc = context.svc
    if await member_status(context, msg.chat.id, user.id) not in ADMIN_STATUSES:
        await record_refusal(svc, None, user, "alert.not_admin", act=cb.act.value)
        await answer_query(svc, q, t("alert.not_admin", svc.lang), alert=True)
        return
    agencies = await picker_agencies(svc, exclude=None)
    if cb.arg == "halaman" or not cb.arg:
        await answer_query(svc, q, None)
        await edit_markup(svc, msg, register_picker(agencies, cb.complaint_id - 1, svc.lang))
        return
    if cb.arg not in {code for code, _ in agencies}:
        await answer_query(svc, q, t("alert.invalid", svc.lang), alert=True)
        return
    await answer_query(svc, q, None)
    if await _request_bind(context, msg, user, cb.arg):
        await edit_markup(svc, msg, None)


async def on_unbind(update: Update, context: KemalaContext) -> None:
    """/lepas <kode>: a triage admin, in the triage group, takes an agency's group away (its cards wait)."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    if msg.chat.id != await triage_chat_id(svc) or not await is_triage_admin(context, user.id):
        await record_refusal(svc, None, user, "alert.not_triage_admin", command="lepas")
        await reply(context, msg, t("alert.not_triage_admin", svc.lang))
        return
    code = arg(context).lower()
    if not code:
        await reply(context, msg, t("unbind.usage", svc.lang))
        return
    try:
        chat_id, parked = await uc.unbind_chat(svc.sessions, code=code, actor=staff_of(user).actor)
    except DirectoryError:
        await reply(context, msg, t("unbind.none", svc.lang, code=code[:40]))
        return
    agency = await short_name(svc, code)
    await reply(context, msg, t("unbind.ok", svc.lang, agency=agency, n=parked))
    try:  # best effort: the group learns it is no longer linked
        await svc.pacer.before_send(chat_id)
        await context.bot.send_message(chat_id, t("unbind.group", svc.lang, agency=agency))
    except TelegramError as e:
        log.info("could not tell chat %s it was unbound: %s", chat_id, e)
