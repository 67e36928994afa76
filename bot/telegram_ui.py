"""Pure Telegram presentation: callback codec, card text (HTML) and inline keyboards."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain.lifecycle import Status
from bot.domain.tweet_text import contains_url, reply_warnings
from bot.i18n import CATALOGUE, Lang, t

__all__ = [
    "ARG_ACTS",
    "CALLBACK_MAX_BYTES",
    "CALLBACK_PREFIX",
    "JAKARTA",
    "REASONS",
    "STATUSES",
    "TELEGRAM_TEXT_LIMIT",
    "Act",
    "Callback",
    "CardView",
    "agency_picker",
    "agency_picker_pages",
    "bind_request_keyboard",
    "card_keyboard",
    "clip_utf16",
    "draft_keyboard",
    "encode",
    "format_age",
    "format_wib",
    "mask_personal_data",
    "parse",
    "reason_arg",
    "reason_picker",
    "render_card",
    "render_draft_preview",
    "render_help",
    "render_queue",
    "reply_prompt",
    "short_label",
    "split_reason_arg",
    "strip_bidi",
    "triage_reason_picker",
    "utf16_len",
    "visible_utf16_len",
]

TELEGRAM_TEXT_LIMIT = 4096
CALLBACK_MAX_BYTES = 64
CALLBACK_PREFIX = "k1"
JAKARTA = ZoneInfo("Asia/Jakarta")

STATUSES: tuple[str, ...] = tuple(Status)  # kept for callers; the enum is the one list
# Reason keys for both "Alihkan" and "Kembalikan ke triase"; labels are i18n "reason.<key>".
REASONS: tuple[str, ...] = ("nowewenang", "salahrute", "lainnya")

# =====================================================================================
# 1. Callback codec
# =====================================================================================


class Act(StrEnum):
    """Button actions; the value is the 2-letter wire code."""

    CLAIM = "cl"
    RELEASE = "rl"
    REASSIGN = "ra"  # open the agency picker (page 0)
    PAGE = "pg"  # picker page, arg = page number (0-based)
    TARGET = "tg"  # agency picked in the picker, arg = agency code
    REASON = "rs"  # reassign reason, arg = "<agency code>--<reason key>"
    TRIAGE = "tr"  # return to triage: opens the reason list
    TRIAGE_REASON = "tq"  # arg = reason key
    REPLY = "rp"  # ask for the reply text with a ForceReply prompt
    SEND = "sd"  # publish in-thread, arg = draft id
    EDIT = "ed"
    CANCEL = "cx"  # on a card: close a picker; on a draft preview: discard the draft
    CHOICE = "ch"  # one-tap routing from a triage card, arg = agency code
    OUTSIDE = "ou"  # answered outside the desk
    FALLBACK = "fb"  # publish as a standalone post mentioning the citizen, arg = draft id
    DISMISS = "ds"  # spam / not a complaint
    BACK = "bk"  # from the reason list back to the agency picker
    # Triage's decision on a held re-bind: the id slot carries the request (bind code row) id, version 0,
    # arg "ok" (Setujui) or "no" (Tolak). Not about a complaint: the handler routes it before the card path.
    BIND = "bd"


ARG_ACTS: frozenset[Act] = frozenset(
    {Act.PAGE, Act.TARGET, Act.REASON, Act.TRIAGE_REASON, Act.SEND, Act.CHOICE, Act.FALLBACK, Act.BIND}
)

# Explicit ASCII classes: `\d` would accept '１２' and other Unicode digits.
_CALLBACK_RE = re.compile(
    r"k1:(?P<act>" + "|".join(sorted(a.value for a in Act)) + r")"
    r":(?P<cid>[1-9][0-9]{0,9})"
    r":(?P<ver>0|[1-9][0-9]{0,5})"
    r"(?::(?P<arg>[a-z0-9-]{1,32}))?"
)
MAX_ID = 2**31 - 1  # complaint and draft ids are 32-bit integers in the database
_INT_ARG_RE = re.compile(r"0|[1-9][0-9]{0,9}")
# The reassign reason carries its target (stateless: no pending server-side choice that a
# restart or a second staff member could lose or overwrite). "--" never occurs inside an
# agency code, so the split is unambiguous; longest code + longest reason = 31 ≤ 32.
_REASON_SEP = "--"


@dataclass(frozen=True)
class Callback:
    """One decoded button press. Untrusted: the handler re-reads and re-checks everything."""

    act: Act
    complaint_id: int
    version: int
    arg: str | None = None

    def int_arg(self) -> int | None:
        """The argument as a non-negative integer (page number, draft id), else None."""
        if self.arg is not None and _INT_ARG_RE.fullmatch(self.arg) and int(self.arg) <= MAX_ID:
            return int(self.arg)
        return None


def encode(cb: Callback) -> str:
    """Serialise a callback as "k1:<act>:<complaint>:<version>[:<arg>]"; ValueError if invalid."""
    data = f"{CALLBACK_PREFIX}:{Act(cb.act).value}:{cb.complaint_id}:{cb.version}"
    if cb.arg is not None:
        data += f":{cb.arg}"
    if len(data.encode("utf-8")) > CALLBACK_MAX_BYTES:
        raise ValueError(f"callback data over {CALLBACK_MAX_BYTES} bytes: {data!r}")
    if parse(data) != cb:
        raise ValueError(f"callback cannot round-trip: {cb!r}")
    return data


def parse(data: str | None) -> Callback | None:
    """Decode callback data; None for anything that is not exactly what `encode` produces."""
    if not isinstance(data, str) or len(data) > CALLBACK_MAX_BYTES:
        return None
    m = _CALLBACK_RE.fullmatch(data)
    if m is None:
        return None
    act = Act(m["act"])
    arg = m["arg"]
    if (arg is not None) != (act in ARG_ACTS):
        return None
    cid = int(m["cid"])
    if cid > MAX_ID:
        return None  # beyond any row id the database can hold
    return Callback(act=act, complaint_id=cid, version=int(m["ver"]), arg=arg)


def reason_arg(target_code: str, reason: str) -> str:
    """Build the REASON argument "<target>--<reason>"."""
    return f"{target_code}{_REASON_SEP}{reason}"


def split_reason_arg(arg: str | None) -> tuple[str, str] | None:
    """Split a REASON argument into (target code, reason key); None unless both are well formed."""
    if arg is None or arg.count(_REASON_SEP) != 1:
        return None
    target, reason = arg.split(_REASON_SEP)
    if not target or target.startswith("-") or target.endswith("-") or reason not in REASONS:
        return None
    return target, reason


def _button(label: str, cb: Callback) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(cb))


# =====================================================================================
# 2. Text helpers
# =====================================================================================


def utf16_len(s: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def clip_utf16(s: str, limit: int, ellipsis: str = "…") -> str:
    """Clip `s` to at most `limit` UTF-16 units, ending with `ellipsis` when clipped."""
    if limit <= 0:
        return ""
    if utf16_len(s) <= limit:
        return s
    budget = limit - utf16_len(ellipsis)
    if budget < 0:
        return ""
    out: list[str] = []
    used = 0
    for ch in s:
        w = 2 if ord(ch) > 0xFFFF else 1
        if used + w > budget:
            break
        out.append(ch)
        used += w
    # Never leave a dangling zero-width joiner or variation selector before the ellipsis.
    while out and out[-1] in "\u200d\ufe0f\ufe0e":
        out.pop()
    return "".join(out).rstrip() + ellipsis


_TAG_RE = re.compile(r"<[^>]*>")


def visible_utf16_len(html_text: str) -> int:
    """UTF-16 length of our own HTML after Telegram's entity parsing (tags dropped, entities decoded)."""
    return utf16_len(html.unescape(_TAG_RE.sub("", html_text)))


