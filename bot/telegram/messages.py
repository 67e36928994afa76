"""Other staff-facing messages: draft preview, reply prompt, help, queue."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import ForceReply, InlineKeyboardMarkup

from bot.domain.outbox import CardKind, ReplyState
from bot.domain.posts import MediaKind
from bot.domain.tweet_text import contains_url, reply_warnings
from bot.i18n import Lang, t
from bot.queries import DraftPreview, NoticeKind, OutboxMessage, SearchResult
from bot.telegram.cards import render_card
from bot.telegram.keyboards import card_keyboard, draft_keyboard
from bot.telegram.text import (
    TELEGRAM_TEXT_LIMIT,
    _clean,
    _esc,
    _link,
    _status_label,
    clip_utf16,
    format_age,
    mask_personal_data,
    strip_bidi,
    visible_utf16_len,
    x_reason,
)


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


def reason_prompt(*, complaint_id: int, username: str | None, user_id: int, first_name: str, what: str,
                  lang: Lang = Lang.ID) -> tuple[str, ForceReply]:
    """(HTML text, markup) asking one staff member for a reason in their own words ("Lainnya…")."""
    if username:
        text = _esc(t("prompt.reason", lang, username=username, number=complaint_id, what=what))
    else:
        name = _esc(_clean(first_name, 64) or str(user_id))
        body = _esc(t("prompt.reason_body", lang, number=complaint_id, what=what))
        text = f'<a href="tg://user?id={int(user_id)}">{name}</a> {body}'
    placeholder = clip_utf16(t("prompt.reason_placeholder", lang, number=complaint_id), 64)
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


def render_status(report: Mapping[str, Any], lang: Lang = Lang.ID) -> str:
    """HTML for /status in the triage group: one line per kind of stuck thing (from queries.stuck_report)."""
    lines = [f"<b>{_esc(t('desk_status.title', lang))}</b>"]
    unclaimed = report["unclaimed"]
    if unclaimed:
        oldest = max(int(r["age_seconds"]) for r in unclaimed)
        age = format_age(timedelta(seconds=oldest), lang)
        lines.append(_esc(t("desk_status.unclaimed", lang, n=len(unclaimed), age=age)))
    else:
        lines.append(_esc(t("desk_status.unclaimed_none", lang)))
    replies = report["replies"]
    lines.append(_esc(t("desk_status.cards", lang, n=len(report["parked_cards"]))))
    lines.append(_esc(t("desk_status.replies", lang, rejected=replies.get("rejected", 0),
                        unknown=replies.get("unknown", 0))))
    lines.append(_esc(t("desk_status.posts", lang, n=report.get("parked_posts_total", len(report["parked_posts"])))))
    groups = report["parked_groups"]
    if groups:
        lines.append(_esc(t("desk_status.groups", lang, names=", ".join(str(g["agency"]) for g in groups))))
    if report.get("x_paused"):
        since = report.get("x_paused_since") or "?"
        lines.append(_esc(t("desk_status.x_paused", lang, why=report["x_paused"], since=since)))
    else:
        lines.append(_esc(t("desk_status.x_ok", lang)))
    oldest_send = report["oldest_pending_seconds"]
    def waiting(seconds: float) -> str:  # nothing waiting is a dash, not "just now"
        return format_age(timedelta(seconds=seconds), lang) if seconds > 0 else "–"

    lines.append(_esc(t("desk_status.waiting", lang, cards=waiting(oldest_send.get("cards", 0)),
                        replies=waiting(oldest_send.get("replies", 0)))))
    lines.append(f"<i>{_esc(t('desk_status.hint', lang))}</i>")
    return "\n".join(lines)


HELP_KINDS = ("agency", "triage", "unbound", "private")


def render_help(kind: str, lang: Lang = Lang.ID, agency: str = "") -> str:
    """The /bantuan text for one kind of chat (see HELP_KINDS), HTML-escaped."""
    if kind not in HELP_KINDS:
        raise ValueError(f"no help for chat kind {kind!r}")
    return _esc(t(f"help.{kind}", lang, agency=agency) if kind == "agency" else t(f"help.{kind}", lang))


def render_search(result: SearchResult, *, query: str, lang: Lang = Lang.ID, mask_personal: bool = True) -> str:
    """/cari results: one line per complaint (number, status, citizen, the start of the text), newest first;
    the buttons under it post a card here."""
    lines = [_esc(t("search.title", lang, query=_clean(query, 60), n=result.total))]
    for hit in result.hits:
        text = _clean(" ".join(hit.text.split()), 90)
        if mask_personal:
            text = mask_personal_data(text)
        lines.append(f"<b>#{hit.number}</b> {_esc(_status_label(hit.status, lang))} · @{_esc(_clean(hit.author, 15))}"
                     f"\n{_esc(text)}")
    if result.total > len(result.hits):
        lines.append(_esc(t("search.more", lang, shown=len(result.hits))))
    lines.append(_esc(t("search.pick", lang)))
    return "\n".join(lines)


def render_notes(number: int, notes: Sequence[tuple[datetime, str, str]], *, lang: Lang = Lang.ID,
                 tz: ZoneInfo) -> str:
    """/cari N: the complaint's internal notes, oldest first (plain text: sent without parse mode)."""
    lines = [t("search.notes_head", lang, number=number)]
    for when, name, text in notes:
        lines.append(t("search.note", lang, when=when.astimezone(tz).strftime("%d/%m %H:%M"),
                       name=_clean(name, 40), text=_clean(text, 500)))
    return clip_utf16("\n".join(lines), TELEGRAM_TEXT_LIMIT)


