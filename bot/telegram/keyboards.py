"""Inline keyboards: a card's buttons come from the permission policy (bot.domain.policy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain.lifecycle import UNDO_DISMISS_DAYS, Status
from bot.domain.policy import ChatKind, DeskAction, offered
from bot.i18n import Lang, t
from bot.queries import CardView
from bot.telegram.callbacks import (
    DISMISS_REASONS,
    OTHER_REASON,
    REASONS,
    Act,
    Callback,
    _button,
    reason_arg,
    send_arg,
)
from bot.telegram.cards import _pct, _reason_label
from bot.telegram.text import clip_utf16, short_label, strip_bidi

# Button order per card (buttons the policy does not offer in the card's status are left out).
_LABELS: dict[DeskAction, tuple[str, Act]] = {
    DeskAction.CLAIM: ("btn.claim", Act.CLAIM),
    DeskAction.REASSIGN: ("btn.reassign", Act.REASSIGN),
    DeskAction.RETURN_TO_TRIAGE: ("btn.triage", Act.TRIAGE),
    DeskAction.REPLY: ("btn.reply", Act.REPLY),
    DeskAction.RELEASE: ("btn.release", Act.RELEASE),
    DeskAction.ANSWER_OUTSIDE: ("btn.outside", Act.OUTSIDE),
    DeskAction.DISMISS: ("btn.dismiss", Act.DISMISS),
    DeskAction.FORWARD: ("btn.forward_other", Act.FORWARD_MENU),
}
Layout = tuple[tuple[DeskAction, ...], ...]
_UNCLAIMED_ROWS: Layout = ((DeskAction.CLAIM, DeskAction.RETURN_TO_TRIAGE),)
_CLAIMED_ROWS: Layout = ((DeskAction.REPLY, DeskAction.RELEASE), (DeskAction.RETURN_TO_TRIAGE,),
                 (DeskAction.ANSWER_OUTSIDE,))
_TRIAGE_ROWS: Layout = ((DeskAction.REASSIGN, DeskAction.FORWARD), (DeskAction.DISMISS,))
# Shown under a candidate one-tap choice: below this it is noise ("BKD · 0%" for a landfill).
MIN_CHOICE_SCORE = 0.05


def chat_kind_of(view: CardView) -> ChatKind:
    return ChatKind.TRIAGE if view.is_triage_card else ChatKind.AGENCY


def card_keyboard(view: CardView, lang: Lang = Lang.ID, *, now: datetime | None = None) -> InlineKeyboardMarkup | None:
    """The card's buttons: exactly those the permission policy offers in its status and chat."""
    cid, ver = view.complaint_id, view.version
    chat, status = chat_kind_of(view), Status(view.status)
    if (status is Status.DISMISSED and chat is ChatKind.TRIAGE and view.moved_to is None and now is not None
            and view.dismissed_at is not None and now - view.dismissed_at < timedelta(days=UNDO_DISMISS_DAYS)):
        # The one way back from a wrong "Abaikan": only triage admins may press it (checked on press).
        return InlineKeyboardMarkup([[_button(t("btn.undismiss", lang), Callback(Act.UNDISMISS, cid, ver))]])
    if not view.is_live:
        return None

    def on(action: DeskAction) -> bool:
        return offered(action, chat, status, post_exists=not view.deleted)

    rows: list[list[InlineKeyboardButton]] = []
    if on(DeskAction.ROUTE_CHOICE):
        for code, short, score in view.alternatives[:3]:
            if score < MIN_CHOICE_SCORE:
                continue
            label = t("btn.choice", lang, name=short_label(short), pct=_pct(score))
            rows.append([_button(label, Callback(Act.CHOICE, cid, ver, code))])
    if on(DeskAction.FORWARD) and view.destination_code and view.destination_short:
        label = t("btn.forward", lang, who=short_label(view.destination_short))
        rows.append([_button(label, Callback(Act.FORWARD, cid, ver, view.destination_code))])
    if chat is ChatKind.TRIAGE:
        layout: Layout = _TRIAGE_ROWS
    else:
        layout = _CLAIMED_ROWS if status in (Status.CLAIMED, Status.DRAFTED, Status.APPROVED) else _UNCLAIMED_ROWS
    for actions in layout:
        row = []
        for action in actions:
            if on(action):
                key, act = _LABELS[action]
                # On a triage card the picker is "other agency": the one-tap choices come first; on
                # triage's copy of a card an agency holds, it moves the complaint away from that agency.
                label = key
                if chat is ChatKind.TRIAGE and action is DeskAction.REASSIGN:
                    label = "btn.other" if status in (Status.NEW, Status.TRIAGE) else "btn.reassign_triage"
                arg = "0" if act is Act.FORWARD_MENU else None
                row.append(_button(t(label, lang), Callback(act, cid, ver, arg)))
        if row:
            rows.append(row)
    # new (not yet a card), approved (publishing in progress): nothing to press.
    return InlineKeyboardMarkup(rows) if rows else None


