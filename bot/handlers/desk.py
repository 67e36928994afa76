"""Thin Telegram handlers: parse → authorise → one use case → answer once → render."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import ChatMember, Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import jobs, queries
from bot import usecases as uc
from bot.domain.agencies import TRIAGE_CODE
from bot.domain.lifecycle import Status
from bot.domain.policy import ChatKind, DeskAction, Role, decide, rule_for
from bot.handlers.context import KemalaContext
from bot.i18n import t
from bot.models import CardOutbox, Complaint, utcnow
from bot.services import Services
from bot.telegram import gateway
from bot.telegram.callbacks import REASONS, Act, Callback, parse, split_reason_arg
from bot.telegram.cards import render_card
from bot.telegram.keyboards import (
    agency_picker,
    bind_request_keyboard,
    draft_keyboard,
    reason_picker,
    triage_reason_picker,
)
from bot.telegram.messages import render_draft_preview, render_help, render_queue, reply_prompt
from bot.telegram.text import short_label
from bot.usecases import Refused, Staff

log = logging.getLogger(__name__)
T = TypeVar("T")

MEMBER_STATUSES = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER}
ADMIN_STATUSES = {ChatMember.ADMINISTRATOR, ChatMember.OWNER}
# Membership is read live (getChatMember) on every press: a cached answer would let a member who
# left a moment ago still act, and one call per press is far inside Telegram's limits.
PREVIEW_ACTS = {Act.SEND, Act.EDIT, Act.CANCEL, Act.FALLBACK, Act.OUTSIDE}
VERSIONED_ACTS = {Act.REASON, Act.CHOICE, Act.TRIAGE_REASON, Act.DISMISS, Act.OUTSIDE}


def staff_of(user: User) -> Staff:
    return Staff(id=user.id, name=user.full_name[:120] or str(user.id), username=user.username)


async def member_status(context: KemalaContext, chat_id: int, user_id: int) -> str:
    """The user's status in the chat, from getChatMember ('left' when Telegram does not know them)."""
    try:
        member = await _patiently(context.svc, lambda: context.bot.get_chat_member(chat_id, user_id))
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


async def _record_refusal(svc: Services, complaint_id: int | None, user: User, key: str, **detail: Any) -> None:
    await uc.record_refusal(svc.sessions, complaint_id=complaint_id, user_id=user.id, key=key, **detail)


def _kick_sweeps(context: KemalaContext) -> None:
    """Ask the card and reply sweeps to run now instead of at their next tick (never waits for them)."""
    jq = context.job_queue
    if jq is None:
        return
    jq.run_once(_sweep_now, 0.05, name="sweep_now")


async def _sweep_now(context: Any) -> None:  # JobQueue's generic callback type; the context is ours
    svc: Services = context.bot_data.svc
    async with svc.job():
        await jobs.sweep_cards(svc, context.bot)
        await jobs.publish_replies(svc)


# --- buttons -----------------------------------------------------------------------------------------

async def on_button(update: Update, context: KemalaContext) -> None:
    q = update.callback_query
    if q is None:
        return
    svc = context.svc
    user = q.from_user
    cb = parse(q.data)
    msg = q.message if isinstance(q.message, Message) else None
    if cb is None or msg is None:
        log.info("refused button from %s: unparseable data %r", user.id, (q.data or "")[:80])
        await _record_refusal(svc, None, user, "alert.invalid", data=(q.data or "")[:64])
        await answer_query(svc, q, t("alert.invalid", svc.lang), alert=True)
        return
    if cb.act == Act.BIND:
        await _on_bind_decision(context, q, cb, msg, user)
        return
    try:
        toast = await _dispatch(context, cb, msg, user)
    except Refused as r:
        log.info("refused %s on #%s by %s: %s", cb.act.value, cb.complaint_id, user.id, r.key)
        await _record_refusal(svc, cb.complaint_id, user, r.key, act=cb.act.value)
        await answer_query(svc, q, refusal_text(svc, r, cb.complaint_id), alert=True)
        return
    await answer_query(svc, q, toast or None)