def render_pictures(m: OutboxMessage, *, lang: Lang) -> list[tuple[str, str]]:
    """(image URL, HTML caption) per picture of a photo row: which complaint, which of how many, a video's
    or GIF's link (Telegram shows its still), the alt text the citizen wrote."""
    out: list[tuple[str, str]] = []
    for i, media in enumerate(m.pictures, start=m.picture_offset + 1):
        url = media.image_url
        if url is None:
            continue
        lines = [_esc(t("photo.caption", lang, number=m.complaint_number or "?", n=i, total=m.picture_total))]
        if media.kind is not MediaKind.PHOTO:
            label = _esc(t("photo.video" if media.kind is MediaKind.VIDEO else "photo.gif", lang))
            lines.append(_link(media.link or m.tweet_url, label) or label)
        if media.alt_text:
            lines.append(_esc(t("photo.alt", lang, alt=clip_utf16(strip_bidi(media.alt_text).strip(), 700))))
        out.append((url, clip_utf16_html(lines)))
    return out


def clip_utf16_html(lines: list[str]) -> str:
    """Join caption lines and keep the result within Telegram's 1,024-unit caption (dropping last lines)."""
    while lines and visible_utf16_len("\n".join(lines)) > 1024:
        lines = lines[:-1]
    return "\n".join(lines)


def render_picture_links(m: OutboxMessage, *, lang: Lang) -> str:
    """The pictures Telegram refused, as one message of links under the card."""
    lines = [_esc(t("photo.links_head", lang, number=m.complaint_number or "?"))]
    for i, media in enumerate(m.pictures, start=m.picture_offset + 1):
        key = {MediaKind.PHOTO: "card.photo", MediaKind.VIDEO: "card.video", MediaKind.GIF: "card.gif"}.get(
            media.kind, "card.media_missing")
        label = _esc(t(key, lang, n=i))
        target = media.link or media.image_url or m.tweet_url
        line = "• " + (_link(target, label) or label)
        if media.alt_text:
            line += " — " + _esc(clip_utf16(strip_bidi(media.alt_text).strip(), 300))
        lines.append(line)
    return "\n".join(lines)


_REJECTED_TODO = {"not_mentioned": "outcome.todo_not_mentioned", "duplicate": "outcome.todo_duplicate",
                  "near_match": "outcome.todo_near_match"}