def agency_picker(
    complaint_id: int,
    version: int,
    agencies: Sequence[tuple[str, str]],
    page: int,
    lang: Lang = Lang.ID,
    per_page: int = 9,
    per_row: int = 3,
    *,
    pick: Act = Act.TARGET,
    turn: Act = Act.PAGE,
    other: bool = False,
) -> InlineKeyboardMarkup:
    """A page of agencies (`pick` buttons, TARGET by default) with ◀ ▶ (`turn`) and Batal (CANCEL);
    `other` adds "Lainnya…" (a written destination)."""
    if per_page < 1 or per_row < 1:
        raise ValueError("per_page and per_row must be positive")
    pages = max(1, -(-len(agencies) // per_page))
    page = min(max(page, 0), pages - 1)
    chunk = agencies[page * per_page : (page + 1) * per_page]
    rows: list[list[InlineKeyboardButton]] = []
    for i in range(0, len(chunk), per_row):
        rows.append(
            [
                _button(short_label(short), Callback(pick, complaint_id, version, code))
                for code, short in chunk[i : i + per_row]
            ]
        )
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(_button(t("btn.prev", lang), Callback(turn, complaint_id, version, str(page - 1))))
    if page < pages - 1:
        nav.append(_button(t("btn.next", lang), Callback(turn, complaint_id, version, str(page + 1))))
    if nav:
        rows.append(nav)
    if other:
        rows.append([_button(t("reason.lainnya", lang), Callback(pick, complaint_id, version, OTHER_REASON))])
    rows.append([_button(t("btn.cancel", lang), Callback(Act.CANCEL, complaint_id, version))])
    return InlineKeyboardMarkup(rows)


def agency_picker_pages(count: int, per_page: int = 9) -> int:
    """Number of picker pages for `count` agencies."""
    return max(1, -(-count // per_page))


def reason_picker(complaint_id: int, version: int, target_code: str, lang: Lang = Lang.ID) -> InlineKeyboardMarkup:
    """Why reassign to `target_code`: REASON buttons with arg "<target>--<reason>", ◀ Kembali, Batal."""
    rows = [
        [_button(_reason_label(r, lang), Callback(Act.REASON, complaint_id, version, reason_arg(target_code, r)))]
        for r in REASONS
    ]
    rows.append(
        [
            _button(t("btn.back", lang), Callback(Act.BACK, complaint_id, version)),
            _button(t("btn.cancel", lang), Callback(Act.CANCEL, complaint_id, version)),
        ]
    )
    return InlineKeyboardMarkup(rows)


def triage_reason_picker(complaint_id: int, version: int, lang: Lang = Lang.ID) -> InlineKeyboardMarkup:
    """Why return to triage: TRIAGE_REASON buttons and Batal."""
    rows = [[_button(_reason_label(r, lang), Callback(Act.TRIAGE_REASON, complaint_id, version, r))] for r in REASONS]
    rows.append([_button(t("btn.cancel", lang), Callback(Act.CANCEL, complaint_id, version))])
    return InlineKeyboardMarkup(rows)


def dismiss_picker(complaint_id: int, version: int, lang: Lang = Lang.ID) -> InlineKeyboardMarkup:
    """"Abaikan" asks once: pick why (each is the confirmation), or Batal."""
    rows = [[_button(_reason_label(r, lang), Callback(Act.DISMISS_REASON, complaint_id, version, r))]
            for r in DISMISS_REASONS]
    rows.append([_button(t("btn.cancel", lang), Callback(Act.CANCEL, complaint_id, version))])
    return InlineKeyboardMarkup(rows)


def search_results(results: Sequence[tuple[int, str]], lang: Lang = Lang.ID) -> InlineKeyboardMarkup:
    """One button per complaint found: pressing it posts that card in this chat."""
    return InlineKeyboardMarkup([[_button(t("btn.open", lang, number=cid, label=clip_utf16(strip_bidi(label), 40)),
                                          Callback(Act.SHOW, cid, 0))] for cid, label in results])


def register_picker(agencies: Sequence[tuple[str, str]], page: int, lang: Lang = Lang.ID,
                    per_page: int = 12) -> InlineKeyboardMarkup:
    """/daftar without a code: the provincial agencies as buttons (the id slot carries the page + 1)."""
    pages = max(1, -(-len(agencies) // per_page))
    page = min(max(page, 0), pages - 1)
    chunk = agencies[page * per_page:(page + 1) * per_page]
    rows = [[_button(short_label(short), Callback(Act.REGISTER, page + 1, 0, code))
             for code, short in chunk[i:i + 3]] for i in range(0, len(chunk), 3)]
    nav = []
    if page > 0:
        nav.append(_button(t("btn.prev", lang), Callback(Act.REGISTER, page, 0, "halaman")))
    if page < pages - 1:
        nav.append(_button(t("btn.next", lang), Callback(Act.REGISTER, page + 2, 0, "halaman")))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)


def draft_keyboard(
    complaint_id: int, version: int, draft_id: int, eligible: bool, lang: Lang = Lang.ID,
    *, latest: int | None = None, earlier: bool = False,
) -> InlineKeyboardMarkup:
    """[Kirim ke X] / [Ubah] [Batal]; without eligibility the fallback and "outside" instead of Kirim.

    After a citizen's follow-up that mentions the desk, `latest` (that tweet's row id) offers Kirim under
    it, and `earlier` keeps Kirim under the post the preview first named.
    """
    d = str(draft_id)

    def b(key: str, act: Act, arg: str | None = None) -> InlineKeyboardButton:
        return _button(t(key, lang), Callback(act, complaint_id, version, arg))

    rows: list[list[InlineKeyboardButton]]
    if eligible and latest is not None:
        rows = [[b("btn.send_latest", Act.SEND, send_arg(draft_id, latest))]]
        if earlier:
            rows.append([b("btn.send_earlier", Act.SEND, d)])
    elif eligible:
        rows = [[b("btn.send", Act.SEND, d)]]
    else:
        rows = [[b("btn.fallback", Act.FALLBACK, d)], [b("btn.outside", Act.OUTSIDE)]]
    rows.append([b("btn.edit", Act.EDIT), b("btn.cancel", Act.CANCEL)])
    return InlineKeyboardMarkup(rows)


def bind_request_keyboard(request_id: int, lang: Lang = Lang.ID) -> InlineKeyboardMarkup:
    """[Setujui] [Tolak] under a held re-bind in the triage group."""
    return InlineKeyboardMarkup([[_button(t("btn.bind_ok", lang), Callback(Act.BIND, request_id, 0, "ok")),
                                  _button(t("btn.bind_no", lang), Callback(Act.BIND, request_id, 0, "no"))]])
