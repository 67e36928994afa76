"""Other staff-facing messages: draft preview, reply prompt, help, queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from telegram import ForceReply

from bot.domain.tweet_text import contains_url, reply_warnings
from bot.i18n import Lang, t
from bot.telegram.text import (
    TELEGRAM_TEXT_LIMIT,
    _clean,
    _esc,
    _status_label,
    clip_utf16,
    format_age,
    strip_bidi,
    visible_utf16_len,
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