# Bidi embeddings/overrides/isolates could flip the layout of the rest of the card.
_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0/C1 controls other than tab and newline have no business in a card.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_bidi(s: str) -> str:
    """Remove bidi control characters and stray control codes; keep everything else."""
    return _CONTROL_RE.sub("", _BIDI_RE.sub("", s))


_NIK_RE = re.compile(r"(?<![0-9])([0-9]{4})[0-9]{12}(?![0-9])")
# Mobile numbers 08…, 62 8…, +62 8…, and +62 landlines; separators (space, dot, dash) allowed.
_PHONE_RE = re.compile(r"(?<![0-9+])(?:\+62[ .-]?[1-9]|62[ .-]?8|08)(?:[ .-]?[0-9]){6,11}(?![0-9])")


def _mask_phone(m: re.Match[str]) -> str:
    s = m.group(0)
    digits = sum(ch.isdigit() for ch in s)
    out: list[str] = []
    seen = 0
    for ch in s:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 4 or seen > digits - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_personal_data(s: str) -> str:
    """Mask 16-digit NIKs (first 4 kept) and Indonesian phone numbers (first 4, last 2 kept)."""
    s = _NIK_RE.sub(lambda m: m.group(1) + "*" * 12, s)
    return _PHONE_RE.sub(_mask_phone, s)


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


