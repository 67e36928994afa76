"""Button presses: parse → authorise (the permission policy) → one use case → answer once → render."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Message, Update, User
from telegram.constants import ParseMode

from bot import queries
from bot import usecases as uc
from bot.domain.agencies import TRIAGE_CODE
from bot.domain.lifecycle import Status
from bot.domain.policy import ChatKind, DeskAction, Role, decide, rule_for
from bot.handlers.commands import on_bind_decision, on_register_pick, on_show
from bot.handlers.common import (
    ADMIN_STATUSES,
    MEMBER_STATUSES,
    answer_query,
    edit_markup,
    edit_text,
    is_triage_admin,
    kick_sweeps,
    member_status,
    picker_agencies,
    record_refusal,
    refresh,
    refusal_text,
    reply_prompt_for_reason,
    short_name,
    staff_of,
    triage_chat_id,
)
from bot.handlers.context import KemalaContext
from bot.i18n import t
from bot.models import CardOutbox, Complaint
from bot.queries import forward_destinations
from bot.services import Services
from bot.telegram.callbacks import (
    DISMISS_REASONS,
    OTHER_REASON,
    REASONS,
    Act,
    Callback,
    parse,
    split_reason_arg,
    split_send_arg,
)
from bot.telegram.cards import _reason_label
from bot.telegram.keyboards import (
    agency_picker,
    dismiss_picker,
    reason_picker,
    triage_reason_picker,
)
from bot.telegram.messages import reply_prompt
from bot.usecases import Refused, Staff

log = logging.getLogger(__name__)


# Membership is read live (getChatMember) on every press: a cached answer would let a member who
# left a moment ago still act, and one call per press is far inside Telegram's limits.
PREVIEW_ACTS = {Act.SEND, Act.EDIT, Act.CANCEL, Act.FALLBACK, Act.OUTSIDE}


VERSIONED_ACTS = {Act.REASON, Act.CHOICE, Act.TRIAGE_REASON, Act.DISMISS_REASON, Act.OUTSIDE, Act.FORWARD,
                  Act.UNDISMISS}


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
        await record_refusal(svc, None, user, "alert.invalid", data=(q.data or "")[:64])
        await answer_query(svc, q, t("alert.invalid", svc.lang), alert=True)
        return
    if cb.act == Act.BIND:
        await on_bind_decision(context, q, cb, msg, user)
        return
    if cb.act == Act.REGISTER:
        await on_register_pick(context, q, cb, msg, user)
        return
    if cb.act == Act.SHOW:
        await on_show(context, q, cb, msg, user)
        return
    try:
        toast = await _dispatch(context, cb, msg, user)
    except Refused as r:
        log.info("refused %s on #%s by %s: %s", cb.act.value, cb.complaint_id, user.id, r.key)
        await record_refusal(svc, cb.complaint_id, user, r.key, act=cb.act.value)
        await answer_query(svc, q, refusal_text(svc, r, cb.complaint_id), alert=True)
        return
    await answer_query(svc, q, toast or None)


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
    Act.DISMISS: DeskAction.DISMISS, Act.DISMISS_REASON: DeskAction.DISMISS,
    Act.UNDISMISS: DeskAction.UNDISMISS,
    Act.FORWARD: DeskAction.FORWARD, Act.FORWARD_MENU: DeskAction.FORWARD,
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
    chat: ChatKind

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
    # Which rules apply is decided by where the press is: triage's copy of an agency's card (posted by
    # /cari in the triage group) gets the triage buttons and rules.
    chat = ChatKind.TRIAGE if chat_id == await triage_chat_id(svc) else ChatKind.AGENCY
    await uc.record_press(svc.sessions, complaint_id=c.id, user_id=user.id,
                          first_name=user.full_name or str(user.id), username=user.username, act=cb.act.value)

    act = cb.act
    action = ACTION_OF.get(act)
    if action is not None or (act == Act.CANCEL and card is None):
        await authorise(context, action or DeskAction.DISCARD_DRAFT, c, chat, user, is_group_admin=is_group_admin)
    # Decisions taken on what the card showed must match its current version; the other presses
    # re-check status and ownership in their use case, so a follow-up bumping the version does not
    # turn Balas or Lepas into "out of date" until the card is re-rendered.
    if c.version != cb.version and act in VERSIONED_ACTS:
        await refresh(context, card)  # the press meets the card as it is now, then can press again
        raise Refused("alert.stale")
    press = Press(context, cb, msg, user, c, card, staff, is_group_admin, chat)
    if act == Act.CANCEL:
        return await (_discard_draft(press) if card is None else _close_picker(press))
    handler = ACTS.get(act)
    if handler is None:
        raise Refused("alert.invalid")
    return await handler(press)


async def authorise(context: KemalaContext, action: DeskAction, c: Complaint, chat: ChatKind, user: User,
                     *, is_group_admin: bool) -> None:
    """The policy's decision for this press, or Refused naming the rule (triage admin is asked only when
    the rule needs it: one more getChatMember)."""
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
    await refresh(p.context, p.card)
    return t("ok.claimed", p.svc.lang, number=c.id)


async def _release(p: Press) -> str:
    await uc.release(p.svc.sessions, complaint_id=p.complaint.id, version=None, staff=p.staff,
                     is_admin=p.is_group_admin)
    await refresh(p.context, p.card)
    return t("ok.released", p.svc.lang, number=p.complaint.id)


async def _open_picker(p: Press) -> str:
    c, svc = p.complaint, p.svc
    page = p.cb.int_arg() or 0 if p.cb.act == Act.PAGE else 0
    agencies = await picker_agencies(svc, exclude=c.agency_id)
    await edit_markup(svc, p.msg, agency_picker(c.id, c.version, agencies, page, svc.lang))
    return ""


async def _pick_target(p: Press) -> str:
    c, svc = p.complaint, p.svc
    if p.cb.arg not in {code for code, _ in await picker_agencies(svc, exclude=c.agency_id)}:
        raise Refused("alert.invalid")
    await edit_markup(svc, p.msg, reason_picker(c.id, c.version, p.cb.arg or "", svc.lang))
    return ""


async def _reassign_with_reason(p: Press) -> str:
    pair = split_reason_arg(p.cb.arg)
    if pair is None:
        raise Refused("alert.invalid")
    target, reason = pair
    if reason not in REASONS:
        raise Refused("alert.invalid")
    if target not in {code for code, _ in await picker_agencies(p.svc, exclude=p.complaint.agency_id)}:
        raise Refused("alert.invalid")
    if reason == OTHER_REASON:
        return await _ask_reason(p, {"act": "reassign", "target": target},
                                 t("what.reassign", p.svc.lang, agency=await short_name(p.svc, target)))
    await uc.reassign(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                      target_code=target, reason=reason, shown_reason=_reason_label(reason, p.svc.lang))
    await refresh(p.context, p.card)
    kick_sweeps(p.context)
    return t("ok.reassigned", p.svc.lang, number=p.complaint.id, agency=await short_name(p.svc, target))


async def _route_choice(p: Press) -> str:
    await uc.reassign(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                      target_code=p.cb.arg or "", reason="triase", shown_reason=_reason_label("triase", p.svc.lang))
    await refresh(p.context, p.card)
    kick_sweeps(p.context)
    return t("ok.routed", p.svc.lang, number=p.complaint.id, agency=await short_name(p.svc, p.cb.arg or ""))


async def _triage_picker(p: Press) -> str:
    c = p.complaint
    await edit_markup(p.svc, p.msg, triage_reason_picker(c.id, c.version, p.svc.lang))
    return ""


async def _return_to_triage(p: Press) -> str:
    if p.cb.arg not in REASONS:
        raise Refused("alert.invalid")
    if p.cb.arg == OTHER_REASON:
        return await _ask_reason(p, {"act": "return"}, t("what.return", p.svc.lang))
    await uc.reassign(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                      target_code=TRIAGE_CODE, reason=p.cb.arg or "lainnya",
                      shown_reason=_reason_label(p.cb.arg or "lainnya", p.svc.lang))
    await refresh(p.context, p.card)
    kick_sweeps(p.context)
    return t("ok.triaged", p.svc.lang, number=p.complaint.id)


async def _close_picker(p: Press) -> str:
    await refresh(p.context, p.card)
    return t("ok.cancelled", p.svc.lang)


async def _dismiss_picker(p: Press) -> str:
    """"Abaikan" asks once: each reason is the confirmation."""
    c = p.complaint
    await edit_markup(p.svc, p.msg, dismiss_picker(c.id, c.version, p.svc.lang))
    return t("picker.dismiss", p.svc.lang, number=c.id)


async def _dismiss(p: Press) -> str:
    if p.cb.arg not in DISMISS_REASONS:
        raise Refused("alert.invalid")
    if p.cb.arg == OTHER_REASON:
        return await _ask_reason(p, {"act": "dismiss"}, t("what.dismiss", p.svc.lang))
    await uc.dismiss(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                     reason=p.cb.arg or "spam")
    await refresh(p.context, p.card)
    return t("ok.dismissed", p.svc.lang, number=p.complaint.id)


async def _undismiss(p: Press) -> str:
    await uc.undismiss(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff)
    await refresh(p.context, p.card)
    return t("ok.undismissed", p.svc.lang, number=p.complaint.id)


async def _forward_picker(p: Press) -> str:
    c, svc = p.complaint, p.svc
    page = p.cb.int_arg() or 0
    places = await forward_destinations(svc.sessions, first=c.routing_destination)
    await edit_markup(svc, p.msg, agency_picker(c.id, c.version, places, page, svc.lang, pick=Act.FORWARD,
                                                turn=Act.FORWARD_MENU, other=True))
    return t("picker.forward", svc.lang, number=c.id)


async def _forward(p: Press) -> str:
    c, svc = p.complaint, p.svc
    if p.cb.arg == OTHER_REASON:
        return await _ask_reason(p, {"act": "forward"}, t("what.forward", svc.lang, agency="…"))
    if p.cb.arg not in {code for code, _ in await forward_destinations(svc.sessions, first=None)}:
        raise Refused("alert.forward_not_destination")
    return await forward_to(p.context, p.card, c.id, p.cb.version, p.staff, code=p.cb.arg, written=None)


async def forward_to(context: KemalaContext, card: CardOutbox | None, complaint_id: int, version: int | None,
                     staff: Staff, *, code: str | None, written: str | None) -> str:
    """Forward (a destination from the directory, or one written by staff) and say so."""
    svc = context.svc

    def citizen_text(name: str, handle: str | None) -> str:
        extra = t("forward.citizen_handle", svc.lang, handle=handle) if handle else ""
        return t("forward.citizen", svc.lang, who=name, handle=extra)

    done = await uc.forward(svc.sessions, complaint_id=complaint_id, version=version, staff=staff,
                            destination_code=code, written=written, citizen_text=citizen_text)
    await refresh(context, card)
    kick_sweeps(context)
    return t("ok.forwarded", svc.lang, number=complaint_id, who=done.destination)


async def _ask_reason(p: Press, detail: dict[str, str], what: str) -> str:
    """"Lainnya…": ask for the reason in the staff member's own words (a ForceReply prompt)."""
    await reply_prompt_for_reason(p.context, p.msg, p.user, p.complaint.id, detail, what)
    await refresh(p.context, p.card)  # the picker closes; the card shows its buttons again
    return ""