async def _patiently(svc: Services, call: Callable[[], Awaitable[T]]) -> T:
    return await gateway.patiently(svc.pacer, call)


async def answer_query(svc: Services, query: Any, text: str | None, *, alert: bool = False) -> None:
    await gateway.answer_query(svc.pacer, query, text, alert=alert)


# Wire code → what the press does in the permission policy (bot.domain.policy). Card CANCEL only closes
# a picker and BIND is routed before the card path: neither needs a rule.
ACTION_OF: dict[Act, DeskAction] = {
    Act.CLAIM: DeskAction.CLAIM,
    Act.RELEASE: DeskAction.RELEASE,
    Act.REASSIGN: DeskAction.REASSIGN, Act.PAGE: DeskAction.REASSIGN, Act.TARGET: DeskAction.REASSIGN,
    Act.BACK: DeskAction.REASSIGN, Act.REASON: DeskAction.REASSIGN,
    Act.TRIAGE: DeskAction.RETURN_TO_TRIAGE, Act.TRIAGE_REASON: DeskAction.RETURN_TO_TRIAGE,
    Act.REPLY: DeskAction.REPLY, Act.EDIT: DeskAction.REPLY,
    Act.OUTSIDE: DeskAction.ANSWER_OUTSIDE,
    Act.CHOICE: DeskAction.ROUTE_CHOICE,
    Act.DISMISS: DeskAction.DISMISS,
    Act.SEND: DeskAction.SEND, Act.FALLBACK: DeskAction.SEND,
}


@dataclass(frozen=True)
class Press:
    """One authorised press: what the act handlers need."""

    context: KemalaContext
    cb: Callback
    msg: Message
    user: User
    complaint: Complaint
    card: CardOutbox | None
    staff: Staff
    is_group_admin: bool

    @property
    def svc(self) -> Services:
        return self.context.svc


async def _dispatch(context: KemalaContext, cb: Callback, msg: Message, user: User) -> str:
    svc = context.svc
    chat_id = msg.chat.id
    target = await queries.press_target(svc.sessions, complaint_id=cb.complaint_id, chat_id=chat_id,
                                  message_id=msg.message_id)
    c, card, current = target.complaint, target.card, target.live_cards
    if c is None:
        raise Refused("alert.invalid")
    if card is not None and card.complaint_id != c.id:
        raise Refused("alert.invalid")  # forged: another complaint's id on this card
    if card is None and cb.act not in PREVIEW_ACTS:
        # A card we have no row for: one still being committed, or a second copy left by a crash
        # between a send and its commit. The bot's own text names the complaint, and that text cannot
        # be forged: its buttons act on the same complaint, through the complaint's live card here.
        if not _names_complaint(msg, c.id, context.bot.id):
            raise Refused("alert.invalid")
        card = next((r for r in current if r.chat_id == chat_id), None)
        if card is None:
            raise Refused("alert.stale")
    status = await member_status(context, chat_id, user.id)
    if status not in MEMBER_STATUSES:
        raise Refused("alert.not_member")
    if card is not None and card.superseded:
        raise Refused("alert.stale")
    if chat_id not in {r.chat_id for r in current}:
        raise Refused("alert.wrong_group", number=c.id)
    is_group_admin = status in ADMIN_STATUSES or user.id in svc.settings.admin_ids
    staff = staff_of(user)
    await uc.record_press(svc.sessions, complaint_id=c.id, user_id=user.id,
                          first_name=user.full_name or str(user.id), username=user.username, act=cb.act.value)

    act = cb.act
    action = ACTION_OF.get(act)
    if action is not None or (act == Act.CANCEL and card is None):
        await _authorise(context, action or DeskAction.DISCARD_DRAFT, c, target.triage_agency_id, user,
                         is_group_admin=is_group_admin)
    # Decisions taken on what the card showed must match its current version; the other presses
    # re-check status and ownership in their use case, so a follow-up bumping the version does not
    # turn Balas or Lepas into "out of date" until the card is re-rendered.
    if c.version != cb.version and act in VERSIONED_ACTS:
        raise Refused("alert.stale")
    press = Press(context, cb, msg, user, c, card, staff, is_group_admin)
    if act == Act.CANCEL:
        return await (_discard_draft(press) if card is None else _close_picker(press))
    handler = ACTS.get(act)
    if handler is None:
        raise Refused("alert.invalid")
    return await handler(press)