def render_outbox(m: OutboxMessage, *, lang: Lang, tz: ZoneInfo, mask_personal: bool, desk_username: str,
                  now: datetime, url_price: float = 0.20,
                  plain_price: float = 0.015) -> tuple[str, InlineKeyboardMarkup | None]:
    """(HTML text, keyboard) for one card-outbox row, by its kind."""
    if m.kind == CardKind.CARD and m.view is not None:
        text = render_card(m.view, now=now, lang=lang, tz=tz, mask_personal=mask_personal)
        return text, (card_keyboard(m.view, lang, now=now) if not m.superseded else None)
    if m.kind == CardKind.FOLLOWUP:
        body = strip_bidi(m.text)
        if mask_personal:
            body = mask_personal_data(body)
        head = f"↩️ #{m.complaint_number} @{html.escape(m.author_username or '')}:\n" if m.complaint_number else ""
        # Clip the visible text, then escape: clipping escaped HTML could cut an entity in half.
        return head + html.escape(clip_utf16(body, 3800)), None
    if m.kind == CardKind.PHOTO:
        return render_picture_links(m, lang=lang), None
    if m.kind == CardKind.PREVIEW and m.draft is not None:
        return render_live_preview(m.draft, lang=lang, desk_username=desk_username, mask_personal=mask_personal,
                                   url_price=url_price, plain_price=plain_price)
    if m.kind == CardKind.PREVIEW:
        return render_preview_outcome(m, lang=lang), None
    if m.kind == CardKind.NOTICE and m.notice == NoticeKind.REJECTED:
        todo = _REJECTED_TODO.get(m.rejected_reason, "outcome.todo_generic")
        text = t("outcome.rejected", lang, number=m.complaint_number or "?",
                 reason=x_reason(m.rejected_reason, lang)) + "\n" + t(
            todo, lang, desk=desk_username)
        return html.escape(text), None
    return html.escape(clip_utf16(m.text, 4000)), None


SHOWN_FOLLOWUPS = 3
FOLLOWUP_CLIP = 600


def render_live_preview(d: DraftPreview, *, lang: Lang, desk_username: str, mask_personal: bool,
                        url_price: float, plain_price: float) -> tuple[str, InlineKeyboardMarkup]:
    """A draft's preview drawn again after the citizen wrote more: the same draft (still valid), what
    they added, and Kirim under the post of the staff's choosing when the newest one mentions the desk."""
    text = render_draft_preview(d.text, d.weight, eligible=d.eligible, desk_username=desk_username,
                                citizen_username=d.citizen_username, lang=lang, url_price=url_price,
                                plain_price=plain_price)
    if d.followups:
        lines = [_esc(t("draft.followups", lang))]
        for body in d.followups[-SHOWN_FOLLOWUPS:]:
            body = strip_bidi(body).strip()
            if mask_personal:
                body = mask_personal_data(body)
            lines.append(f"<blockquote>{_esc(clip_utf16(body, FOLLOWUP_CLIP))}</blockquote>")
        if d.latest is not None:
            lines.append(_esc(t("draft.followup_target", lang, desk=_clean(desk_username, 32))))
        text += "\n\n" + "\n".join(lines)
    keyboard = draft_keyboard(d.complaint_id, d.version, d.draft_id, d.eligible, lang, latest=d.latest,
                              earlier=d.earlier)
    return text, keyboard


def render_preview_outcome(m: OutboxMessage, *, lang: Lang) -> str:
    """What a sent draft preview turns into: posted (with the link), rejected, or still on its way."""
    number, name = m.complaint_number or "?", m.reply_author or "-"
    if m.reply_state is ReplyState.POSTED:
        link = _link(m.reply_url, _esc(t("card.reply_link", lang))) if m.reply_url else None
        return _esc(t("outcome.preview_posted", lang, number=number, name=name, link="")).rstrip() + (
            f" {link}" if link else "")
    if m.reply_state is ReplyState.REJECTED:
        return _esc(t("outcome.preview_rejected", lang, number=number, reason=x_reason(m.rejected_reason, lang)))
    return _esc(t("draft.sent_preview", lang, number=number, name=name))