def _clean(s: str | None, limit: int) -> str:
    """External, single-purpose text: strip controls, clip. (Escaping happens at the end.)"""
    return clip_utf16(strip_bidi(s or "").strip(), limit)


def _link(url: str, label_html: str) -> str | None:
    if not url.startswith(("https://", "http://")) or len(url) > 2048 or strip_bidi(url) != url:
        return None
    return f'<a href="{html.escape(url, quote=True)}">{label_html}</a>'


def short_label(short_name: str, max_len: int = 18) -> str:
    """Button-sized agency name: the part before " / ", clipped to `max_len`."""
    head = strip_bidi(short_name).split(" / ")[0].strip() or short_name.strip()
    return clip_utf16(head, max_len)


def _status_label(status: str, lang: Lang) -> str:
    key = f"status.{status}"
    return t(key, lang) if key in CATALOGUE else f"❔ {status}"


def format_age(delta: timedelta, lang: Lang = Lang.ID) -> str:
    """Human age: "baru saja", "{m} mnt", "{h} jam {m} mnt", "{d} hari"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return t("age.now", lang)
    if minutes < 60:
        return t("age.minutes", lang, m=minutes)
    if minutes < 24 * 60:
        return t("age.hours", lang, h=minutes // 60, m=minutes % 60)
    return t("age.days", lang, d=minutes // (24 * 60))


def format_wib(dt: datetime, lang: Lang = Lang.ID, tz: ZoneInfo = JAKARTA) -> str:
    """ "22 Nov 2026 10:04 WIB" for an aware datetime; ValueError for a naive one."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("aware datetimes only")
    local = dt.astimezone(tz)
    month = t("time.months", lang).split()[local.month - 1]
    return f"{local.day} {month} {local:%Y %H:%M} {local.tzname() or tz.key}"


# =====================================================================================
# 3. Cards
# =====================================================================================


@dataclass(frozen=True, kw_only=True)
class CardView:
    """Everything a card shows; built by the use-case layer, rendered here."""

    complaint_id: int
    version: int
    status: str
    agency_code: str | None
    agency_short: str | None
    citizen_name: str
    citizen_username: str
    text: str
    place_label: str | None
    created_at: datetime
    routing_reasons: tuple[str, ...] = ()
    confidence: float | None = None
    tweet_url: str
    reply_eligible: bool
    desk_username: str
    claimer_name: str | None = None
    followups: int = 0
    photo_urls: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, str, float], ...] = ()
    history_note: str | None = None
    reply_text: str | None = None
    reply_url: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    rejected_reason: str | None = None
    deleted: bool = False
    edited: bool = False
    is_triage_card: bool = False
    requires_approval: bool = False
    moved_to: str | None = None
    # Tombstone details; the handler fills them from the reassign event.
    moved_by: str | None = None
    moved_reason: str | None = None
    # Complaints of other citizens in the same conversation (the one this answers, and those answering it).
    related: tuple[int, ...] = ()

    @property
    def is_live(self) -> bool:
        """Whether staff can still act on this card."""
        return self.moved_to is None and self.status not in (Status.ANSWERED, Status.CLOSED, Status.DISMISSED)