async def _authorise(context: KemalaContext, action: DeskAction, c: Complaint, triage_agency_id: int, user: User,
                     *, is_group_admin: bool) -> None:
    """The policy's decision for this press, or Refused naming the rule (triage admin is asked only when
    the rule needs it: one more getChatMember)."""
    chat = ChatKind.TRIAGE if c.agency_id is None or c.agency_id == triage_agency_id else ChatKind.AGENCY
    roles = {Role.MEMBER}
    if c.claimer_id is not None and c.claimer_id == user.id:
        roles.add(Role.OWNER)
    if is_group_admin:
        roles.add(Role.GROUP_ADMIN)
    rule = rule_for(action, chat)
    if rule is not None and Role.TRIAGE_ADMIN in rule.roles and not rule.roles & roles \
            and await is_triage_admin(context, user.id):
        roles.add(Role.TRIAGE_ADMIN)
    decision = decide(action, chat, Status(c.status), frozenset(roles), claimed=c.claimer_id is not None,
                      post_exists=not c.deleted)
    if not decision.allowed:
        raise Refused(decision.refusal or "alert.invalid", name=c.claimer_name or "-", status=c.status,
                      number=c.id)


async def _claim(p: Press) -> str:
    c = await uc.claim(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff)
    await _refresh(p.context, p.card)
    return t("ok.claimed", p.svc.lang, number=c.id)


async def _release(p: Press) -> str:
    await uc.release(p.svc.sessions, complaint_id=p.complaint.id, version=None, staff=p.staff,
                     is_admin=p.is_group_admin)
    await _refresh(p.context, p.card)
    return t("ok.released", p.svc.lang, number=p.complaint.id)


async def _open_picker(p: Press) -> str:
    c, svc = p.complaint, p.svc
    page = p.cb.int_arg() or 0 if p.cb.act == Act.PAGE else 0
    agencies = await _picker_agencies(svc, exclude=c.agency_id)
    await _edit_markup(svc, p.msg, agency_picker(c.id, c.version, agencies, page, svc.lang))
    return ""


async def _pick_target(p: Press) -> str:
    c, svc = p.complaint, p.svc
    if p.cb.arg not in {code for code, _ in await _picker_agencies(svc, exclude=c.agency_id)}:
        raise Refused("alert.invalid")
    await _edit_markup(svc, p.msg, reason_picker(c.id, c.version, p.cb.arg or "", svc.lang))
    return ""


async def _reassign_with_reason(p: Press) -> str:
    pair = split_reason_arg(p.cb.arg)
    if pair is None:
        raise Refused("alert.invalid")
    target, reason = pair
    if reason not in REASONS:
        raise Refused("alert.invalid")
    await uc.reassign(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                      target_code=target, reason=reason)
    await _refresh(p.context, p.card)
    _kick_sweeps(p.context)
    return t("ok.reassigned", p.svc.lang, number=p.complaint.id, agency=await _short(p.svc, target))


async def _route_choice(p: Press) -> str:
    await uc.reassign(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                      target_code=p.cb.arg or "", reason="triase")
    await _refresh(p.context, p.card)
    _kick_sweeps(p.context)
    return t("ok.routed", p.svc.lang, number=p.complaint.id, agency=await _short(p.svc, p.cb.arg or ""))