async def _answer_outside(p: Press) -> str:
    await uc.answer_outside(p.svc.sessions, complaint_id=p.complaint.id, version=p.cb.version, staff=p.staff,
                            is_admin=p.is_group_admin)
    await refresh(p.context, p.card)
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
    # Kirim names the draft and, on a preview drawn again after a follow-up, the post to answer under.
    parsed = split_send_arg(p.cb.arg) if p.cb.act == Act.SEND else (p.cb.int_arg(), None)
    draft_id, target = parsed if parsed is not None else (None, None)
    if draft_id is None:
        raise Refused("alert.invalid")
    svc, c = p.svc, p.complaint
    await uc.approve_reply(svc.sessions, complaint_id=c.id, draft_id=draft_id, staff=p.staff,
                           is_admin=p.is_group_admin, fallback=p.cb.act == Act.FALLBACK, target=target)
    await edit_text(svc, p.msg, t("draft.sent_preview", svc.lang, number=c.id, name=p.staff.name))
    kick_sweeps(p.context)
    return t("ok.queued", svc.lang, number=c.id)


async def _discard_draft(p: Press) -> str:
    draft_id = _draft_of_preview(p.msg)
    if draft_id is None:
        raise Refused("alert.invalid")
    svc, c = p.svc, p.complaint
    await uc.cancel_draft(svc.sessions, complaint_id=c.id, draft_id=draft_id, staff=p.staff,
                          is_admin=p.is_group_admin)
    await edit_text(svc, p.msg, t("draft.cancelled_preview", svc.lang, number=c.id))
    kick_sweeps(p.context)
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
    Act.DISMISS: _dismiss_picker, Act.DISMISS_REASON: _dismiss,
    Act.UNDISMISS: _undismiss,
    Act.FORWARD_MENU: _forward_picker, Act.FORWARD: _forward,
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
            if cb is not None and cb.act == Act.FALLBACK:
                return cb.int_arg()
            if cb is not None and cb.act == Act.SEND:
                parsed = split_send_arg(cb.arg)
                return parsed[0] if parsed is not None else None
    return None