def _pct(x: float) -> int:
    return max(0, min(100, round(x * 100)))


def _reason_label(reason: str, lang: Lang) -> str:
    key = f"reason.{reason}"
    return t(key, lang) if key in CATALOGUE else reason


def render_card(
    view: CardView,
    *,
    now: datetime,
    lang: Lang = Lang.ID,
    tz: ZoneInfo = JAKARTA,
    mask_personal: bool = True,
) -> str:
    """The card as Telegram HTML, at most TELEGRAM_TEXT_LIMIT UTF-16 units after entity parsing."""
    for dt in (now, view.created_at, view.answered_at):
        if dt is not None and dt.utcoffset() is None:
            raise ValueError("aware datetimes only")
    body = strip_bidi(view.text).strip()
    if mask_personal:
        body = mask_personal_data(body)
    if view.moved_to is not None:
        # A tombstone only needs enough text to recognise the complaint.
        body = clip_utf16(body, 280)

    html_text = _card_html(view, body, clipped=False, now=now, lang=lang, tz=tz)
    if visible_utf16_len(html_text) <= TELEGRAM_TEXT_LIMIT:
        return html_text
    fixed = visible_utf16_len(_card_html(view, "", clipped=True, now=now, lang=lang, tz=tz))
    budget = TELEGRAM_TEXT_LIMIT - fixed
    while True:
        html_text = _card_html(view, clip_utf16(body, budget), clipped=True, now=now, lang=lang, tz=tz)
        if visible_utf16_len(html_text) <= TELEGRAM_TEXT_LIMIT or budget <= 0:
            return html_text
        budget -= visible_utf16_len(html_text) - TELEGRAM_TEXT_LIMIT