async def _triage_picker(p: Press) -> str:
    c = p.complaint
    await _edit_markup(p.svc, p.msg, triage_reason_picker(c.id, c.version, p.svc.lang))
    return ""


async def _return_to_triage(p: Press) -> str:
    if p.cb.arg not in REASONS:
        raise Refused("alert.invalid")
    await uc.reassign(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                      target_code=TRIAGE_CODE, reason=p.cb.arg or "lainnya")
    await _refresh(p.context, p.card)
    _kick_sweeps(p.context)
    return t("ok.triaged", p.svc.lang, number=p.complaint.id)


async def _close_picker(p: Press) -> str:
    await _refresh(p.context, p.card)
    return t("ok.cancelled", p.svc.lang)


async def _dismiss(p: Press) -> str:
    await uc.dismiss(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff)
    await _refresh(p.context, p.card)
    return t("ok.dismissed", p.svc.lang, number=p.complaint.id)


async def _answer_outside(p: Press) -> str:
    await uc.answer_outside(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                            is_admin=p.is_group_admin)
    await _refresh(p.context, p.card)
    return t("ok.outside", p.svc.lang, number=p.complaint.id)


async def _ask_reply(p: Press) -> str:
    svc, user, chat_id = p.svc, p.user, p.msg.chat.id
    c = await uc.open_prompt(svc.sessions, complaint_id=p.complaint.id, version=None, staff=p.staff)
    text, markup = reply_prompt(complaint_id=c.id, username=user.username, user_id=user.id,
                                first_name=user.first_name, lang=svc.lang)
    await svc.pacer.before_send(chat_id)
    prompt = await p.context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                              reply_to_message_id=p.msg.message_id,
                                              allow_sending_without_reply=True)
    await uc.record_prompt(svc.sessions, chat_id=chat_id, message_id=prompt.message_id, complaint_id=c.id,
                           user_id=user.id)
    return ""


async def _send(p: Press) -> str:
    draft_id = p.cb.int_arg()
    if draft_id is None:
        raise Refused("alert.invalid")
    svc, c = p.svc, p.complaint
    await uc.approve_reply(svc.sessions, complaint_id=c.id, version=p.cb.version, draft_id=draft_id, staff=p.staff,
                           is_admin=p.is_group_admin, fallback=p.cb.act == Act.FALLBACK)
    await _edit_text(svc, p.msg, t("draft.sent_preview", svc.lang, number=c.id, name=p.staff.name))
    _kick_sweeps(p.context)
    return t("ok.queued", svc.lang, number=c.id)


async def _discard_draft(p: Press) -> str:
    draft_id = _draft_of_preview(p.msg)
    if draft_id is None:
        raise Refused("alert.invalid")
    svc, c = p.svc, p.complaint
    await uc.cancel_draft(svc.sessions, complaint_id=c.id, draft_id=draft_id, staff=p.staff,
                          is_admin=p.is_group_admin)
    await _edit_text(svc, p.msg, t("draft.cancelled_preview", svc.lang, number=c.id))
    _kick_sweeps(p.context)
    return t("ok.cancelled", svc.lang)


# Wire code → the use case it runs (each opens its one transaction) and what the press answers.
ACTS: dict[Act, Callable[[Press], Awaitable[str]]] = {
    Act.CLAIM: _claim,
    Act.RELEASE: _release,
    Act.REASSIGN: _open_picker, Act.BACK: _open_picker, Act.PAGE: _open_picker,
    Act.TARGET: _pick_target,
    Act.REASON: _reassign_with_reason,
    Act.CHOICE: _route_choice,
    Act.TRIAGE: _triage_picker,
    Act.TRIAGE_REASON: _return_to_triage,
    Act.DISMISS: _dismiss,
    Act.OUTSIDE: _answer_outside,
    Act.REPLY: _ask_reply, Act.EDIT: _ask_reply,
    Act.SEND: _send, Act.FALLBACK: _send,
}


