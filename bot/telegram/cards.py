"""Card text (Telegram HTML) from a CardView read model."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.lifecycle import DONE_STATUSES, Status
from bot.domain.posts import MediaKind
from bot.i18n import CATALOGUE, Lang, t
from bot.queries import CardView
from bot.telegram.text import (
    JAKARTA,
    TELEGRAM_TEXT_LIMIT,
    _clean,
    _esc,
    _link,
    _status_label,
    clip_utf16,
    format_age,
    format_wib,
    mask_personal_data,
    short_label,
    strip_bidi,
    utf16_len,
    visible_utf16_len,
    x_reason,
)


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
        if view.quoted_text:  # another citizen's words: the same care
            view = replace(view, quoted_text=mask_personal_data(view.quoted_text))
    if view.moved_to is not None:
        # A tombstone only needs enough text to recognise the complaint.
        body = clip_utf16(body, 280)

    more = t("card.more_on_x", lang)
    html_text = _card_html(view, body, clipped=False, now=now, lang=lang, tz=tz)
    if visible_utf16_len(html_text) <= TELEGRAM_TEXT_LIMIT:
        return html_text
    # A long post (X Premium allows 25,000 characters) is cut at a word; the whole text stays stored.
    fixed = visible_utf16_len(_card_html(view, "", clipped=True, now=now, lang=lang, tz=tz))
    budget = TELEGRAM_TEXT_LIMIT - fixed
    while True:
        html_text = _card_html(view, clip_at_word(body, budget, more), clipped=True, now=now, lang=lang, tz=tz)
        if visible_utf16_len(html_text) <= TELEGRAM_TEXT_LIMIT or budget <= 0:
            return html_text
        budget -= visible_utf16_len(html_text) - TELEGRAM_TEXT_LIMIT


def clip_at_word(text: str, limit: int, ending: str) -> str:
    """`text` within `limit` UTF-16 units, cut after a whole word and ending with `ending`."""
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(ending)
    if room <= 0:
        return clip_utf16(ending, limit, ellipsis="")
    head = clip_utf16(text, room + 1, ellipsis="")  # room + 1: the cut may fall just after a word
    cut = max(head.rfind(" "), head.rfind("\n"))
    # A text without spaces near the end (a URL, a run of emoji) is cut where it is rather than emptied.
    if cut > len(head) // 2:
        head = head[:cut]
    else:
        head = clip_utf16(text, room, ellipsis="")
    while head and head[-1] in "\u200d\ufe0f\ufe0e\u200b":
        head = head[:-1]
    return head.rstrip() + ending


_MEDIA_LABEL = {MediaKind.PHOTO: "card.photo", MediaKind.VIDEO: "card.video", MediaKind.GIF: "card.gif",
                MediaKind.MISSING: "card.media_missing"}


def _attachment_links(view: CardView, lang: Lang) -> list[str]:
    """One link per attachment (photos to the image, videos and GIFs to X); the pictures themselves follow
    the card as Telegram photos when KEMALA_PHOTOS=album."""
    if not view.media:  # complaints stored before attachments were kept
        return [link for i, url in enumerate(view.photo_urls[:10], start=1)
                if (link := _link(url, _esc(t("card.photo", lang, n=i)))) is not None]
    counts: dict[MediaKind, int] = {}
    out: list[str] = []
    for media in view.media[:10]:
        counts[media.kind] = counts.get(media.kind, 0) + 1
        label = _esc(t(_MEDIA_LABEL[media.kind], lang, n=counts[media.kind]))
        target = media.url if media.kind is MediaKind.PHOTO else media.link
        out.append(_link(target or view.tweet_url, label) or label)
    return out


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
        if view.jurisdiction not in ("kabkota", "vertikal"):
            lines.append(tx("card.triage_unclear"))
    elif view.status in (Status.CLAIMED, Status.DRAFTED, Status.APPROVED) and view.claimer_name:
        lines.append(tx("card.holder", name=_clean(view.claimer_name, 64)))
    elif view.status == Status.ROUTED:
        lines.append(tx("card.holder_none"))

    lines.append(tx("card.citizen", name=_clean(view.citizen_name, 64), username=_clean(view.citizen_username, 32)))
    if body:
        tag = "blockquote expandable" if utf16_len(body) > 600 else "blockquote"
        lines.append(f"<{tag}>{_esc(body)}</blockquote>")
    if view.quoted_x_id and view.moved_to is None:
        if view.quoted_text:
            quoted = strip_bidi(view.quoted_text).strip()
            head = tx("card.quoted", user=_clean(view.quoted_author, 32)) if view.quoted_author else tx(
                "card.quoted_unknown")
            lines.append(head)
            lines.append(f"<blockquote>{_esc(clip_at_word(quoted, 500, t('card.more_on_x', lang)))}</blockquote>")
        else:
            lines.append(tx("card.quoted_gone"))

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

    if view.elsewhere:
        lines.append(tx("card.elsewhere", agency=_clean(view.elsewhere, 60)))
    waiting_in_triage = view.is_triage_card and view.elsewhere is None and view.status in (Status.NEW, Status.TRIAGE)
    if waiting_in_triage and view.jurisdiction in ("kabkota", "vertikal"):
        # Shown before anyone writes: the province is not who should answer this one.
        lines.append(tx("card.destination", who=_clean(view.destination_short or t("card.destination_unknown", lang),
                                                        80)))
    reasons = "; ".join(_clean(r, 160) for r in view.routing_reasons[:6] if r.strip())
    reasons = clip_utf16(reasons, 600)
    if waiting_in_triage:
        # No confidence figure here: beside "agency unclear" a "100%" (the router's certainty that it is
        # not provincial, or not a complaint) only confuses. The candidates say why, each.
        if reasons:
            lines.append(tx("card.why_triage", reasons=reasons))
        shown = [(short, score, why) for (_code, short, score), why in zip(
            view.alternatives[:3], (*view.alternative_reasons, "", "", ""), strict=False) if score >= 0.05]
        if shown:
            lines.append(tx("card.candidates_head"))
            for short, score, why in shown:
                label = t("card.candidate", lang, name=short_label(short), pct=_pct(score))
                why = _clean(why, 120)
                lines.append(tx("card.candidate_why", name=label, why=why) if why else _esc(f"• {label}"))
    elif reasons and view.confidence is not None:
        lines.append(tx("card.route_conf", reasons=reasons, pct=_pct(view.confidence)))
    elif reasons:
        lines.append(tx("card.route", reasons=reasons))
    elif view.confidence is not None:
        lines.append(tx("card.confidence", pct=_pct(view.confidence)))
    if view.history_note:
        lines.append(tx("card.history", note=_clean(view.history_note, 300)))
    if view.related:
        related = ", ".join(f"#{n}" for n in view.related[:8]) + (" …" if len(view.related) > 8 else "")
        lines.append(tx("card.related", items=related))

    attachments = _attachment_links(view, lang)
    if attachments:
        lines.append(tx("card.photos") + " " + " · ".join(attachments))
    if view.retweet_count > 0:
        lines.append(tx("card.reposts", n=view.retweet_count))
    if view.followups > 0:
        lines.append(tx("card.followups", n=view.followups))
    if view.notes > 0 and view.last_note is not None:
        lines.append(tx("card.notes", n=view.notes, name=_clean(view.last_note[0], 40),
                        text=clip_at_word(_clean(view.last_note[1], 400), 120, "…")))

    if view.deleted:
        lines.append(tx("card.deleted"))
    elif view.edited:
        lines.append(tx("card.edited"))

    if view.status == Status.DISMISSED and view.dismissed_by:
        lines.append(tx("card.dismissed", by=_clean(view.dismissed_by, 64),
                        reason=_clean(_reason_label(view.dismissed_reason or "", lang), 200) or "-"))
    if view.status == Status.FORWARDED:
        lines.append(tx("card.forwarded", who=_clean(view.forwarded_to or "-", 80),
                        by=_clean(view.forwarded_by or "-", 64)))
    if view.status not in DONE_STATUSES and not view.deleted and view.elsewhere is None:
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
    if view.rejected_reason and view.status not in DONE_STATUSES:
        lines.append(tx("card.rejected", reason=_clean(x_reason(view.rejected_reason, lang), 300)))
        lines.append(tx("card.rejected_todo"))

    link = _link(view.tweet_url, tx("card.open_tweet"))
    if link:
        lines.append(link)
    return "\n".join(lines)