def _card_html(view: CardView, body: str, *, clipped: bool, now: datetime, lang: Lang, tz: ZoneInfo) -> str:
    def tx(key: str, **kw: object) -> str:
        return _esc(t(key, lang, **kw))

    agency = _clean(view.agency_short, 60) if view.agency_short else t("card.no_agency", lang)
    status = "moved" if view.moved_to is not None else view.status
    lines: list[str] = [f"<b>{_esc(_status_label(status, lang))} #{view.complaint_id}</b> · {_esc(agency)}"]

    # Who has it.
    if view.moved_to is not None:
        pass
    elif view.is_triage_card and view.status in (Status.NEW, Status.TRIAGE):
        lines.append(tx("card.triage_hint"))
    elif view.status in (Status.CLAIMED, Status.DRAFTED, Status.APPROVED) and view.claimer_name:
        lines.append(tx("card.holder", name=_clean(view.claimer_name, 64)))
    elif view.status == Status.ROUTED:
        lines.append(tx("card.holder_none"))

    lines.append(tx("card.citizen", name=_clean(view.citizen_name, 64), username=_clean(view.citizen_username, 32)))
    if body:
        tag = "blockquote expandable" if utf16_len(body) > 600 else "blockquote"
        lines.append(f"<{tag}>{_esc(body)}</blockquote>")
    if clipped:
        lines.append(tx("card.clipped"))

    if view.moved_to is not None:
        target = _clean(view.moved_to, 60)
        if view.moved_by or view.moved_reason:
            reason = _reason_label(view.moved_reason, lang) if view.moved_reason else "-"
            lines.append(
                tx("card.moved", agency=target, by=_clean(view.moved_by, 64) or "-", reason=_clean(reason, 200))
            )
        else:
            lines.append(tx("card.moved_short", agency=target))
        lines.append(tx("card.moved_hint", agency=target))
        link = _link(view.tweet_url, tx("card.open_tweet"))
        if link:
            lines.append(link)
        return "\n".join(lines)

    if view.place_label:
        lines.append(tx("card.place", place=_clean(view.place_label, 120)))
    age = format_age(now - view.created_at, lang)
    lines.append(tx("card.time", time=format_wib(view.created_at, lang, tz), age=age))

    reasons = "; ".join(_clean(r, 160) for r in view.routing_reasons[:6] if r.strip())
    reasons = clip_utf16(reasons, 600)
    if reasons and view.confidence is not None:
        lines.append(tx("card.route_conf", reasons=reasons, pct=_pct(view.confidence)))
    elif reasons:
        lines.append(tx("card.route", reasons=reasons))
    elif view.confidence is not None:
        lines.append(tx("card.confidence", pct=_pct(view.confidence)))

    if view.is_triage_card and view.alternatives:
        items = ", ".join(
            t("card.candidate", lang, name=short_label(short), pct=_pct(score))
            for _code, short, score in view.alternatives[:3]
        )
        lines.append(tx("card.candidates", items=items))
    if view.history_note:
        lines.append(tx("card.history", note=_clean(view.history_note, 300)))
    if view.related:
        shown = ", ".join(f"#{n}" for n in view.related[:8]) + (" …" if len(view.related) > 8 else "")
        lines.append(tx("card.related", items=shown))

    photos = [
        link
        for i, url in enumerate(view.photo_urls[:4], start=1)
        if (link := _link(url, tx("card.photo", n=i))) is not None
    ]
    if photos:
        lines.append(tx("card.photos") + " " + " · ".join(photos))
    if view.followups > 0:
        lines.append(tx("card.followups", n=view.followups))

    if view.deleted:
        lines.append(tx("card.deleted"))
    elif view.edited:
        lines.append(tx("card.edited"))

    if view.status not in (Status.ANSWERED, Status.CLOSED, Status.DISMISSED) and not view.deleted:
        if view.reply_eligible:
            lines.append(tx("elig.yes"))
        else:
            lines.append(tx("elig.no", desk=_clean(view.desk_username, 32), user=_clean(view.citizen_username, 32)))
    if view.status == Status.DRAFTED and view.requires_approval:
        lines.append(tx("card.needs_approval"))
    if view.status == Status.APPROVED:
        lines.append(tx("card.approved_wait"))

    if view.status == Status.ANSWERED:
        line = tx("card.answered", by=_clean(view.answered_by, 64) or "-")
        if view.answered_at is not None:
            line += " · " + _esc(format_wib(view.answered_at, lang, tz))
        lines.append(line)
        if view.reply_text:
            lines.append(f"<blockquote>{_esc(_clean(view.reply_text, 1200))}</blockquote>")
        if view.reply_url and (link := _link(view.reply_url, tx("card.reply_link"))):
            lines.append(link)
    if view.rejected_reason and view.status not in (Status.ANSWERED, Status.CLOSED, Status.DISMISSED):
        lines.append(tx("card.rejected", reason=_clean(view.rejected_reason, 300)))
        lines.append(tx("card.rejected_todo"))

    link = _link(view.tweet_url, tx("card.open_tweet"))
    if link:
        lines.append(link)
    return "\n".join(lines)


# =====================================================================================
# 4. Keyboards
# =====================================================================================