def _names_complaint(msg: Message, complaint_id: int, bot_id: int) -> bool:
    sender = msg.from_user
    return sender is not None and sender.id == bot_id and re.search(rf"#{complaint_id}\b", msg.text or "") is not None


def _draft_of_preview(msg: Message) -> int | None:
    """The draft id carried by the preview's own Kirim/fallback button (the source of truth)."""
    markup = msg.reply_markup
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            cb = parse(button.callback_data if isinstance(button.callback_data, str) else None)
            if cb is not None and cb.act in (Act.SEND, Act.FALLBACK):
                return cb.int_arg()
    return None


async def _picker_agencies(svc: Services, exclude: int | None) -> list[tuple[str, str]]:
    return [(code, short_label(short)) for code, short in await queries.picker_agencies(svc.sessions, exclude=exclude)]


async def _short(svc: Services, code: str) -> str:
    return await queries.agency_short_name(svc.sessions, code)


async def _edit_markup(svc: Services, msg: Message, markup: Any) -> None:
    try:
        await _patiently(svc, lambda: msg.edit_reply_markup(reply_markup=markup))
    except BadRequest as e:
        if "not modified" not in e.message.lower():
            raise


async def _edit_text(svc: Services, msg: Message, text: str) -> None:
    try:
        await _patiently(svc, lambda: msg.edit_text(text))
    except BadRequest as e:
        if "not modified" not in e.message.lower():
            log.warning("editing preview failed: %s", e.message)


async def _refresh(context: KemalaContext, card: CardOutbox | None) -> None:
    """Re-render the pressed card right away (other cards of the complaint follow in the sweep)."""
    if card is None:
        return
    await jobs.refresh_card(context.svc, context.bot, card.id, press=True)


# --- the reply text (answer to a ForceReply prompt) -------------------------------------------------------

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
        await _record_refusal(svc, prompt.complaint_id, user, r.key)
        await _reply(context, msg, refusal_text(svc, r, prompt.complaint_id))
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
    _kick_sweeps(context)


async def _reply(context: KemalaContext, msg: Message, text: str) -> None:
    await context.svc.pacer.before_send(msg.chat.id)
    try:
        await msg.reply_text(text, allow_sending_without_reply=True)
    except TelegramError as e:
        log.warning("could not answer in chat %s: %s", msg.chat.id, e)


# --- commands ------------------------------------------------------------------------------------------

def _arg(context: KemalaContext) -> str:
    return " ".join(context.args or []).strip()


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
        await _reply(context, msg, t("bind.unbound", svc.lang))
        return
    text = render_queue(rows, now=utcnow(), lang=svc.lang)
    await svc.pacer.before_send(msg.chat.id)
    await msg.reply_text(text, parse_mode=ParseMode.HTML)


async def on_search(update: Update, context: KemalaContext) -> None:
    msg = update.effective_message
    if msg is None:
        return
    svc = context.svc
    raw = _arg(context).lstrip("#")
    if not raw.isdigit():
        await _reply(context, msg, t("search.usage", svc.lang))
        return
    view = await queries.card_for_search(svc.sessions, chat_id=msg.chat.id, complaint_id=int(raw),
                                   desk_username=svc.desk_username)
    if view is None:
        await _reply(context, msg, t("alert.not_found", svc.lang, number=raw))
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
        await _record_refusal(svc, None, user, "alert.not_admin", command="hubungkan")
        await _reply(context, msg, t("alert.not_admin", svc.lang))
        return None
    try:
        return await uc.create_bind_code(svc.sessions, agency_code=code, staff=staff_of(user))
    except Refused as r:
        await _record_refusal(svc, None, user, r.key, command="hubungkan", agency=code[:40])
        if r.key == "bind.triage_config":
            await _reply(context, msg, t("bind.triage_config", svc.lang))
        else:
            await _reply(context, msg, t("bind.unknown", svc.lang, code=code, examples="dpubmck, dinkes, disdikbud"))
        return None


async def _code_in_private(context: KemalaContext, msg: Message, user: User, code: str) -> None:
    one_time = await _mint_code(context, msg, user, code)
    if one_time is not None:
        await _reply(context, msg, t("bind.code_private", context.svc.lang, agency=await _short(context.svc, code),
                                     code=one_time))


async def on_link(update: Update, context: KemalaContext) -> None:
    """/hubungkan <agency>: a triage admin gets a one-time code in a private chat (never in the group)."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    code = _arg(context).lower()
    if not code:
        await _reply(context, msg, t("bind.usage", svc.lang, example="dpubmck"))
        return
    if msg.chat.type == ChatType.PRIVATE:
        await _code_in_private(context, msg, user, code)
        return
    one_time = await _mint_code(context, msg, user, code)
    if one_time is None:
        return
    agency = await _short(svc, code)
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
        await _reply(context, msg, t("bind.code_link", svc.lang, name=name, agency=agency, link=link))
        return
    await _reply(context, msg, t("bind.code_sent", svc.lang, agency=agency, name=name))


async def on_bind(update: Update, context: KemalaContext) -> None:
    """/bind <code> in an agency group, by one of its administrators."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    svc = context.svc
    if msg.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await _reply(context, msg, t("bind.private", svc.lang))
        return
    code = _arg(context)
    if not code:
        await _reply(context, msg, t("bind.bind_usage", svc.lang))
        return
    if await member_status(context, msg.chat.id, user.id) not in ADMIN_STATUSES:
        await _record_refusal(svc, None, user, "bind.not_admin")
        await _reply(context, msg, t("bind.not_admin", svc.lang))
        return
    try:
        result = await uc.use_bind_code(svc.sessions, code=code, chat_id=msg.chat.id, title=msg.chat.title,
                                        staff=staff_of(user))
    except Refused as r:
        await _record_refusal(svc, None, user, r.key)
        await _reply(context, msg, refusal_text(svc, r))
        return
    name = user.full_name or str(user.id)
    group = msg.chat.title or str(msg.chat.id)
    if result.pending:
        await _ask_triage(context, result, name=name, group=group)
        await _reply(context, msg, t("bind.pending", svc.lang, agency=result.agency_name))
        return
    await _reply(context, msg, t("bind.ok", svc.lang, agency=result.agency_name))
    await uc.alert_triage(svc.sessions, svc.x.alerted, f"bind:{result.request_id}",
                          t("bind.announce", svc.lang, group=group, chat_id=msg.chat.id, agency=result.agency_name,
                            name=name))
    _kick_sweeps(context)


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


async def _on_bind_decision(context: KemalaContext, q: Any, cb: Callback, msg: Message, user: User) -> None:
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
        await _record_refusal(svc, None, user, r.key, act=cb.act.value, request=cb.complaint_id)
        await answer_query(svc, q, refusal_text(svc, r), alert=True)
        return
    await answer_query(svc, q, t("ok.bind_approved" if approve else "ok.bind_rejected", svc.lang))
    admin = user.full_name or str(user.id)
    group = result.title or str(result.chat_id)
    old = result.old_title or str(result.old_chat_id)
    key = "bind.approved" if approve else "bind.rejected"
    await _edit_text(svc, msg, t(key, svc.lang, admin=admin, agency=result.agency_name, group=group, old=old))
    try:  # best effort: the requesting group learns the outcome
        await svc.pacer.before_send(result.chat_id)
        await context.bot.send_message(result.chat_id, t("bind.group_approved" if approve else "bind.group_rejected",
                                                         svc.lang, agency=result.agency_name))
    except TelegramError as e:
        log.warning("could not tell chat %s about the bind decision: %s", result.chat_id, e)
    if approve:
        _kick_sweeps(context)


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