def card_keyboard(view: CardView, lang: Lang = Lang.ID) -> InlineKeyboardMarkup | None:
    """Buttons a card offers in its status (who may press them is the handler's business)."""
    if not view.is_live:
        return None
    cid, ver = view.complaint_id, view.version

    def b(key: str, act: Act, arg: str | None = None) -> InlineKeyboardButton:
        return _button(t(key, lang), Callback(act, cid, ver, arg))

    rows: list[list[InlineKeyboardButton]] = []
    if view.is_triage_card and view.status in (Status.NEW, Status.TRIAGE):
        for code, short, score in view.alternatives[:3]:
            label = t("btn.choice", lang, name=short_label(short), pct=_pct(score))
            rows.append([_button(label, Callback(Act.CHOICE, cid, ver, code))])
        rows.append([b("btn.other", Act.REASSIGN)])
        rows.append([b("btn.dismiss", Act.DISMISS)])
    elif view.status == Status.ROUTED:
        rows.append([b("btn.claim", Act.CLAIM), b("btn.reassign", Act.REASSIGN)])
        rows.append([b("btn.triage", Act.TRIAGE)])
    elif view.status in (Status.CLAIMED, Status.DRAFTED):
        # A deleted tweet can no longer be answered: no Balas, the rest stays.
        rows.append(
            [b("btn.reply", Act.REPLY), b("btn.release", Act.RELEASE)]
            if not view.deleted
            else [b("btn.release", Act.RELEASE)]
        )
        rows.append([b("btn.reassign", Act.REASSIGN), b("btn.triage", Act.TRIAGE)])
        rows.append([b("btn.outside", Act.OUTSIDE)])
    else:
        # new (not yet a card), approved (publishing in progress): nothing to press.
        return None
    return InlineKeyboardMarkup(rows)


def agency_picker(
    complaint_id: int,
    version: int,
    agencies: Sequence[tuple[str, str]],
    page: int,
    lang: Lang = Lang.ID,
    per_page: int = 9,
    per_row: int = 3,
) -> InlineKeyboardMarkup:
    """A page of agencies (TARGET buttons) with ◀ ▶ (PAGE) and Batal (CANCEL)."""
    if per_page < 1 or per_row < 1:
        raise ValueError("per_page and per_row must be positive")
    pages = max(1, -(-len(agencies) // per_page))
    page = min(max(page, 0), pages - 1)
    chunk = agencies[page * per_page : (page + 1) * per_page]
    rows: list[list[InlineKeyboardButton]] = []
    for i in range(0, len(chunk), per_row):
        rows.append(
            [
                _button(short_label(short), Callback(Act.TARGET, complaint_id, version, code))
                for code, short in chunk[i : i + per_row]
            ]
        )
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(_button(t("btn.prev", lang), Callback(Act.PAGE, complaint_id, version, str(page - 1))))
    if page < pages - 1:
        nav.append(_button(t("btn.next", lang), Callback(Act.PAGE, complaint_id, version, str(page + 1))))
    if nav:
        rows.append(nav)
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


def draft_keyboard(
    complaint_id: int, version: int, draft_id: int, eligible: bool, lang: Lang = Lang.ID
) -> InlineKeyboardMarkup:
    """[Kirim ke X] / [Ubah] [Batal]; without eligibility the fallback and "outside" instead of Kirim."""
    d = str(draft_id)

    def b(key: str, act: Act, arg: str | None = None) -> InlineKeyboardButton:
        return _button(t(key, lang), Callback(act, complaint_id, version, arg))

    rows: list[list[InlineKeyboardButton]]
    if eligible:
        rows = [[b("btn.send", Act.SEND, d)]]
    else:
        rows = [[b("btn.fallback", Act.FALLBACK, d)], [b("btn.outside", Act.OUTSIDE)]]
    rows.append([b("btn.edit", Act.EDIT), b("btn.cancel", Act.CANCEL)])
    return InlineKeyboardMarkup(rows)


def bind_request_keyboard(request_id: int, lang: Lang = Lang.ID) -> InlineKeyboardMarkup:
    """[Setujui] [Tolak] under a held re-bind in the triage group."""
    return InlineKeyboardMarkup([[_button(t("btn.bind_ok", lang), Callback(Act.BIND, request_id, 0, "ok")),
                                  _button(t("btn.bind_no", lang), Callback(Act.BIND, request_id, 0, "no"))]])


# =====================================================================================
# 5. Other messages
# =====================================================================================


def render_draft_preview(
    text: str,
    weight: int,
    *,
    limit: int = 280,
    eligible: bool,
    desk_username: str,
    citizen_username: str,
    lang: Lang = Lang.ID,
    url_price: float = 0.20,
    plain_price: float = 0.015,
) -> str:
    """HTML preview of a staff reply: "Pratinjau balasan (212/280)", the text, where it will go, what
    it costs, and a warning when it would tell the citizen nothing (only a link, only @names)."""
    lines = [f"<b>{_esc(t('draft.title', lang, weight=weight, limit=limit))}</b>"]
    lines.append(f"<blockquote>{_esc(clip_utf16(strip_bidi(text).strip(), 3000))}</blockquote>")
    if weight > limit:
        lines.append(_esc(t("draft.too_long", lang, weight=weight, limit=limit)))
    for warning in reply_warnings(text):
        lines.append(_esc(t(f"draft.warn_{warning}", lang)))
    user = _clean(citizen_username, 32)
    if eligible:
        lines.append(_esc(t("draft.in_thread", lang, user=user)))
    else:
        lines.append(_esc(t("draft.fallback", lang, desk=_clean(desk_username, 32), user=user)))
    # The fallback always links the citizen's post; a thread reply costs the link price only with a link.
    with_url = not eligible or contains_url(text)
    lines.append(_esc(t("draft.cost_url" if with_url else "draft.cost_plain", lang,
                        price=f"${url_price:.2f}", plain=f"${plain_price:.3f}")))
    lines.append(_esc(t("draft.check", lang)))
    return "\n".join(lines)


def reply_prompt(
    *,
    complaint_id: int,
    username: str | None,
    user_id: int,
    first_name: str,
    limit: int = 280,
    lang: Lang = Lang.ID,
) -> tuple[str, ForceReply]:
    """(HTML text, markup) asking one staff member for the reply text.

    `selective` ForceReply only reaches users mentioned in the text, hence the mention.
    """
    if username:
        text = _esc(t("prompt.reply", lang, username=username, number=complaint_id, limit=limit))
    else:
        name = _esc(_clean(first_name, 64) or str(user_id))
        body = _esc(t("prompt.reply_body", lang, number=complaint_id, limit=limit))
        text = f'<a href="tg://user?id={int(user_id)}">{name}</a> {body}'
    placeholder = clip_utf16(t("prompt.placeholder", lang, number=complaint_id), 64)
    return text, ForceReply(selective=True, input_field_placeholder=placeholder)


def render_queue(
    items: Sequence[tuple[int, str, str | None, datetime]],
    now: datetime,
    lang: Lang = Lang.ID,
    *,
    max_items: int = 50,
) -> str:
    """HTML for /antrian: one line per complaint (id, status, claimer, age), oldest first as given."""
    if not items:
        return _esc(t("queue.empty", lang))
    lines = [f"<b>{_esc(t('queue.title', lang, n=len(items)))}</b>"]
    # Reserve room for the "…dan N lainnya" line so the listing always fits one message.
    budget = TELEGRAM_TEXT_LIMIT - visible_utf16_len("\n".join(lines)) - 40
    shown = 0
    for cid, status, claimer, created in items[:max_items]:
        who = _clean(claimer, 64) if claimer else t("queue.unclaimed", lang)
        line = _esc(
            t(
                "queue.item",
                lang,
                number=cid,
                status=_status_label(status, lang),
                who=who,
                age=format_age(now - created, lang),
            )
        )
        cost = visible_utf16_len(line) + 1
        if cost > budget:
            break
        budget -= cost
        lines.append(line)
        shown += 1
    if len(items) > shown:
        lines.append(_esc(t("queue.more", lang, n=len(items) - shown)))
    return "\n".join(lines)


def render_help(lang: Lang = Lang.ID) -> str:
    """The /bantuan text, HTML-escaped."""
    return _esc(t("help.text", lang))
